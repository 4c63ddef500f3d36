#!/usr/bin/env python3
"""Poll every feed of feedparser's test corpus over loopback HTTP, in one worker run.

    python scripts/feedparser_corpus.py --data ../shared/data/feedparser-tests [--json]

Each ``*.xml`` under ``DATA/tests`` is served by a local HTTP server (with the response
headers its leading ``Header:`` comment lines ask for) and configured as one feed of one
config; the worker polls them all into a fresh SQLite database. Afterwards every feed must
have stored entries, a recorded readable error, or be a valid feed without entries; no poll
may crash; and no stored title, URL, HTML or text may carry executable markup.
Exit status 0 when all of that holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from worker.config import parse_config
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article, Feed, PollLog

_HEADER_LINE = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)
# Executable markup: a script element, an on* handler attribute inside a tag, a
# javascript:/vbscript: URL (also when spelled with entities or spaces in a URL column).
_SCRIPT = re.compile(r"<\s*script", re.I)
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
_SCRIPT_URL = re.compile(r"(?:java|vb)script\s*:", re.I)


@dataclass
class CorpusReport:
    feeds: int = 0
    stored: int = 0  # feeds with at least one stored entry
    errored: int = 0  # feeds whose poll recorded an error
    empty: int = 0  # parsed as a feed, no entries in it
    crashed: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    entries: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    unreadable_errors: list[str] = field(default_factory=list)
    executable: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.crashed or self.unaccounted or self.unreadable_errors or self.executable)


def _served_headers(body: bytes) -> dict[str, str]:
    head = body[:1000]
    if not head.lstrip().startswith(b"<!--"):
        return {}
    comment = head.split(b"-->", 1)[0]
    return {
        k.decode("latin-1"): v.decode("latin-1")
        for k, v in _HEADER_LINE.findall(comment)
        if v  # an empty "Last-Modified:" line means no header
    }


@contextmanager
def serve(root: Path) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = (root / self.path.lstrip("/").split("?", 1)[0]).resolve()
            if root not in path.parents or not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            headers = {"Content-Type": "application/xml", **_served_headers(body)}
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _write_config(names: dict[str, str], db_url: str, workdir: Path) -> Path:
    lines = [
        "[worker]",
        f'database = "{db_url}"',
        "jitter = 0",
        "[fetch]",
        'timeout = "10s"',
        "max_concurrency = 16",
        "per_host_concurrency = 16",
    ]
    for name, url in names.items():
        lines += ["[[feeds]]", f"name = {json.dumps(name)}", f'url = "{url}"']
        lines.append('full_text = "never"')
    path = workdir / "corpus.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _executable_markup(db: Database) -> list[str]:
    found = []
    with db.session() as s:
        rows = s.execute(
            select(
                Feed.name,
                Article.guid,
                Article.title,
                Article.url,
                Article.canonical_url,
                Article.content_html,
                Article.clean_text,
            ).join(Feed)
        )
        for feed, guid, title, url, canonical, html, text in rows:
            html_fields = {"title": title, "content_html": html}
            url_fields = {"url": url, "canonical_url": canonical}
            for column, value in html_fields.items():
                if value and (_SCRIPT.search(value) or _HANDLER.search(value)):
                    found.append(f"{feed} {guid}: {column} {value[:120]!r}")
            for column, value in {**url_fields, "content_html": html}.items():
                if value and _SCRIPT_URL.search(value):
                    found.append(f"{feed} {guid}: {column} {value[:120]!r}")
            if text and _SCRIPT.search(text):
                found.append(f"{feed} {guid}: clean_text {text[:120]!r}")
    return found


def run_corpus(data: Path, workdir: Path) -> CorpusReport:
    root = (data / "tests").resolve()
    files = sorted(p for p in root.rglob("*.xml") if p.is_file())
    report = CorpusReport(feeds=len(files))
    started = time.monotonic()
    db_url = f"sqlite:///{workdir / 'corpus.db'}"
    with serve(root) as base:
        names = {str(p.relative_to(root)): f"{base}/{p.relative_to(root)}" for p in files}
        config_path = _write_config(names, db_url, workdir)
        config = parse_config(config_path.read_text(), path=str(config_path))
        db = Database(db_url)
        db.upgrade()
        ingestor = Ingestor(config, db)
        ingestor.sync_feeds()

        def poll(name: str) -> tuple[str, str | None]:
            try:
                ingestor.poll(name)
            except Exception as exc:  # a crash: exactly what this run looks for
                return name, f"{type(exc).__name__}: {exc}"
            return name, None

        with ThreadPoolExecutor(max_workers=16) as pool:
            report.crashed = [f"{n}: {e}" for n, e in pool.map(poll, names) if e]
        ingestor.close()
    with db.session() as s:
        counts = dict(
            s.execute(select(Article.feed_id, func.count()).group_by(Article.feed_id)).all()
        )
        seen = dict(
            s.execute(
                select(PollLog.feed_id, func.max(PollLog.entries_seen)).group_by(PollLog.feed_id)
            ).all()
        )
        kinds: Counter[str] = Counter()
        for feed in s.scalars(select(Feed)):
            if counts.get(feed.id):
                report.stored += 1
                report.entries += counts[feed.id]
            elif feed.last_error_kind:
                report.errored += 1
                kinds[feed.last_error_kind] += 1
                if not (feed.last_error or "").strip().isprintable():
                    report.unreadable_errors.append(f"{feed.name}: {feed.last_error!r}")
            elif feed.last_success_at is not None and not seen.get(feed.id):
                report.empty += 1
            else:
                report.unaccounted.append(feed.name)
        report.error_kinds = dict(kinds.most_common())
    report.executable = _executable_markup(db)
    db.dispose()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="the feedparser-tests folder")
    parser.add_argument("--workdir", type=Path, help="keep the database here (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not (args.data / "tests").is_dir():
        print(f"{args.data}: no tests/ folder (expected feedparser-tests)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        report = run_corpus(args.data, workdir)
    out: dict[str, Any] = asdict(report)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"{report.feeds} feeds in {report.seconds}s: {report.stored} stored "
            f"({report.entries} entries), {report.errored} errored, {report.empty} valid "
            f"but empty, {len(report.crashed)} crashed, {len(report.unaccounted)} unaccounted"
        )
        print(f"errors by kind: {report.error_kinds}")
        for label in ("crashed", "unaccounted", "unreadable_errors", "executable"):
            for line in out[label][:20]:
                print(f"{label}: {line}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
