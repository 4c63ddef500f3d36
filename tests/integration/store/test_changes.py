"""The change feed (issue 18): each change a reader could care about is one row, written in
the transaction that made it (a rolled-back transaction leaves none), numbered 1, 2, 3 ...
in the order the changes were made; the retention purge reports what it deletes and
prunes old rows but never the newest. SQLite, and PostgreSQL when configured."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import func, select, update

from tests.fixtures.corpus import WIRE
from tests.fixtures.drafts import draft, make_feed, store
from worker.cli import main
from worker.clock import utcnow
from worker.dedup.canonical import merge_stories, split_story
from worker.pipeline.purge import purge
from worker.store import changes
from worker.store import events as event_store
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, Change
from worker.store.stories import list_stories


def _feed(db: Database) -> list[tuple[str, int | None, int | None, int | None]]:
    with db.session() as s:
        rows = changes.changes_after(s, 0, 1000)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))  # consecutive
    return [(r.kind, r.story_id, r.article_id, r.other_id) for r in rows]


def test_each_change_is_one_row_in_order(db: Database) -> None:
    feed_id = make_feed(db)
    body = "\n".join(WIRE["orchestra"])
    with db.dedup_transaction() as s:
        a = store(s, draft(feed_id, "a", body))
    with db.dedup_transaction() as s:
        b = store(s, draft(feed_id, "b", body + "\nUpdated at noon."))
    with db.dedup_transaction() as s:
        edited = store(s, draft(feed_id, "b", body + "\nUpdated at one."))
    story = a.story_id
    assert b.story_id == story and edited.kind == "updated"
    assert _feed(db) == [
        ("story_created", story, None, None),
        ("article_added", story, a.article_id, None),
        ("canonical_changed", story, a.article_id, None),
        ("article_added", story, b.article_id, a.article_id),
        ("article_updated", story, b.article_id, None),
    ]
    with db.session() as s:
        added = changes.changes_after(s, 3, 1)[0]
        assert added.detail == {"match_kind": "near"} and added.at <= utcnow()
        assert changes.latest_seq(s) == 5
        assert [r.seq for r in changes.changes_after(s, 2, 2)] == [3, 4]


def test_merges_splits_and_purges_are_in_the_feed(db: Database) -> None:
    feed_id = make_feed(db)
    with db.dedup_transaction() as s:
        one = store(s, draft(feed_id, "one", "\n".join(WIRE["bridge"])))
        two = store(s, draft(feed_id, "two", "\n".join(WIRE["vaccine"])))
    after = _feed_len(db)
    with db.dedup_transaction() as s:
        merge_stories(
            ArticleStore(s), one.story_id, [two.story_id], "consolidation", "earliest", {}
        )
    with db.dedup_transaction() as s:
        new = split_story(
            ArticleStore(s), one.story_id, [two.article_id], "consolidation", "earliest", {}
        )
    feed = _feed(db)[after:]
    assert feed == [
        ("story_merged", two.story_id, None, one.story_id),
        ("story_split", one.story_id, None, new),
        ("canonical_changed", new, two.article_id, None),
    ]
    with db.session() as s:
        merged, split = changes.changes_after(s, after, 2)
    assert merged.detail == {"articles_moved": 1, "reason": "consolidation"}
    assert split.detail == {"articles": [two.article_id], "reason": "consolidation"}
    # Both articles expire: two purged articles, two stories gone (the tombstone silently).
    after = len(feed) + after
    with db.session() as s, s.begin():
        s.execute(update(Article).values(fetched_at=utcnow() - timedelta(days=60)))
    purge(db, {feed_id: utcnow() - timedelta(days=30)}, poll_log_cutoff=None)
    assert sorted(_feed(db)[after:]) == sorted(
        [
            ("article_purged", one.story_id, one.article_id, None),
            ("article_purged", new, two.article_id, None),
            ("story_deleted", one.story_id, None, None),
            ("story_deleted", new, None, None),
        ]
    )
    with db.session() as s:
        assert list_stories(s) == []


def _feed_len(db: Database) -> int:
    with db.session() as s:
        return changes.latest_seq(s)


def test_a_rolled_back_transaction_leaves_no_change(db: Database) -> None:
    feed_id = make_feed(db)
    with pytest.raises(RuntimeError), db.dedup_transaction() as s:
        store(s, draft(feed_id, "a", "\n".join(WIRE["harvest"])))
        raise RuntimeError("the batch fails after its writes")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 0
    assert _feed(db) == []
    with db.dedup_transaction() as s:  # numbering goes on with no gap
        stored = store(s, draft(feed_id, "a", "\n".join(WIRE["harvest"])))
    assert _feed(db)[0] == ("story_created", stored.story_id, None, None)


def test_event_changes_are_in_the_feed(db: Database) -> None:
    feed_id = make_feed(db)
    with db.dedup_transaction() as s:
        one = store(s, draft(feed_id, "one", "\n".join(WIRE["bridge"])))
        two = store(s, draft(feed_id, "two", "\n".join(WIRE["vaccine"])))
    after = _feed_len(db)
    now = utcnow()
    with db.dedup_transaction() as s:
        first, second = event_store.new_event(s, now), event_store.new_event(s, now)
        event_store.place(s, one.story_id, first, 1, now, {"bridge": 1})
        event_store.place(s, two.story_id, second, 2, now, {"vaccine": 1})
        event_store.fold(s, second, first, 3)
        event_store.record_change(s, "merge", second, first, two.story_id, 1, now)
    with db.session() as s:
        rows = changes.changes_after(s, after, 10)
    assert [(r.kind, r.story_id, r.event_id, r.other_id) for r in rows] == [
        ("event_created", None, first, None),
        ("event_created", None, second, None),
        ("story_event_changed", one.story_id, first, None),
        ("story_event_changed", two.story_id, second, None),
        ("event_merged", two.story_id, second, first),
    ]
    assert rows[-1].detail == {"stories_moved": 1}


def test_the_purge_prunes_old_changes_but_never_the_newest(db: Database) -> None:
    feed_id = make_feed(db)
    with db.dedup_transaction() as s:
        store(s, draft(feed_id, "a", "\n".join(WIRE["harvest"])))
    total = _feed_len(db)
    with db.session() as s, s.begin():
        s.execute(update(Change).values(at=utcnow() - timedelta(days=90)))
    report = purge(
        db, {}, poll_log_cutoff=None, changes_cutoff=utcnow() - timedelta(days=30), batch=1
    )
    assert report.changes == total - 1
    with db.session() as s:
        assert [r.seq for r in changes.changes_after(s, 0, 10)] == [total]
    with db.dedup_transaction() as s:
        store(s, draft(feed_id, "b", "\n".join(WIRE["orchestra"])))
    with db.session() as s:
        assert changes.changes_after(s, total, 1)[0].seq == total + 1


def test_stories_after_gives_what_changed_and_the_number_to_go_on_from(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_id = make_feed(db)
    with db.dedup_transaction() as s:
        one = store(s, draft(feed_id, "one", "\n".join(WIRE["bridge"])))
        two = store(s, draft(feed_id, "two", "\n".join(WIRE["vaccine"])))
        three = store(s, draft(feed_id, "three", "\n".join(WIRE["harvest"])))
    saved = _feed_len(db)
    with db.dedup_transaction() as s:
        merge_stories(
            ArticleStore(s), one.story_id, [two.story_id], "consolidation", "earliest", {}
        )
    config = tmp_path / "newsdedup.toml"
    config.write_text(f'[worker]\ndatabase = "{db.url.replace("+psycopg", "")}"\n')

    def stories_after(*argv: str) -> dict[str, Any]:
        assert main(["--config", str(config), "stories", "--json", "--after", *argv]) == 0
        return cast(dict[str, Any], json.loads(capsys.readouterr().out))

    everything = stories_after("0")
    assert [s["id"] for s in everything["stories"]] == [three.story_id, one.story_id]
    assert everything["merged"] == [
        {"id": two.story_id, "merged_into": one.story_id, "seq": saved + 1}
    ]
    assert everything["deleted"] == [] and everything["seq"] == saved + 1
    assert everything["stories"][1]["seq"] == saved + 1
    assert {a["id"] for a in everything["stories"][1]["articles"]} == {
        one.article_id,
        two.article_id,
    }
    since = stories_after(str(saved))
    assert [s["id"] for s in since["stories"]] == [one.story_id]
    assert since["seq"] == saved + 1
    assert stories_after(str(saved + 1)) == {
        "stories": [],
        "merged": [],
        "deleted": [],
        "seq": saved + 1,
    }
    # Paged by --limit: each page ends before a change that names one story too many.
    seen: set[int] = set()
    after, pages = 0, 0
    while True:
        page = stories_after(str(after), "--limit", "1")
        if page["seq"] == after:
            break
        assert len(page["stories"]) <= 1
        seen |= {s["id"] for s in page["stories"]}
        after, pages = page["seq"], pages + 1
    assert seen == {one.story_id, three.story_id} and pages >= 3
    assert main(["--config", str(config), "stories", "--after", str(saved)]) == 0
    out = capsys.readouterr().out
    assert f"story {two.story_id} was merged into story {one.story_id}\n" in out
    assert out.endswith(f"1 stories changed after change {saved}; next: --after {saved + 1}\n")
