"""Consistency of stories, articles and the LSH index, checked (and repaired) on start.

Every entry is written in one transaction, so a crash should leave nothing to repair; this
is the belt to those braces, and the check the crash tests assert with. Repairs only derive
state from articles (never delete one): a story's count and canonical, orphan index rows,
stories left without members. On start only the most recent articles and stories are
checked (``RECENT``): a crash can only touch what was being written, and a full check of a
database of millions of articles would delay the first poll by minutes.

    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.session() as s:
    ...     find_problems(s)
    []
"""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Subquery

from worker.dedup.canonical import refresh_stories
from worker.store.articles import ArticleStore, feed_priorities
from worker.store.db import Database
from worker.store.models import Article, LshKeys, Story

log = logging.getLogger("newsdedup.repair")
# Articles and stories checked on start: the newest this many of each.
RECENT = 20_000


@dataclasses.dataclass(frozen=True)
class Window:
    """What a check covers: articles and stories with ids above these floors."""

    article_floor: int = 0
    story_floor: int = 0


def recent_window(session: Session, size: int = RECENT) -> Window:
    top_article = session.scalar(select(func.max(Article.id))) or 0
    top_story = session.scalar(select(func.max(Story.id))) or 0
    return Window(max(0, top_article - size), max(0, top_story - size))


def _member_counts(window: Window) -> Subquery:
    return (
        select(Article.story_id.label("story_id"), func.count().label("members"))
        .where(Article.story_id > window.story_floor)
        .group_by(Article.story_id)
        .subquery()
    )


def _stories_to_refresh(session: Session, window: Window) -> list[int]:
    counts = _member_counts(window)
    canonical = aliased(Article)
    rows = session.scalars(
        select(Story.id)
        .join(counts, counts.c.story_id == Story.id)
        .outerjoin(canonical, canonical.id == Story.canonical_article_id)
        .where(
            Story.id > window.story_floor,
            or_(
                Story.variant_count != counts.c.members,
                canonical.id.is_(None),
                canonical.story_id != Story.id,
            ),
        )
    )
    return list(rows)


def _empty_stories(session: Session, window: Window) -> list[int]:
    # A merged story's tombstone has no articles by design.
    member = select(Article.id).where(Article.story_id == Story.id).exists()
    return list(
        session.scalars(
            select(Story.id).where(
                Story.id > window.story_floor, Story.merged_into.is_(None), ~member
            )
        )
    )


def _orphan_index_rows(session: Session, window: Window) -> list[int]:
    article = select(Article.id).where(Article.id == LshKeys.article_id).exists()
    return list(
        session.scalars(
            select(LshKeys.article_id).where(LshKeys.article_id > window.article_floor, ~article)
        )
    )


def find_problems(session: Session, window: Window | None = None) -> list[str]:
    """One line per inconsistency; empty when stories, articles and index agree. Checks
    everything unless a ``window`` limits it to recent rows."""
    window = window or Window()
    problems = [
        f"article {a}: no fingerprint"
        for a in session.scalars(
            select(Article.id).where(
                Article.id > window.article_floor,
                or_(Article.signature.is_(None), Article.content_hash.is_(None)),
            )
        )
    ]
    problems += [
        f"lsh_keys: a row for missing article {a}" for a in _orphan_index_rows(session, window)
    ]
    problems += [f"story {s}: no members" for s in _empty_stories(session, window)]
    problems += [
        f"story {s}: variant_count or canonical disagrees with its members"
        for s in _stories_to_refresh(session, window)
    ]
    story = select(Story.id).where(Story.id == Article.story_id).exists()
    problems += [
        f"article {a}: its story row is missing"
        for a in session.scalars(
            select(Article.id).where(Article.id > window.article_floor, ~story)
        )
    ]
    return problems


def repair(
    session: Session,
    canonical_policy: str,
    feed_priority: dict[int, int],
    window: Window | None = None,
) -> int:
    """Fix what can be derived from articles; returns how many stories or articles' index
    rows were touched. The caller commits."""
    window = window or Window()
    orphans = _orphan_index_rows(session, window)
    if orphans:
        session.execute(delete(LshKeys).where(LshKeys.article_id.in_(orphans)))
    empty = _empty_stories(session, window)
    if empty:
        refresh_stories(ArticleStore(session), empty, canonical_policy, feed_priority)
    stale = _stories_to_refresh(session, window)
    if stale:
        refresh_stories(ArticleStore(session), stale, canonical_policy, feed_priority)
    session.flush()
    return len(orphans) + len(empty) + len(stale)


def repair_on_start(db: Database, canonical_policy: str, priorities: dict[str, int]) -> int:
    """Check and repair the recent rows in one transaction, logging what was found.
    ``priorities`` is each feed's configured priority by name (for the "priority" canonical
    policy)."""
    with db.session() as session, session.begin():
        window = recent_window(session)
        problems = find_problems(session, window)
        if not problems:
            return 0
        log.warning("repairing %d inconsistencies: %s", len(problems), "; ".join(problems[:10]))
        return repair(session, canonical_policy, feed_priorities(session, priorities), window)
