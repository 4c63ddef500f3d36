"""Each worker's in-memory mirror of ``lsh_keys`` sees what other workers commit, never
what a transaction rolled back, and a restarted worker reads the same index back."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.fixtures.corpus import WIRE
from tests.fixtures.drafts import ENGINE, POLICY, draft, make_feed, store
from worker.dedup.engine import window_start
from worker.dedup.fingerprint import fingerprint
from worker.dedup.lsh import band_keys
from worker.store import index
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article


def _found(db: Database, text: str) -> list[int]:
    with db.dedup_transaction() as s:
        return [c.article_id for c in ENGINE.candidates(ArticleStore(s), fingerprint(text))]


@pytest.fixture
def two(db: Database) -> tuple[Database, Database]:
    """Two workers on one database (each its own engine, so its own mirror)."""
    other = Database(db.url)
    yield db, other
    other.dispose()


def test_a_worker_sees_what_another_commits(two: tuple[Database, Database]) -> None:
    a, b = two
    feed_id = make_feed(a)
    text = "\n".join(WIRE["bridge"])
    assert _found(b, text) == []  # b's mirror is now loaded, and empty
    with a.dedup_transaction() as s:
        stored = store(s, draft(feed_id, "x", text))
    assert _found(b, text) == [stored.article_id]
    with b.dedup_transaction() as s:  # and b's copy joins a's story
        copy = store(s, draft(feed_id, "y", text + "\nMore."))
    assert copy.kind == "near" and copy.story_id == stored.story_id


def test_an_edit_replaces_the_keys_in_other_mirrors(two: tuple[Database, Database]) -> None:
    a, b = two
    feed_id = make_feed(a)
    old, new = "\n".join(WIRE["bridge"]), "\n".join(WIRE["vaccine"])
    with a.dedup_transaction() as s:
        stored = store(s, draft(feed_id, "x", old))
    assert _found(b, old) == [stored.article_id]
    with a.dedup_transaction() as s:
        edited = store(s, draft(feed_id, "x", new))  # the same GUID: an edit
    assert edited.kind == "updated"
    assert _found(b, old) == [] and _found(b, new) == [stored.article_id]
    # Edited down to a line: too short to index; b drops the keys it held.
    with a.dedup_transaction() as s:
        store(s, draft(feed_id, "x", "Short."))
    assert _found(b, new) == []


def test_a_rolled_back_transaction_leaves_no_keys(db: Database) -> None:
    feed_id = make_feed(db)
    text = "\n".join(WIRE["harvest"])

    class Abort(Exception):
        pass

    with pytest.raises(Abort), db.dedup_transaction() as s:
        store(s, draft(feed_id, "x", text))
        # Its own transaction sees the article it wrote...
        assert len(ENGINE.candidates(ArticleStore(s), fingerprint(text))) == 1
        raise Abort
    # ...nobody does after the rollback, and the next copy starts a story of its own.
    assert _found(db, text) == []
    with db.dedup_transaction() as s:
        again = store(s, draft(feed_id, "y", text))
    assert again.kind == "new"


@pytest.mark.parametrize("bulk", [False, True], ids=["row-by-row", "bulk"])
def test_a_restarted_worker_reads_the_same_index(
    db: Database, bulk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back at start, row by row or (as at a million rows) sorted in one go."""
    if bulk:
        monkeypatch.setattr(index, "_SMALL", 2)
        monkeypatch.setattr(index, "_CHUNK", 3)
    feed_id = make_feed(db)
    texts = {name: "\n".join(lines) for name, lines in WIRE.items()}
    with db.dedup_transaction() as s:
        for name, text in texts.items():
            store(s, draft(feed_id, name, text))
    with db.dedup_transaction() as s:  # one edit, so a replaced row is in the history
        first = s.query(Article).order_by(Article.id).first()
        assert first is not None
        store(s, draft(feed_id, first.guid, texts["vaccine"]))
    keys = {k for t in texts.values() for k in band_keys(fingerprint(t).hashvalues, POLICY.lsh)}
    since = window_start(POLICY)
    with db.session() as s:
        running = db.index.hits(s, keys, since)
    restarted = Database(db.url)
    try:
        with restarted.session() as s:
            assert restarted.index.catch_up(s) == len(texts)
            assert restarted.index.hits(s, keys, since) == running
    finally:
        restarted.dispose()


def test_a_session_reused_across_transactions_catches_up_each_time(
    two: tuple[Database, Database],
) -> None:
    a, b = two
    feed_id = make_feed(a)
    rolled, committed = "\n".join(WIRE["harvest"]), "\n".join(WIRE["orchestra"])
    with a.session() as s:
        with s.begin():
            store(s, draft(feed_id, "x", rolled))
            s.rollback()
        with b.dedup_transaction() as other:
            theirs = store(other, draft(feed_id, "y", committed))
        with s.begin():
            assert ENGINE.candidates(ArticleStore(s), fingerprint(rolled)) == []
            found = ENGINE.candidates(ArticleStore(s), fingerprint(committed))
            assert [c.article_id for c in found] == [theirs.article_id]


def test_the_mirror_serves_only_its_own_databases_sessions(db: Database) -> None:
    """A session the database did not make would keep its overlay past its transaction
    (nothing drops it): the store refuses it rather than answer from a stale overlay."""
    with Session(db.engine) as foreign, pytest.raises(ValueError):
        ArticleStore(foreign)
    other = Database(db.url)
    try:
        with other.session() as s, pytest.raises(ValueError):
            db.index.catch_up(s)
    finally:
        other.dispose()
