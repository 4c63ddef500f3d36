"""One poll of one feed, wiring the stages: fetch -> parse -> clean -> fingerprint ->
dedup -> store. Each entry is stored in its own transaction, so a crash or a stop loses at
most the entry in flight and never leaves half an entry behind.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from worker import backoff, metric
from worker.clean import ChromeRules, strip_chrome
from worker.clean.extract import fragment_to_text, page_to_text
from worker.clean.learned import learnable_keys
from worker.config import Config, FeedConfig, FullTextMode
from worker.dedup.decision import MatchRule
from worker.dedup.fingerprint import Fingerprint, fingerprint
from worker.dedup.lsh import LshParams
from worker.errors import FeedError, HTTPStatusError, StoreError
from worker.logs import log_context
from worker.reader.fetcher import Fetcher, FetchLimits
from worker.reader.parser import Entry, ParsedFeed, parse_feed
from worker.store import articles as store
from worker.store import leases
from worker.store.availability import retry_transient
from worker.store.db import Database
from worker.store.feeds import PollOutcome, record_poll, sync_feeds, utcnow

log = logging.getLogger("newsdedup.ingest")

# Chrome lives at the edges of a text: only these lines of each article are counted.
_LEARN_HEAD, _LEARN_TAIL = 5, 10


def dedup_policy(config: Config) -> store.DedupPolicy:
    d = config.dedup
    return store.DedupPolicy(
        rule=MatchRule(
            d.jaccard_threshold,
            d.containment_threshold,
            d.min_shingles,
            d.merge_jaccard,
            d.merge_link_share,
        ),
        lsh=LshParams.for_threshold(d.lsh_threshold, d.num_perm),
        canonical_policy=d.canonical_policy.value,
        retention=timedelta(seconds=d.retention),
    )


def fingerprint_text(config: Config, text: str) -> Fingerprint:
    """The fingerprint of a clean text under the config's ``[dedup]`` settings."""
    d = config.dedup
    return fingerprint(
        text, shingle_size=d.shingle_size, num_perm=d.num_perm, seed=d.seed, features=d.features
    )


def fetcher_for(config: Config) -> Fetcher:
    f = config.fetch
    return Fetcher(
        FetchLimits(
            f.timeout,
            f.connect_timeout,
            f.max_bytes,
            f.max_redirects,
            f.user_agent,
            per_host=f.per_host_concurrency,
        )
    )


def source_hash(entry: Entry) -> str:
    """Hash of the entry as the feed gave it: unchanged entries are skipped before cleaning."""
    basis = "\x1f".join([entry.title, entry.link, entry.content_html])
    return hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()


