"""Prometheus metrics of the worker, in a registry of their own (served by
``worker.daemon.listener``).

The ingest path calls ``record_poll`` once per poll and wraps each stage in ``stage``;
both are a few dictionary look-ups, cheap next to any fetch.

    >>> with stage("parse"):
    ...     pass
    >>> record_poll(PollOutcome("ok", entries_seen=3, articles_new=2, duplicates_near=1))
    >>> b"newsdedup_polls_total" in render()
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from worker.errors import FeedError
from worker.outcomes import PollOutcome

# Our own registry (not the global one), so importing this module twice in tests or
# embedding the worker never registers a metric twice; the process metrics join it.
REGISTRY = CollectorRegistry(auto_describe=True)
disable_created_metrics()  # no `*_created` twin of every series: Prometheus ignores them
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

# extract: CPU seconds of one article page's extraction (in a worker process, or in the poll
# thread with worker.extract_processes = 1); clean includes waiting for it.
STAGES = ("fetch", "parse", "extract", "clean", "fingerprint", "store")

POLLS = Counter(
    "newsdedup_polls",
    "Feed polls by outcome (ok, not_modified, error, interrupted, skipped, leased).",
    ["outcome"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "newsdedup_errors",
    "Failed polls by error kind (fetch, timeout, http_status, too_large, parse, database, ...).",
    ["kind"],
    registry=REGISTRY,
)
ENTRIES_SEEN = Counter(
    "newsdedup_entries_seen", "Entries found in fetched feeds.", registry=REGISTRY
)
ENTRIES_REJECTED = Counter(
    "newsdedup_entries_rejected",
    "Entries skipped by reason (docs/limits.md): too_large, markup_items, markup_depth, "
    "attributes, feed_too_long, unparseable, empty, budget, error, store.",
    ["reason"],
    registry=REGISTRY,
)
ENTRIES_TRUNCATED = Counter(
    "newsdedup_entries_truncated",
    "Entries kept with less of their text: elements (feed body), page_elements (article "
    "page), text (characters or lines of extracted text); docs/limits.md.",
    ["reason"],
    registry=REGISTRY,
)
ENTRIES_DEFERRED = Counter(
    "newsdedup_entries_deferred",
    "New or changed entries left for the next poll (over the per-poll cap).",
    registry=REGISTRY,
)
ARTICLES_STORED = Counter(
    "newsdedup_articles_stored",
    "Articles written: new (started a story), exact or near (folded copy), updated.",
    ["kind"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "newsdedup_duplicates_folded",
    "Copies folded into an existing story, by match kind (exact, near).",
    ["kind"],
    registry=REGISTRY,
)
STORIES = Counter(
    "newsdedup_stories_created",
    "Stories started (articles with no earlier copy).",
    registry=REGISTRY,
)
STAGE_SECONDS = Histogram(
    "newsdedup_stage_seconds",
    "Latency of one pipeline stage: fetch and parse per poll; clean, fingerprint, store per entry.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
FEEDS_OVERDUE = Gauge(
    "newsdedup_feeds_overdue",
    "Enabled feeds whose next poll is more than a minute late (read from the database at scrape).",
    registry=REGISTRY,
)
FEEDS_BROKEN = Gauge(
    "newsdedup_feeds_broken",
    "Enabled feeds parked after worker.park_after failed polls in a row: not polled until "
    "a person runs `newsdedup feeds enable NAME` or the URL changes (read at scrape).",
    registry=REGISTRY,
)
FEEDS_ENABLED = Gauge(
    "newsdedup_feeds_enabled", "Enabled feeds in the running config.", registry=REGISTRY
)
INDEX_ARTICLES = Gauge(
    "newsdedup_index_articles",
    "Articles in this worker's in-memory LSH index (the retention window).",
    registry=REGISTRY,
)
INDEX_BYTES = Gauge(
    "newsdedup_index_bytes",
    "Bytes of this worker's in-memory LSH index arrays.",
    registry=REGISTRY,
)
RELOADS = Counter(
    "newsdedup_config_reloads",
    "Config reloads (SIGHUP) by result: applied or refused.",
    ["result"],
    registry=REGISTRY,
)


def _error_kinds() -> list[str]:
    """Every ``FeedError.kind``, plus the poll path's own ``database``, ``internal`` (a
    bug: the poll is recorded as failed) and ``unknown``."""
    kinds, todo = {"database", "internal", "unknown"}, [FeedError]
    while todo:
        cls = todo.pop()
        kinds.add(cls.kind)
        todo.extend(cls.__subclasses__())
    return sorted(kinds)


# Every series exists from the start, at zero: rate() and increase() need a first sample,
# and an alert on `newsdedup_errors_total{kind="timeout"}` must not wait for the first one.
POLL_OUTCOMES = ("ok", "not_modified", "error", "interrupted", "skipped", "leased")
for _stage in STAGES:
    STAGE_SECONDS.labels(_stage)
for _kind in ("exact", "near"):
    DUPLICATES.labels(_kind)
for _kind in ("new", "exact", "near", "updated"):
    ARTICLES_STORED.labels(_kind)
for _outcome in POLL_OUTCOMES:
    POLLS.labels(_outcome)
REJECT_REASONS = (
    "too_large", "markup_items", "markup_depth", "attributes", "feed_too_long", "unparseable",
    "empty", "budget", "error", "store",
)  # fmt: skip
for _reason in REJECT_REASONS:
    ENTRIES_REJECTED.labels(_reason)
for _reason in ("elements", "page_elements", "text"):
    ENTRIES_TRUNCATED.labels(_reason)
for _kind in _error_kinds():
    ERRORS.labels(_kind)
for _result in ("applied", "refused"):
    RELOADS.labels(_result)


@contextmanager
def stage(name: str, items: int = 1) -> Iterator[None]:
    """Time one pipeline stage (also when it raises); done for ``items`` entries at once
    (a batch), each is observed with its share, so counts stay per entry. Listeners
    (``on_stage``) get the stage's CPU time in this thread too."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        share = (time.perf_counter() - started) / max(items, 1)
        observer = STAGE_SECONDS.labels(name)
        for _ in range(max(items, 1)):
            observer.observe(share)
        if _stage_listeners:
            cpu = time.thread_time() - cpu_started
            for listener in list(_stage_listeners):
                listener(name, cpu, max(items, 1))


