"""The event level (issue 20): synthetic write-ups of invented events (tests/fixtures/events.py)
go into events online, two events of one kind stay apart, one link does not chain, time
counts when known; stored on SQLite and PostgreSQL, followed across workers, rebuilt at
start, and undone in memory when a transaction does not commit."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from tests.fixtures.events import FLOOD_A, FLOOD_B, unrelated, write_up
from tests.helpers import make_config
from worker.config import EventSettings
from worker.events.assign import EventIndex, Rule
from worker.events.represent import story_terms
from worker.pipeline.backfill import make_entry
from worker.pipeline.events import EventLevel
from worker.pipeline.poll import Ingestor
from worker.store import events as store
from worker.store.db import Database
from worker.store.models import Article, EventMerge, Story
from worker.store.stories import list_stories

DAY = 86400.0


def _place_all(index: EventIndex, stories: list[tuple[str, str, float | None]]) -> list[int]:
    """Each story's event once all are placed (a later merge or split moves stories)."""
    ids = itertools.count(1)
    for i, (title, body, at) in enumerate(stories):
        index.place(i, story_terms(title, body), at, lambda: next(ids))
    return [index.event_of(i) or 0 for i in range(len(stories))]


def _mixed(at: float | None = None) -> tuple[list[tuple[str, str, float | None]], list[str]]:
    stories: list[tuple[str, str, float | None]] = []
    labels = []
    for i in range(6):
        stories.append((*write_up(FLOOD_A, i), at))
        labels.append("A")
        stories.append((*write_up(FLOOD_B, i), at))
        labels.append("B")
        stories.append((*unrelated(i), at))
        labels.append(f"u{i}")
    return stories, labels


def test_write_ups_of_one_event_join_and_two_floods_stay_apart() -> None:
    stories, labels = _mixed()
    events = _place_all(EventIndex(Rule()), stories)
    by_label: dict[str, set[int]] = {}
    for label, event in zip(labels, events, strict=True):
        by_label.setdefault(label, set()).add(event)
    assert len(by_label["A"]) == 1
    assert len(by_label["B"]) == 1
    assert by_label["A"] != by_label["B"]
    others = set().union(*(v for k, v in by_label.items() if k.startswith("u")))
    assert not others & (by_label["A"] | by_label["B"])


def test_the_write_ups_share_names_not_phrases() -> None:
    """The fixture is what it claims: different sentences, the same names."""
    (_, a), (_, b) = write_up(FLOOD_A, 0), write_up(FLOOD_A, 1)

    def shingles(t: str) -> set[tuple[str, ...]]:
        words = t.lower().split()
        return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}

    jaccard = len(shingles(a) & shingles(b)) / len(shingles(a) | shingles(b))
    assert jaccard < 0.2
    assert "e:ilse_brandauer" in story_terms("", a) or "e:ilse_brandauer" in story_terms("", b)


def test_one_link_does_not_pull_a_story_into_an_event() -> None:
    """A story very like one member of a three-story event, and unlike the other two,
    starts its own event: evidence against one story is not enough."""
    index = EventIndex(Rule())
    for i in range(40):  # a background that makes the words below rare
        index.add(100 + i, 100 + i, {f"w:other{i}": 1, f"w:more{i}": 1}, None)
    event = {"e:varnholt": 2, "w:flood": 1, "w:ossel": 1}
    index.add(1, 1, {**event, "e:brandauer": 2, "w:council": 1}, None)
    index.add(2, 1, {**event, "w:sandbags": 1}, None)
    index.add(3, 1, {**event, "w:shelters": 1}, None)
    odd = {"e:brandauer": 2, "w:council": 1, "w:budget": 2, "w:vote": 1}
    sims = dict(index.candidates(odd, None))
    assert [s for s, sim in sims.items() if sim >= index.rule.link] == [1]
    assert index.decide(odd, None).event_id is None
    # The same story with the event's own words links to all three: it joins.
    joined = index.decide({**odd, **event}, None)
    assert joined.event_id == 1 and len(joined.links) == 3


