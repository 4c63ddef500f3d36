"""Issue 18's target: a downstream reader following the change feed while 3 workers ingest
and consolidate on PostgreSQL ends with exactly the stories the database holds.

Three workers (each its own ``Database``, as separate processes have) store batches of
overlapping copies (new stories, near copies, bridges that merge stories, edits), merge and
split stories as a consolidation pass does, and one purges a feed halfway. A reader polls
``changes_after`` all along, checks that it never skips a number, and keeps its own copy
of "story -> articles" and each story's canonical from the changes alone. At the end its
copy equals the database. On SQLite (one file, several connections) too."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.fixtures.drafts import ENGINE, draft, make_feed
from tests.hostile_server import synthetic_text
from worker.clock import utcnow
from worker.dedup.canonical import merge_stories, split_story
from worker.pipeline.purge import purge
from worker.store.articles import ArticleStore
from worker.store.changes import ChangeRow, changes_after
from worker.store.db import Database
from worker.store.models import Article, Story, StoryMerge

WORKERS = 3
ROUNDS = 25
BATCH = 8
BASES = [synthetic_text(random.Random(n), 160) for n in range(40)]


class Replica:
    """What a reader knows from the change feed alone."""

    def __init__(self) -> None:
        self.articles: dict[int, set[int]] = {}
        self.canonical: dict[int, int | None] = {}
        self.seq = 0
        self.pages = 0
        self.kinds: Counter[str] = Counter()

    def apply(self, c: ChangeRow) -> None:
        assert c.seq == self.seq + 1, f"skipped from {self.seq} to {c.seq}"
        self.seq = c.seq
        self.kinds[c.kind] += 1
        story = c.story_id
        if c.kind == "story_created":
            assert story not in self.articles
            self.articles[story], self.canonical[story] = set(), None  # type: ignore[index]
        elif c.kind == "article_added":
            self.articles[story].add(c.article_id)  # type: ignore[index,arg-type]
        elif c.kind == "canonical_changed":
            assert c.article_id in self.articles[story]  # type: ignore[index]
            self.canonical[story] = c.article_id  # type: ignore[index]
        elif c.kind == "story_merged":
            self.articles[c.other_id] |= self.articles.pop(story)  # type: ignore[index,arg-type]
            self.canonical.pop(story)  # type: ignore[arg-type]
        elif c.kind == "story_split":
            assert c.detail is not None
            moved = set(c.detail["articles"])
            assert moved < self.articles[story]  # type: ignore[index]
            self.articles[story] -= moved  # type: ignore[index]
            self.articles[c.other_id], self.canonical[c.other_id] = moved, None  # type: ignore[index]
        elif c.kind == "article_purged":
            self.articles[story].remove(c.article_id)  # type: ignore[index,arg-type]
        elif c.kind == "story_deleted":
            assert self.articles.pop(story) == set()  # type: ignore[arg-type]
            self.canonical.pop(story)  # type: ignore[arg-type]
        else:
            assert c.kind == "article_updated", c.kind


def _live(s: Session) -> tuple[dict[int, set[int]], dict[int, int | None]]:
    articles: dict[int, set[int]] = {}
    for story_id, article_id in s.execute(select(Article.story_id, Article.id)):
        articles.setdefault(story_id, set()).add(article_id)
    rows = s.execute(
        select(Story.id, Story.canonical_article_id).where(Story.merged_into.is_(None))
    )
    canonical = {story_id: article_id for story_id, article_id in rows}
    return articles, canonical


def _consolidate(s: Session, rng: random.Random, gone: int) -> None:
    """What a consolidation pass does, at random: split an article off a story, or merge
    two stories (under the dedup lock, like every story change). The stories of feed
    ``gone`` are left alone: the purge is to delete them whole."""
    store = ArticleStore(s)
    rows = s.execute(
        select(Article.story_id, func.count())
        .where(Article.feed_id != gone)
        .group_by(Article.story_id)
    )
    sizes = {story_id: count for story_id, count in rows}
    if rng.random() < 0.5:
        big = [story for story, n in sizes.items() if n > 1]
        if big:
            story = rng.choice(big)
            members = sorted(s.scalars(select(Article.id).where(Article.story_id == story)))
            split_story(store, story, [rng.choice(members)], "consolidation", "earliest", {})
    elif len(sizes) > 1:
        one, two = sorted(rng.sample(sorted(sizes), 2))
        merge_stories(store, one, [two], "consolidation", "earliest", {})


def _worker(url: str, index: int, feeds: list[int], gone: int, errors: list[BaseException]) -> None:
    db = Database(url)
    rng = random.Random(index)
    mine: list[tuple[int, str]] = []
    try:
        for round_ in range(ROUNDS):
            drafts = []
            for k in range(BATCH):
                base = BASES[rng.randrange(len(BASES))]
                text = base + " " + synthetic_text(rng, rng.randrange(0, 12))
                if mine and rng.random() < 0.1:  # an edit of an entry already stored
                    feed_id, guid = rng.choice(mine)
                else:
                    feed_id, guid = rng.choice(feeds), f"w{index}-{round_}-{k}"
                    mine.append((feed_id, guid))
                drafts.append(draft(feed_id, guid, text))
            with db.dedup_transaction() as s:
                ENGINE.store(ArticleStore(s), drafts)
            if rng.random() < 0.4:
                with db.dedup_transaction() as s:
                    _consolidate(s, rng, gone)
            if index == 0 and round_ == ROUNDS // 2:  # retention empties the first feed
                with db.dedup_transaction() as s:  # and a feed of stories of its own
                    ENGINE.store(
                        ArticleStore(s),
                        [draft(gone, f"own-{n}", synthetic_text(rng, 150)) for n in range(3)],
                    )
                purge(db, {feeds[0]: utcnow(), gone: utcnow()}, poll_log_cutoff=None, batch=7)
    except BaseException as exc:  # reported by the test, not lost in a thread
        errors.append(exc)
    finally:
        db.dispose()


def _reader(url: str, replica: Replica, done: threading.Event, errors: list[Any]) -> None:
    db = Database(url)
    try:
        while True:
            finished = done.is_set()  # read before the page: the last page is complete
            with db.session() as s:
                page = changes_after(s, replica.seq, 50)
            for change in page:
                replica.apply(change)
            replica.pages += bool(page)
            if not page:
                if finished:
                    return
                time.sleep(0.005)
    except BaseException as exc:
        errors.append(exc)
    finally:
        db.dispose()


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)


def test_a_reader_of_the_change_feed_ends_with_the_database_stories(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    feeds = [make_feed(db, name) for name in ("purged", "b", "c", "d")]
    gone = make_feed(db, "gone")
    errors: list[BaseException] = []
    replica, done = Replica(), threading.Event()
    reader = threading.Thread(target=_reader, args=(db.url, replica, done, errors))
    reader.start()
    work: Callable[[int], threading.Thread] = lambda i: threading.Thread(  # noqa: E731
        target=_worker, args=(db.url, i, feeds, gone, errors)
    )
    _run([work(i) for i in range(WORKERS)])
    done.set()
    reader.join(120)
    assert not errors, errors
    with db.session() as s:
        articles, canonical = _live(s)
        merged = s.scalar(select(func.count()).where(Story.merged_into.is_not(None)))
        purged = s.scalar(select(func.count()).where(Article.feed_id == feeds[0]))
        reasons = set(s.scalars(select(StoryMerge.reason).where(StoryMerge.kind == "merge")))
    db.dispose()
    assert replica.articles == articles
    assert replica.canonical == canonical
    # The run did what it is meant to test: every kind of story change, bridges found by
    # the engine as well as consolidation's merges, a reader reading meanwhile.
    assert set(replica.kinds) == {
        "story_created", "article_added", "article_updated", "canonical_changed",
        "story_merged", "story_split", "article_purged", "story_deleted",
    }, replica.kinds  # fmt: skip
    assert reasons == {"bridge", "consolidation"}, reasons
    assert merged and merged > 3
    assert purged is not None and purged < WORKERS * ROUNDS * BATCH / len(feeds)
    assert replica.pages > 10, replica.pages
