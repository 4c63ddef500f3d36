"""Consistency of stories, articles and the LSH index, checked (and repaired) on start.

Every entry is written in one transaction, so a crash should leave nothing to repair; this
is the belt to those braces, and the check the crash tests assert with. Repairs only derive
state from articles (never delete one): a story's count and canonical, orphan index rows,
stories left without members. Set-based queries, so a start on a big database stays quick.

    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.session() as s:
    ...     find_problems(s)
    []
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Subquery

from worker.store.articles import feed_priorities, refresh_story
from worker.store.db import Database
from worker.store.models import Article, LshBucket, Story

log = logging.getLogger("newsdedup.repair")


def _member_counts() -> Subquery:
    return (
        select(Article.story_id.label("story_id"), func.count().label("members"))
        .group_by(Article.story_id)
        .subquery()
    )


def _stories_to_refresh(session: Session) -> list[int]:
    counts = _member_counts()
    canonical = aliased(Article)
    rows = session.scalars(
        select(Story.id)
        .join(counts, counts.c.story_id == Story.id)
        .outerjoin(canonical, canonical.id == Story.canonical_article_id)
        .where(
            or_(
                Story.variant_count != counts.c.members,
                canonical.id.is_(None),
                canonical.story_id != Story.id,
            )
        )
    )
    return list(rows)


def _empty_stories(session: Session) -> list[int]:
    member = select(Article.id).where(Article.story_id == Story.id).exists()
    return list(session.scalars(select(Story.id).where(~member)))


def _orphan_index_rows(session: Session) -> list[int]:
    article = select(Article.id).where(Article.id == LshBucket.article_id).exists()
    return list(session.scalars(select(LshBucket.article_id).distinct().where(~article)))


def find_problems(session: Session) -> list[str]:
    """One line per inconsistency; empty when stories, articles and index agree."""
    problems = [
        f"article {a}: no fingerprint"
        for a in session.scalars(
            select(Article.id).where(
                or_(Article.signature.is_(None), Article.content_hash.is_(None))
            )
        )
    ]
    problems += [f"lsh_buckets: rows for missing article {a}" for a in _orphan_index_rows(session)]
    problems += [f"story {s}: no members" for s in _empty_stories(session)]
    problems += [
        f"story {s}: variant_count or canonical disagrees with its members"
        for s in _stories_to_refresh(session)
    ]
    story = select(Story.id).where(Story.id == Article.story_id).exists()
    problems += [
        f"article {a}: its story row is missing"
        for a in session.scalars(select(Article.id).where(~story))
    ]
    return problems


def repair(session: Session, canonical_policy: str, feed_priority: dict[int, int]) -> int:
    """Fix what can be derived from articles; returns how many stories or articles' index
    rows were touched. The caller commits."""
    orphans = _orphan_index_rows(session)
    if orphans:
        session.execute(delete(LshBucket).where(LshBucket.article_id.in_(orphans)))
    empty = _empty_stories(session)
    if empty:
        session.execute(delete(Story).where(Story.id.in_(empty)))
    stale = _stories_to_refresh(session)
    for story_id in stale:
        refresh_story(session, story_id, canonical_policy, feed_priority)
    session.flush()
    return len(orphans) + len(empty) + len(stale)


def repair_on_start(db: Database, canonical_policy: str, priorities: dict[str, int]) -> int:
    """Check and repair in one transaction, logging what was found. ``priorities`` is
    each feed's configured priority by name (for the "priority" canonical policy)."""
    with db.session() as session, session.begin():
        problems = find_problems(session)
        if not problems:
            return 0
        log.warning("repairing %d inconsistencies: %s", len(problems), "; ".join(problems[:10]))
        return repair(session, canonical_policy, feed_priorities(session, priorities))