def test_time_counts_when_known_and_texts_without_dates_work() -> None:
    index = EventIndex(Rule(window=3 * DAY))
    ids = itertools.count(1)
    first = [
        index.place(i, story_terms(*write_up(FLOOD_A, i)), 0.0, lambda: next(ids)) for i in range(3)
    ]
    assert len({p.event_id for p in first}) == 1
    # The same event's coverage a month later is outside the window: a new event.
    late = index.place(10, story_terms(*write_up(FLOOD_A, 4)), 30 * DAY, lambda: next(ids))
    assert late.new_event
    # Without a date it is compared with everything.
    undated = index.place(11, story_terms(*write_up(FLOOD_A, 5)), None, lambda: next(ids))
    assert not undated.new_event


def test_a_mixed_event_is_split_and_recorded_as_one() -> None:
    index = EventIndex(Rule(split_min=3))
    for i in range(4):
        index.add(i, 1, story_terms(*write_up(FLOOD_A, i)), None)
        index.add(10 + i, 1, story_terms(*write_up(FLOOD_B, i)), None)
    part = index.split_of(1)
    assert part is not None
    assert set(part) in ({10, 11, 12, 13}, {0, 1, 2, 3})
    assert 0 not in part  # the oldest story keeps the event


def test_expire_forgets_the_stories_older_than_the_window() -> None:
    index = EventIndex(Rule(window=2 * DAY))
    index.add(1, 1, story_terms(*write_up(FLOOD_A, 0)), 0.0)
    index.add(2, 2, story_terms(*write_up(FLOOD_B, 0)), 3 * DAY)
    assert index.expire() == 1
    assert index.event_of(1) is None and index.event_of(2) == 2
    assert index.stats.documents == 1


# -- stored --------------------------------------------------------------------------------
def _entries(facts_outlets: list[tuple[object, int]], day: datetime | None) -> list:
    out = []
    for facts, outlet in facts_outlets:
        if facts is None:
            title, body = unrelated(outlet)
            guid = f"u-{outlet}"
        else:
            title, body = write_up(facts, outlet)  # type: ignore[arg-type]
            guid = f"{facts.town}-{outlet}"  # type: ignore[attr-defined]
        html = "".join(f"<p>{line}</p>" for line in body.split("\n"))
        out.append(make_entry(guid, f"https://news.example/{guid}", title, html, None, day))
    return out


def _ingestor(db: Database, tmp_path) -> Ingestor:  # type: ignore[no-untyped-def]
    config = make_config(
        db.url, {"wire": "https://news.example/rss"}, tmp_path, extra="[events]\nenabled = true"
    )
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    return ingestor


def _ingest(ingestor: Ingestor, entries: list) -> None:  # type: ignore[type-arg]
    cfg = ingestor.config.feed("wire")
    for entry in entries:  # one batch each: the order matters online
        ingestor.ingest_entries(cfg, ingestor.feed_id("wire"), [entry])


def _event_of_guids(db: Database) -> dict[str, int | None]:
    with db.session() as s:
        rows = s.execute(
            select(Article.guid, Story.event_id).join(Story, Story.id == Article.story_id)
        )
        return {guid: event for guid, event in rows}


