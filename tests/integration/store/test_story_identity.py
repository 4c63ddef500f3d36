"""Story identity across merges and splits (issue 18): a merged story stays as a tombstone
that leads to its survivor in one step, every merge and split is recorded, a split chooses
both canonicals again, the views show live stories only, and a purge takes a deleted
story's tombstones along. SQLite, and PostgreSQL when configured."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.fixtures.corpus import WIRE
from tests.fixtures.drafts import draft, make_feed, store
from worker.cli import main
from worker.clock import utcnow
from worker.dedup.canonical import merge_stories, split_story
from worker.pipeline.purge import purge
from worker.store import events as event_store
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, Event, Story, StoryMerge
from worker.store.stories import get_story, list_stories, resolve_story


def _three_stories(db: Database) -> list[int]:
    feed_id = make_feed(db)
    with db.dedup_transaction() as s:
        return [
            store(s, draft(feed_id, name, "\n".join(WIRE[name]))).story_id
            for name in ("bridge", "vaccine", "harvest")
        ]


def _merge(db: Database, survivor: int, *folded: int) -> None:
    with db.dedup_transaction() as s:
        merge_stories(ArticleStore(s), survivor, folded, "consolidation", "earliest", {})


def test_a_merged_story_is_a_tombstone_that_leads_to_its_survivor(db: Database) -> None:
    one, two, three = _three_stories(db)
    _merge(db, one, two)
    with db.session() as s:
        tomb = s.get(Story, two)
        assert tomb is not None and tomb.merged_into == one
        assert (tomb.canonical_article_id, tomb.variant_count, tomb.event_id) == (None, 0, None)
        survivor = s.get(Story, one)
        assert survivor is not None and survivor.variant_count == 2
        assert survivor.updated_at is not None
        record = s.scalars(select(StoryMerge)).one()
        assert (record.kind, record.story_id, record.into_story_id) == ("merge", two, one)
        assert (record.articles_moved, record.reason) == (1, "consolidation")
        assert resolve_story(s, two) == one and resolve_story(s, one) == one
        assert resolve_story(s, 999) is None
        assert {d["id"] for d in list_stories(s)} == {one, three}
        shown = get_story(s, two)
        assert shown is not None and shown["id"] == one and shown["merged_from"] == two
        assert shown["merged_at"] is not None and len(shown["articles"]) == 2
        assert "merged_from" not in (get_story(s, one) or {})
        for view in ("canonical_articles", "story_variants"):
            ids = set(s.scalars(text(f"SELECT DISTINCT story_id FROM {view}")))
            assert ids == {one, three}, view


def test_a_chain_of_merges_resolves_in_one_step(db: Database) -> None:
    one, two, three = _three_stories(db)
    _merge(db, two, three)
    _merge(db, one, two)
    with db.session() as s:
        assert s.get(Story, three).merged_into == one  # type: ignore[union-attr]
        assert s.get(Story, two).merged_into == one  # type: ignore[union-attr]
        assert resolve_story(s, three) == one
        moves = s.execute(
            select(StoryMerge.story_id, StoryMerge.into_story_id).order_by(StoryMerge.id)
        ).all()
        assert [tuple(m) for m in moves] == [(three, two), (two, one)]
        assert set(s.scalars(select(Article.story_id))) == {one}


def test_a_split_moves_articles_into_a_new_story_and_chooses_both_canonicals(
    db: Database,
) -> None:
    feed_id = make_feed(db)
    body = "\n".join(WIRE["orchestra"])
    with db.dedup_transaction() as s:
        first = store(s, draft(feed_id, "a", body))
        second = store(s, draft(feed_id, "b", body + "\nUpdated at noon."))
        third = store(s, draft(feed_id, "c", body + "\nMore soon."))
    story = first.story_id
    assert second.story_id == third.story_id == story
    with db.dedup_transaction() as s:
        # The canonical (earliest) article leaves: the old story needs a new canonical.
        new = split_story(
            ArticleStore(s), story, [first.article_id], "consolidation", "earliest", {}
        )
    assert new != story
    with db.session() as s:
        old_row, new_row = s.get(Story, story), s.get(Story, new)
        assert old_row is not None and new_row is not None
        assert (old_row.variant_count, old_row.canonical_article_id) == (2, second.article_id)
        assert (new_row.variant_count, new_row.canonical_article_id) == (1, first.article_id)
        assert new_row.first_seen_at is not None and new_row.merged_into is None
        record = s.scalars(select(StoryMerge)).one()
        assert (record.kind, record.story_id, record.into_story_id) == ("split", story, new)
        assert record.articles_moved == 1
        assert s.scalar(select(Article.story_id).where(Article.id == first.article_id)) == new


def test_a_split_that_does_not_fit_writes_nothing(db: Database) -> None:
    one, two, _three = _three_stories(db)
    with db.session() as s:
        ids = {
            sid: s.scalar(select(Article.id).where(Article.story_id == sid)) for sid in (one, two)
        }
    for story_id, articles in ((one, [ids[one]]), (one, [ids[two]]), (one, [])):
        with pytest.raises(ValueError), db.dedup_transaction() as s:
            ArticleStore(s).split(story_id, articles, "consolidation")
    _merge(db, one, two)
    with pytest.raises(ValueError, match="not a live story"), db.dedup_transaction() as s:
        ArticleStore(s).split(two, [ids[two]], "consolidation")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(StoryMerge)) == 1  # the merge only
        assert s.scalar(select(func.count()).select_from(Story)) == 3


def test_purging_a_story_takes_its_tombstones_along(db: Database) -> None:
    one, two, three = _three_stories(db)
    _merge(db, one, two)
    with db.session() as s:
        feed_id = s.scalar(select(Article.feed_id).where(Article.story_id == one))
        gone = list(s.scalars(select(Article.id).where(Article.story_id == one)))
    with db.session() as s, s.begin():  # the merged story's articles are old; the third not
        s.execute(
            Article.__table__.update()
            .where(Article.id.in_(gone))
            .values(fetched_at=utcnow() - timedelta(days=60))
        )
    assert feed_id is not None
    report = purge(db, {feed_id: utcnow() - timedelta(days=30)}, poll_log_cutoff=None)
    assert report.articles == 2 and report.stories_deleted == 1
    with db.session() as s:
        assert set(s.scalars(select(Story.id))) == {three}
        assert resolve_story(s, two) is None and resolve_story(s, one) is None


def test_story_command_follows_a_merge(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, _three = _three_stories(db)
    _merge(db, one, two)
    config = tmp_path / "newsdedup.toml"
    config.write_text(f'[worker]\ndatabase = "{db.url.replace("+psycopg", "")}"\n')
    assert main(["--config", str(config), "story", str(two)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"story {two} was merged into story {one} on ")
    assert f"; showing {one}\nstory {one}:" in out
    assert main(["--config", str(config), "story", str(two), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["merged_from"]) == (one, two)
    assert main(["--config", str(config), "story", "999"]) == 1


def test_event_merges_re_point_older_redirects(db: Database) -> None:
    now = utcnow()
    with db.session() as s, s.begin():
        a, b, c = (event_store.new_event(s, now) for _ in range(3))
        event_store.record_change(s, "merge", a, b, None, 0, now)
        event_store.record_change(s, "merge", b, c, None, 0, now)
    with db.session() as s:
        assert s.get(Event, a).merged_into == c  # type: ignore[union-attr]
        shown = event_store.get_event(s, a)
        assert shown is not None and shown["id"] == c and shown["merged_from"] == a


def test_0008_downgrade_drops_tombstones_and_upgrade_fills_updated_at(db: Database) -> None:
    one, two, three = _three_stories(db)
    _merge(db, one, two)
    db.downgrade("0007")
    with db.engine.connect() as conn:
        assert set(conn.scalars(text("SELECT id FROM stories"))) == {one, three}
        assert conn.scalar(text("SELECT COUNT(*) FROM canonical_articles")) == 2
    db.upgrade()
    with db.session() as s:
        rows = s.execute(select(Story.updated_at, Story.last_seen_at)).all()
        assert rows and all(updated == seen for updated, seen in rows)
        assert s.scalar(select(func.count()).select_from(StoryMerge)) == 0
