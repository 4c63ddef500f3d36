"""Consolidation on a real database (SQLite, and PostgreSQL when configured): the stories a
window ends with do not depend on the order its articles arrived in; every change is a
recorded merge or split that keeps story ids stable."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from tests.fixtures.corpus import WIRE
from tests.fixtures.drafts import ENGINE, POLICY, draft, make_feed
from worker.dedup.canonical import refresh_stories
from worker.pipeline.consolidate import Pending, consolidate
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, Story, StoryMerge

BRIDGE = WIRE["bridge"]
TEXTS = {
    "head": "\n".join(BRIDGE[:3]),
    "tail": "\n".join(BRIDGE[5:]),
    "full": "\n".join(BRIDGE),
    "copy": "\n".join(BRIDGE) + "\nUpdated at noon.",
    "other": "\n".join(WIRE["orchestra"]),
}
# The two trims share nothing: stored before the full text, they start two stories, and
# the full text alone (which matches both) is no evidence that they are one.
ORDERS = [
    ["tail", "head", "other", "full", "copy"],
    ["full", "copy", "head", "tail", "other"],
    ["other", "copy", "tail", "head", "full"],
]


def _partition(db: Database) -> set[frozenset[str]]:
    with db.session() as s:
        rows = s.execute(select(Article.guid, Article.story_id)).all()
    stories: dict[int, set[str]] = {}
    for guid, story in rows:
        stories.setdefault(story, set()).add(guid)
    return {frozenset(g) for g in stories.values()}


def _store(db: Database, feed_id: int, guid: str) -> set[int]:
    with db.dedup_transaction() as s:
        decisions = ENGINE.store(ArticleStore(s), [draft(feed_id, guid, TEXTS[guid])])
        return {d.article_id for d in decisions}


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join(o))
def test_the_partition_does_not_depend_on_the_arrival_order(db: Database, order: list[str]) -> None:
    feed_id = make_feed(db)
    for guid in order:
        touched = _store(db, feed_id, guid)
        with db.dedup_transaction() as s:
            consolidate(ArticleStore(s), touched, POLICY, {})
    assert _partition(db) == {frozenset({"head", "tail", "full", "copy"}), frozenset({"other"})}
    with db.session() as s:
        live = s.scalars(select(Story).where(Story.merged_into.is_(None))).all()
        assert sorted(story.variant_count for story in live) == [1, 4]
        assert all(story.canonical_article_id is not None for story in live)


def test_without_it_the_engine_keeps_the_trims_apart(db: Database) -> None:
    feed_id = make_feed(db)
    for guid in ORDERS[0][:4]:  # a copy of the full text would merge the two (link share)
        _store(db, feed_id, guid)
    assert len(_partition(db)) == 3  # what consolidation repairs above


def test_merges_keep_the_larger_story_and_are_recorded(db: Database) -> None:
    feed_id = make_feed(db)
    touched: set[int] = set()
    for guid in ORDERS[0][:4]:
        touched |= _store(db, feed_id, guid)
    with db.session() as s:
        before = dict(s.execute(select(Article.guid, Article.story_id)).all())
    with db.dedup_transaction() as s:
        done = consolidate(ArticleStore(s), touched, POLICY, {})
    assert done.merges == 1 and done.splits == 0 and done.articles == 4
    with db.session() as s:
        after = dict(s.execute(select(Article.guid, Article.story_id)).all())
        records = s.execute(select(StoryMerge.kind, StoryMerge.reason, StoryMerge.story_id,
                                   StoryMerge.into_story_id)).all()  # fmt: skip
    # The full text joined one trim's story, which now holds 2 articles and stays; the
    # other trim's story (1 article) goes into it.
    home = before["full"]
    trim = before["head"] if before["head"] != home else before["tail"]
    assert after["head"] == after["tail"] == after["full"] == home
    assert after["other"] == before["other"]
    assert [(r.kind, r.reason, r.story_id, r.into_story_id) for r in records] == [
        ("merge", "consolidation", trim, home)
    ]


def test_an_article_in_the_wrong_story_is_split_off(db: Database) -> None:
    feed_id = make_feed(db)
    touched: set[int] = set()
    for guid in ("full", "copy", "other"):
        touched |= _store(db, feed_id, guid)
    with db.dedup_transaction() as s:
        # The state a wrong merge leaves: the unrelated story's article in the wire story.
        wire = s.scalar(select(Article.story_id).where(Article.guid == "full"))
        other = s.scalar(select(Article.story_id).where(Article.guid == "other"))
        s.execute(update(Article).where(Article.guid == "other").values(story_id=wire))
        refresh_stories(ArticleStore(s), [wire, other], "earliest", {})
    with db.dedup_transaction() as s:
        done = consolidate(ArticleStore(s), touched, POLICY, {})
    assert done.splits == 1 and done.merges == 0
    assert _partition(db) == {frozenset({"full", "copy"}), frozenset({"other"})}
    with db.session() as s:
        moved = s.scalar(select(Article.story_id).where(Article.guid == "other"))
        story = s.get(Story, moved)
        assert story is not None and story.variant_count == 1
        assert story.canonical_article_id is not None
        kinds = s.execute(
            select(StoryMerge.kind, StoryMerge.story_id, StoryMerge.into_story_id)
        ).all()
    assert [tuple(k) for k in kinds] == [("split", wire, moved)]


def test_a_settled_window_is_left_alone(db: Database) -> None:
    feed_id = make_feed(db)
    touched: set[int] = set()
    for guid in ORDERS[1]:
        touched |= _store(db, feed_id, guid)
    with db.dedup_transaction() as s:
        first = consolidate(ArticleStore(s), touched, POLICY, {})
    with db.dedup_transaction() as s:
        again = consolidate(ArticleStore(s), touched, POLICY, {})
    assert not again.changed and again.articles == first.articles == 5


def test_pending_articles_wait_for_the_interval(db: Database) -> None:
    feed_id = make_feed(db)
    placed: list[set[int]] = []
    pending = Pending(db, POLICY, dict, 3600.0, after=lambda done, _s: placed.append(done.stories))
    for guid in ORDERS[0][:4]:
        pending.add(_store(db, feed_id, guid))
    assert len(_partition(db)) == 3 and len(pending) > 0  # not yet: the interval is an hour
    done = pending.flush()
    assert done.merges == 1 and len(pending) == 0
    assert len(_partition(db)) == 2
    assert placed == [done.stories]  # the event level is told which stories changed
    assert not pending.flush().changed  # nothing waits


def test_pending_with_no_interval_consolidates_every_batch(db: Database) -> None:
    feed_id = make_feed(db)
    pending = Pending(db, POLICY, dict, 0.0)
    for guid in ORDERS[0][:4]:
        pending.add(_store(db, feed_id, guid))
        assert len(pending) == 0
    assert len(_partition(db)) == 2


def test_a_failing_database_keeps_the_articles_waiting(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_id = make_feed(db)
    pending = Pending(db, POLICY, dict, 3600.0)
    for guid in ORDERS[0][:4]:
        pending.add(_store(db, feed_id, guid))
    waiting = len(pending)

    def down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("the server went away"))

    monkeypatch.setattr(db, "dedup_transaction", down)
    assert not pending.flush().changed
    assert len(pending) == waiting
    monkeypatch.undo()
    assert pending.flush().merges == 1


def test_a_failing_consolidation_does_not_fail_the_caller(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    feed_id = make_feed(db)
    pending = Pending(db, POLICY, dict, 3600.0)
    pending.add(_store(db, feed_id, "full") | _store(db, feed_id, "copy"))

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("worker.pipeline.consolidate.consolidate", broken)
    assert not pending.flush().changed
    assert "consolidation of 2 articles failed" in caplog.text
    assert len(pending) == 0  # not retried for ever
