"""Several workers on one database: real ``newsdedup run`` daemons, a loopback server whose
feeds overlap (the same wire stories, retitled and trimmed, and mirrored feeds), one worker
SIGKILLed mid-run. Runs on SQLite (one file, several processes) and on PostgreSQL."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from tests.fixtures.corpus import demo_feeds
from worker.clock import as_utc, utcnow
from worker.config import parse_config
from worker.outcomes import PollOutcome
from worker.pipeline.poll import Ingestor
from worker.store import leases
from worker.store.db import Database
from worker.store.feeds import record_poll, sync_feeds
from worker.store.models import Article, Feed, PollLog

pytestmark = pytest.mark.slow  # real daemons, several at once

INTERVAL = 4.0
LEASE = 3.0


def _config_text(db_url: str, urls: dict[str, str]) -> str:
    feeds = "".join(
        f'[[feeds]]\nname = "{name}"\nurl = "{url}"\ninterval = "{INTERVAL}s"\n'
        'full_text = "never"\n\n'
        for name, url in urls.items()
    )
    return (
        f'[worker]\ndatabase = "{db_url}"\njitter = 0\nlease_timeout = "{LEASE}s"\n'
        f'min_interval = "1s"\nlog_level = "debug"\n\n{feeds}'
    )


def _partition(db: Database) -> set[frozenset[tuple[str, str]]]:
    with db.session() as s:
        rows = s.execute(select(Feed.name, Article.guid, Article.story_id).join(Feed)).all()
    stories: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for name, guid, story in rows:
        stories[story].add((name, guid))
    return {frozenset(v) for v in stories.values()}


def test_workers_starting_together_both_sync_the_feed_rows(db: Database) -> None:
    config = parse_config(_config_text(db.url, {n: f"http://feeds.invalid/{n}" for n in "abc"}))
    late = Ingestor(config, db)
    synced: list[dict[str, int]] = []
    with db.session() as s, s.begin():
        # Another worker's sync, caught between its INSERTs and its COMMIT: the late
        # worker's INSERT of the same names waits for it, then breaks the unique name.
        first = sync_feeds(s, config.feeds)
        thread = threading.Thread(target=lambda: synced.append(late.sync_feeds()))
        thread.start()
        time.sleep(1.0)
    thread.join(60)
    assert synced == [first]


def test_poll_record_releases_only_its_own_lease(db: Database) -> None:
    now = utcnow()
    lease = timedelta(seconds=60)
    with db.session() as s, s.begin():
        s.add(Feed(id=1, name="f", url="http://feeds.invalid/f", created_at=now))
    with db.engine.begin() as conn:
        assert leases.claim(conn, 1, "a", now=now, timeout=lease) == leases.PollState(None, None, 0)
    failed = PollOutcome("error", error_kind="timeout", error="slow")
    # b's poll (its lease expired and a took the feed) is recorded, but a keeps the lease.
    with db.engine.begin() as conn:
        record_poll(conn, 1, failed, owner="b", started=now, next_poll_at=now + lease)
    with db.session() as s:
        feed = s.get(Feed, 1)
        assert feed is not None and feed.lease_owner == "a" and feed.consecutive_failures == 1
    with db.engine.begin() as conn:  # a second failure counts on; a's record releases
        record_poll(conn, 1, failed, owner="a", started=now, next_poll_at=now + lease)
        assert leases.holder(conn, 1) is None
    with db.engine.begin() as conn:
        state = leases.claim(conn, 1, "c", now=now, timeout=lease)
        assert state is not None and state.consecutive_failures == 2
        record_poll(
            conn, 1, PollOutcome("ok"), owner="c", started=now, next_poll_at=now, etag='"v2"'
        )
    with db.session() as s:
        feed = s.get(Feed, 1)
        assert feed is not None
        assert (feed.etag, feed.consecutive_failures, feed.lease_owner) == ('"v2"', 0, None)
        assert feed.last_error_kind == "timeout"  # the last error stays on record
        assert s.scalar(select(func.count()).select_from(PollLog)) == 3


def test_three_workers_share_feeds_and_survive_a_kill(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    urls = {}
    for file_name, body in demo_feeds().items():
        for copy in ("", "-mirror"):  # mirrored feeds: the same entries, exact duplicates
            name = file_name.removesuffix(".xml") + copy
            httpserver.expect_request(f"/{name}").respond_with_data(
                body, content_type="application/rss+xml"
            )
            urls[name] = httpserver.url_for(f"/{name}")
    cfg = tmp_path / "workers.toml"
    cfg.write_text(_config_text(db.url, urls))

    # What one worker alone makes of these feeds: the expected stories.
    alone = tmp_path / "alone"
    alone.mkdir()
    solo_db = Database(f"sqlite:///{alone / 'solo.db'}")
    solo_db.upgrade()
    solo = Ingestor(parse_config(_config_text(solo_db.url, urls), path=str(cfg)), solo_db)
    solo.sync_feeds()
    solo.poll_all()
    solo.close()
    expected = _partition(solo_db)
    solo_db.dispose()

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "worker", "--config", str(cfg), "run"],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"worker{i}.log", "w"),  # noqa: SIM115
        )
        for i in range(3)
    ]
    try:
        started = time.monotonic()
        time.sleep(2.5 * INTERVAL)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        killed_at = time.monotonic()
        time.sleep(LEASE + 3 * INTERVAL)
        ran_for = time.monotonic() - started
        for p in procs[1:]:
            p.send_signal(signal.SIGTERM)
        for p in procs[1:]:
            assert p.wait(30) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text() for i in range(3))

    with db.session() as s:
        entries = sum(body.count("<item>") for body in demo_feeds().values()) * 2
        assert s.scalar(select(func.count()).select_from(Article)) == entries, logs[-3000:]
        polls: dict[str, list[PollLog]] = defaultdict(list)
        for log_row, name in s.execute(select(PollLog, Feed.name).join(Feed)).all():
            polls[name].append(log_row)
        now = max(as_utc(p.finished_at) for rows in polls.values() for p in rows)
        for name in urls:
            times = sorted(as_utc(p.started_at) for p in polls[name])
            # Once per interval, not once per worker per interval: three workers without
            # leases would poll every feed about three times as often.
            assert len(times) <= ran_for / INTERVAL + 2, (name, len(times))
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
            assert all(g >= INTERVAL - 1.0 for g in gaps), (name, gaps)
            # The killed worker's feeds were taken over: every feed was polled lately.
            assert times[-1] >= now - timedelta(seconds=2 * INTERVAL + LEASE), (name, times)
    assert _partition(db) == expected
    assert time.monotonic() - killed_at > LEASE
