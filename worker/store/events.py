"""SQL of the event level: the stories to place, the window to rebuild from, other
workers' assignments to follow, and the writes of one batch's placements. Decides nothing
(``worker.events`` does)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from worker.clock import as_utc
from worker.store import changes
from worker.store.models import Article, Event, EventMerge, Story
from worker.store.stories import resolve, story_dicts

_stories = cast(Table, Story.__table__)
_events = cast(Table, Event.__table__)
_PLACE = (
    update(_stories)
    .where(_stories.c.id == bindparam("b_story"))
    .values(
        event_id=bindparam("b_event"),
        event_seq=bindparam("b_seq"),
        event_at=bindparam("b_at", type_=_stories.c.event_at.type),
        event_terms=bindparam("b_terms"),
    )
)
_NEW_EVENT = insert(_events).returning(_events.c.id)
# Asked once a placed story links to stories outside its batch: Core, not the ORM, whose
# per-statement overhead was most of the cost.
_LIVE = select(_stories.c.id).where(
    _stories.c.id.in_(bindparam("ids", expanding=True)), _stories.c.merged_into.is_(None)
)
_COUNT = (
    update(_events)
    .where(_events.c.id == bindparam("b_event"))
    .values(
        story_count=bindparam("b_count"),
        updated_at=bindparam("b_now", type_=_events.c.updated_at.type),
    )
)


@dataclass(frozen=True)
class StoredPlacement:
    """A story as the event level stored it."""

    story_id: int
    event_id: int
    terms: dict[str, int]
    at: datetime | None
    seq: int


@dataclass(frozen=True)
class Unplaced:
    """A story without an event yet, with its canonical article's headline and text."""

    story_id: int
    title: str
    text: str
    at: datetime


def stories_of_entries(session: Session, feed_id: int, guids: Collection[str]) -> set[int]:
    """The stories of a feed's entries (by GUID), as a batch left them."""
    if not guids:
        return set()
    rows = session.scalars(
        select(Article.story_id).where(Article.feed_id == feed_id, Article.guid.in_(list(guids)))
    )
    return set(rows)


def unplaced(session: Session, story_ids: Collection[int]) -> list[Unplaced]:
    """Those of ``story_ids`` that have no event, oldest first; their time is the canonical
    article's published date, else when the story was first seen."""
    if not story_ids:
        return []
    rows = session.execute(
        select(Story.id, Story.first_seen_at, Article.title, Article.clean_text,
               Article.published_at)
        .join(Article, Article.id == Story.canonical_article_id)
        .where(
            Story.id.in_(sorted(story_ids)), Story.event_id.is_(None), Story.merged_into.is_(None)
        )
        .order_by(Story.id)
    ).all()  # fmt: skip
    out = []
    for r in rows:
        first_seen = as_utc(r.first_seen_at)
        assert first_seen is not None  # never NULL
        published = as_utc(r.published_at)
        at = min(published, first_seen) if published is not None else first_seen
        out.append(Unplaced(r.id, r.title or "", r.clean_text or "", at))
    return out


def _placement(row: Any) -> StoredPlacement:
    return StoredPlacement(
        row.id, row.event_id, json.loads(row.event_terms or "{}"), as_utc(row.event_at),
        row.event_seq or 0,
    )  # fmt: skip


def _placement_query() -> Any:
    return select(Story.id, Story.event_id, Story.event_terms, Story.event_at, Story.event_seq)


def window(session: Session, since: datetime) -> Iterator[StoredPlacement]:
    """Every placed story of the window (time at or after ``since``, or unknown), in
    assignment order, read in batches: a worker's start reads up to a million of them,
    and holds only the packed form (``worker.events``)."""
    rows = session.execute(
        _placement_query()
        .where(Story.event_id.is_not(None), (Story.event_at >= since) | Story.event_at.is_(None))
        .order_by(Story.event_seq)
        .execution_options(yield_per=5000)
    )
    for row in rows:
        yield _placement(row)


def changes_since(session: Session, seq: int) -> list[StoredPlacement]:
    """Placements written after ``seq`` (by any worker), in order: under the dedup lock,
    every one committed so far."""
    # A story merged away since is no placement any more (its tombstone has no event): the
    # event level finds it gone when it next links to it, as it did a deleted row.
    rows = session.execute(
        _placement_query()
        .where(Story.event_seq > seq, Story.merged_into.is_(None))
        .order_by(Story.event_seq)
    )
    return [_placement(r) for r in rows]


def newest(session: Session) -> datetime | None:
    """The latest time of a placed story: the window ends there."""
    return as_utc(session.scalar(select(func.max(Story.event_at))))


def last_seq(session: Session) -> int:
    return int(session.scalar(select(func.max(Story.event_seq))) or 0)


def existing(session: Session, story_ids: Collection[int]) -> set[int]:
    """Those of ``story_ids`` that are live stories (not deleted, not merged away)."""
    if not story_ids:
        return set()
    rows = session.connection().execute(_LIVE, {"ids": sorted(story_ids)})
    return {story_id for (story_id,) in rows}


def new_event(session: Session, now: datetime) -> int:
    row = {"created_at": now, "updated_at": now, "story_count": 0}
    event_id = int(session.connection().execute(_NEW_EVENT, row).scalar_one())
    changes.record(session, "event_created", event_id=event_id)
    return event_id