def edge_keys(text: str, max_words: int) -> set[str]:
    lines = text.split("\n")
    edges = lines[:_LEARN_HEAD] + lines[max(_LEARN_HEAD, len(lines) - _LEARN_TAIL) :]
    return learnable_keys("\n".join(edges), max_words=max_words)


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
        self.policy = dedup_policy(self.config)
        self._feed_ids: dict[str, int] = {}
        self._priorities: dict[int, int] = {}
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self.owner = leases.worker_identity()
        self._lease = timedelta(seconds=self.config.worker.lease_timeout)
        self._sync_lock = threading.RLock()
        # One generator for every poll's jitter instead of one seeded from os.urandom per
        # poll; its draws are atomic under the GIL, so the poll threads can share it.
        self._rng = random.Random()

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
    def poll_all(self, max_workers: int | None = None) -> dict[str, PollOutcome]:
        feeds = [f for f in self.config.feeds if f.enabled]
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
        with self._running_lock:
            if name in self._running:  # never two polls of one feed at once
                return PollOutcome("skipped")
            self._running.add(name)
        try:
            with log_context(feed=name):
                state = self._claim(name, scheduled)
                if state is None:
                    return PollOutcome("leased")
                outcome = self._poll(self.config.feed(name), state)
        except SQLAlchemyError as exc:
            # The database went away before the poll could even read its feed row: the
            # scheduler retries with backoff; nothing was fetched, so nothing is lost.
            log.error("feed=%s database unavailable: %s", name, exc)
            outcome = PollOutcome("error", error_kind="database", error=str(exc).split("\n")[0])
        finally:
            with self._running_lock:
                self._running.discard(name)
        metric.record_poll(outcome)
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

    def _claim(self, name: str, scheduled: bool) -> leases.PollState | None:
        """The feed's lease and poll state in one statement (``None``: not ours to poll)."""
        now = utcnow()
        # A scheduled job fires at the planned time or just after; the slack only covers
        # clock differences between hosts, and must stay well under any interval.
        due_by = now + timedelta(seconds=0.5) if scheduled else None
        feed_id = self.feed_id(name)
        with self.db.engine.begin() as conn:
            state = leases.claim(
                conn, feed_id, self.owner, now=now, timeout=self._lease, due_by=due_by
            )
            if state is not None:
                return state
            holder = leases.holder(conn, feed_id)
            if not leases.dead_local_owner(holder):
                return None
            assert holder is not None
            log.info("feed=%s taking over the lease of %s (not running)", name, holder)
            return leases.take_over(
                conn, feed_id, self.owner, holder, now=now, timeout=self._lease, due_by=due_by
            )

    def _renew_lease(self, feed_id: int) -> None:
        try:
            with self.db.engine.begin() as conn:
                if not leases.renew(conn, feed_id, self.owner, now=utcnow(), timeout=self._lease):
                    log.warning("feed=%s lease lost to another worker", feed_id)
        except SQLAlchemyError as exc:
            log.warning("feed=%s lease not renewed: %s", feed_id, exc)

    def _poll(self, cfg: FeedConfig, state: leases.PollState) -> PollOutcome:
        started = utcnow()
        t0 = time.monotonic()
        feed_id = self.feed_id(cfg.name)
        retry_after = ttl = max_age = None
        parsed: ParsedFeed | None = None
        result_headers: dict[str, str] = {}
        assert self.fetcher is not None
        try:
            with metric.stage("fetch"):
                result = self.fetcher.fetch(
                    cfg.url,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    user_agent=cfg.user_agent,
                    trusted=True,
                    base_dir=self.config.base_dir if cfg.url[:5].lower() == "file:" else None,
                )
            result_headers = result.headers
            max_age = backoff.cache_max_age(result.headers.get("cache-control"))
            if result.not_modified:
                outcome = PollOutcome("not_modified", http_status=304)
            else:
                with metric.stage("parse"):
                    parsed = parse_feed(result.content, url=result.url, headers=result.headers)
                ttl = parsed.ttl_seconds
                outcome = self._store_entries(cfg, feed_id, parsed)
                outcome.http_status = result.status
        except FeedError as exc:
            retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
            outcome = PollOutcome("error", error_kind=exc.kind, error=str(exc))
            if isinstance(exc, HTTPStatusError):
                outcome.http_status = exc.status
        except StoreError as exc:
            outcome = PollOutcome("error", error_kind="database", error=str(exc))
        failures = state.consecutive_failures + 1 if outcome.outcome == "error" else 0
        delay = backoff.next_delay(
            cfg.interval,
            failures=failures,
            retry_after=retry_after,
            ttl=ttl,
            max_age=max_age,
            max_backoff=self.config.worker.max_backoff,
            jitter=self.config.worker.jitter,
            rng=self._rng,
        )
        next_poll_at = utcnow() + timedelta(seconds=delay)
        try:
            with self.db.engine.begin() as conn:
                record_poll(
                    conn,
                    feed_id,
                    outcome,
                    owner=self.owner,
                    started=started,
                    next_poll_at=next_poll_at,
                    etag=result_headers.get("etag"),
                    last_modified=result_headers.get("last-modified"),
                    title=parsed.title if parsed else None,
                )
            outcome.next_poll_at = next_poll_at
        except SQLAlchemyError as exc:
            log.error("feed=%s cannot record poll: %s", cfg.name, exc)
        changed = outcome.articles_new + outcome.duplicates_exact + outcome.duplicates_near
        changed += outcome.articles_updated
        # Quiet at steady state: a poll that changed nothing logs at DEBUG (and, with
        # DEBUG off, does not even build the line's arguments).
        level = (
            logging.WARNING
            if outcome.outcome == "error"
            else (logging.INFO if changed else logging.DEBUG)
        )
        if log.isEnabledFor(level):
            log.log(
                level,
                "feed=%s outcome=%s new=%d exact=%d near=%d updated=%d seen=%d%s (%.2fs)",
                cfg.name,
                outcome.outcome,
                outcome.articles_new,
                outcome.duplicates_exact,
                outcome.duplicates_near,
                outcome.articles_updated,
                outcome.entries_seen,
                f" error={outcome.error_kind}: {outcome.error}" if outcome.error else "",
                time.monotonic() - t0,
            )
        return outcome

    def _store_entries(self, cfg: FeedConfig, feed_id: int, parsed: ParsedFeed) -> PollOutcome:
        outcome = PollOutcome("ok", entries_seen=len(parsed.entries))
        for entry in parsed.entries:
            if self.stop.is_set():
                outcome.outcome = "stopped"
                outcome.entry_errors += 1  # keep the validators: the rest comes next time
                break
            try:
                # A database outage is waited out; if it lasts, StoreError fails the poll
                # (validators unsaved, so every entry comes again on the next poll).
                with log_context(article=entry.guid):
                    kind = retry_transient(
                        functools.partial(self.ingest_entry, cfg, feed_id, entry),
                        what=f"feed {cfg.name}",
                        stop=self.stop,
                    )
            except SQLAlchemyError as exc:
                outcome.entry_errors += 1
                log.warning("feed=%s guid=%s not stored: %s", cfg.name, entry.guid, exc)
                continue
            self._renew_lease(feed_id)
            if kind == "new":
                outcome.articles_new += 1
            elif kind in ("url", "content"):
                outcome.duplicates_exact += 1
            elif kind == "near":
                outcome.duplicates_near += 1
            elif kind == "updated":
                outcome.articles_updated += 1
        return outcome

    def clean_entry(self, cfg: FeedConfig, entry: Entry, rules: ChromeRules) -> tuple[str, str]:
        """``(extracted text, clean text)`` of an entry, fetching the article page when
        the feed carries only a summary (``full_text``)."""
        text = ""
        want_page = cfg.full_text == FullTextMode.ALWAYS or (
            cfg.full_text == FullTextMode.AUTO and not entry.has_full_content
        )
        if want_page and entry.link.lower().startswith(("http://", "https://")):
            assert self.fetcher is not None
            try:
                page = self.fetcher.fetch(
                    entry.link,
                    user_agent=cfg.user_agent,
                    trusted=cfg.allow_private_addresses,
                    accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                )
                text = page_to_text(page.content, page.url)
            except FeedError as exc:
                log.info("feed=%s url=%s full text not fetched: %s", cfg.name, entry.link, exc)
        if not text:
            text = fragment_to_text(entry.content_html)
        return text, strip_chrome(text, rules)

    def ingest_entry(self, cfg: FeedConfig, feed_id: int, entry: Entry) -> str:
        """Store one entry (its own transaction); returns how it was matched."""
        digest = source_hash(entry)
        with self.db.session() as session:
            existing = store.find_existing(session, feed_id, entry.guid, entry.url or None)
            if existing is not None and existing.source_hash == digest:
                return "unchanged"
            learned = (
                store.learned_keys(session, feed_id, self.config.clean.learn_min_articles)
                if self.config.clean.learn_lines
                else frozenset()
            )
        rules = ChromeRules(
            tuple(self.config.clean.extra_patterns) + tuple(cfg.boilerplate), learned
        )
        with metric.stage("clean"):
            extracted, clean_text = self.clean_entry(cfg, entry, rules)
        with metric.stage("fingerprint"):
            fp = fingerprint_text(self.config, clean_text)
        draft = store.Draft(
            feed_id=feed_id,
            guid=entry.guid,
            url=entry.link or None,
            canonical_url=entry.url or None,
            title=entry.title,
            author=entry.author,
            published_at=entry.published,
            language=cfg.language,
            content_html=entry.content_html,
            clean_text=clean_text,
            source_hash=digest,
            fingerprint=fp,
        )
        for attempt in range(2):
            try:
                with metric.stage("store"), self.db.dedup_transaction() as session:
                    existing = store.find_existing(session, feed_id, entry.guid, entry.url or None)
                    result = store.store_draft(
                        session, draft, self.policy, self._priorities, existing
                    )
                    if self.config.clean.learn_lines and result.kind not in (
                        "unchanged",
                        "updated",
                    ):
                        store.count_lines(
                            session,
                            feed_id,
                            edge_keys(extracted, self.config.clean.learn_max_words),
                        )
                return result.kind
            except IntegrityError:
                # Another worker stored the same entry between our read and write: retry
                # once, which finds it as existing.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()


def enabled_feeds(config: Config) -> Iterable[FeedConfig]:
    return (f for f in config.feeds if f.enabled)
