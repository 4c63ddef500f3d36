"""Read side for the CLI and exports: feeds with their state, stories with their articles,
and where a merged story's id leads (``resolve_story``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clock import as_utc
from worker.store.models import Article, Event, Feed, Story, StoryMerge

# A merge re-points older tombstones, so a redirect is one step; the bound only stops a
# loop in rows written otherwise (by hand, or by an interrupted older version).
MAX_REDIRECTS = 32


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value else None


def feed_states(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(Feed).order_by(Feed.name))
    out = []
    for f in rows:
        out.append(
            {
                "name": f.name,
                "url": f.url,
                "enabled": f.enabled,
                "title": f.title,
                "last_polled_at": _iso(f.last_polled_at),
                "last_success_at": _iso(f.last_success_at),
                "next_poll_at": _iso(f.next_poll_at),
                "consecutive_failures": f.consecutive_failures,
                "last_outcome": f.last_outcome,
                "parked_at": _iso(f.parked_at),
                "parked_reason": f.parked_reason,
                "last_error_kind": f.last_error_kind,
                "last_error": f.last_error,
                "last_error_at": _iso(f.last_error_at),
                "last_rejected": f.last_rejected or 0,
                "last_rejections": f.last_rejections,
                "etag": f.etag,
                "last_modified": f.last_modified,
            }
        )
    return out


def _article_dict(a: Article, feed_name: str, canonical_id: int | None) -> dict[str, Any]:
    return {
        "id": a.id,
        "title": a.title,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "feed": feed_name,
        "published": _iso(a.published_at),
        "fetched": _iso(a.fetched_at),
        "is_canonical": a.id == canonical_id,
        "match_kind": a.match_kind,
        "similarity": a.similarity,
        "text": a.clean_text,
    }


def story_dicts(session: Session, stories: list[Story]) -> list[dict[str, Any]]:
    if not stories:
        return []
    ids = [s.id for s in stories]
    rows = session.execute(
        select(Article, Feed.name)
        .join(Feed, Feed.id == Article.feed_id)
        .where(Article.story_id.in_(ids))
        .order_by(Article.id)
    ).all()
    by_story: dict[int, list[tuple[Article, str]]] = {}
    for article, feed_name in rows:
        by_story.setdefault(article.story_id, []).append((article, feed_name))
    out = []
    for s in stories:
        members = by_story.get(s.id, [])
        canonical = next((a for a, _ in members if a.id == s.canonical_article_id), None)
        out.append(
            {
                "id": s.id,
                "canonical_id": s.canonical_article_id,
                "title": canonical.title if canonical else None,
                "first_seen": _iso(s.first_seen_at),
                "last_seen": _iso(s.last_seen_at),
                "variant_count": s.variant_count,
                "articles": [_article_dict(a, name, s.canonical_article_id) for a, name in members],
            }
        )
    return out


def list_stories(
    session: Session, since: datetime | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    query = (
        select(Story)
        .where(Story.merged_into.is_(None))
        .order_by(Story.last_seen_at.desc(), Story.id.desc())
    )
    if since is not None:
        query = query.where(Story.last_seen_at >= since)
    if limit:
        query = query.limit(limit)
    return story_dicts(session, list(session.scalars(query)))


def resolve(session: Session, model: type[Story] | type[Event], row_id: int) -> int | None:
    """The live row ``row_id`` leads to (``merged_into`` followed), or ``None`` when there
    is no such row (never stored, or deleted: a purged story takes its tombstones along)."""
    current = row_id
    for _ in range(MAX_REDIRECTS):
        found = session.execute(select(model.merged_into).where(model.id == current)).first()
        if found is None:
            return None
        if found.merged_into is None:
            return current
        current = found.merged_into
    return None


def resolve_story(session: Session, story_id: int) -> int | None:
    """The live story ``story_id`` is part of now: itself, the story it was merged into, or
    ``None`` (no such story, or it was deleted)."""
    return resolve(session, Story, story_id)


def merged_at(session: Session, story_id: int) -> datetime | None:
    """When ``story_id`` was merged away (its latest merge record)."""
    return as_utc(
        session.scalar(
            select(StoryMerge.at)
            .where(StoryMerge.story_id == story_id, StoryMerge.kind == "merge")
            .order_by(StoryMerge.id.desc())
            .limit(1)
        )
    )


def get_story(session: Session, story_id: int) -> dict[str, Any] | None:
    """One story with its articles; a merged id leads to the story it went into
    (``merged_from`` and ``merged_at`` say so)."""
    live = resolve_story(session, story_id)
    story = session.get(Story, live) if live is not None else None
    if story is None:
        return None
    out = story_dicts(session, [story])[0]
    if story.id != story_id:
        out["merged_from"] = story_id
        out["merged_at"] = _iso(merged_at(session, story_id))
    return out
