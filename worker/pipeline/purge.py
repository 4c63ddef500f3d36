"""Retention as the config sets it (``[retention]`` and each feed's ``retention``), run by the
daemon's hourly maintenance job and by ``newsdedup purge``. Stored data: articles older than
their feed's retention are deleted with their text and index row, in bounded batches; the
stories they leave are brought up to date (count, first and last seen, canonical) or, when
no article is left, deleted. Old poll records go too.

Each batch is one dedup transaction, so no article is matched against a copy that is
being purged at that moment, and a crash leaves every story consistent (stories, their
canonical choice and the views ``canonical_articles`` and ``story_variants`` derive from
the rows, so they follow). Several workers purging at once is harmless: the deletes are
idempotent.

    >>> from datetime import datetime, UTC
    >>> db = Database("sqlite://"); db.upgrade()
    >>> purge(db, {}, poll_log_cutoff=None).articles
    0
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, false, func, or_, select

from worker.clock import utcnow
from worker.config import Config
from worker.dedup.canonical import refresh_stories
from worker.store.articles import ArticleStore, feed_priorities
from worker.store.db import Database
from worker.store.models import Article, Feed, LshKeys, PollLog, Story
from worker.store.retention import delete_in_batches

log = logging.getLogger("newsdedup.retention")


@dataclass
class PurgeReport:
    articles: int = 0
    stories_deleted: int = 0
    stories_updated: int = 0
    poll_records: int = 0
    by_feed: dict[str, int] = field(default_factory=dict)


def _expired(cutoffs: Mapping[int, datetime]) -> ColumnElement[bool]:
    """Articles past their feed's cutoff; feeds sharing a cutoff share one condition."""
    by_cutoff: dict[datetime, list[int]] = defaultdict(list)
    for feed_id, cutoff in cutoffs.items():
        by_cutoff[cutoff].append(feed_id)
    if not by_cutoff:
        return false()
    return or_(
        *(
            and_(Article.feed_id.in_(sorted(ids)), Article.fetched_at < cutoff)
            for cutoff, ids in by_cutoff.items()
        )
    )


def feed_cutoffs(
    db: Database, now: datetime, ages: Mapping[str, float], default_age: float
) -> dict[int, datetime]:
    """``{feed id: cutoff}`` from ages in seconds by feed name (feeds not named, such as
    ones removed from the config, get ``default_age``); an age of 0 keeps for ever."""
    from datetime import timedelta

    with db.session() as session:
        rows = session.execute(select(Feed.id, Feed.name)).all()
    out = {}
    for feed_id, name in rows:
        age = ages.get(name, default_age)
        if age > 0:
            out[feed_id] = now - timedelta(seconds=age)
    return out


def preview(db: Database, cutoffs: Mapping[int, datetime]) -> PurgeReport:
    """What ``purge`` would delete now, without deleting it (``newsdedup purge --dry-run``)."""
    expired = _expired(cutoffs)
    report = PurgeReport()
    with db.session() as session:
        for name, count in session.execute(
            select(Feed.name, func.count())
            .select_from(Article)
            .join(Feed, Feed.id == Article.feed_id)
            .where(expired)
            .group_by(Feed.name)
            .order_by(Feed.name)
        ):
            report.by_feed[name] = count
        report.articles = sum(report.by_feed.values())
        per_story = (
            select(
                Article.story_id,
                func.count().label("members"),
                func.sum(case((expired, 1), else_=0)).label("going"),
            )
            .group_by(Article.story_id)
            .subquery()
        )
        touched = select(per_story.c.members, per_story.c.going).where(per_story.c.going > 0)
        for members, going in session.execute(touched):
            if members == going:
                report.stories_deleted += 1
            else:
                report.stories_updated += 1
    return report


def purge(
    db: Database,
    cutoffs: Mapping[int, datetime],
    *,
    poll_log_cutoff: datetime | None,
    canonical_policy: str = "earliest",
    priorities: Mapping[int, int] | None = None,
    batch: int = 500,
    stop: Callable[[], bool] = lambda: False,
) -> PurgeReport:
    """Delete expired articles ``batch`` at a time, then poll records older than
    ``poll_log_cutoff``; ``stop`` is asked between batches (a shutdown)."""
    report = PurgeReport()
    expired = _expired(cutoffs)
    names: dict[int, str] = {}
    while not stop():
        with db.dedup_transaction() as session:
            rows = session.execute(
                select(Article.id, Article.story_id, Article.feed_id)
                .where(expired)
                .order_by(Article.fetched_at, Article.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            ids = [r.id for r in rows]
            stories = {r.story_id for r in rows}
            # The index rows go with their articles (a cascade on PostgreSQL; said
            # explicitly so it does not depend on SQLite's foreign key pragma).
            session.execute(delete(LshKeys).where(LshKeys.article_id.in_(ids)))
            session.execute(delete(Article).where(Article.id.in_(ids)))
            before = session.scalar(
                select(func.count()).select_from(Story).where(Story.id.in_(stories))
            )
            # Recounted, canonical chosen again; a story left without articles is deleted.
            refresh_stories(ArticleStore(session), stories, canonical_policy, priorities or {})
            after = session.scalar(
                select(func.count()).select_from(Story).where(Story.id.in_(stories))
            )
            if not names:
                names = {fid: name for fid, name in session.execute(select(Feed.id, Feed.name))}
        _forget_in_mirror(db, ids)
        report.articles += len(ids)
        report.stories_deleted += (before or 0) - (after or 0)
        report.stories_updated += after or 0
        for r in rows:
            name = names.get(r.feed_id, str(r.feed_id))
            report.by_feed[name] = report.by_feed.get(name, 0) + 1
    if poll_log_cutoff is not None:
        report.poll_records = _purge_poll_log(db, poll_log_cutoff, batch, stop)
    if report.articles or report.poll_records:
        log.info(
            "retention: %d articles purged (%d stories gone, %d updated), %d poll records",
            report.articles, report.stories_deleted, report.stories_updated, report.poll_records,
            extra=_fields(report),
        )  # fmt: skip
    return report


def _forget_in_mirror(db: Database, article_ids: list[int]) -> None:
    # This process's mirror drops the purged ids at once; other workers' mirrors skip ids
    # without an article on lookup, and age them out with the index window.
    db.index.forget(article_ids)


def _purge_poll_log(db: Database, cutoff: datetime, batch: int, stop: Callable[[], bool]) -> int:
    return delete_in_batches(
        db, PollLog.id, PollLog.started_at < cutoff, PollLog.id, batch=batch, stop=stop
    )


def _fields(report: PurgeReport) -> dict[str, Any]:
    return {
        "articles_purged": report.articles,
        "stories_deleted": report.stories_deleted,
        "stories_updated": report.stories_updated,
        "poll_records_purged": report.poll_records,
    }


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
