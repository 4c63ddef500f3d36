"""Chrome learned per site: a line that recurs in articles of one host, spread over several
feeds, is learned for that host and taken out of its next article in any feed, and of no
other host's. Invented feeds over a local HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlalchemy import select

from tests.fixtures.corpus import UNRELATED, WIRE
from tests.helpers import make_config
from worker.clean.learned import line_key
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article, ChromeLine, HostChromeLine

FOOTER = "Gazette reader desk open weekdays nine to five"
TEXTS = [*WIRE.values(), *UNRELATED.values()]


def _feed(items: list[tuple[str, str, int]]) -> str:
    """RSS with one item per ``(guid, link, text index)``, each body ending in FOOTER."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
    ]
    for guid, link, index in items:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in [*TEXTS[index], FOOTER])
        parts.append(
            f"<item><title>Story {guid}</title><link>{link}</link><guid>{guid}</guid>"
            f"<content:encoded>{html.escape(body)}</content:encoded></item>"
        )
    return "".join(parts) + "</channel></rss>"


def test_site_chrome_is_learned_across_feeds(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    site, other = "https://www.gazette.example", "https://other.example"
    feeds = {
        "gazette-world": [("w1", f"{site}/w1", 0), ("w2", f"{site}/w2", 1)],
        "gazette-local": [("l1", f"{site}/l1", 2), ("l2", f"{site}/l2", 3)],
        "aggregator": [("a1", f"{site}/a1", 4), ("a2", f"{other}/a2", 5)],
    }
    for name, items in feeds.items():
        httpserver.expect_request(f"/{name}").respond_with_data(
            _feed(items), content_type="application/rss+xml"
        )
    config = make_config(db.url, {n: httpserver.url_for(f"/{n}") for n in feeds}, tmp_path)
    ingestor = Ingestor(config, db)
    try:
        for name in feeds:  # in this order: the aggregator comes last
            assert ingestor.poll(name).articles_new == 2
    finally:
        ingestor.close()
    with db.session() as s:
        texts = {g: t for g, t in s.execute(select(Article.guid, Article.clean_text))}
        hosts = {
            h: n
            for h, n in s.execute(
                select(HostChromeLine.host, HostChromeLine.article_count).where(
                    HostChromeLine.line_key == line_key(FOOTER)
                )
            )
        }
        per_feed = s.scalars(
            select(ChromeLine.article_count).where(ChromeLine.line_key == line_key(FOOTER))
        ).all()
    # Two articles per feed never reach the four a feed needs; four of one site do.
    assert max(per_feed) == 2
    assert hosts == {"gazette.example": 5, "other.example": 1}
    assert all(FOOTER in texts[g] for g in ("w1", "w2", "l1", "l2"))
    assert FOOTER not in texts["a1"]  # the site's fifth article, in a third feed
    assert FOOTER in texts["a2"]  # another site: its own chrome, not learned
    assert texts["a1"].startswith(TEXTS[4][0][:40])


def test_learning_off_counts_nothing_per_site(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    items = [(f"g{n}", f"https://gazette.example/{n}", n) for n in range(5)]
    httpserver.expect_request("/feed").respond_with_data(_feed(items))
    config = make_config(
        db.url,
        {"gazette": httpserver.url_for("/feed")},
        tmp_path,
        extra="[clean]\nlearn_lines = false",
    )
    ingestor = Ingestor(config, db)
    try:
        assert ingestor.poll("gazette").articles_new == 5
    finally:
        ingestor.close()
    with db.session() as s:
        assert s.scalars(select(HostChromeLine)).all() == []
        assert all(FOOTER in t for t in s.scalars(select(Article.clean_text)))
