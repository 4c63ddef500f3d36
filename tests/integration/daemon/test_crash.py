"""Crashes, signals and database outages: the worker is killed, stopped and starved of its
database, and afterwards every served entry is stored exactly once and stories, fingerprints
and the LSH index agree."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text, update

from tests.conftest import postgres_url
from tests.hostile_server import HostileServer, hostile_server, rss_feed, synthetic_text
from worker.cli import main
from worker.pipeline.poll import Ingestor
from worker.pipeline.repair import find_problems, repair
from worker.store.db import Database
from worker.store.models import Article, Feed, Story

pytestmark = pytest.mark.slow  # kills and restarts real processes

KILLS = int(os.environ.get("NEWSDEDUP_CRASH_KILLS", "20"))


def build_feeds(
    rng: random.Random, per_feed: int
) -> tuple[dict[str, bytes], dict[str, set[str]], int]:
    """A wire feed and three outlets republishing slices of it word for word, plus their
    own stories. Returns (feeds, served guids per feed, number of distinct texts)."""
    wire = [synthetic_text(rng) for _ in range(per_feed)]
    feeds: dict[str, list[tuple[str, str, str]]] = {
        "wire": [(f"wire-{i}", f"Wire {i}", t) for i, t in enumerate(wire)]
    }
    distinct = len(wire)
    for k, name in enumerate(["outlet-a", "outlet-b", "outlet-c"]):
        start = k * per_feed // 4
        copied = [
            (f"{name}-c{i}", f"{name} copy {i}", wire[i])
            for i in range(start, start + per_feed // 2)
        ]
        own = [
            (f"{name}-o{i}", f"{name} own {i}", synthetic_text(rng)) for i in range(per_feed // 4)
        ]
        distinct += len(own)
        items = copied + own
        rng.shuffle(items)
        feeds[name] = items
    served = {name: {guid for guid, _t, _x in items} for name, items in feeds.items()}
    return {f"{name}.xml": rss_feed(name, items) for name, items in feeds.items()}, served, distinct


def write_config(tmp_path: Path, server: HostileServer, db_path: Path, names: list[str]) -> Path:
    # Small batches: the kills below land in many different transactions of one poll.
    lines = ["[worker]", f'database = "sqlite:///{db_path}"', "jitter = 0", "store_batch = 4"]
    for name in names:
        lines += [
            "[[feeds]]",
            f'name = "{name}"',
            f'url = "{server.url(f"/feed/{name}.xml")}"',
            'full_text = "never"',
        ]
    config = tmp_path / "crash.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def worker(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "--config", str(config), "run", "--once", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def forked_worker(config: Path) -> int:
    """``run --once`` in a forked child (pid returned): a real process to SIGKILL, without
    paying the interpreter's start-up and imports twenty times."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            code = main(["--config", str(config), "run", "--once"])
        finally:
            os._exit(code)
    return pid


def running(pid: int) -> Callable[[], bool]:
    return lambda: os.waitpid(pid, os.WNOHANG) == (0, 0)


