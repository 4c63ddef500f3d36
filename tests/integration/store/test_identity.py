"""Identity that cannot be borrowed: a canonical-URL match joins another feed's story only
when the texts agree (``identity_match_allowed``, in the engine's exact-match step), for stored rows and for
the segment's pending ones, on SQLite and PostgreSQL; and the canonical choice does not
believe implausible dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.corpus import UNRELATED, WIRE
from tests.fixtures.drafts import ENGINE, draft, make_feed, store
from worker.dedup.canonical import ArticleFacts, choose_canonical, seen_time
from worker.dedup.decision import MatchRule, identity_match_allowed
from worker.dedup.engine import Draft
from worker.dedup.fingerprint import fingerprint
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, Story

URL = "https://victim.example/news/dam"


def test_identity_match_allowed() -> None:
    rule = MatchRule()
    wire = fingerprint("\n".join(WIRE["bridge"]))
    trimmed = fingerprint("\n".join(WIRE["bridge"][:-2]))
    other = fingerprint("\n".join(UNRELATED["chess"]))
    assert identity_match_allowed(other, 1, wire, 1, rule)  # the same feed: its own URL
    assert identity_match_allowed(wire, 2, wire, 1, rule)  # the same text
    assert identity_match_allowed(trimmed, 2, wire, 1, rule)  # a near copy
    assert not identity_match_allowed(other, 2, wire, 1, rule)  # another text
    assert not identity_match_allowed(other, 2, None, 1, rule)  # nothing to compare
    empty = fingerprint("")
    assert identity_match_allowed(empty, 2, empty, 1, rule)  # two entries without text


def _with_url(d: Draft, url: str) -> Draft:
    return replace(d, canonical_url=url, url=url)


@pytest.mark.parametrize("path", ["one at a time", "one batch"])
def test_a_borrowed_url_with_another_text_is_no_copy(db: Database, path: str) -> None:
    """One at a time, each URL match is a stored row; in one batch, a pending one of the
    engine's segment: the same rule on both."""
    victim_feed = make_feed(db, "victim")
    attacker_feed, copier_feed = make_feed(db, "attacker"), make_feed(db, "copier")
    drafts = [
        _with_url(draft(victim_feed, "v", "\n".join(WIRE["bridge"])), URL),
        # Another text under the victim's URL: its own story.
        _with_url(draft(attacker_feed, "a1", "\n".join(UNRELATED["chess"])), URL),
        # The victim's text, trimmed, under its URL: a copy, joined by the URL.
        _with_url(draft(copier_feed, "a2", "\n".join(WIRE["bridge"][:-2])), URL),
    ]
    if path == "one batch":
        with db.dedup_transaction() as s:
            kinds = [d.kind for d in ENGINE.store(ArticleStore(s), drafts)]
    else:
        kinds = []
        for d in drafts:
            with db.dedup_transaction() as s:
                kinds.append(store(s, d).kind)
    assert kinds == ["new", "new", "url"]
    with db.session() as s:
        story_of = {a.guid: a.story_id for a in s.scalars(select(Article))}
        victim_id = s.scalars(select(Article.id).where(Article.guid == "v")).one()
        canonical = s.get(Story, story_of["v"])
        assert canonical is not None and canonical.canonical_article_id == victim_id
    assert story_of["a1"] != story_of["v"] and story_of["a2"] == story_of["v"]


def test_implausible_dates_do_not_win_the_canonical_choice() -> None:
    fetched = datetime(2026, 3, 1, 12, tzinfo=UTC)
    honest = ArticleFacts(1, seen_time(fetched - timedelta(hours=3), fetched), 0, 100)
    backdated = ArticleFacts(
        2, seen_time(datetime(1, 1, 1, tzinfo=UTC), fetched + timedelta(hours=1)), 0, 100
    )
    future = ArticleFacts(3, seen_time(datetime(9999, 12, 1, tzinfo=UTC), fetched), 0, 100)
    assert choose_canonical([honest, backdated, future], "earliest") == 1
    # Within the window a date is believed (a day ahead at most: time zones).
    assert seen_time(fetched + timedelta(hours=20), fetched) == fetched + timedelta(hours=20)
    assert seen_time(datetime(1989, 12, 31, tzinfo=UTC), fetched) == fetched


def test_stored_dates_outside_the_window_are_ignored_by_the_refresh(db: Database) -> None:
    """Rows stored before the parser checked dates (or by an import) still carry them:
    the story refresh ignores them too."""
    feed_a, feed_b = make_feed(db, "a"), make_feed(db, "b")
    text = "\n".join(WIRE["orchestra"])
    recent = datetime.now(UTC) - timedelta(hours=1)
    with db.dedup_transaction() as s:
        first = store(s, replace(draft(feed_a, "x", text), published_at=recent))
        old = replace(draft(feed_b, "y", text), published_at=datetime(1, 1, 1, tzinfo=UTC))
        second = store(s, old)
    assert second.story_id == first.story_id
    with db.session() as s:
        story = s.get(Story, first.story_id)
        assert story is not None and story.canonical_article_id == first.article_id
