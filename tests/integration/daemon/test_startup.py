"""``run`` at start-up: a SQLite database locked by another process is waited for (its
whole start-up, not only the first connection: the feed rows' write failed after the busy
timeout with a traceback), and a read-only database is one line, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import worker.store.db as db_module
from worker.cli import main
from worker.store.db import Database
from worker.store.models import Article

pytestmark = pytest.mark.slow  # waits out a locked database

HOLD_THE_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(6)
db.execute("COMMIT")
"""
FEED = b"""<rss version="2.0"><channel><title>T</title><item><guid>a</guid><title>Hello</title>
<description>The harbour bridge reopened on Monday after repairs.</description></item>
</channel></rss>"""


def _setup(tmp_path: Path, database: str) -> Path:
    (tmp_path / "feed.xml").write_bytes(FEED)
    config = tmp_path / "newsdedup.toml"
    config.write_text(
        f'[worker]\ndatabase = "{database}"\njitter = 0\n'
        f'[[feeds]]\nname = "f"\nurl = "file:feed.xml"\nfull_text = "never"\n'
    )
    return config


def test_a_locked_database_is_waited_for_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "n.db"
    Database(f"sqlite:///{path}").upgrade()
    real = db_module._sqlite_pragmas

    def short_busy_timeout(dbapi_connection: Any, record: Any) -> None:
        real(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA busy_timeout=200")  # 30 s in production

    monkeypatch.setattr(db_module, "_sqlite_pragmas", short_busy_timeout)
    # Another process holds the write lock for 6 s (the start-up takes about 2), well past
    # the busy timeout.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert main(["-c", str(_setup(tmp_path, f"sqlite:///{path}")), "run", "--once"]) == 0
    finally:
        holder.wait(10)
    err = capsys.readouterr().err
    assert "database is locked" in err, err  # waited, and said so
    db = Database(f"sqlite:///{path}")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 1
    db.dispose()


def test_a_read_only_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "n.db"
    Database(f"sqlite:///{path}").upgrade()
    config = _setup(tmp_path, f"sqlite:///file:{path}?mode=ro&uri=true")
    assert main(["-c", str(config), "run", "--once"]) == 1
    err = capsys.readouterr().err
    ours = [line for line in err.splitlines() if line.startswith("newsdedup:")]
    assert len(ours) == 1 and "is read-only" in ours[0], err
    assert "Traceback" not in err
