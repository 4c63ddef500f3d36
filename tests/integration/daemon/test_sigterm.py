"""SIGTERM as an operator sees it (issue 19, finding 6): no poll starts after the stop, a
poll the stop cut short is recorded as interrupted (not as a success), and a JSON log
stream stays JSON even for tracebacks of other threads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.helpers import make_config
from worker.cli import main
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article, Feed, PollLog

pytestmark = pytest.mark.slow  # a real daemon stopped mid-poll

DEMO = Path(__file__).resolve().parents[3] / "config" / "demo"


def feed_row(db: Database, name: str) -> Feed:
    with db.session() as session:
        row = session.scalars(select(Feed).where(Feed.name == name)).one()
        session.expunge(row)
        return row


def test_no_poll_starts_after_the_stop(db: Database, tmp_path: Path) -> None:
    config = make_config(db.url, {"metro-daily": (DEMO / "metro-daily.xml").as_uri()}, tmp_path)
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    ingestor.stop.set()
    assert ingestor.poll("metro-daily", scheduled=True).outcome == "skipped"
    assert ingestor.poll_all()["metro-daily"].outcome == "skipped"
    ingestor.close()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PollLog)) == 0
    assert feed_row(db, "metro-daily").last_polled_at is None


def test_a_poll_cut_by_the_stop_is_recorded_as_interrupted(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(
        db.url,
        {"metro-daily": (DEMO / "metro-daily.xml").as_uri()},
        tmp_path,
        extra="store_batch = 1",
    )
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    prepare = ingestor.prepare_entry
    prepared = 0

    def prepare_then_stop(*args: object) -> object:
        nonlocal prepared
        prepared += 1
        if prepared == 2:  # SIGTERM arrives while the poll works through its entries
            ingestor.stop.set()
        return prepare(*args)  # type: ignore[arg-type]

    ingestor.prepare_entry = prepare_then_stop  # type: ignore[method-assign]
    outcome = ingestor.poll("metro-daily")
    ingestor.close()
    assert outcome.outcome == "interrupted"
    row = feed_row(db, "metro-daily")
    assert row.last_outcome == "interrupted"
    assert row.last_success_at is None and row.etag is None
    with db.session() as session:
        assert session.scalar(select(PollLog.outcome)) == "interrupted"
        assert session.scalar(select(func.count()).select_from(Article)) == 2
    assert main(["--config", str(tmp_path / "newsdedup.toml"), "feeds"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("metro-daily"))
    assert " interrupted " in line and " ok " not in line


def test_a_json_log_stream_carries_only_json(tmp_path: Path) -> None:
    code = (
        "import logging, threading, warnings\n"
        "from worker.logs import setup_logging\n"
        "setup_logging('info', 'json')\n"
        "def boom():\n"
        "    raise LookupError('no such job')\n"
        "t = threading.Thread(target=boom, name='APScheduler'); t.start(); t.join()\n"
        "warnings.warn('deprecated thing')\n"
        "logging.getLogger('newsdedup').info('still here')\n"
        "raise RuntimeError('at the top')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stderr.splitlines()]  # every line is JSON
    assert [r["level"] for r in records] == ["critical", "warning", "info", "critical"]
    assert "LookupError: no such job" in records[0]["exception"]
    assert "APScheduler" in records[0]["message"]
    assert "RuntimeError: at the top" in records[3]["exception"]
