"""Feed rows: created from the config, carrying polling state (validators, schedule,
failures) and a poll log."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import FeedConfig
from worker.outcomes import PollOutcome
from worker.store import leases
from worker.store.models import Feed, PollLog


def sync_feeds(session: Session, feeds: Iterable[FeedConfig]) -> dict[str, int]:
    """Create or update one row per configured feed; returns ``{name: id}``.

    Feeds removed from the config keep their rows (and articles) but are disabled.
    """
    configured = {f.name: f for f in feeds}
    rows = {row.name: row for row in session.scalars(select(Feed))}
    now = utcnow()
    for name, cfg in configured.items():
        row = rows.get(name)
        if row is None:
            row = Feed(
                name=name, url=cfg.url, enabled=cfg.enabled, created_at=now, consecutive_failures=0
            )
            session.add(row)
            rows[name] = row
        else:
            if row.url != cfg.url:  # a new URL has new validators, and a fresh start
                row.etag = row.last_modified = None
                row.parked_at = row.parked_reason = None
                row.consecutive_failures = 0
            row.url, row.enabled = cfg.url, cfg.enabled
    for name, row in rows.items():
        if name not in configured:
            row.enabled = False
    session.flush()
    return {name: row.id for name, row in rows.items() if name in configured}


def record_poll(
    conn: Connection,
    feed_id: int,
    outcome: PollOutcome,
    *,
    owner: str,
    started: datetime,
    next_poll_at: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
    title: str | None = None,
) -> None:
    """Write the poll's result to the feed row, release ``owner``'s lease in the same
    ``UPDATE``, and append the poll log row (call inside one transaction)."""
    now = utcnow()
    failed = outcome.outcome == "error"
    # Cut short by a stop: neither a success (the failure count and last success stay)
    # nor a failure.
    interrupted = outcome.outcome == "interrupted"
    # Validators are kept only when every entry was stored or skipped for good: a 304 next
    # time must not hide an entry that failed this time, or one left for the next poll.
    validators = (
        outcome.outcome == "ok" and outcome.entry_errors == 0 and outcome.entries_deferred == 0
    )
    titled = outcome.outcome == "ok" and bool(title)
    # A poll that read the feed's entries says which it skipped (none, too).
    read_entries = outcome.outcome in ("ok", "interrupted")
    params: dict[str, Any] = {
        "feed_id": feed_id,
        "owner": owner,
        "polled_at": now,
        "next_at": next_poll_at,
        "outcome": outcome.outcome,
        "rejected": sum(outcome.rejected.values()),
        "rejections": outcome.rejections(),
    }
    if failed:
        params.update(
            error_kind=outcome.error_kind, error_text=(outcome.error or "")[:2000], error_at=now
        )
    if validators:
        params.update(new_etag=etag, new_last_modified=last_modified)
    if titled:
        params["new_title"] = (title or "")[:1000]
    conn.execute(_record_statement(failed, interrupted, validators, titled, read_entries), params)
    conn.execute(
        _POLL_LOG,
        {
            "feed_id": feed_id,
            "started_at": started,
            "finished_at": now,
            "outcome": outcome.outcome,
            "http_status": outcome.http_status,
            "entries_seen": outcome.entries_seen,
            "articles_new": outcome.articles_new,
            "articles_updated": outcome.articles_updated,
            "duplicates_exact": outcome.duplicates_exact,
            "duplicates_near": outcome.duplicates_near,
            "error_kind": outcome.error_kind,
            "error": (outcome.error or None) and outcome.error[:2000],
            "entries_rejected": params["rejected"],
            "rejections": params["rejections"],
        },
    )


_POLL_LOG = insert(PollLog)


def park(conn: Connection, feed_id: int, reason: str) -> None:
    """Stop polling the feed until ``unpark`` (a person) or a new URL (``sync_feeds``)."""
    conn.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(parked_at=utcnow(), parked_reason=reason[:2000])
    )


def unpark(session: Session, name: str) -> bool:
    """Clear the feed's parking and its failure count; whether it was parked."""
    row = session.scalars(select(Feed).where(Feed.name == name)).one_or_none()
    if row is None or row.parked_at is None:
        return False
    row.parked_at = row.parked_reason = None
    row.consecutive_failures = 0
    row.next_poll_at = utcnow()  # due now: a person asked for it
    return True


def parked_feeds(session: Session) -> dict[str, str]:
    """``{name: reason}`` of every parked feed."""
    rows = session.execute(select(Feed.name, Feed.parked_reason).where(Feed.parked_at.is_not(None)))
    return {name: reason or "" for name, reason in rows}


@functools.cache
def _record_statement(
    failed: bool, interrupted: bool, validators: bool, titled: bool, read_entries: bool
) -> Update:
    """The feed-row ``UPDATE`` for one kind of outcome, built once per kind."""
    values: dict[str, Any] = {
        "last_polled_at": bindparam("polled_at"),
        "next_poll_at": bindparam("next_at"),
        "last_outcome": bindparam("outcome"),
        **leases.release_values(),
    }
    if failed:
        values.update(
            consecutive_failures=func.coalesce(Feed.consecutive_failures, 0) + 1,
            last_error_kind=bindparam("error_kind"),
            last_error=bindparam("error_text"),
            last_error_at=bindparam("error_at"),
        )
    elif not interrupted:
        values.update(consecutive_failures=0, last_success_at=bindparam("polled_at"))
    if validators:
        values.update(etag=bindparam("new_etag"), last_modified=bindparam("new_last_modified"))
    if titled:
        values["title"] = bindparam("new_title")
    if read_entries:
        values.update(last_rejected=bindparam("rejected"), last_rejections=bindparam("rejections"))
    return update(Feed).where(Feed.id == bindparam("feed_id")).values(values)
