"""Retention as the config sets it: ``[retention]`` and each feed's ``retention``, run by
the daemon's hourly maintenance job and by ``newsdedup purge``."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from worker.clock import utcnow
from worker.config import Config
from worker.store.articles import feed_priorities
from worker.store.db import Database
from worker.store.purge import PurgeReport, feed_cutoffs, preview, purge


def cutoffs(config: Config, db: Database, now: datetime | None = None) -> dict[int, datetime]:
    ages = {f.name: f.retention for f in config.feeds if f.retention is not None}
    return feed_cutoffs(db, now or utcnow(), ages, config.retention.articles)


def _poll_log_cutoff(config: Config, now: datetime) -> datetime | None:
    age = config.retention.poll_log
    return now - timedelta(seconds=age) if age > 0 else None


def run_purge(config: Config, db: Database, *, stop: threading.Event | None = None) -> PurgeReport:
    now = utcnow()
    with db.session() as session:
        priorities = feed_priorities(session, {f.name: f.priority for f in config.feeds})
    return purge(
        db,
        cutoffs(config, db, now),
        poll_log_cutoff=_poll_log_cutoff(config, now),
        canonical_policy=config.dedup.canonical_policy.value,
        priorities=priorities,
        batch=config.retention.batch,
        stop=stop.is_set if stop is not None else lambda: False,
    )


def preview_purge(config: Config, db: Database) -> PurgeReport:
    return preview(db, cutoffs(config, db))