StageListener = Callable[[str, float, int], None]
_stage_listeners: list[StageListener] = []


@contextmanager
def on_stage(listener: StageListener) -> Iterator[None]:
    """Call ``listener(stage, cpu_seconds, items)`` after every stage while inside: how the
    benches see the daemon's own stages without wrapping its code.

    >>> seen = []
    >>> with on_stage(lambda name, cpu, items: seen.append((name, items))):
    ...     with stage("clean"):
    ...         pass
    >>> seen
    [('clean', 1)]
    """
    _stage_listeners.append(listener)
    try:
        yield
    finally:
        _stage_listeners.remove(listener)


def record_poll(outcome: PollOutcome) -> None:
    POLLS.labels(outcome.outcome).inc()
    if outcome.outcome == "error":
        ERRORS.labels(outcome.error_kind or "unknown").inc()
    ENTRIES_SEEN.inc(outcome.entries_seen)
    for reason, count in outcome.rejected.items():
        ENTRIES_REJECTED.labels(reason).inc(count)
    if outcome.entries_deferred:
        ENTRIES_DEFERRED.inc(outcome.entries_deferred)
    for kind, count in (
        ("new", outcome.articles_new),
        ("exact", outcome.duplicates_exact),
        ("near", outcome.duplicates_near),
        ("updated", outcome.articles_updated),
    ):
        if count:
            ARTICLES_STORED.labels(kind).inc(count)
    if outcome.duplicates_exact:
        DUPLICATES.labels("exact").inc(outcome.duplicates_exact)
    if outcome.duplicates_near:
        DUPLICATES.labels("near").inc(outcome.duplicates_near)
    if outcome.articles_new:
        STORIES.inc(outcome.articles_new)


def watch_overdue(count: Callable[[], float]) -> None:
    """Compute ``newsdedup_feeds_overdue`` with ``count`` at every scrape."""
    FEEDS_OVERDUE.set_function(count)


def render() -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(REGISTRY)
