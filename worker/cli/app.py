"""``run``, ``check-config`` and ``db``: the daemon and its set-up."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

from worker.errors import NewsdedupError, StoreError
from worker.logs import setup_logging

if TYPE_CHECKING:
    from worker.config import Config
    from worker.pipeline.poll import Ingestor
    from worker.store.db import Database

log = logging.getLogger("newsdedup")
EXIT_FEEDS_FAILED = 3  # `run --once`: every feed was polled, at least one failed

# Every command module imports only argparse and the standard library at load; what a command
# uses (pydantic for the config, SQLAlchemy, trafilatura, numpy, APScheduler) is imported
# when it runs: `--help`, `check-config` and `healthcheck` answer in a fraction of a second
# (systemd's ExecStartPre and the Docker healthcheck run them), and a query does not load the
# pipeline.


def load_config(path: str | None) -> Config:
    from worker.config import load_config as load

    return load(path)


def parse_duration(value: str) -> float:
    from worker.config import parse_duration as parse

    return parse(value)


def open_database(config: Config, *, migrate: bool = True) -> Database:
    from worker.store.db import Database

    db = Database(config.worker.database)
    if migrate:
        db.ensure_current()
    return db


def open_existing_database(config: Config) -> Database:
    """The database of ``config`` for a command that only reads: never created, never
    migrated. ``NewsdedupError`` saying what to do when it is missing or behind."""
    from worker.config import sqlite_path
    from worker.store.db import Database, schema_head

    path = sqlite_path(config.worker.database)
    if path is not None and not path.exists():
        raise NewsdedupError(
            f"database {path} does not exist (worker.database in {config.source_path}); "
            "`newsdedup db upgrade` creates it, `newsdedup run` fills it"
        )
    db = Database(config.worker.database)
    # schema_head: the scripts' declared head, without importing alembic (or numpy).
    current, head = db.current_revision(), schema_head()
    if current != head:
        db.dispose()
        found = f"is at schema {current}" if current else "has no newsdedup schema"
        raise NewsdedupError(
            f"database {path or 'at worker.database'} {found}, this newsdedup needs {head}: "
            "run `newsdedup db upgrade`"
        )
    return db


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM/SIGINT set ``stop``: the entries in hand are written, the poll ends, exit 0."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def _load_index(db: Database) -> None:
    """Read the LSH index into memory before the first poll, which would otherwise pay."""
    started = time.monotonic()
    with db.session() as session:
        db.index.catch_up(session)
    articles, size = db.index.size()
    log.info(
        "LSH index: %d articles in memory (%.0f MiB), read in %.1fs",
        articles, size / 2**20, time.monotonic() - started,
    )  # fmt: skip


def _start(config: Config, args: argparse.Namespace, stop: threading.Event) -> Ingestor:
    """Everything ``run`` does before its first poll, as one step that either completes or
    leaves nothing open: a database that is locked (SQLite: another process holding its
    write lock past the busy timeout) or away at any point of it is waited for as a whole."""
    from worker.pipeline.poll import Ingestor
    from worker.pipeline.repair import repair_on_start

    db = open_database(config, migrate=not args.no_migrate)
    try:
        repair_on_start(
            db,
            config.dedup.canonical_policy.value,
            {f.name: f.priority for f in config.feeds},
        )
        _load_index(db)
        ingestor = Ingestor(config, db, stop=stop)
        try:
            ingestor.sync_feeds()
        except BaseException:
            ingestor.close()
            raise
    except BaseException:
        db.dispose()
        raise
    return ingestor


def cmd_run(args: argparse.Namespace) -> int:
    from worker.daemon.scheduler import run_daemon
    from worker.store.availability import wait_for_database

    config = load_config(args.config)
    setup_logging(args.log_level or config.worker.log_level, config.worker.log_format)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        ingestor = wait_for_database(
            lambda: _start(config, args, stop),
            url=config.worker.database,
            give_up_after=args.db_wait if args.db_wait is not None else (60 if args.once else None),
            stop=stop,
        )
    except StoreError:
        if stop.is_set():
            return 0
        raise
    if args.once:
        results = ingestor.poll_all()
        ingestor.close()
        failed = [name for name, r in results.items() if r.outcome == "error"]
        totals = {
            key: sum(getattr(r, key) for r in results.values())
            for key in ("articles_new", "duplicates_exact", "duplicates_near", "articles_updated")
        }
        summary = (
            f"polled {len(results)} feeds: {totals['articles_new']} new stories, "
            f"{totals['duplicates_exact']} exact and {totals['duplicates_near']} near copies "
            "folded, "
            f"{totals['articles_updated']} updated, {len(failed)} failed"
            + (f" ({', '.join(sorted(failed))})" if failed else "")
        )
        if config.worker.log_format == "json":  # stderr is a JSON stream: one more object
            log.info(
                "%s", summary, extra={"feeds": len(results), "failed": sorted(failed), **totals}
            )
        else:
            print(summary, file=sys.stderr)
        # Cron and systemd timers see a failed feed only in the exit status.
        return EXIT_FEEDS_FAILED if failed else 0
    return run_daemon(ingestor)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    enabled = sum(1 for f in config.feeds if f.enabled)
    print(f"{config.source_path}: ok ({len(config.feeds)} feeds, {enabled} enabled)")
    if not args.connect:
        return 0
    results = [_check_database(config), *_check_file_feeds(config)]
    for ok, line in results:
        print(("ok      " if ok else "FAILED  ") + line)
    return 0 if all(ok for ok, _ in results) else 1


def _check_database(config: Config) -> tuple[bool, str]:
    """Connect and read the schema revision; never creates or migrates anything."""
    from worker.config import sqlite_path
    from worker.store.db import Database, schema_head

    path = sqlite_path(config.worker.database)
    if path is not None and not path.exists():
        if path.parent.is_dir():
            return True, f"database: {path} does not exist yet; `run` creates it"
        return False, f"database: {path}: folder {path.parent} does not exist"
    db = Database(config.worker.database)
    try:
        current, head = db.current_revision(), schema_head()
    except StoreError as exc:
        return False, f"database: {exc}"
    finally:
        db.dispose()
    if current == head:
        return True, f"database: reachable, schema {current} (current)"
    return True, f"database: reachable, schema {current or 'none'}; `run` migrates it to {head}"


def _check_file_feeds(config: Config) -> list[tuple[bool, str]]:
    """Read and parse every ``file:`` feed as a poll would (network feeds are not fetched:
    a check must not count as a poll to their publishers)."""
    from worker.errors import FeedError
    from worker.pipeline.build import fetcher_for
    from worker.reader.parser import parse_feed

    local = [f for f in config.feeds if f.url[:5].lower() == "file:"]
    if not local:
        return []
    fetcher = fetcher_for(config)
    out = []
    try:
        for feed in local:
            try:
                result = fetcher.fetch(feed.url, base_dir=config.base_dir)
                parsed = parse_feed(result.content, url=result.url, headers=result.headers)
            except FeedError as exc:
                out.append((False, f"feed {feed.name}: {exc}"))
                continue
            out.append((True, f"feed {feed.name}: {len(parsed.entries)} entries"))
    finally:
        fetcher.close()
    return out


def cmd_db(args: argparse.Namespace) -> int:
    from worker.config import sqlite_path
    from worker.store.db import Database

    config = load_config(args.config)
    db = Database(args.database or config.worker.database)
    missing = sqlite_path(db.url)
    if args.db_command != "upgrade" and missing is not None and not missing.exists():
        db.dispose()
        raise NewsdedupError(f"database {missing} does not exist")
    if args.db_command == "upgrade":
        db.upgrade(args.revision)
        print(f"database at revision {db.current_revision()}")
    elif args.db_command == "downgrade":
        db.downgrade(args.revision)
        print(f"database at revision {db.current_revision()}")
    else:
        print(f"current {db.current_revision()} head {db.head_revision()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the daemon (or poll every feed once with --once)")
    run.add_argument("--once", action="store_true", help="poll every enabled feed once and exit")
    run.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the database schema on start"
    )
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    run.add_argument(
        "--db-wait",
        type=float,
        metavar="SECONDS",
        help="give up when the database is unreachable this long at start "
        "(default: 60 with --once, forever for the daemon)",
    )
    run.set_defaults(handler=cmd_run)

    check = sub.add_parser("check-config", help="validate the config file and exit")
    check.add_argument(
        "--connect",
        action="store_true",
        help="also connect to the database and read every file: feed (exit 1 if one fails)",
    )
    check.set_defaults(handler=cmd_check_config)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("--database", help="SQLAlchemy URL (default: from the config)")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", help="create or upgrade the schema")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="downgrade the schema to REVISION")
    down.add_argument("revision")
    db_sub.add_parser("current", help="show the schema revision")
    db.set_defaults(handler=cmd_db)
