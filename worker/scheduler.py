"""The daemon: APScheduler 3 runs one job per enabled feed, each rescheduled after its
poll for the time the feed row says (interval, backoff, Retry-After, TTL), never two polls
of one feed at once. SIGTERM/SIGINT finish the entry being written, then exit 0.
"""

from __future__ import annotations

import logging
import random
import signal
from datetime import datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from worker.backoff import next_delay
from worker.ingest import Ingestor
from worker.store.feeds import as_utc, utcnow
from worker.store.models import Feed

log = logging.getLogger("newsdedup.scheduler")


class Daemon:
    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.stop = ingestor.stop
        self._rng = random.Random()
        self._db_failures: dict[str, int] = {}
        workers = ingestor.config.fetch.max_concurrency
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )

    # -- jobs --------------------------------------------------------------------------
    def _job_id(self, name: str) -> str:
        return f"poll:{name}"

    def _schedule(self, name: str, when: datetime) -> None:
        self.scheduler.add_job(
            self._run_poll,
            "date",
            run_date=when,
            args=[name],
            id=self._job_id(name),
            replace_existing=True,
            name=f"poll {name}",
        )

    def _run_poll(self, name: str) -> None:
        if self.stop.is_set():
            return
        try:
            self.ingestor.poll(name)
        except Exception:  # a bug must not kill the feed's schedule
            log.exception("feed=%s poll crashed", name)
        if self.stop.is_set():
            return
        self._schedule(name, self._next_run(name))

    def _next_run(self, name: str) -> datetime:
        interval = self.ingestor.config.feed(name).interval
        try:
            with self.ingestor.db.session() as session:
                feed = session.get(Feed, self.ingestor.feed_id(name))
                planned = as_utc(feed.next_poll_at) if feed else None
        except SQLAlchemyError as exc:
            # The database is down, so the poll could not record its schedule: back off
            # in memory, so the feed keeps being retried and recovers by itself.
            failures = self._db_failures.get(name, 0) + 1
            self._db_failures[name] = failures
            delay = next_delay(
                interval,
                failures=failures,
                max_backoff=self.ingestor.config.worker.max_backoff,
                jitter=self.ingestor.config.worker.jitter,
                rng=self._rng,
            )
            log.warning("feed=%s database unavailable, next try in %.0fs: %s", name, delay, exc)
            return utcnow() + timedelta(seconds=delay)
        self._db_failures.pop(name, None)
        return planned or utcnow() + timedelta(seconds=interval)

    def schedule_all(self) -> None:
        now = utcnow()
        for cfg in self.ingestor.config.feeds:
            if not cfg.enabled:
                continue
            with self.ingestor.db.session() as session:
                feed = session.get(Feed, self.ingestor.feed_id(cfg.name))
                planned = as_utc(feed.next_poll_at) if feed else None
            if planned is None or planned <= now:
                # Spread a cold start so a thousand feeds do not fire in the same second.
                planned = now + timedelta(seconds=self._rng.uniform(0, min(cfg.interval, 10.0)))
            self._schedule(cfg.name, planned)

    # -- lifecycle ---------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the write in progress", signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> int:
        self.ingestor.sync_feeds()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.schedule_all()
        self.scheduler.start()
        log.info("started: %d feeds scheduled", len(self.scheduler.get_jobs()))
        while not self.stop.wait(timeout=1.0):
            pass
        self.scheduler.shutdown(wait=True)
        self.ingestor.close()
        log.info("stopped")
        return 0


def run_daemon(ingestor: Ingestor) -> int:
    return Daemon(ingestor).run()


__all__ = ["Daemon", "run_daemon"]
