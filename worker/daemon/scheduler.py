"""The daemon: APScheduler 3 runs one job per enabled feed, each rescheduled after its
poll for the time the feed row says (interval, backoff, Retry-After, TTL), never two polls
of one feed at once. SIGTERM/SIGINT: each poll writes the entries it has cleaned as one
batch and stops, then the daemon exits 0. SIGHUP re-reads the config (``daemon.reload``);
the optional HTTP listener (``daemon.listener``) serves metrics and health; under systemd
it notifies READY/WATCHDOG/STOPPING.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from worker import metrics
from worker.clock import as_utc, utcnow
from worker.daemon import reload, systemd
from worker.daemon.health import DatabaseProbe, count_overdue, count_parked
from worker.daemon.listener import Listener
from worker.errors import NewsdedupError
from worker.logs import setup_logging
from worker.outcomes import PollOutcome
from worker.pipeline.backoff import next_delay
from worker.pipeline.poll import Ingestor
from worker.pipeline.purge import run_purge
from worker.store.models import Feed
from worker.store.retention import prune_index

log = logging.getLogger("newsdedup.scheduler")

# Seconds a feed's next poll is at least ahead of the end of its last one.
_MIN_DELAY = 1.0
# The scheduler's heartbeat job runs this often; /healthz says it stopped after 5 misses.
_TICK_SECONDS = 2.0


class Daemon:
    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.stop = ingestor.stop
        self._rng = random.Random()
        # Polls in a row per feed that recorded no schedule (a crash, the database down):
        # their next try is planned here, with backoff.
        self._unrecorded: dict[str, int] = {}
        workers = ingestor.config.fetch.max_concurrency
        self.scheduler = BackgroundScheduler(
            # The heartbeat has a thread of its own: polls filling every other thread must
            # not make a busy scheduler look dead.
            executors={
                "default": ThreadPoolExecutor(max_workers=workers),
                "heartbeat": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        self._reload_requested = threading.Event()
        self._beat = time.monotonic()  # the main loop's heartbeat, for /healthz
        self._ticked = time.monotonic()  # the scheduler's: its last run of ``_tick``
        self._retired: list[Any] = []  # fetchers replaced by a reload, closed at exit
        self._parked: set[str] = set()  # feeds without a job because they are parked
        self.listener: Listener | None = None
        self.probe = DatabaseProbe(ingestor.db.url)

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
        if self.stop.is_set() or not self._polled(name):
            return
        outcome: PollOutcome | None = None
        try:
            outcome = self.ingestor.poll(name, scheduled=True)
        except Exception:  # a bug must not kill the feed's schedule
            log.exception("feed=%s poll crashed", name)
            metrics.record_poll(PollOutcome("error", error_kind="internal"))
        if self.stop.is_set() or not self._polled(name):
            return  # a reload removed the feed while it was polled
        if outcome is not None and outcome.parked:
            self._parked.add(name)  # until a person revives it, then a reload
            return
        if outcome is not None and outcome.outcome == "leased":
            when = self._after_lease(name)
        elif outcome is not None and outcome.next_poll_at is not None:
            # The poll recorded when the feed is due: no need to read the row back.
            self._unrecorded.pop(name, None)
            when = outcome.next_poll_at
        else:
            when = self._next_run(name)
        # Never at once: a time already past would fire the job again immediately (a
        # crashing poll rescheduled at its stored, past, next_poll_at spun in a loop).
        self._schedule(name, max(when, utcnow() + timedelta(seconds=_MIN_DELAY)))

    def _retention(self) -> None:
        """The hourly maintenance: the index window, then the purge of expired data."""
        if self.stop.is_set():
            return
        config = self.ingestor.config
        cutoff = utcnow() - timedelta(seconds=config.dedup.retention)
        try:
            prune_index(self.ingestor.db, cutoff)
            run_purge(config, self.ingestor.db, stop=self.stop)
        except SQLAlchemyError as exc:  # the next hour tries again
            log.warning("retention: not done this time: %s", exc)

    def _after_lease(self, name: str) -> datetime:
        """Another worker holds the feed or has just polled it: look again when its
        schedule says, or when the other worker's lease runs out if that worker may have
        died mid-poll (its feed is then overdue and the lease is the only clock)."""
        now = utcnow()
        try:
            with self.ingestor.db.session() as session:
                feed = session.get(Feed, self.ingestor.feed_id(name))
                planned = as_utc(feed.next_poll_at) if feed else None
                expires = as_utc(feed.lease_expires_at) if feed else None
        except SQLAlchemyError:
            return self._next_run(name)
        if planned is not None and planned > now:
            return planned
        return max(now + timedelta(seconds=1), expires or now)

    def _polled(self, name: str) -> bool:
        try:  # a look-up by name, not a scan: it runs twice per poll
            return self.ingestor.config.feed(name).enabled
        except KeyError:
            return False

    def _next_run(self, name: str) -> datetime:
        """The next try of a poll that recorded no schedule (it crashed, or the database
        was down): backoff counted here, in memory, so the feed keeps being retried, less
        and less often, and recovers by itself."""
        failures = self._unrecorded.get(name, 0) + 1
        self._unrecorded[name] = failures
        delay = next_delay(
            self.ingestor.config.feed(name).interval,
            failures=failures,
            max_backoff=self.ingestor.config.worker.max_backoff,
            jitter=self.ingestor.config.worker.jitter,
            rng=self._rng,
        )
        log.warning(
            "feed=%s poll not recorded (%d in a row), next try in %.0fs", name, failures, delay
        )
        return utcnow() + timedelta(seconds=delay)

    def schedule_all(self) -> int:
        """Give every enabled, unparked feed its first poll; returns how many."""
        parked = self.ingestor.parked()
        self._parked = set(parked)
        scheduled = 0
        for cfg in self.ingestor.config.feeds:
            if cfg.enabled and cfg.name not in parked:
                self._schedule(cfg.name, self._first_run(cfg.name))
                scheduled += 1
        if parked:
            log.warning(
                "%d parked feeds not scheduled (%s); `newsdedup feeds` says why",
                len(parked), ", ".join(sorted(parked)),
            )  # fmt: skip
        return scheduled

    def _first_run(self, name: str, *, changed: bool = False) -> datetime:
        """When to poll a feed just (re)configured: as its row planned, but no later than
        one new interval after its last poll (``changed``), and not in the past."""
        now = utcnow()
        cfg = self.ingestor.config.feed(name)
        with self.ingestor.db.session() as session:
            feed = session.get(Feed, self.ingestor.feed_id(name))
            planned = as_utc(feed.next_poll_at) if feed else None
            last = as_utc(feed.last_polled_at) if feed else None
        if changed:
            by_interval = last + timedelta(seconds=cfg.interval) if last else now
            planned = min(planned, by_interval) if planned else by_interval
        if planned is None or planned <= now:
            # Spread a cold start so a thousand feeds do not fire in the same second.
            planned = now + timedelta(seconds=self._rng.uniform(0, min(cfg.interval, 10.0)))
        return planned

    # -- config life -------------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the config file; refuse it (logged, old config kept) when invalid."""
        old = self.ingestor.config
        try:
            new = reload.load_replacement(old)
            changes = reload.feed_changes(old, new)
            retired = reload.apply_config(self.ingestor, new)
        except (NewsdedupError, SQLAlchemyError) as exc:
            metrics.RELOADS.labels("refused").inc()
            log.error("reload refused, still running the previous config: %s", exc)
            return False
        if retired is not None:
            self._retired.append(retired)
        for name in changes.removed:
            # No job while its poll runs: _run_poll then sees the feed gone and stops.
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(self._job_id(name))
        parked = self.ingestor.parked()  # a new URL has already unparked its feed
        revived = self._parked - set(parked) - set(changes.added) - set(changes.changed)
        self._parked = set(parked)
        for name in changes.added:
            if name not in parked:
                self._schedule(name, self._first_run(name))
        for name in changes.changed:
            url_changed = old.feed(name).url != new.feed(name).url
            if name in parked:
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(self._job_id(name))
            else:
                when = utcnow() if url_changed else self._first_run(name, changed=True)
                self._schedule(name, when)
        # Feeds a person revived (`feeds enable`, `feeds refresh`) have no job yet.
        for name in sorted(revived):
            if self._polled(name):
                log.info("feed=%s no longer parked: scheduled", name)
                self._schedule(name, utcnow())
        if (new.worker.log_level, new.worker.log_format) != (
            old.worker.log_level,
            old.worker.log_format,
        ):
            setup_logging(new.worker.log_level, new.worker.log_format)
        if new.worker.listen != old.worker.listen:
            self._start_listener(new.worker.listen)
        if new.dedup != old.dedup:
            log.warning("[dedup] settings changed: run `newsdedup reindex` for the stored articles")
        metrics.RELOADS.labels("applied").inc()
        log.info(
            "config reloaded: %d feeds added, %d removed, %d changed",
            len(changes.added),
            len(changes.removed),
            len(changes.changed),
        )
        return True

    # -- observability -----------------------------------------------------------------
    def start_heartbeat(self) -> None:
        """The job whose runs tell the scheduler is alive (``/healthz``, the watchdog)."""
        self._ticked = time.monotonic()
        self.scheduler.add_job(
            self._tick, "interval", seconds=_TICK_SECONDS, id="heartbeat",
            executor="heartbeat", name="the scheduler's heartbeat, for /healthz",
        )  # fmt: skip

    def _tick(self) -> None:
        self._ticked = time.monotonic()

    def _scheduler_alive(self) -> bool:
        """Whether the scheduler still runs its heartbeat job: a dead scheduler thread or a
        stuck dispatch stops it, whatever the scheduler's state says."""
        return self.scheduler.running and time.monotonic() - self._ticked < 5 * _TICK_SECONDS

    def health(self) -> tuple[bool, dict[str, Any]]:
        alive = self._scheduler_alive() and time.monotonic() - self._beat < 10
        db_ok, db_state = self.probe.check()
        return alive and db_ok, {"scheduler": "ok" if alive else "stopped", "database": db_state}

    def _start_listener(self, listen: str | None) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if listen:
            try:
                self.listener = Listener(
                    listen, self.health, self.ingestor.db, lambda: self.ingestor.config
                )
            except OSError as exc:
                log.error("cannot listen on %s: %s", listen, exc)

    # -- lifecycle ---------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload_requested.set()  # handled by the main loop, not in the handler
            return
        log.info("received %s: finishing the write in progress", signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> int:
        # First: a second daemon of this config stops here, before it schedules anything.
        pid_file = reload.write_pid_file(self.ingestor.config)
        self.ingestor.sync_feeds()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        # Counted here: a poll job is a one-off that leaves the job store while it runs,
        # so counting the store after start() misses any feed whose first poll has begun.
        polls = self.schedule_all()
        self.scheduler.add_job(
            self._retention,
            "interval",
            hours=1,
            next_run_time=utcnow() + timedelta(minutes=1),
            id="retention",
            name="prune the LSH index and purge expired articles and poll records",
        )
        self.start_heartbeat()
        metrics.watch_overdue(lambda: count_overdue(self.ingestor.db))
        metrics.FEEDS_BROKEN.set_function(lambda: count_parked(self.ingestor.db))
        metrics.FEEDS_ENABLED.set_function(
            lambda: sum(1 for f in self.ingestor.config.feeds if f.enabled)
        )
        index = self.ingestor.db.index
        metrics.INDEX_ARTICLES.set_function(lambda: index.size()[0])
        metrics.INDEX_BYTES.set_function(lambda: index.size()[1])
        # Listening before the first poll can run: whatever a poll logs (a feed parked, an
        # error) can already be seen in /metrics.
        self._start_listener(self.ingestor.config.worker.listen)
        self.scheduler.start()
        log.info("started: %d feeds scheduled", polls, extra={"feeds_scheduled": polls})
        systemd.notify("READY=1")
        watchdog = systemd.watchdog_interval()
        last_ping = time.monotonic()
        while not self.stop.wait(timeout=min(1.0, watchdog or 1.0)):
            self._beat = time.monotonic()
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self.reload()
            if self.ingestor.pending.due():  # a quiet worker consolidates what it stored
                self.ingestor.pending.flush()
            # systemd restarts a daemon whose scheduler stopped (WatchdogSec).
            if watchdog and self._beat - last_ping >= watchdog and self._scheduler_alive():
                systemd.notify("WATCHDOG=1")
                last_ping = self._beat
        systemd.notify("STOPPING=1")
        # Not shutdown(wait=True): APScheduler holds its job-store lock while it waits, and
        # a poll finishing at that moment blocks on that lock to reschedule its feed: a
        # deadlock (seen: a daemon that never exited after SIGTERM). Stop the scheduler,
        # then wait for the polls in flight, which stop between entries.
        self.scheduler.shutdown(wait=False)
        grace = self.ingestor.config.fetch.timeout + 30.0
        if not self.ingestor.wait_idle(grace):
            log.warning("polls still running after %.0fs; exiting anyway", grace)
        if self.listener is not None:
            self.listener.close()
        self.ingestor.close()
        for fetcher in self._retired:
            fetcher.close()
        self.probe.dispose()
        reload.remove_pid_file(pid_file)
        log.info("stopped")
        return 0


def run_daemon(ingestor: Ingestor) -> int:
    return Daemon(ingestor).run()


__all__ = ["Daemon", "run_daemon"]
