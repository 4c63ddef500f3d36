"""`check-config` catches what would bite later (issue 19, finding 9): `--connect` tries
the database and the `file:` feeds; intervals below a minimum, an empty file and a
port-only `listen` are errors; an unknown key gets a "did you mean"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import postgres_url
from tests.integration.daemon.test_ops import free_port
from worker.cli import main

DEMO = Path(__file__).resolve().parents[3] / "config" / "demo"


def check(tmp_path: Path, body: str, *extra: str) -> int:
    path = tmp_path / "newsdedup.toml"
    path.write_text(body)
    return main(["--config", str(path), "check-config", *extra])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "the config is empty"),
        ("# nothing but a comment\n", "the config is empty"),
        (
            '[worker]\nlisten = ":9464"\n',
            "worker.listen: ':9464' has no host: use '127.0.0.1:9464'",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "https://a.example/rss"\ninterval = "1s"\n',
            "feeds[0].interval: 1s is below worker.min_interval (60s)",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "https://a.example/rss"\nintervall = "1h"\n',
            "feeds[0].intervall: unknown key; did you mean 'interval'?",
        ),
        (
            '[worker]\ndatabse = "sqlite:///x.db"\n',
            "worker.databse: unknown key; did you mean 'database'?",
        ),
        ('[dedupe]\nretention = "1d"\n', "dedupe: unknown key; did you mean 'dedup'?"),
    ],
)
def test_config_mistakes_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, expected: str
) -> None:
    assert check(tmp_path, body) == 2
    assert expected in capsys.readouterr().err


def test_min_interval_can_be_lowered_on_purpose(tmp_path: Path) -> None:
    feed = '[[feeds]]\nname = "a"\nurl = "https://a.example/rss"\ninterval = "10s"\n'
    assert check(tmp_path, '[worker]\nmin_interval = "5s"\n' + feed) == 0


def test_connect_reads_file_feeds_and_reports_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    body = (
        f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\n'
        '[[feeds]]\nname = "metro"\nurl = "file:demo/metro-daily.xml"\n'
        '[[feeds]]\nname = "typo"\nurl = "file:demo/metro-dialy.xml"\n'
        '[[feeds]]\nname = "web"\nurl = "https://web.invalid/rss"\n'
    )
    assert check(tmp_path, body) == 0  # without --connect nothing is opened
    assert check(tmp_path, body, "--connect") == 1
    out = capsys.readouterr().out
    assert "ok      database: " in out and "does not exist yet" in out
    assert "ok      feed metro: 4 entries" in out
    assert "FAILED  feed typo: " in out
    assert "web" not in out.split("\n", 1)[1]  # network feeds are not fetched by a check
    assert not (tmp_path / "n.db").exists()


def test_connect_fails_on_an_unreachable_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = f'[worker]\ndatabase = "postgresql://nobody@127.0.0.1:{free_port()}/none"\n'
    assert check(tmp_path, body) == 0
    assert check(tmp_path, body, "--connect") == 1
    assert "FAILED  database: cannot connect" in capsys.readouterr().out


@pytest.mark.postgres
def test_connect_reports_the_schema_of_a_reachable_database(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not db_url.startswith("postgresql") or postgres_url() is None:
        pytest.skip("PostgreSQL only")
    assert check(tmp_path, f'[worker]\ndatabase = "{db_url}"\n', "--connect") == 0
    assert "`run` migrates it" in capsys.readouterr().out