def count_articles(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM articles")).scalar() or 0)
    except Exception:
        return 0  # schema not created yet
    finally:
        engine.dispose()


def wait_for_count(running: Callable[[], bool], db_path: Path, target: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while running() and time.monotonic() < deadline:
        if count_articles(db_path) >= target:
            return
        time.sleep(0.01)


def stored_guids(db: Database) -> dict[str, list[str]]:
    with db.session() as s:
        rows = s.execute(select(Feed.name, Article.guid).join(Feed)).all()
    out: dict[str, list[str]] = {}
    for name, guid in rows:
        out.setdefault(name, []).append(guid)
    return out


@pytest.fixture
def crash_server() -> Iterator[tuple[HostileServer, dict[str, set[str]], int]]:
    # Enough entries that the kills land while entries are still coming in, however fast
    # the store is (at 120 a feed, 6 of 20 kills once came after the last one).
    feeds, served, distinct = build_feeds(random.Random(4), per_feed=360)
    with hostile_server() as server:
        server.feeds.update(feeds)
        yield server, served, distinct


def assert_consistent(db_path: Path) -> None:
    db = Database(f"sqlite:///{db_path}")
    try:
        with db.session() as s:
            assert find_problems(s) == []
    finally:
        db.dispose()


@dataclass
class Scene:
    config: Path
    db_path: Path
    served: dict[str, set[str]]
    total: int
    distinct: int


@pytest.fixture
def scene(crash_server: tuple[HostileServer, dict[str, set[str]], int], tmp_path: Path) -> Scene:
    """Four feeds on the crash server, polled into a SQLite file by a config in tmp_path."""
    server, served, distinct = crash_server
    db_path = tmp_path / "crash.db"
    config = write_config(tmp_path, server, db_path, list(served))
    return Scene(config, db_path, served, sum(len(g) for g in served.values()), distinct)


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(scene: Scene) -> None:
    config, db_path, served, total = scene.config, scene.db_path, scene.served, scene.total
    rng = random.Random(20261122)
    kills_mid_ingest = 0
    for _ in range(KILLS):
        before = count_articles(db_path)
        pid = forked_worker(config)
        # Kill once a random number of further entries is in, plus a random few
        # milliseconds, so the kill lands anywhere inside a batch's transaction.
        wait_for_count(
            running(pid),
            db_path,
            before + rng.randint(1, 8),
            limit=30,
        )
        time.sleep(rng.uniform(0, 0.03))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        after = count_articles(db_path)
        kills_mid_ingest += before < after < total
        assert_consistent(db_path)  # before any repair-on-start could hide a problem
    final = worker(config)
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    print(f"{KILLS} kills, {kills_mid_ingest} while entries were being stored")
    assert kills_mid_ingest >= KILLS * 3 // 4

    db = Database(f"sqlite:///{db_path}")
    try:
        stored = stored_guids(db)
        for name, guids in served.items():
            assert sorted(stored.get(name, [])) == sorted(guids), name  # each exactly once
        with db.session() as s:
            assert find_problems(s) == []
            stories = s.scalar(select(func.count()).select_from(Story))
            assert s.scalar(select(func.count()).select_from(Article)) == total
        assert stories == scene.distinct  # every word-for-word copy joined its original's story
    finally:
        db.dispose()


def test_sigterm_during_a_poll_finishes_the_entry_and_exits_zero(scene: Scene) -> None:
    config, db_path, total = scene.config, scene.db_path, scene.total
    proc = worker(config)
    wait_for_count(lambda: proc.poll() is None, db_path, 10, limit=60)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    stopped_at = count_articles(db_path)
    assert 10 <= stopped_at < total
    assert_consistent(db_path)
    again = worker(config)
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert count_articles(db_path) == total  # the rest came with the next poll


def test_database_unavailable_at_start_is_waited_for(
    crash_server: tuple[HostileServer, dict[str, set[str]], int], tmp_path: Path
) -> None:
    server, served, _distinct = crash_server
    missing = tmp_path / "not-yet"  # SQLite cannot open a file in a folder that is not there
    db_path = missing / "late.db"
    config = write_config(tmp_path, server, db_path, list(served)[:1])
    proc = worker(config, "--db-wait", "60")
    watchdog = threading.Timer(90, proc.kill)
    watchdog.start()
    assert proc.stderr is not None
    first = proc.stderr.readline()  # blocks until the worker has failed once
    assert "database sqlite:///" in first and "unavailable, retrying in" in first, first
    missing.mkdir()
    _out, err = proc.communicate(timeout=60)
    watchdog.cancel()
    assert proc.returncode == 0, first + err
    assert count_articles(db_path) == len(served["wire"])


def test_database_unreachable_gives_up_with_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "n.toml"
    config.write_text(f'[worker]\ndatabase = "sqlite:///{tmp_path}/nowhere/x.db"\n')
    proc = worker(config, "--db-wait", "1")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("newsdedup: database sqlite:///") and "still unavailable" in last


@pytest.mark.postgres
def test_postgres_outage_mid_poll_is_ridden_out(tmp_path: Path) -> None:
    """The database refuses connections for a few seconds in the middle of a poll: the
    entry in hand is retried with backoff, the poll completes, nothing is lost."""
    from tests.conftest import _drop_postgres_database, _fresh_postgres_database

    base = postgres_url()
    if not base:
        pytest.skip("PostgreSQL tests skipped: set NEWSDEDUP_TEST_POSTGRES_URL")
    url, name = _fresh_postgres_database(base)
    feeds, served, _distinct = build_feeds(random.Random(5), per_feed=40)
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    try:
        with hostile_server() as server:
            server.feeds.update(feeds)
            from tests.helpers import make_config

            config = make_config(url, {"wire": server.url("/feed/wire.xml")}, tmp_path)
            db = Database(url)
            db.upgrade()
            ingestor = Ingestor(config, db)
            ingestor.sync_feeds()

            def outage() -> None:
                while count_articles_pg(db) < 5:
                    time.sleep(0.005)
                with admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :n AND pid <> pg_backend_pid()"
                        ),
                        {"n": name},
                    )
                    time.sleep(2.0)
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

            saboteur = threading.Thread(target=outage)
            saboteur.start()
            outcome = ingestor.poll("wire")
            saboteur.join()
            if outcome.outcome == "error":  # the outage outlasted the retries: next poll
                assert outcome.error_kind == "database"
                outcome = ingestor.poll("wire")
            assert outcome.outcome == "ok", outcome
            assert sorted(stored_guids(db)["wire"]) == sorted(served["wire"])
            with db.session() as s:
                assert find_problems(s) == []
            ingestor.close()
            db.dispose()
    finally:
        admin.dispose()
        _drop_postgres_database(base, name)


def count_articles_pg(db: Database) -> int:
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(Article)) or 0)
    except Exception:
        return 5  # already down: start the outage clock anyway


def test_repair_fixes_what_a_crash_could_leave(db: Database, tmp_path: Path) -> None:
    feeds, served, _distinct = build_feeds(random.Random(6), per_feed=8)
    with hostile_server() as server:
        server.feeds.update(feeds)
        from tests.helpers import make_config

        urls = {name: server.url(f"/feed/{name}.xml") for name in served}
        ingestor = Ingestor(make_config(db.url, urls, tmp_path), db)
        ingestor.sync_feeds()
        ingestor.poll_all()
        ingestor.close()
    with db.session() as s, s.begin():
        assert find_problems(s) == []
        shared = s.scalar(select(Story.id).where(Story.variant_count > 1).limit(1))
        single = s.scalar(select(Story.id).where(Story.variant_count == 1).limit(1))
        s.execute(update(Story).where(Story.id == shared).values(variant_count=99))
        s.execute(update(Story).where(Story.id == single).values(canonical_article_id=None))
        s.execute(insert(Story).values(first_seen_at=func.now(), last_seen_at=func.now()))
    with db.session() as s, s.begin():
        problems = find_problems(s)
        assert len(problems) == 3, problems
        assert repair(s, "earliest", {}) == 3
    with db.session() as s:
        assert find_problems(s) == []
        members = s.scalar(select(func.count()).where(Article.story_id == shared))
        assert s.get(Story, shared).variant_count == members  # type: ignore[union-attr]
