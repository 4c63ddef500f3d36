from __future__ import annotations

from pathlib import Path

import pytest

from worker.cli import main
from worker.config import CanonicalPolicy, FullTextMode, load_config, parse_config, parse_duration
from worker.errors import ConfigError

MINIMAL = """
[worker]
database = "sqlite:///newsdedup.db"

[[feeds]]
name = "example-wire"
url = "https://example.com/rss.xml"
interval = "15m"
"""


def test_minimal_config_from_issue_parses_with_defaults() -> None:
    cfg = parse_config(MINIMAL, path="n.toml")
    feed = cfg.feeds[0]
    assert feed.interval == 900.0
    assert feed.full_text is FullTextMode.AUTO and feed.enabled
    assert cfg.dedup.canonical_policy is CanonicalPolicy.EARLIEST


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[worker]\nbogus = 1\n", "n.toml: worker.bogus: unknown key"),
        (
            "[[feeds]]\nname='a'\nurl='ftp://x/y'\n",
            "n.toml: feeds[0].url: 'ftp://x/y' is not an http(s):// or file: URL",
        ),
        (
            "[[feeds]]\nname='a'\nurl='http://x/'\ninterval='soon'\n",
            "n.toml: feeds[0].interval: 'soon' is not a duration",
        ),
        (
            "[[feeds]]\nname='a'\nurl='http://x/'\nenabled='yes please'\n",
            "n.toml: feeds[0].enabled:",
        ),
        (
            "[[feeds]]\nname='a'\nurl='http://x/'\n[[feeds]]\nname='a'\nurl='http://y/'\n",
            "n.toml: feeds[1].name: duplicate feed name 'a'",
        ),
        (
            "[[feeds]]\nname='a'\nurl='http://x/'\nboilerplate=['(unclosed']\n",
            "n.toml: feeds[0].boilerplate: invalid regular expression",
        ),
        ("[worker\n", "n.toml: invalid TOML"),
    ],
)
def test_config_errors_name_file_and_key(snippet: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(snippet, path="n.toml")
    assert str(info.value).startswith(expected), str(info.value)


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400
    with pytest.raises(ValueError):
        parse_duration("-5m")


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "env.toml"
    env_file.write_text(MINIMAL.replace("example-wire", "from-env"))
    monkeypatch.setenv("NEWSDEDUP_CONFIG", str(env_file))
    assert load_config().feeds[0].name == "from-env"
    explicit = tmp_path / "explicit.toml"
    explicit.write_text(MINIMAL)
    assert load_config(str(explicit)).feeds[0].name == "example-wire"


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    assert main(["--config", str(good), "check-config"]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "\n[[feeds]]\nname='x'\nurl='http://x/'\ninterval=0\n")
    assert main(["--config", str(bad), "check-config"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{bad}: feeds[1].interval: a duration must be positive"]
    missing = tmp_path / "missing.toml"
    assert main(["--config", str(missing), "check-config"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_bundled_demo_config_is_valid() -> None:
    cfg = load_config(str(Path(__file__).resolve().parents[3] / "config" / "demo.toml"))
    assert len(cfg.feeds) >= 4
