"""Exit statuses a cron job or a systemd timer can act on (issue 19, finding 5): `run
--once` fails when a feed failed; every usage error is exit 2 with one line and no
traceback; one time parser for `--since`; `--config` before or after the command."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from worker.cli import main
from worker.clock import parse_when

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "demo"


def write_config(tmp_path: Path, db_url: str, feeds: dict[str, str]) -> Path:
    shutil.copytree(DEMO, tmp_path / "demo", dirs_exist_ok=True)
    body = f'[worker]\ndatabase = "{db_url}"\njitter = 0\n'
    for name, url in feeds.items():
        body += f'\n[[feeds]]\nname = "{name}"\nurl = "{url}"\nfull_text = "never"\n'
    path = tmp_path / "newsdedup.toml"
    path.write_text(body)
    return path


def test_run_once_exits_3_when_a_feed_failed(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {"metro-daily": "file:demo/metro-daily.xml"}
    config = write_config(tmp_path, db_url, {**good, "gone": "file:demo/missing.xml"})
    assert main(["--config", str(config), "run", "--once"]) == 3
    assert "1 failed (gone)" in capsys.readouterr().err
    write_config(tmp_path, db_url, good)
    assert main(["--config", str(config), "run", "--once"]) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["stories", "--since", "the day before"],
        ["export", "--since", "last tuesday"],
        ["stories", "--limit", "-1"],
        ["export", "--limit", "0"],
        ["stories", "--limit", "many"],
        ["no-such-command"],
        ["run", "--db-wait", "soon"],
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'n.db'}", {})
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "error:" in err
    assert not (tmp_path / "n.db").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    "since", ["yesterday", "today", "24h", "7d", "2026-01-02", "2026-01-02T03:04:05+01:00"]
)
def test_since_accepts_relative_and_iso_times_everywhere(
    since: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'n.db'}", {})
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert main(["--config", str(config), "stories", "--since", since]) == 0
    assert main(["--config", str(config), "export", "--json", "--since", since]) == 0


def test_parse_when() -> None:
    now = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    assert parse_when("yesterday", now=now) == datetime(2026, 3, 3, tzinfo=UTC)
    assert parse_when("today", now=now) == datetime(2026, 3, 4, tzinfo=UTC)
    assert parse_when("90m", now=now) == now - timedelta(minutes=90)
    assert parse_when("2026-03-01T12:00", now=now) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="expected a duration ago"):
        parse_when("last week", now=now)


def test_config_accepted_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./newsdedup.toml to fall back on
    other = tmp_path / "elsewhere"
    other.mkdir()
    config = write_config(
        other, f"sqlite:///{other / 'n.db'}", {"metro-daily": "file:demo/metro-daily.xml"}
    )
    config = config.rename(other / "mine.toml")
    assert main(["check-config", "--config", str(config)]) == 0
    assert "mine.toml: ok (1 feeds" in capsys.readouterr().out
    assert main(["db", "upgrade", "-c", str(config)]) == 0
    assert main(["feeds", "export-opml", "--config", str(config)]) == 0
    assert "demo/metro-daily.xml" in capsys.readouterr().out
    # Before the command it still works, and a value after the command wins.
    assert main(["--config", "nowhere.toml", "check-config", "-c", str(config)]) == 0
