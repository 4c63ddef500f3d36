"""Story merges and splits in SQL: articles re-pointed, tombstones kept, ``story_merges``
recorded. A merged story's row stays with ``merged_into`` set to the live story it went
into (never to another tombstone: a merge re-points the tombstones of the stories it folds),
so an id a reader saved resolves in one step (``worker.store.stories.resolve_story``).
Decides nothing: which stories merge or split, and every story's canonical article, are the
dedup side's (``worker.dedup``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from worker.store.models import Article, Story, StoryMerge

_articles = cast(Table, Article.__table__)
_stories = cast(Table, Story.__table__)
_merges = cast(Table, StoryMerge.__table__)


def _record(
    conn: Connection, kind: str, rows: Sequence[tuple[int, int, int]], reason: str, now: datetime
) -> None:
    conn.execute(
        insert(_merges),
        [
            {"kind": kind, "story_id": story_id, "into_story_id": into, "articles_moved": moved,
             "reason": reason, "at": now}
            for story_id, into, moved in rows
        ],
    )  # fmt: skip


def merge(
    conn: Connection, survivor: int, folded: Sequence[int], reason: str, now: datetime
) -> dict[int, int]:
    """Every article of the ``folded`` stories moved into ``survivor``; the folded rows kept
    as tombstones (no canonical, no articles, no event) pointing at it, and so are the
    tombstones that pointed at them. Returns the articles moved by folded story."""
    folded = sorted(set(folded) - {survivor})
    if not folded:
        return {}
    moved = {
        story_id: int(count)
        for story_id, count in conn.execute(
            select(_articles.c.story_id, func.count())
            .where(_articles.c.story_id.in_(folded))
            .group_by(_articles.c.story_id)
        )
    }
    conn.execute(
        update(_articles).where(_articles.c.story_id.in_(folded)).values(story_id=survivor)
    )
    conn.execute(
        update(_stories)
        .where(_stories.c.id.in_(folded))
        .values(merged_into=survivor, canonical_article_id=None, variant_count=0, event_id=None,
                updated_at=now)
    )  # fmt: skip
    conn.execute(
        update(_stories).where(_stories.c.merged_into.in_(folded)).values(merged_into=survivor)
    )
    _record(conn, "merge", [(f, survivor, moved.get(f, 0)) for f in folded], reason, now)
    return moved


def split(
    conn: Connection,
    story_id: int,
    article_ids: Collection[int],
    new_story_id: int,
    reason: str,
    now: datetime,
) -> None:
    """``article_ids`` (all of ``story_id``'s, and not every one of them) moved into the
    new story ``new_story_id``, recorded. Its derived columns are placeholders until the
    caller refreshes both stories. ``ValueError`` when the ids do not fit, nothing written."""
    wanted = sorted(set(article_ids))
    story = conn.execute(select(_stories.c.merged_into).where(_stories.c.id == story_id)).first()
    if story is None or story.merged_into is not None:
        raise ValueError(f"story {story_id} is not a live story")
    members = set(conn.scalars(select(_articles.c.id).where(_articles.c.story_id == story_id)))
    if not wanted or not set(wanted) <= members:
        raise ValueError(f"articles {wanted} are not all of story {story_id}")
    if len(wanted) == len(members):
        raise ValueError(f"a split leaves story {story_id} at least one article")
    conn.execute(
        insert(_stories).values(
            id=new_story_id, first_seen_at=now, last_seen_at=now, variant_count=len(wanted),
            updated_at=now,
        )
    )  # fmt: skip
    conn.execute(update(_articles).where(_articles.c.id.in_(wanted)).values(story_id=new_story_id))
    _record(conn, "split", [(story_id, new_story_id, len(wanted))], reason, now)


def delete_stories(conn: Connection, story_ids: Collection[int]) -> list[int]:
    """Delete live stories left without articles, with the tombstones that point at them
    (their ids now answer "no such story"); which of ``story_ids`` went."""
    ids = sorted(story_ids)
    if not ids:
        return []
    live = sorted(
        conn.scalars(
            select(_stories.c.id).where(_stories.c.id.in_(ids), _stories.c.merged_into.is_(None))
        )
    )
    if live:
        conn.execute(delete(_stories).where(_stories.c.merged_into.in_(live)))
        conn.execute(delete(_stories).where(_stories.c.id.in_(live)))
    return live
