"""``eval dedup --path whole-pages|fragments|summaries``: the labelled documents as feeds,
ingested by the daemon's own poll path.

The documents, in the eval's pseudo-random arrival order, are dealt round-robin over
``FEEDS`` feeds (RSS and Atom in turn), served from loopback sites (``worker.eval.loopback``,
one address per site the page came from). Then the feeds are polled in rounds, in a fixed
order, by ``pipeline.poll.Ingestor`` with the daemon's defaults (learned chrome on): each
round every feed shows its next ``PER_POLL`` entries, as a feed that grows between polls.
Article links point at each document's site, where ``summaries`` has the page fetched
(``full_text = "auto"``; private addresses allowed for the eval's feeds only).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from worker.config import Config
from worker.eval.corpus import Document
from worker.eval.loopback import LoopbackSites
from worker.eval.runs import stored_rows
from worker.eval.shapes import Item, atom, item_for, rss, site_of, text_page
from worker.pipeline.poll import Ingestor
from worker.store.db import Database

FEEDS = 8
PER_POLL = 10


def feed_config(config: Config, urls: list[str]) -> Config:
    """``config`` with one feed per URL, as a user would subscribe them."""
    data: dict[str, Any] = config.model_dump(mode="json")
    data["feeds"] = [
        {"name": f"eval-{n}", "url": url, "full_text": "auto", "allow_private_addresses": True}
        for n, url in enumerate(urls)
    ]
    data["worker"]["jitter"] = 0
    return Config.model_validate(data)


def _sites(order: list[Document]) -> dict[str, int]:
    sites: dict[str, int] = {}
    for doc in order:
        sites.setdefault(site_of(doc), len(sites))
    return sites


def serve(
    order: list[Document], shape: str, feeds: int
) -> tuple[LoopbackSites, list[list[tuple[int, Item]]], int]:
    """A loopback server holding each document's page on its site, and the documents as
    items in ``shape``, dealt round-robin over ``feeds`` feeds; the feeds' own site."""
    sites = _sites(order)
    server = LoopbackSites(len(sites) + 1)
    feed_site = len(sites)  # the feeds themselves live on a site of their own
    items: list[list[tuple[int, Item]]] = [[] for _ in range(feeds)]
    for position, doc in enumerate(order):
        site = sites[site_of(doc)]
        path = f"/{position}.html"
        link = server.url(site, path)
        items[position % feeds].append((position, item_for(doc, shape, link)))
        page = doc.page if doc.page is not None else text_page(doc.title, doc.text or "")
        server.put(site, path, page, "text/html")
    return server, items, feed_site


def feed_body(n: int, shown: list[tuple[int, Item]]) -> bytes:
    """Feed ``n`` showing ``shown``: RSS and Atom in turn."""
    return (rss if n % 2 == 0 else atom)(f"eval-{n}", shown)


def ingest_as_feeds(
    order: list[Document],
    config: Config,
    shape: str,
    *,
    feeds: int = FEEDS,
    per_poll: int = PER_POLL,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Any], dict[str, int]]:
    """Serve ``order`` as feeds in ``shape``, poll them to the end; the stored rows and the
    poll outcomes summed by kind."""
    server, items, feed_site = serve(order, shape, feeds)
    urls = [server.url(feed_site, f"/feed{n}.xml") for n in range(feeds)]
    config = feed_config(config, urls)
    db = Database(config.worker.database)
    db.ensure_current()
    totals: dict[str, int] = {}
    with server:
        ingestor = Ingestor(config, db)
        ingestor.sync_feeds()
        rounds = max((len(i) + per_poll - 1) // per_poll for i in items)
        try:
            for round_ in range(rounds):
                for n in range(feeds):
                    shown = items[n][round_ * per_poll : (round_ + 1) * per_poll]
                    server.put(feed_site, f"/feed{n}.xml", feed_body(n, shown), "application/xml")
                    outcome = ingestor.poll(f"eval-{n}")
                    for key, value in outcome.__dict__.items():
                        if isinstance(value, int) and key != "http_status":
                            totals[key] = totals.get(key, 0) + value
                    kind = f"outcome_{outcome.outcome}"
                    totals[kind] = totals.get(kind, 0) + 1
                if progress and (round_ + 1) % 20 == 0:
                    progress(f"  {shape}: round {round_ + 1}/{rounds}")
        finally:
            ingestor.close()
    rows = stored_rows(db)
    db.dispose()
    return rows, totals


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started
