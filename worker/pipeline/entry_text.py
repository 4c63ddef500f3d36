"""The text of an entry: the page that came with it (an import), its article page fetched
when the feed carries only a summary (``full_text``), else its body read as a page or a
fragment; then cut to the bounds of ``worker.limits`` and rid of chrome. Article pages are
fetched on the poll's thread and extracted there or, ``worker.extract_processes`` > 1, on
a process pool, started ahead and taken back in arrival order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from worker import metrics
from worker.clean import ChromeRules, strip_chrome
from worker.clean.bodies import body_to_text
from worker.clean.extract import page_to_text
from worker.config import FeedConfig, FullTextMode
from worker.errors import FeedError
from worker.limits import MAX_PAGE_BYTES, checkpoint, cut_markup, cut_text
from worker.pipeline.entries import KnownEntries, source_hash
from worker.pipeline.extraction import PageExtractor, PagePrefetch
from worker.reader.fetcher import Fetcher
from worker.reader.parser import Entry

log = logging.getLogger("newsdedup.ingest")
T = TypeVar("T", str, bytes)


@dataclass
class EntryTexts:
    """Reads entries' texts for one ``Ingestor`` (thread-safe: the poll threads share it)."""

    fetcher: Fetcher | None
    extractor: PageExtractor
    stop: threading.Event

    def prefetch(
        self, cfg: FeedConfig, entries: list[Entry], known: KnownEntries
    ) -> PagePrefetch | None:
        """The poll's article pages, started ahead on the extraction pool (``None``: pages
        are extracted in this thread, one entry at a time)."""
        if self.extractor.in_process:
            return None
        # Entries stored unchanged are skipped before cleaning: their pages are not fetched.
        wanted = [
            i
            for i, e in enumerate(entries)
            if self._wants_page(cfg, e) and known.source_hash(e) != source_hash(e)
        ]
        if not wanted:
            return None
        return PagePrefetch(
            self.extractor, lambda i: self._fetch_page(cfg, entries[i]), wanted, self.stop
        )

    @staticmethod
    def _wants_page(cfg: FeedConfig, entry: Entry) -> bool:
        want_page = cfg.full_text == FullTextMode.ALWAYS or (
            cfg.full_text == FullTextMode.AUTO and not entry.has_full_content
        )
        return want_page and entry.link.lower().startswith(("http://", "https://"))

    def _fetch_page(self, cfg: FeedConfig, entry: Entry) -> tuple[str | bytes, str] | None:
        """The article page's content (cut to the element bound) and final URL; ``None``
        when it cannot be had."""
        assert self.fetcher is not None
        checkpoint("the article page")
        try:
            page = self.fetcher.fetch(
                entry.link,
                user_agent=cfg.user_agent,
                trusted=cfg.allow_private_addresses,
                accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                max_bytes=MAX_PAGE_BYTES,
            )
        except FeedError as exc:
            log.info("feed=%s url=%s full text not fetched: %s", cfg.name, entry.link, exc)
            return None
        return bounded(page.content, cut_markup, "page_elements"), page.url

    def _page_text(self, content: str | bytes, url: str) -> tuple[str, float]:
        checkpoint("extracting the article page")
        if self.extractor.in_process:
            started = time.thread_time()
            return page_to_text(content, url), time.thread_time() - started
        future = self.extractor.submit(content, url)
        return self.extractor.text(future, content, url)

    def read(
        self,
        cfg: FeedConfig,
        entry: Entry,
        rules: ChromeRules,
        page: Callable[[], tuple[str, float] | None] | None = None,
    ) -> tuple[str, str]:
        """``(extracted text, clean text)`` of an entry, fetching the article page when
        the feed carries only a summary (``full_text``). ``page`` gives the page's text when
        the poll started it ahead (``None`` from it: fetch it here)."""
        text = ""
        if entry.page is not None:
            checkpoint("extracting the entry's page")
            page_html = bounded(entry.page, cut_markup, "page_elements")
            text = page_to_text(page_html, entry.link or None)
        elif self._wants_page(cfg, entry):
            extracted = page() if page is not None else None
            if extracted is None:
                fetched = self._fetch_page(cfg, entry)
                extracted = self._page_text(*fetched) if fetched is not None else None
            if extracted is not None:
                text, seconds = extracted
                metrics.STAGE_SECONDS.labels("extract").observe(seconds)
        if not text:
            checkpoint("extracting the entry's text")
            text = body_to_text(
                bounded(entry.content_html, cut_markup, "elements"),
                bounded(entry.source_html, cut_markup, "elements"),
                entry.link or None,
            )
        text = bounded(text, cut_text, "text")
        checkpoint("the chrome rules")
        return text, strip_chrome(text, rules)


def bounded(value: T, cut: Callable[[T], T], reason: str) -> T:
    """``cut(value)``, counted (``newsdedup_entries_truncated_total``) and logged when it
    cut something: the entry is kept, with less of its text."""
    bounded = cut(value)
    if len(bounded) != len(value):
        metrics.ENTRIES_TRUNCATED.labels(reason).inc()
        log.info("entry cut to its first part (%s: %d of %d)", reason, len(bounded), len(value))
    return bounded
