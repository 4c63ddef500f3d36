"""One poll of one feed, wiring the stages: fetch -> parse -> clean -> fingerprint ->
dedup -> store. The entries of a poll are stored in batches (``worker.store_batch``), each
batch one transaction (``pipeline/entries.py``), so a crash or a stop loses at most the batch
in flight and never leaves half an entry behind.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from worker import limits, metrics
from worker.clock import utcnow
from worker.config import Config, FeedConfig
from worker.errors import FeedError, HTTPStatusError, StoreError
from worker.limits import (
    Budget,
    BudgetExceeded,
    entry_budget,
)
from worker.logs import log_context
from worker.outcomes import PollOutcome
from worker.pipeline import backoff
from worker.pipeline.build import dedup_policy, fetcher_for
from worker.pipeline.consolidate import Consolidation, Pending
from worker.pipeline.entries import (
    KnownEntries,
    LearnedLines,
    Prepared,
    poll_state,
    prepare,
    source_hash,
    write_batch,
)
from worker.pipeline.entry_text import EntryTexts
from worker.pipeline.events import EventLevel
from worker.pipeline.extraction import PageExtractor
from worker.pipeline.lease import FeedLeases
from worker.pipeline.record import PollEnd, log_poll, record
from worker.reader.fetcher import Fetcher
from worker.reader.parser import Entry, ParsedFeed, parse_feed
from worker.store import articles as store
from worker.store import leases
from worker.store.availability import retry_transient
from worker.store.db import Database
from worker.store.events import stories_of_entries
from worker.store.feeds import parked_feeds, sync_feeds

log = logging.getLogger("newsdedup.ingest")

# A batch of a poll's entries is written after this long even when not full.
_BATCH_SECONDS = 5.0


@dataclass
class Ingestor:
    """Polls feeds of one config into one database. Thread-safe: one instance serves
    every scheduler job."""

    config: Config
    db: Database
    fetcher: Fetcher | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.fetcher is None:
            self.fetcher = fetcher_for(self.config)
        self.texts = EntryTexts(
            self.fetcher, PageExtractor(self.config.worker.extract_processes), self.stop
        )
        self.policy = dedup_policy(self.config)
        self._feed_ids: dict[str, int] = {}
        self._priorities: dict[int, int] = {}
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self.leases = FeedLeases(self.db, timedelta(seconds=self.config.worker.lease_timeout))
        self._sync_lock = threading.RLock()
        # One generator for every poll's jitter instead of one seeded from os.urandom per
        # poll; its draws are atomic under the GIL, so the poll threads can share it.
        self._rng = random.Random()
        self.max_entries_per_poll = limits.MAX_ENTRIES_PER_POLL
        # The event level's state in memory, shared by this process's poll threads.
        self.events = EventLevel(self.config.events)
        # The articles stored and not consolidated yet (``pipeline.consolidate``).
        self.pending = Pending(
            self.db,
            self.policy,
            lambda: self._priorities,
            self.config.worker.consolidate_interval,
            after=lambda done, session: self.events.after_batch(session, done.stories),
        )

    # -- setup -------------------------------------------------------------------------
    def sync_feeds(self) -> dict[str, int]:
        try:
            return self._sync_feeds_once()
        except IntegrityError:
            # Workers started together on a new database insert the same feed rows, and the
            # one that commits second breaks the unique name (seen: a worker exiting 1 at
            # start). The rows exist now: syncing again finds and updates them.
            return self._sync_feeds_once()

    def _sync_feeds_once(self) -> dict[str, int]:
        with self._sync_lock, self.db.session() as session, session.begin():
            self._feed_ids = sync_feeds(session, self.config.feeds)
            self._priorities = store.feed_priorities(
                session, {f.name: f.priority for f in self.config.feeds}
            )
        return self._feed_ids

    def feed_id(self, name: str) -> int:
        with self._sync_lock:
            if name not in self._feed_ids:
                self.sync_feeds()
            return self._feed_ids[name]

    # -- polling -----------------------------------------------------------------------
    def parked(self) -> dict[str, str]:
        """``{name: reason}`` of the parked feeds."""
        with self.db.session() as session:
            return parked_feeds(session)

    def poll_all(self, max_workers: int | None = None) -> dict[str, PollOutcome]:
        """Poll every enabled feed that is not parked."""
        parked = self.parked()
        feeds = [f for f in self.config.feeds if f.enabled and f.name not in parked]
        workers = max(1, min(max_workers or self.config.fetch.max_concurrency, len(feeds) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
            results = list(pool.map(self.poll, [f.name for f in feeds]))
        return {f.name: r for f, r in zip(feeds, results, strict=True)}

    def poll(self, name: str, *, scheduled: bool = False) -> PollOutcome:
        """Poll one feed now; never raises for a feed problem (it is recorded instead).

        Another worker on the same database may hold the feed's lease: then nothing is
        fetched and the outcome is ``leased``. ``scheduled`` polls (the daemon's) also
        leave a feed alone that is not due, because another worker has just polled it.
        """
        if self.stop.is_set():
            # SIGTERM arrived: a job the scheduler fired just before it shut down must
            # not start a fetch the shutdown would then wait for (or cut).
            return PollOutcome("skipped")
        with self._running_lock:
            if name in self._running:  # never two polls of one feed at once
                return PollOutcome("skipped")
            self._running.add(name)
        try:
            with log_context(feed=name):
                state = self.leases.claim(self.feed_id(name), name, scheduled=scheduled)
                if state is None:
                    return PollOutcome("leased")
                outcome = self._poll(self.config.feed(name), state)
        except SQLAlchemyError as exc:
            # The database went away before the poll could even read its feed row: the
            # scheduler retries with backoff; nothing was fetched, so nothing is lost.
            log.error("feed=%s database unavailable: %s", name, exc)
            outcome = PollOutcome("error", error_kind="database", error=str(exc).split("\n")[0])
        except Exception as exc:
            # A bug outside the poll proper (claiming, config): counted as a failed poll;
            # the scheduler backs off (it never polls again at once).
            log.exception("feed=%s poll failed", name)
            outcome = PollOutcome("error", error_kind="internal", error=_describe(exc))
        finally:
            with self._running_lock:
                self._running.discard(name)
        metrics.record_poll(outcome)
        return outcome

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no poll runs (``stop`` makes them end between entries); ``False`` if
        some still run after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._running_lock:
                if not self._running:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _entry_budget(self, feed_id: int) -> Budget:
        """The budget of the next entry: CPU, and the feed's lease."""
        deadline = self.leases.entry_deadline(feed_id)
        return Budget(limits.ENTRY_CPU_SECONDS, deadline=deadline, stop=self.stop)

    def _poll(self, cfg: FeedConfig, state: leases.PollState) -> PollOutcome:
        started = utcnow()
        t0 = time.monotonic()
        feed_id = self.feed_id(cfg.name)
        retry_after = ttl = max_age = None
        parsed: ParsedFeed | None = None
        result_headers: dict[str, str] = {}
        status: int | None = None
        assert self.fetcher is not None
        try:
            with metrics.stage("fetch"):
                result = self.fetcher.fetch(
                    cfg.url,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    user_agent=cfg.user_agent,
                    trusted=True,
                    # The operator chose the feed's host; a redirect elsewhere is the
                    # server's choice and goes through the address guard.
                    trust_redirects=cfg.allow_private_addresses,
                    base_dir=self.config.base_dir if cfg.url[:5].lower() == "file:" else None,
                )
            result_headers, status = result.headers, result.status
            max_age = backoff.cache_max_age(result.headers.get("cache-control"))
            if result.not_modified:
                outcome = PollOutcome("not_modified", http_status=304)
            else:
                with metrics.stage("parse"):
                    parsed = parse_feed(
                        result.content, url=result.url, headers=result.headers, now=utcnow()
                    )
                del result  # the body: not held through the entries
                ttl = parsed.ttl_seconds
                outcome = self._store_entries(cfg, feed_id, parsed)
                outcome.http_status = status
        except FeedError as exc:
            retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
            outcome = PollOutcome("error", error_kind=exc.kind, error=str(exc))
            if isinstance(exc, HTTPStatusError):
                outcome.http_status = exc.status
        except StoreError as exc:
            outcome = PollOutcome("error", error_kind="database", error=str(exc))
        except Exception as exc:
            # Whatever it was, the poll is recorded as failed, counted and retried with
            # backoff; it never takes the daemon's schedule for the feed with it.
            log.exception("feed=%s poll failed", cfg.name)
            outcome = PollOutcome("error", error_kind="internal", error=_describe(exc))
        self.leases.forget(feed_id)
        end = PollEnd(
            retry_after=retry_after,
            ttl=ttl,
            max_age=max_age,
            etag=result_headers.get("etag"),
            last_modified=result_headers.get("last-modified"),
            title=parsed.title if parsed else None,
        )
        record(
            self.config,
            self.db,
            cfg,
            outcome,
            feed_id=feed_id,
            owner=self.leases.owner,
            started=started,
            state=state,
            end=end,
            rng=self._rng,
        )
        log_poll(cfg.name, outcome, time.monotonic() - t0)
        return outcome

    def _store_entries(self, cfg: FeedConfig, feed_id: int, parsed: ParsedFeed) -> PollOutcome:
        outcome = PollOutcome("ok", entries_seen=len(parsed.entries))
        for reason, count in parsed.rejected.items():
            outcome.rejected[reason] += count
        outcome.rejected_notes.extend(parsed.rejected_notes[:20])
        for note in parsed.rejected_notes:
            log.warning("feed=%s entry skipped: %s", cfg.name, note)
        # A database outage is waited out; if it lasts, StoreError fails the poll
        # (validators unsaved, so every entry comes again on the next poll).
        try:
            known, learned = retry_transient(
                functools.partial(poll_state, self.db, self.config, feed_id, parsed.entries),
                what=f"feed {cfg.name}",
                stop=self.stop,
            )
        except SQLAlchemyError as exc:
            raise StoreError(f"feed {cfg.name}: {exc}") from exc
        batch: list[Prepared] = []
        opened = time.monotonic()
        taken = 0
        pages = self.texts.prefetch(cfg, parsed.entries, known)
        for index, entry in enumerate(parsed.entries):
            if self.stop.is_set():
                outcome.outcome = "interrupted"
                outcome.entry_errors += 1  # keep the validators: the rest comes next time
                break
            if taken >= self.max_entries_per_poll:
                # Over the per-poll cap: the rest waits for the next poll (soon); only
                # whether it is new or changed is asked, which costs a hash.
                if known.source_hash(entry) != source_hash(entry):
                    outcome.entries_deferred += 1
                continue
            page = functools.partial(pages.text, index) if pages is not None else None
            try:
                prepared = self._prepare_guarded(cfg, feed_id, entry, known, learned, outcome, page)
            except BudgetExceeded as exc:  # stopped, or another worker has the feed: the end
                log.warning("feed=%s poll ends: %s", cfg.name, exc)
                outcome.outcome = "interrupted"
                outcome.entry_errors += 1
                break
            if prepared is not None:
                batch.append(prepared)
                taken += 1
            # Also written when it has been open a while (slow article-page fetches), so
            # the lease is renewed and a crash loses little time's work.
            full = len(batch) >= self.config.worker.store_batch
            if batch and (full or time.monotonic() - opened > _BATCH_SECONDS):
                self._write_poll_batch(cfg, feed_id, batch, outcome)
                batch, opened = [], time.monotonic()
        if pages is not None:
            pages.cancel()  # after a stop: the pages started ahead are not waited for
        if batch:  # also after a stop: the entries in hand are written, then the poll ends
            self._write_poll_batch(cfg, feed_id, batch, outcome)
        return outcome

    def _prepare_guarded(
        self,
        cfg: FeedConfig,
        feed_id: int,
        entry: Entry,
        known: KnownEntries,
        learned: LearnedLines,
        outcome: PollOutcome,
        page: Callable[[], tuple[str, float] | None] | None = None,
    ) -> Prepared | None:
        """``prepare_entry`` under the entry's budget and its own guard: an entry that
        overruns the budget or raises is skipped and counted, never the poll's end. A stop
        is (``BudgetExceeded`` raised on), and so is a lease another worker has taken; an
        entry that outlasted the lease while nobody took it is skipped like one over
        budget (ending the poll would only bring it back at once, and again)."""
        budget = self._entry_budget(feed_id)
        try:
            with log_context(article=entry.guid), entry_budget(budget):
                return self.prepare_entry(cfg, feed_id, entry, known, learned, page)
        except BudgetExceeded as exc:
            if exc.reason == "stopped" or (
                exc.reason == "lease" and not self.leases.renew(feed_id)
            ):
                raise
            note = f"budget: entry {entry.guid[:120]!r} ({exc})"
        except Exception as exc:
            log.exception("feed=%s guid=%s entry failed", cfg.name, entry.guid[:200])
            note = f"error: entry {entry.guid[:120]!r} ({_describe(exc)})"
        log.warning("feed=%s entry skipped: %s", cfg.name, note)
        outcome.reject(note.split(":", 1)[0], note)
        return None

    def _write_poll_batch(
        self, cfg: FeedConfig, feed_id: int, batch: list[Prepared], outcome: PollOutcome
    ) -> None:
        def write(part: list[Prepared]) -> list[str]:
            return retry_transient(
                functools.partial(self.write_entries, feed_id, part),
                what=f"feed {cfg.name}",
                stop=self.stop,
            )

        try:
            kinds = write(batch)
        except StoreError:
            raise  # an outage that lasted: the poll fails, every entry comes again
        except Exception:
            # Not an outage: one entry the database (or the dedup code) refuses must not
            # cost the others, so each is tried alone.
            kinds = []
            for prepared in batch:
                try:
                    kinds += write([prepared])
                except StoreError:
                    raise
                except Exception as exc:
                    outcome.entry_errors += 1
                    guid = prepared.draft.guid[:120]
                    outcome.reject("store", f"store: entry {guid!r} ({_describe(exc)})")
                    log.warning("feed=%s guid=%s not stored: %s", cfg.name, guid, exc)
        self.leases.renew(feed_id)
        outcome.count(kinds)

    def prepare_entry(
        self,
        cfg: FeedConfig,
        feed_id: int,
        entry: Entry,
        known: KnownEntries,
        learned: LearnedLines,
        page: Callable[[], tuple[str, float] | None] | None = None,
    ) -> Prepared | None:
        """Clean and fingerprint an entry (outside the dedup lock); ``None`` when it is
        stored unchanged. ``page``: its article page's text, started ahead by the poll."""
        clean = functools.partial(self.texts.read, page=page)
        return prepare(self.config, cfg, feed_id, entry, known, learned, clean)

    def write_entries(self, feed_id: int, batch: list[Prepared]) -> list[str]:
        """Store prepared entries of one feed in one dedup transaction, and place their new
        stories into events in the same one; how each was matched."""
        for attempt in range(2):
            placing = False
            try:
                with metrics.stage("store", len(batch)), self.db.dedup_transaction() as session:
                    touched: set[int] = set()
                    kinds = write_batch(
                        session,
                        feed_id,
                        batch,
                        self.policy,
                        self._priorities,
                        learn_lines=self.config.clean.learn_lines,
                        touched=touched,
                    )
                    placing = True
                    stories = stories_of_entries(session, feed_id, {p.draft.guid for p in batch})
                    self.events.after_batch(session, stories)
                self.pending.add(touched)
                return kinds
            except IntegrityError:
                if placing:
                    self.events.invalidate()
                # Another worker stored one of the entries between our read and write:
                # retry once, which finds it as existing.
                if attempt:
                    raise
            except BaseException:
                if placing:  # the event level's memory holds what did not commit
                    self.events.invalidate()
                raise
        raise AssertionError("unreachable")

    def consolidate_pending(self) -> Consolidation:
        """Consolidate now what this worker's batches touched since the last time."""
        return self.pending.flush()

    def ingest_entries(self, cfg: FeedConfig, feed_id: int, entries: list[Entry]) -> list[str]:
        """Store entries of one feed as a poll does, in one batch: how each was matched
        (``unchanged`` for those already stored as they are)."""
        known, learned = poll_state(self.db, self.config, feed_id, entries)
        prepared = [self.prepare_entry(cfg, feed_id, e, known, learned) for e in entries]
        kinds = iter(self.write_entries(feed_id, [p for p in prepared if p is not None]))
        return ["unchanged" if p is None else next(kinds) for p in prepared]

    def ingest_entry(self, cfg: FeedConfig, feed_id: int, entry: Entry) -> str:
        """Store one entry (its own transaction); returns how it was matched."""
        return self.ingest_entries(cfg, feed_id, [entry])[0]

    def close(self) -> None:
        """Consolidate what is pending (``run --once``, a shutdown, an import's end), then
        stop the extraction processes and the fetcher."""
        self.pending.flush()
        self.texts.extractor.close()
        if self.fetcher is not None:
            self.fetcher.close()


def _describe(exc: BaseException) -> str:
    """An exception as one short line for the feed row and the poll log."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
