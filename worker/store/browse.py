"""Pages of stories and articles for the HTTP API and the web page: newest first, filtered
by feed, time and words, each page continuing where the last one ended (keyset paging: a
page costs the same at the millionth story as at the first).

Stories are ordered by ``(last_seen_at, id)`` descending: a story that gains a copy moves to
the top, so a reader paging through while copies arrive may see it twice or not at all on
the pages ahead; the change feed is the way to follow what changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from worker.clock import as_utc
from worker.store.models import Article, Feed, Story, StoryMerge
from worker.store.search import matching_story_ids, newest_matches
from worker.store.stories import article_dicts, story_dicts


@dataclass(frozen=True)
class StoryFilter:
    """What a page of stories is restricted to (``None``: not restricted)."""

    feed: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    words: list[str] | None = None


StoryKey = tuple[datetime, int]  # (last_seen_at, id) of the last story of a page


def story_page(
    session: Session, where: StoryFilter, after: StoryKey | None, limit: int
) -> tuple[list[dict[str, Any]], StoryKey | None]:
    """Up to ``limit`` stories after ``after``, newest first, and the key of the next page
    (``None``: this is the last)."""
    query = select(Story).where(Story.merged_into.is_(None))  # tombstones lead on, not listed
    if where.since is not None:
        query = query.where(Story.last_seen_at >= where.since)
    if where.until is not None:
        query = query.where(Story.last_seen_at < where.until)
    if where.feed is not None:
        in_feed = (
            select(Article.story_id)
            .join(Feed, Feed.id == Article.feed_id)
            .where(Feed.name == where.feed)
        )
        query = query.where(Story.id.in_(in_feed))
    if where.words:
        query = query.where(Story.id.in_(matching_story_ids(session, where.words)))
    if after is not None:
        seen, story_id = after
        query = query.where(
            or_(
                Story.last_seen_at < seen,
                and_(Story.last_seen_at == seen, Story.id < story_id),
            )
        )
    query = query.order_by(Story.last_seen_at.desc(), Story.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    next_key = (_utc(last.last_seen_at), last.id) if last is not None else None
    return story_dicts(session, rows), next_key


def _utc(value: datetime) -> datetime:
    out = as_utc(value)
    assert out is not None
    return out


def article_page(
    session: Session,
    *,
    feed: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` articles, newest stored first (by id, below ``before_id``), fetched
    in ``[since, until)``; and the id to continue below (``None``: the last page)."""
    query = select(Article)
    if feed is not None:
        query = query.join(Feed, Feed.id == Article.feed_id).where(Feed.name == feed)
    if since is not None:
        query = query.where(Article.fetched_at >= since)
    if until is not None:
        query = query.where(Article.fetched_at < until)
    if before_id is not None:
        query = query.where(Article.id < before_id)
    rows = list(session.scalars(query.order_by(Article.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return article_dicts(session, rows), (rows[-1].id if more and rows else None)


def search_page(
    session: Session, words: list[str], before_id: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """The newest articles holding every word, as ``article_page`` pages them."""
    ids = newest_matches(session, words, before_id=before_id, limit=limit + 1)
    more = len(ids) > limit
    ids = ids[:limit]
    rows = list(session.scalars(select(Article).where(Article.id.in_(ids)))) if ids else []
    rows.sort(key=lambda a: -a.id)
    return article_dicts(session, rows), (ids[-1] if more and ids else None)


def get_article(session: Session, article_id: int) -> dict[str, Any] | None:
    article = session.get(Article, article_id)
    return article_dicts(session, [article])[0] if article is not None else None


def merge_page(
    session: Session, story_id: int | None, after_id: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Merge and split records in the order they happened (of ``story_id``, from or into
    it, when given), after record ``after_id``; and the id to continue after."""
    query = select(StoryMerge)
    if story_id is not None:
        query = query.where(
            or_(StoryMerge.story_id == story_id, StoryMerge.into_story_id == story_id)
        )
    if after_id is not None:
        query = query.where(StoryMerge.id > after_id)
    rows = list(session.scalars(query.order_by(StoryMerge.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    out = [
        {
            "id": m.id, "kind": m.kind, "story_id": m.story_id, "into_story_id": m.into_story_id,
            "articles_moved": m.articles_moved, "reason": m.reason, "at": as_utc(m.at),
        }
        for m in rows
    ]  # fmt: skip
    return out, (rows[-1].id if more and rows else None)
