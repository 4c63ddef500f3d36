"""The end of a poll: when the feed is due again (backoff), the feed row written (the poll
recorded, the lease let go, the feed parked after too many failures in a row), and the
poll's log line."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from worker import limits
from worker.clock import utcnow
from worker.config import Config, FeedConfig
from worker.outcomes import PollOutcome
from worker.pipeline import backoff
from worker.store import leases
from worker.store.db import Database
from worker.store.feeds import park, record_poll

log = logging.getLogger("newsdedup.ingest")


@dataclass(frozen=True)
class PollEnd:
    """What the server said about polling again, and what the feed row keeps."""

    retry_after: float | None = None
    ttl: float | None = None
    max_age: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None


def next_poll_at(
    config: Config,
    cfg: FeedConfig,
    state: leases.PollState,
    outcome: PollOutcome,
    end: PollEnd,
    rng: random.Random,
) -> tuple[datetime, int]:
    """When the feed is due again, and its failures in a row counting this poll."""
    failures = state.consecutive_failures + 1 if outcome.outcome == "error" else 0
    if outcome.outcome == "interrupted":
        failures = state.consecutive_failures  # not a success: the backoff stands
    delay = backoff.next_delay(
        cfg.interval,
        failures=failures,
        retry_after=end.retry_after,
        ttl=end.ttl,
        max_age=end.max_age,
        max_backoff=config.worker.max_backoff,
        jitter=config.worker.jitter,
        rng=rng,
    )
    if outcome.entries_deferred:  # a backlog: the rest comes soon, not an interval later
        delay = min(delay, limits.BACKLOG_REPOLL_SECONDS)
    # A cut poll is due again at once: the next start finishes what it began.
    return utcnow() + timedelta(seconds=0 if outcome.outcome == "interrupted" else delay), failures


def record(
    config: Config,
    db: Database,
    cfg: FeedConfig,
    outcome: PollOutcome,
    *,
    feed_id: int,
    owner: str,
    started: datetime,
    state: leases.PollState,
    end: PollEnd,
    rng: random.Random,
) -> None:
    """Write the poll to its feed row (and park the feed when it has failed too often);
    ``outcome.next_poll_at`` says when it is due, unless the database refused the record."""
    due, failures = next_poll_at(config, cfg, state, outcome, end, rng)
    park_after = config.worker.park_after
    outcome.parked = outcome.outcome == "error" and 0 < park_after <= failures
    try:
        with db.engine.begin() as conn:
            if outcome.parked:
                reason = (
                    f"{failures} failed polls in a row, the last "
                    f"{outcome.error_kind}: {outcome.error}"
                )
                park(conn, feed_id, reason)
                log.warning(
                    "feed=%s parked after %d failed polls in a row; "
                    "`newsdedup feeds enable %s` to poll it again",
                    cfg.name, failures, cfg.name,
                    extra={"parked": True},
                )  # fmt: skip
            record_poll(
                conn,
                feed_id,
                outcome,
                owner=owner,
                started=started,
                next_poll_at=due,
                etag=end.etag,
                last_modified=end.last_modified,
                title=end.title,
            )
        outcome.next_poll_at = due
    except SQLAlchemyError as exc:
        log.error("feed=%s cannot record poll: %s", cfg.name, exc)


def log_poll(name: str, outcome: PollOutcome, took: float) -> None:
    """The poll's log line: quiet at steady state (a poll that changed nothing logs at
    DEBUG and, with DEBUG off, does not even build the line's arguments)."""
    changed = outcome.articles_new + outcome.duplicates_exact + outcome.duplicates_near
    changed += outcome.articles_updated
    level = (
        logging.WARNING
        if outcome.outcome == "error"
        else (logging.INFO if changed or outcome.rejected else logging.DEBUG)
    )
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "feed=%s outcome=%s new=%d exact=%d near=%d updated=%d seen=%d rejected=%d "
        "deferred=%d%s (%.2fs)",
        name,
        outcome.outcome,
        outcome.articles_new,
        outcome.duplicates_exact,
        outcome.duplicates_near,
        outcome.articles_updated,
        outcome.entries_seen,
        sum(outcome.rejected.values()),
        outcome.entries_deferred,
        f" error={outcome.error_kind}: {outcome.error}" if outcome.error else "",
        took,
        extra=poll_fields(outcome, took),
    )


def poll_fields(outcome: PollOutcome, seconds: float) -> dict[str, object]:
    """A poll's result as log fields (JSON logs carry them as keys; text logs have them
    in the message)."""
    return {
        "outcome": outcome.outcome,
        "http_status": outcome.http_status,
        "entries_seen": outcome.entries_seen,
        "articles_new": outcome.articles_new,
        "duplicates_exact": outcome.duplicates_exact,
        "duplicates_near": outcome.duplicates_near,
        "articles_updated": outcome.articles_updated,
        "entry_errors": outcome.entry_errors,
        "error_kind": outcome.error_kind,
        "error": outcome.error,
        "duration_s": round(seconds, 3),
    }
