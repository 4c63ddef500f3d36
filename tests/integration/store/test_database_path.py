"""Relative SQLite paths and read-only commands (issue 19, finding 4): the database is
where the config says, whatever the current directory, and a command that only reads
never creates or migrates one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from worker.cli import main
from worker.store.db import Database

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "demo"


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A config folder with a relative database path, and another current directory."""
    home = tmp_path / "etc"
    shutil.copytree(DEMO, home / "demo")
    (home / "newsdedup.toml").write_text(
        '[worker]\ndatabase = "sqlite:///state/news.db"\njitter = 0\n\n'
        '[[feeds]]\nname = "metro-daily"\nurl = "file:demo/metro-daily.xml"\n'
    )
    (home / "state").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return home / "newsdedup.toml", elsewhere


READ_ONLY = [["stories"], ["story", "1"], ["feeds"], ["export", "--json"], ["db", "current"]]


@pytest.mark.parametrize("argv", READ_ONLY)
def test_read_only_commands_never_create_a_database(
    layout: tuple[Path, Path], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, elsewhere = layout
    assert main(["--config", str(config), *argv]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and str(config.parent / "state" / "news.db") in err
    assert not (config.parent / "state" / "news.db").exists()
    assert list(elsewhere.iterdir()) == []


def test_relative_sqlite_path_is_resolved_against_the_config_folder(
    layout: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, elsewhere = layout
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert (config.parent / "state" / "news.db").exists()
    assert list(elsewhere.iterdir()) == []
    capsys.readouterr()
    assert main(["--config", str(config), "stories"]) == 0
    out = capsys.readouterr().out
    assert "0 stories" not in out and " stories, " in out


def test_read_only_commands_refuse_a_database_behind_the_code(
    layout: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = layout
    db = Database(f"sqlite:///{config.parent / 'state' / 'news.db'}")
    db.upgrade("0002")
    db.dispose()
    assert main(["--config", str(config), "stories"]) == 1
    assert "is at schema 0002" in capsys.readouterr().err
    db = Database(f"sqlite:///{config.parent / 'state' / 'news.db'}")
    assert db.current_revision() == "0002"  # not migrated behind the operator's back
    db.dispose()
