"""Article pages extracted in worker processes: the same text as in the poll thread, the
same stored result in the same order, and a worker that dies costs no page."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlalchemy import select

from tests.fixtures.corpus import OUTLETS, WIRE, outlet_paragraphs, rss
from tests.helpers import make_config
from worker.clean.extract import page_to_text
from worker.pipeline.extraction import PageExtractor
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article


def _page(story: str, outlet_index: int) -> str:
    body = "".join(f"<p>{p}</p>" for p in outlet_paragraphs(story, OUTLETS[outlet_index]))
    return (
        f"<html><head><title>{story}</title></head><body><nav><a href='/'>Home</a> | "
        f"<a href='/world'>World</a></nav><article><h1>{story}</h1>{body}</article>"
        "<footer>All rights reserved.</footer></body></html>"
    )


def test_pool_gives_the_text_of_the_thread() -> None:
    extractor = PageExtractor(2)
    try:
        pages = [_page(story, i % 2) for i, story in enumerate(WIRE)]
        futures = [extractor.submit(page, "http://news.example/a") for page in pages]
        texts = [
            extractor.text(f, page, "http://news.example/a")[0]
            for f, page in zip(futures, pages, strict=True)
        ]
        assert texts == [page_to_text(page, "http://news.example/a") for page in pages]
        assert all(texts)
    finally:
        extractor.close()


def _workers(before: set[BaseProcess]) -> list[BaseProcess]:
    """The pool's worker processes: this process's children started since ``before``."""
    return [p for p in multiprocessing.active_children() if p not in before]


def test_a_dead_worker_costs_no_page() -> None:
    before = set(multiprocessing.active_children())
    extractor = PageExtractor(2)
    page = _page(next(iter(WIRE)), 0)
    try:
        expected = extractor.text(extractor.submit(page, None), page, None)[0]
        workers = _workers(before)
        assert workers
        for worker in workers:  # the OOM killer, say
            os.kill(worker.pid or 0, signal.SIGKILL)
        for worker in workers:
            worker.join(timeout=10)
        assert extractor.text(extractor.submit(page, None), page, None)[0] == expected
        # Every page in flight when a worker dies: each is extracted by the new pool.
        futures = [extractor.submit(page, None) for _ in range(4)]
        for worker in _workers(before):
            os.kill(worker.pid or 0, signal.SIGKILL)
        assert [extractor.text(f, page, None)[0] for f in futures] == [expected] * 4
    finally:
        extractor.close()


def test_workers_ignore_sigterm() -> None:
    # systemd sends SIGTERM to the whole group: the daemon, not its workers, decides.
    before = set(multiprocessing.active_children())
    extractor = PageExtractor(2)
    page = _page(next(iter(WIRE)), 1)
    try:
        extractor.text(extractor.submit(page, None), page, None)
        workers = _workers(before)
        assert workers
        for worker in workers:
            os.kill(worker.pid or 0, signal.SIGTERM)
        time.sleep(0.5)
        assert all(worker.is_alive() for worker in workers)
        assert extractor.text(extractor.submit(page, None), page, None)[0]
    finally:
        extractor.close()


def _stored(db: Database) -> list[tuple[str, str, str, int]]:
    with db.session() as s:
        rows = s.execute(
            select(Article.guid, Article.clean_text, Article.match_kind, Article.story_id).order_by(
                Article.id
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_poll_with_pool_stores_what_the_thread_stores(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    # Each story twice (two outlets' pages): a later entry folds into an earlier one, so
    # the stored kinds and stories show the entries were decided in arrival order.
    items = []
    for n, story in enumerate(sorted(WIRE)):
        for outlet in (0, 1):
            path = f"/{story}-{outlet}"
            httpserver.expect_request(path).respond_with_data(
                _page(story, outlet), content_type="text/html"
            )
            items.append(
                {
                    "title": f"{story} {outlet}",
                    "link": httpserver.url_for(path),
                    "guid": f"{story}-{outlet}",
                    "pubDate": f"Fri, 20 Nov 2026 08:{n:02d}:0{outlet} +0000",
                    "summary": f"{story}, in one sentence.",
                    "content": "",
                }
            )
    feed = rss("wire", "http://wire.example/", items).replace(
        "<content:encoded><![CDATA[]]></content:encoded>", ""
    )
    httpserver.expect_request("/feed").respond_with_data(feed)
    results = []
    for processes in (1, 2):
        db = Database(f"sqlite:///{tmp_path / f'p{processes}.db'}")
        db.upgrade()
        config = make_config(
            db.url,
            {"wire": httpserver.url_for("/feed")},
            tmp_path,
            extra=f"extract_processes = {processes}",
            feed_extra="allow_private_addresses = true",
        )
        feeds = [f.model_copy(update={"full_text": "auto"}) for f in config.feeds]
        config = config.model_copy(update={"feeds": feeds})
        ingestor = Ingestor(config, db)
        try:
            assert ingestor.poll("wire").articles_new >= 1
        finally:
            ingestor.close()
        results.append(_stored(db))
        db.dispose()
    assert results[0] == results[1]
    assert len(results[0]) == 2 * len(WIRE)
    assert {kind for _, _, kind, _ in results[0]} >= {"new", "near"}
