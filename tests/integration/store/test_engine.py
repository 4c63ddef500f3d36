"""The dedup engine on a batch with every kind of step in it: in-batch near and exact
copies of articles not written yet, a URL copy of another feed's article, edits (by GUID
and by canonical URL), a copy that bridges two stories (a merge) and a copy that then joins
the merged story, a text too short to be matched by similarity. The batch ends in the
expected stories, and in exactly the state the same entries reach stored one per
transaction (a batch decides a later entry as if the earlier ones were written), with
segments of 64 and of 2 (segments that end inside the batch); on a real database (SQLite,
and PostgreSQL when configured)."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from tests.fixtures.corpus import UNRELATED, WIRE
from tests.fixtures.drafts import POLICY, draft, make_feed, store
from tests.integration.store.test_merge import _split_off
from worker.dedup import engine
from worker.dedup.engine import Draft, refresh_stories
from worker.pipeline.entries import Prepared, write_batch
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, ChromeLine, LshKeys, Story

URL = "https://x.example/wire"


def _setup(db: Database) -> int:
    """Two stories of one wire text (a split), as in ``test_merge``."""
    feed_id, other_feed = make_feed(db), make_feed(db, "other")
    body = WIRE["orchestra"]
    with db.dedup_transaction() as s:
        first = store(s, draft(feed_id, "a", "\n".join(body)))
        second = store(s, draft(feed_id, "b", "\n".join(body) + "\nUpdated at noon."))
        _split_off(s, second.article_id)
        refresh_stories(ArticleStore(s), [first.story_id], "earliest", {})
        # Another feed's article at a URL the batch gives again: an exact (url) copy.
        other = draft(other_feed, "o", "\n".join(UNRELATED["rail"]))
        store(s, Draft(**{**other.__dict__, "canonical_url": URL}))
    return feed_id


def _batch(feed_id: int) -> list[Prepared]:
    orchestra, bridge, chess = WIRE["orchestra"], WIRE["bridge"], UNRELATED["chess"]
    texts = [
        ("n1", "\n".join(bridge), None),
        ("n2", "\n".join(bridge[:-2]), None),  # near copy of n1, pending
        ("n3", "\n".join(bridge[:-2]), None),  # exact (content) copy of n2, pending
        ("u1", "\n".join(chess), "https://x.example/chess"),
        ("u2", "\n".join(WIRE["harvest"]), "https://x.example/chess"),  # same URL: an edit
        ("c", "\n".join(orchestra) + "\nMore soon.", None),  # bridges the two stories: merge
        ("d", "\n".join(orchestra[:-1]), None),  # joins the merged story
        ("n1", "\n".join(bridge) + "\nCorrected.", None),  # an edit of n1 (same GUID)
        # Another feed's URL with its text (updated): a url match. With another text it
        # would not be one (tests/test_identity.py).
        ("w", "\n".join(UNRELATED["rail"]) + "\nUpdated at noon.", URL),
        ("s", "Too short.", None),  # matched only exactly
        ("v", "\n".join(WIRE["vaccine"]), None),
        ("v2", "\n".join(WIRE["vaccine"][1:]), None),
    ]
    out = []
    for guid, text, url in texts:
        entry = draft(feed_id, guid, text)
        entry = Draft(
            **{
                **entry.__dict__,
                "canonical_url": url,
                "source_hash": sha256(text.encode()).hexdigest(),
            }
        )
        out.append(Prepared(entry, frozenset({f"line of {guid[0]}", "shared line"})))
    return out


def _state(db: Database) -> tuple[object, ...]:
    matched = aliased(Article)
    canonical = aliased(Article)
    with db.session() as s:
        articles = s.execute(
            select(
                Article.guid, Article.match_kind, matched.guid, Article.similarity,
                Article.clean_text, canonical.guid, Story.variant_count, Article.id,
            )
            .join(Story, Story.id == Article.story_id)
            .outerjoin(matched, matched.id == Article.matched_article_id)
            .outerjoin(canonical, canonical.id == Story.canonical_article_id)
            .order_by(Article.id)
        ).all()  # fmt: skip
        groups = {
            frozenset(g.split(","))
            for (g,) in s.execute(
                select(func.group_concat(Article.guid) if db.dialect == "sqlite"
                       else func.string_agg(Article.guid, ",")).group_by(Article.story_id)
            )
        }  # fmt: skip
        buckets = s.execute(select(LshKeys.article_id, LshKeys.keys)).all()
        # Index rows are written apart from their articles, in the same time format (on
        # SQLite a text: a row in another format would sort wrongly against the cutoff).
        unlike = s.scalar(
            select(func.count())
            .select_from(LshKeys)
            .join(Article, Article.id == LshKeys.article_id)
            .where(LshKeys.added_at != func.coalesce(Article.updated_at, Article.fetched_at))
        )
        assert unlike == 0
        stories = s.scalar(select(func.count()).where(Story.merged_into.is_(None)))
        lines = sorted(s.execute(select(ChromeLine.line_key, ChromeLine.article_count)).all())
    ids = {row[7]: i for i, row in enumerate(articles)}  # ids differ between databases
    rows = [(*row[:7], ids[row[7]]) for row in articles]
    index = sorted((ids[article_id], keys) for article_id, keys in buckets)
    return rows, groups, index, stories, lines


def _store_alone(db: Database, feed_id: int, prepared: Prepared) -> str:
    """The reference: one entry, one transaction."""
    with db.dedup_transaction() as s:
        return write_batch(s, feed_id, [prepared], POLICY, {}, learn_lines=True)[0]


@pytest.mark.parametrize("segment", [64, 2])
def test_a_batch_ends_as_its_entries_one_at_a_time(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segment: int
) -> None:
    monkeypatch.setattr(engine, "SEGMENT", segment)
    feed_id = _setup(db)
    with db.dedup_transaction() as s:
        kinds = write_batch(s, feed_id, _batch(feed_id), POLICY, {}, learn_lines=True)

    alone_db = Database(f"sqlite:///{tmp_path / 'alone.db'}")
    alone_db.upgrade()
    alone_id = _setup(alone_db)
    one_by_one = [_store_alone(alone_db, alone_id, p) for p in _batch(alone_id)]
    assert kinds == one_by_one
    assert kinds == [
        "new", "near", "content", "new", "updated", "near", "near", "updated", "url", "new", "new", "near",
    ]  # fmt: skip
    assert _state(db) == _state(alone_db)
    alone_db.dispose()
    _rows, groups, _buckets, stories, _lines = _state(db)
    assert frozenset({"a", "b", "c", "d"}) in groups and stories == 6