class Placements:
    """Stories' placements, written together by ``flush`` in one statement: a batch
    places a story at a time, and an UPDATE each cost about as much as deciding it.

    Their change rows are recorded at once, so the feed keeps the order the placements
    were made in. Whatever reads or writes stories by their event (``fold``, ``move``,
    ``refresh_counts``) must come after a ``flush``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows: list[dict[str, Any]] = []

    def add(
        self, story_id: int, event_id: int, seq: int, at: datetime, terms: Mapping[str, int]
    ) -> None:
        self._rows.append(
            {"b_story": story_id, "b_event": event_id, "b_seq": seq, "b_at": at,
             "b_terms": json.dumps(terms)}
        )  # fmt: skip
        changes.record(self.session, "story_event_changed", story_id=story_id, event_id=event_id)

    def flush(self) -> None:
        if self._rows:
            self.session.connection().execute(_PLACE, self._rows)
            self._rows = []


def place(
    session: Session, story_id: int, event_id: int, seq: int, at: datetime, terms: Mapping[str, int]
) -> None:
    """One story's placement, written now."""
    placements = Placements(session)
    placements.add(story_id, event_id, seq, at, terms)
    placements.flush()


def move(session: Session, story_ids: Iterable[int], event_id: int, seq: int) -> None:
    """Move stories to another event; each gets ``seq`` so other workers follow."""
    ids = sorted(story_ids)
    if ids:
        session.execute(
            update(Story).where(Story.id.in_(ids)).values(event_id=event_id, event_seq=seq)
        )
        changes.record_many(
            session,
            [changes.row("story_event_changed", story_id=s, event_id=event_id) for s in ids],
        )


def fold(session: Session, folded: int, into: int, seq: int) -> int:
    """Move every story of event ``folded`` to ``into``; how many."""
    result = session.execute(
        update(Story).where(Story.event_id == folded).values(event_id=into, event_seq=seq)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def record_change(
    session: Session,
    kind: str,
    event_id: int,
    into: int,
    story_id: int | None,
    moved: int,
    now: datetime,
) -> None:
    session.add(
        EventMerge(
            kind=kind,
            event_id=event_id,
            into_event_id=into,
            story_id=story_id,
            stories_moved=moved,
            at=now,
        )
    )
    changes.record(
        session, "event_merged" if kind == "merge" else "event_split", story_id=story_id,
        event_id=event_id, other_id=into, detail={"stories_moved": moved},
    )  # fmt: skip
    if kind == "merge":
        session.execute(update(Event).where(Event.id == event_id).values(merged_into=into))
        # Events merged into this one before lead straight on: a redirect is one step.
        session.execute(update(Event).where(Event.merged_into == event_id).values(merged_into=into))


def refresh_counts(session: Session, event_ids: Collection[int], now: datetime) -> None:
    """Set the events' story counts (0 for one left empty by a merge or a split)."""
    if not event_ids:
        return
    ids = sorted(event_ids)
    grouped = select(Story.event_id, func.count()).where(Story.event_id.in_(ids))
    counts = {event_id: n for event_id, n in session.execute(grouped.group_by(Story.event_id))}
    session.connection().execute(
        _COUNT, [{"b_event": e, "b_count": counts.get(e, 0), "b_now": now} for e in ids]
    )


# -- read side -------------------------------------------------------------------------
def _event_dicts(session: Session, events: list[Event]) -> list[dict[str, Any]]:
    ids = [e.id for e in events]
    stories = list(
        session.scalars(select(Story).where(Story.event_id.in_(ids)).order_by(Story.id))
    ) if ids else []  # fmt: skip
    by_event: dict[int, list[dict[str, Any]]] = {}
    for story, as_dict in zip(stories, story_dicts(session, stories), strict=True):
        by_event.setdefault(story.event_id or 0, []).append(as_dict)
    out = []
    for e in events:
        members = by_event.get(e.id, [])
        feeds = sorted({a["feed"] for s in members for a in s["articles"]})
        out.append(
            {
                "id": e.id,
                "title": members[0]["title"] if members else None,
                "created": _iso(e.created_at),
                "updated": _iso(e.updated_at),
                "story_count": len(members),
                "feeds": feeds,
                "stories": members,
            }
        )
    return out


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value else None


def list_events(
    session: Session, since: datetime | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Events with stories (merged-away events are not listed), last updated first."""
    query = (
        select(Event)
        .where(Event.merged_into.is_(None), Event.story_count > 0)
        .order_by(Event.updated_at.desc(), Event.id.desc())
    )
    if since is not None:
        query = query.where(Event.updated_at >= since)
    if limit:
        query = query.limit(limit)
    return _event_dicts(session, list(session.scalars(query)))


def get_event(session: Session, event_id: int) -> dict[str, Any] | None:
    """One event; a merged-away id leads to the event it was merged into (``merged_from``
    says so)."""
    live = resolve(session, Event, event_id)
    event = session.get(Event, live) if live is not None else None
    if event is None:
        return None
    out = _event_dicts(session, [event])[0]
    if event.id != event_id:
        out["merged_from"] = event_id
    return out
