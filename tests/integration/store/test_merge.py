"""Story merge: one article that is a copy of articles in two stories joins them, on a real
database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tests.fixtures.corpus import WIRE
from tests.fixtures.drafts import ENGINE, POLICY, draft, make_feed, store
from worker.clock import utcnow
from worker.dedup.engine import refresh_stories
from worker.dedup.fingerprint import fingerprint
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, Feed, LshKeys, Story
from worker.store.retention import prune_index


def test_bridging_copy_merges_two_stories(db: Database) -> None:
    feed_id = make_feed(db)
    body = "\n".join(WIRE["orchestra"])
    with db.dedup_transaction() as s:
        first = store(s, draft(feed_id, "a", body))
    with db.dedup_transaction() as s:
        second = store(s, draft(feed_id, "b", body + "\nUpdated at noon."))
        # Split the copy off into a story of its own: the state two workers reach when
        # each indexes its copy before seeing the other's, or after a settings change.
        split = Story(first_seen_at=utcnow(), last_seen_at=utcnow(), variant_count=1)
        s.add(split)
        s.flush()
        s.execute(update(Article).where(Article.id == second.article_id).values(story_id=split.id))
        refresh_stories(ArticleStore(s), [first.story_id], "earliest", {})
        second = replace(second, story_id=split.id)
    assert first.story_id != second.story_id
    with db.dedup_transaction() as s:
        third = store(s, draft(feed_id, "c", body + "\nMore soon."))
    survivor = min(first.story_id, second.story_id)
    assert third.story_id == survivor and third.merged == (max(first.story_id, second.story_id),)
    with db.session() as s:
        assert set(s.scalars(select(Article.story_id))) == {survivor}
        assert s.scalar(select(func.count()).where(Story.merged_into.is_(None))) == 1
        story = s.get(Story, survivor)
        assert story is not None and story.variant_count == 3
        assert story.canonical_article_id == first.article_id  # earliest stays canonical


def _split_off(s: Session, article_id: int) -> int:
    """Move one article into a story of its own, as two workers (or another arrival
    order) can leave a story split."""
    split = Story(first_seen_at=utcnow(), last_seen_at=utcnow(), variant_count=1)
    s.add(split)
    s.flush()
    s.execute(update(Article).where(Article.id == article_id).values(story_id=split.id))
    return split.id


def test_linked_halves_merge_without_a_near_identical_bridge(db: Database) -> None:
    """Two trims of one wire story in two stories, and a copy that is only a partial
    overlap of each: the stories merge because their members are copies of each other
    (average linkage), not because of the one bridge."""
    feed_id = make_feed(db)
    body = WIRE["bridge"]
    with db.dedup_transaction() as s:
        head = store(s, draft(feed_id, "a", "\n".join(body[:6])))
        tail = store(s, draft(feed_id, "b", "\n".join(body[2:])))
        split = _split_off(s, tail.article_id)
        refresh_stories(ArticleStore(s), [head.story_id], "earliest", {})
    with db.dedup_transaction() as s:
        third = store(s, draft(feed_id, "c", "\n".join(body[1:7])))
    assert third.kind == "near" and third.similarity is not None
    assert third.story_id == min(head.story_id, split)
    assert third.merged == (max(head.story_id, split),)
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Story.merged_into.is_(None))) == 1
        story = s.get(Story, third.story_id)
        assert story is not None and story.variant_count == 3


def test_containment_alone_does_not_merge(db: Database) -> None:
    """A short text contained in two stories is no evidence that they are one story."""
    feed_id = make_feed(db)
    shared = WIRE["harvest"][:2]
    a = "\n".join(shared + WIRE["bridge"])
    b = "\n".join(shared + WIRE["vaccine"])
    with db.dedup_transaction() as s:
        sa = store(s, draft(feed_id, "a", a))
    with db.dedup_transaction() as s:
        sb = store(s, draft(feed_id, "b", b))
    assert sa.story_id != sb.story_id
    with db.dedup_transaction() as s:
        short = store(s, draft(feed_id, "c", "\n".join(shared)))
    assert short.merged == ()
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Story.merged_into.is_(None))) == 2


def _race(url: str, *, guarded: bool, copies: int = 6) -> tuple[int, int]:
    """``copies`` workers (each its own ``Database``, as separate processes would have)
    store retitled copies of one story at the same moment; returns how many stories, and
    how many workers' transactions the database refused.

    The interleaving is forced rather than left to the scheduler: unguarded, every worker
    reads its candidates and then waits for all the others to have read theirs before it
    writes, the worst case that a busy machine produces only sometimes. Guarded, the
    workers are serialised before they read, so a barrier there could never fill; each
    worker instead pauses between reading and writing, widening the window the guard must
    close."""
    dbs = [Database(url, dedup_lock=guarded) for _ in range(copies)]
    with dbs[0].session() as s, s.begin():
        for table in (LshKeys, Article, Story, Feed):  # each round starts empty
            s.execute(delete(table))
    feed_id = make_feed(dbs[0], "race")
    start = threading.Barrier(copies)
    all_read = threading.Barrier(copies)
    body = WIRE["harvest"]

    class Waiting(ArticleStore):
        """Reads the index as the engine would, then waits before anything is written."""

        def band_hits(self, keys: set[int], since: float) -> dict[int, list[int]]:
            found = super().band_hits(keys, since)
            if guarded:
                time.sleep(0.05)
            else:
                all_read.wait(timeout=30)
            return found

    refused: list[int] = []

    def store_copy(i: int) -> None:
        entry = draft(feed_id, f"{guarded}-{i}", "\n".join(body[: 4 + i % 4]))
        start.wait()
        try:
            with dbs[i].dedup_transaction() as s:
                ENGINE.store(Waiting(s), [entry])
        except SQLAlchemyError:
            # Unguarded, two workers can merge stories at once and one deletes the story
            # the other points at: a foreign-key violation, the other failure mode.
            refused.append(i)

    threads = [threading.Thread(target=store_copy, args=(i,)) for i in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with dbs[0].session() as s:
        stories = s.scalar(
            select(func.count(func.distinct(Article.story_id))).where(Article.feed_id == feed_id)
        )
    for d in dbs:
        d.dispose()
    return int(stories or 0), len(refused)


def test_concurrent_copies_need_the_dedup_guard(db: Database) -> None:
    """With the guard, copies arriving at once end in one story, every time. Without it,
    each worker looks for candidates before the others commit and starts its own story:
    the same test fails, which is what shows the guard is what makes it pass."""
    guarded = [_race(db.url, guarded=True) for _ in range(3)]
    assert guarded == [(1, 0), (1, 0), (1, 0)]
    stories, refused = _race(db.url, guarded=False)
    assert stories > 1 or refused, (stories, refused)


def test_retention_prune_drops_old_index_rows_only(db: Database) -> None:
    feed_id = make_feed(db)
    old_text, new_text = "\n".join(WIRE["bridge"]), "\n".join(WIRE["vaccine"])
    with db.dedup_transaction() as s:
        old = store(s, draft(feed_id, "old", old_text))
        store(s, draft(feed_id, "new", new_text))
    with db.session() as s, s.begin():  # the old article was indexed 40 days ago
        s.execute(
            update(LshKeys)
            .where(LshKeys.article_id == old.article_id)
            .values(added_at=utcnow() - timedelta(days=40))
        )
    assert prune_index(db, utcnow() - POLICY.retention) == 1
    with db.session() as s:
        assert old.article_id not in set(s.scalars(select(LshKeys.article_id)))
        assert s.scalar(select(func.count()).select_from(Article)) == 2  # still stored
        assert ENGINE.candidates(ArticleStore(s), fingerprint(old_text)) == []
    # A copy of the old story is no longer matched by similarity: it starts a new story.
    with db.dedup_transaction() as s:
        again = store(s, draft(feed_id, "again", old_text + "\nLater."))
    assert again.kind == "new"


def test_retention_prune_in_batches(db: Database) -> None:
    """Batches smaller than the old rows: every old article leaves, each counted once."""
    feed_id = make_feed(db)
    with db.dedup_transaction() as s:
        stored = [
            store(s, draft(feed_id, name, "\n".join(WIRE[name])))
            for name in ("bridge", "vaccine", "harvest")
        ]
    old = [r.article_id for r in stored[:2]]
    with db.session() as s, s.begin():
        s.execute(
            update(LshKeys)
            .where(LshKeys.article_id.in_(old))
            .values(added_at=utcnow() - timedelta(days=40))
        )
    assert prune_index(db, utcnow() - POLICY.retention, batch=1) == 2
    with db.session() as s:
        assert set(s.scalars(select(LshKeys.article_id))) == {stored[2].article_id}