def test_stored_events_views_and_listing(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ingestor = _ingestor(db, tmp_path)
    day = datetime(2026, 3, 2, tzinfo=UTC)
    order = [(FLOOD_A, 0), (FLOOD_B, 0), (None, 1), (FLOOD_A, 1), (FLOOD_B, 1), (FLOOD_A, 2),
             (None, 2), (FLOOD_B, 2), (FLOOD_A, 3), (FLOOD_B, 3)]  # fmt: skip
    _ingest(ingestor, _entries(order, day))
    events = _event_of_guids(db)
    a = {events[f"Varnholt-{i}"] for i in range(4)}
    b = {events[f"Quembridge-{i}"] for i in range(4)}
    assert len(a) == 1 and len(b) == 1 and a != b
    assert None not in a | b
    with db.session() as s:
        listed = store.list_events(s)
        stories = {story["id"]: story for story in list_stories(s)}
        (event_a,) = a
        one = store.get_event(s, event_a)
        seqs = list(s.scalars(select(Story.event_seq).order_by(Story.id)))
    # Every story as `stories --json` gives it.
    for event in listed:
        for story in event["stories"]:
            assert story == stories[story["id"]]
    with db.session() as s:
        a_stories = set(s.scalars(select(Article.story_id).where(Article.guid.like("Varnholt-%"))))
    assert one is not None and one["feeds"] == ["wire"]
    assert {story["id"] for story in one["stories"]} == a_stories
    assert one["story_count"] == len(a_stories)
    assert {e["id"] for e in listed} >= a | b
    assert sorted(seqs) == sorted(set(seqs))  # one sequence number per placement
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, story_id, feed FROM event_stories")).all()
        counts = dict(conn.execute(text("SELECT id, story_count FROM events")).all())
    assert len(rows) == len(stories)
    assert counts[event_a] == len(a_stories)


def test_a_second_worker_follows_and_a_restart_rebuilds(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    day = datetime(2026, 3, 2, tzinfo=UTC)
    first, second = _ingestor(db, tmp_path), _ingestor(db, tmp_path)
    _ingest(first, _entries([(FLOOD_A, 0), (FLOOD_B, 0), (FLOOD_A, 1)], day))
    second.events.index = EventIndex(second.events.rule)  # it started before any of that
    _ingest(second, _entries([(FLOOD_A, 2), (FLOOD_B, 1)], day))
    _ingest(first, _entries([(FLOOD_A, 3), (FLOOD_B, 2)], day))
    restarted = _ingestor(db, tmp_path)
    _ingest(restarted, _entries([(FLOOD_A, 4), (FLOOD_B, 3)], day))
    events = _event_of_guids(db)
    assert len({events[f"Varnholt-{i}"] for i in range(5)}) == 1
    assert len({events[f"Quembridge-{i}"] for i in range(4)}) == 1
    assert events["Varnholt-0"] != events["Quembridge-0"]


def test_a_rolled_back_batch_leaves_nothing_in_memory(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    level = EventLevel(EventSettings(enabled=True))
    ingestor = _ingestor(db, tmp_path)
    ingestor.events.settings = EventSettings(enabled=False)
    _ingest(ingestor, _entries([(FLOOD_A, 0), (FLOOD_A, 1)], None))
    with db.session() as s:
        story_ids = set(s.scalars(select(Story.id)))
    with pytest.raises(RuntimeError), db.dedup_transaction() as session:
        placed = level.after_batch(session, story_ids)
        assert len(placed) == 2
        raise RuntimeError("the commit fails")
    level.invalidate()
    with db.dedup_transaction() as session:
        placed = level.after_batch(session, story_ids)
    assert len(placed) == 2  # placed again: the rolled-back placements were forgotten
    assert level.index is not None and len(level.index) == 2


def test_merges_are_recorded_and_an_old_id_leads_on(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ingestor = _ingestor(db, tmp_path)
    ingestor.events.settings = EventSettings(enabled=False)
    _ingest(ingestor, _entries([(FLOOD_A, 0), (FLOOD_A, 1)], None))
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with db.dedup_transaction() as s:
        one, two = sorted(s.scalars(select(Story.id)))
        e1, e2 = store.new_event(s, now), store.new_event(s, now)
        store.place(s, one, e1, 1, now, {"w:flood": 1})
        store.place(s, two, e2, 2, now, {"w:flood": 1})
        assert store.fold(s, e2, e1, 3) == 1
        store.record_change(s, "merge", e2, e1, two, 1, now)
        store.refresh_counts(s, {e1, e2}, now + timedelta(seconds=1))
    with db.session() as s:
        event = store.get_event(s, e2)
        changes = list(s.scalars(select(EventMerge)))
        assert [e["id"] for e in store.list_events(s)] == [e1]
    assert event is not None and event["id"] == e1 and event["merged_from"] == e2
    assert [(c.kind, c.event_id, c.into_event_id) for c in changes] == [("merge", e2, e1)]
