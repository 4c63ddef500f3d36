"""The entries of one poll stored as one batch decide exactly as when stored one at a time:
same clean texts (learned chrome lines included), same matches, same stories, same line
counts; on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.corpus import UNRELATED, WIRE, content_html, rss
from tests.helpers import make_config
from worker.pipeline import poll as ingest
from worker.pipeline.backfill import make_entry
from worker.pipeline.poll import Ingestor
from worker.reader.parser import Entry
from worker.store.db import Database
from worker.store.models import Article, ChromeLine

MASTHEAD = "Harbour Gazette morning edition"
FOOTER = "Share this story with a friend"


def _poll() -> list[tuple[str, str]]:
    """One feed's entries (GUID, body): chrome lines that become learned part-way, copies
    of earlier entries of the same poll (whole and trimmed), one GUID given twice, changed,
    and one given twice, unchanged."""
    stories = [*WIRE.items(), *UNRELATED.items()]
    stories.append(("bridge-again", WIRE["bridge"]))  # word for word: exact copy
    stories.append(("vaccine-trimmed", WIRE["vaccine"][:-1]))  # a near copy
    stories.append(("chess", [*UNRELATED["chess"], "Corrected at noon."]))  # edited
    stories.append(("museum", UNRELATED["museum"]))  # the same again: unchanged
    return [(guid, content_html([MASTHEAD, *text, FOOTER])) for guid, text in stories]


def _link(guid: str) -> str:
    return f"https://gazette.example/{guid}"


def _entries() -> list[Entry]:
    return [make_entry(guid, _link(guid), guid, body, None, None) for guid, body in _poll()]


def _stored(db: Database) -> tuple[dict[str, tuple[str, str]], set[frozenset[str]], set[tuple]]:
    with db.session() as s:
        rows = s.execute(
            select(Article.guid, Article.clean_text, Article.match_kind, Article.story_id)
        )
        articles, stories = {}, {}
        for guid, text, kind, story in rows:
            articles[guid] = (text, kind)
            stories.setdefault(story, set()).add(guid)
        lines = {
            (k, n) for k, n in s.execute(select(ChromeLine.line_key, ChromeLine.article_count))
        }
    return articles, {frozenset(g) for g in stories.values()}, lines


def _ingestor(
    db: Database, tmp_path: Path, url: str = "file:///dev/null", extra: str = ""
) -> Ingestor:
    config = make_config(db.url, {"gazette": url}, tmp_path, extra=extra)
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    return ingestor


def test_one_batch_decides_like_one_entry_at_a_time(db: Database, tmp_path: Path) -> None:
    entries = _entries()
    batched = _ingestor(db, tmp_path)
    cfg = batched.config.feed("gazette")
    kinds = batched.ingest_entries(cfg, batched.feed_id("gazette"), entries)
    batched.close()

    alone_db = Database(f"sqlite:///{tmp_path / 'alone.db'}")
    alone_db.upgrade()
    alone = _ingestor(alone_db, tmp_path)
    one_by_one = [alone.ingest_entry(cfg, alone.feed_id("gazette"), e) for e in entries]
    alone.close()

    assert kinds == one_by_one
    # bridge-again lost the masthead its original kept (learned in between): a near copy.
    assert kinds[-4:] == ["near", "near", "updated", "unchanged"]
    articles, stories, lines = _stored(db)
    assert (articles, stories, lines) == _stored(alone_db)
    alone_db.dispose()
    # The masthead was learned during the batch: the first articles keep it, the last lose it.
    assert MASTHEAD in articles["bridge"][0] and MASTHEAD not in articles["storm"][0]
    assert frozenset({"bridge", "bridge-again"}) in stories


def test_batches_of_a_poll_store_every_entry_once(db: Database, tmp_path: Path) -> None:
    """A poll stored in batches of two: entries of later batches match earlier ones."""
    items = [
        {"title": guid, "link": _link(guid), "guid": guid, "content": body,
         "pubDate": "Fri, 20 Nov 2026 08:00:00 +0000"}
        for guid, body in _poll()
    ]  # fmt: skip
    feed = tmp_path / "gazette.xml"
    feed.write_text(rss("Gazette", "https://gazette.example/", items))
    ingestor = _ingestor(db, tmp_path, feed.as_uri(), extra="store_batch = 2")
    outcome = ingestor.poll("gazette")
    ingestor.close()
    assert outcome.outcome == "ok" and outcome.entry_errors == 0
    assert (outcome.articles_new, outcome.duplicates_exact, outcome.duplicates_near) == (8, 0, 2)
    assert outcome.articles_updated == 1
    articles, stories, _lines = _stored(db)
    assert len(articles) == 10 and len(stories) == 8
    assert frozenset({"bridge", "bridge-again"}) in stories


def test_a_batch_open_too_long_is_written_before_it_is_full(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow entries (article pages fetched one by one) do not hold a batch, or the lease,
    for long: past the time limit the batch is written and the lease renewed."""
    items = [
        {"title": guid, "link": _link(guid), "guid": guid, "content": body,
         "pubDate": "Fri, 20 Nov 2026 08:00:00 +0000"}
        for guid, body in _poll()[:5]
    ]  # fmt: skip
    feed = tmp_path / "gazette.xml"
    feed.write_text(rss("Gazette", "https://gazette.example/", items))
    ingestor = _ingestor(db, tmp_path, feed.as_uri())
    monkeypatch.setattr(ingest, "_BATCH_SECONDS", 0.0)
    renewals: list[int] = []
    monkeypatch.setattr(ingestor.leases, "renew", renewals.append)
    outcome = ingestor.poll("gazette")
    ingestor.close()
    assert outcome.articles_new == 5 and len(renewals) == 5  # one batch per entry
