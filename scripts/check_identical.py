#!/usr/bin/env python3
"""Digest of what the clean and fingerprint stages make of a corpus, to prove a speed-up
changed no output.

    python scripts/check_identical.py --texts ../shared/data/bbc \\
        --pages ../shared/data/spotsigs-dev/pages --pages ../shared/data/wcxb-articles \\
        --out before.tsv
    ... change the code ...
    python scripts/check_identical.py ... --out after.tsv && cmp before.tsv after.tsv

One line per document and path: the extracted text, the clean text, the signature's hash
values, shingle count, content hash and scheme, and the LSH band keys (each as a short
SHA-1). Texts (``.txt``) go through the feed-body path as ``newsdedup bench pipeline``
feeds them (``<p>`` paragraphs); pages through the article-page path and, as a feed body
carrying the whole page, through the feed-body path too (``body_to_text``, which reads such
a body as a page). Each folder is one feed whose learned chrome
lines grow article by article as the ingest path grows them (``LearnedLines``), so the
learned-line rules are exercised as well.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import FrameType

from worker.clean import ChromeRules, strip_chrome
from worker.clean.bodies import body_to_text
from worker.clean.extract import fragment_to_text, page_to_text
from worker.config import Config
from worker.dedup.lsh import band_keys
from worker.eval.corpus import PAGE_SUFFIXES, TEXT_SUFFIXES, Document, read_document
from worker.pipeline.backfill import make_entry
from worker.pipeline.build import dedup_policy
from worker.pipeline.entries import LearnedLines, edge_keys, fingerprint_text

# A document that takes longer than this is written as "timeout" (some page markup sends a
# notice pattern into exponential backtracking, before and after any speed-up alike).
LIMIT_SECONDS = 20


class _Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Timeout


def _within_limit(key: str, path: str, work: Callable[[], str]) -> str:
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_SECONDS)
    try:
        return work()
    except _Timeout:
        return f"{key}\t{path}\ttimeout"
    finally:
        signal.alarm(0)


def _short(data: str | bytes) -> str:
    return hashlib.sha1(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def _documents(folder: Path, suffixes: tuple[str, ...]) -> Iterator[Document]:
    for path in sorted(p for p in folder.rglob("*") if p.name.lower().endswith(suffixes)):
        yield read_document(path, str(path.relative_to(folder)), "")


class _Feed:
    """One folder as one feed: cleaning with learned lines that grow as the poll grows them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.learned = LearnedLines(frozenset(), config.clean.learn_min_articles, lambda _k: {})
        self.lsh = dedup_policy(config).lsh

    def line(self, key: str, path: str, extracted: str) -> str:
        rules = ChromeRules(tuple(self.config.clean.extra_patterns), self.learned.keys)
        clean = strip_chrome(extracted, rules)
        fp = fingerprint_text(self.config, clean)
        self.learned.count(edge_keys(extracted, self.config.clean.learn_max_words))
        bands = ",".join(map(str, band_keys(fp.hashvalues, self.lsh)))
        return "\t".join(
            [key, path, _short(extracted), _short(clean), _short(fp.to_bytes()),
             str(fp.shingle_count), fp.content_hash, fp.scheme, _short(bands)]
        )  # fmt: skip


def _text_lines(folder: Path, config: Config) -> Iterator[str]:
    feed = _Feed(config)
    for doc in _documents(folder, TEXT_SUFFIXES):
        body = "".join(f"<p>{line}</p>" for line in (doc.text or "").split("\n") if line.strip())
        entry = make_entry(doc.key, "", doc.title, body, None, None)
        text = fragment_to_text(entry.content_html)
        yield _within_limit(doc.key, "text", partial(feed.line, doc.key, "text", text))


def _extracted_line(feed: _Feed, key: str, path: str, source: bytes | str, given: str = "") -> str:
    """The digest line of a page (``bytes``, the page path) or a feed body (``str``,
    sanitised, with ``given`` the body as the feed gave it)."""
    if isinstance(source, bytes):
        return feed.line(key, path, page_to_text(source))
    return feed.line(key, path, body_to_text(source, given))


def _page_lines(folder: Path, config: Config) -> Iterator[str]:
    page_feed, fragment_feed = _Feed(config), _Feed(config)
    for doc in _documents(folder, PAGE_SUFFIXES):
        assert doc.page is not None
        key, page = doc.key, doc.page
        yield _within_limit(key, "page", partial(_extracted_line, page_feed, key, "page", page))
        given = page.decode("utf-8", "replace")
        body = make_entry(key, "", doc.title, given, None, None)
        yield _within_limit(
            key,
            "fragment",
            partial(_extracted_line, fragment_feed, key, "fragment", body.content_html, given),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=Path, action="append", default=[])
    parser.add_argument("--pages", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = Config.model_validate({"clean": {}})
    started, count = time.perf_counter(), 0
    with args.out.open("w", encoding="utf-8") as out:
        for folder in args.texts:
            for line in _text_lines(folder, config):
                out.write(f"texts:{folder.name}\t{line}\n")
                count += 1
        for folder in args.pages:
            for line in _page_lines(folder, config):
                out.write(f"pages:{folder.name}\t{line}\n")
                count += 1
    print(f"{count} digests in {time.perf_counter() - started:.0f}s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
