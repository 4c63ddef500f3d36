"""The set-based batch write (``write_batch`` over ``worker.store.batch``) ends in exactly
the state ``store_draft`` reaches one entry at a time: same kinds, matches, similarities,
stories, canonical articles, index rows and line counts, with a story merge, an edit and
in-batch copies among the entries, and runs cut short; on a real database (SQLite, and
PostgreSQL when configured)."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from tests.fixtures.corpus import UNRELATED, WIRE
from tests.fixtures.drafts import POLICY, draft, make_feed
from tests.test_merge import _split_off
from worker.pipeline import entries
from worker.pipeline.entries import Prepared, write_batch
from worker.store import articles as store
from worker.store import chrome_lines
from worker.store.db import Database
from worker.store.models import Article, ChromeLine, LshKeys, Story

URL = "https://x.example/wire"


def _setup(db: Database) -> int:
    """Two stories of one wire text (a split), as in ``test_merge``."""
    feed_id, other_feed = make_feed(db), make_feed(db, "other")
    body = WIRE["orchestra"]
    with db.dedup_transaction() as s:
        first = store.store_draft(s, draft(feed_id, "a", "\n".join(body)), POLICY, {})
        second = store.store_draft(
            s, draft(feed_id, "b", "\n".join(body) + "\nUpdated at noon."), POLICY, {}
        )
        _split_off(s, second.article_id)
        store.refresh_story(s, first.story_id, "earliest", {})
        # Another feed's article at a URL the batch gives again: an exact (url) copy.
        other = draft(other_feed, "o", "\n".join(UNRELATED["rail"]))
        store.store_draft(s, store.Draft(**{**other.__dict__, "canonical_url": URL}), POLICY, {})
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
        entry = store.Draft(
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
        stories = s.scalar(select(func.count()).select_from(Story))
        lines = sorted(s.execute(select(ChromeLine.line_key, ChromeLine.article_count)).all())
    ids = {row[7]: i for i, row in enumerate(articles)}  # ids differ between databases
    rows = [(*row[:7], ids[row[7]]) for row in articles]
    index = sorted((ids[article_id], keys) for article_id, keys in buckets)
    return rows, groups, index, stories, lines


def _store_alone(db: Database, feed_id: int, prepared: Prepared) -> str:
    """The reference: one entry, one transaction, ``store_draft`` itself."""
    draft = prepared.draft
    with db.dedup_transaction() as s:
        urls = [draft.canonical_url] if draft.canonical_url else []
        by_guid, by_url = store.stored_entries(s, feed_id, [draft.guid], urls)
        known = by_guid.get(draft.guid) or (by_url.get(urls[0]) if urls else None)
        existing = s.get(Article, known.article_id) if known is not None else None
        result = store.store_draft(s, draft, POLICY, {}, existing)
        if existing is None:
            chrome_lines.count_lines(s, feed_id, prepared.edge_keys)
    return result.kind


@pytest.mark.parametrize("run", [64, 2])
def test_batch_ends_as_one_entry_at_a_time(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: int
) -> None:
    monkeypatch.setattr(entries, "RUN", run)  # 2: runs end inside the batch
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
