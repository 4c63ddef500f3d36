"""Feed rows: created from the config, carrying polling state (validators, schedule,
failures) and a poll log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.config import FeedConfig
from worker.store.models import Feed, PollLog


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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
            if row.url != cfg.url:  # a new URL has new validators
                row.etag = row.last_modified = None
            row.url, row.enabled = cfg.url, cfg.enabled
    for name, row in rows.items():
        if name not in configured:
            row.enabled = False
    session.flush()
    return {name: row.id for name, row in rows.items() if name in configured}


@dataclass
class PollOutcome:
    outcome: str  # ok | not_modified | error | stopped
    http_status: int | None = None
    entries_seen: int = 0
    articles_new: int = 0
    articles_updated: int = 0
    duplicates_exact: int = 0
    duplicates_near: int = 0
    entry_errors: int = 0
    error_kind: str | None = None
    error: str | None = None


def record_poll(
    session: Session,
    feed: Feed,
    outcome: PollOutcome,
    *,
    started: datetime,
    next_poll_at: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
    title: str | None = None,
) -> None:
    now = utcnow()
    feed.last_polled_at = now
    feed.next_poll_at = next_poll_at
    if outcome.outcome == "error":
        feed.consecutive_failures = (feed.consecutive_failures or 0) + 1
        feed.last_error_kind = outcome.error_kind
        feed.last_error = (outcome.error or "")[:2000]
        feed.last_error_at = now
    else:
        feed.consecutive_failures = 0
        feed.last_success_at = now
        if outcome.outcome == "ok":
            # Validators are kept only when every entry was stored: a 304 next time
            # must not hide an entry that failed this time.
            if outcome.entry_errors == 0:
                feed.etag, feed.last_modified = etag, last_modified
            if title:
                feed.title = title[:1000]
    session.add(
        PollLog(
            feed_id=feed.id,
            started_at=started,
            finished_at=now,
            outcome=outcome.outcome,
            http_status=outcome.http_status,
            entries_seen=outcome.entries_seen,
            articles_new=outcome.articles_new,
            articles_updated=outcome.articles_updated,
            duplicates_exact=outcome.duplicates_exact,
            duplicates_near=outcome.duplicates_near,
            error_kind=outcome.error_kind,
            error=(outcome.error or None) and outcome.error[:2000],
        )
    )
