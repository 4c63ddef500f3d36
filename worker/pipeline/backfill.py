"""Long jobs: ``newsdedup import`` (backfill pages or articles through the normal store
path) and ``newsdedup reindex`` (recompute fingerprints and the LSH index after the dedup
settings changed). Both show progress (a bar on a terminal, a log line every few seconds
otherwise) and resume: a checkpoint file records how far they got, and re-storing an entry
already stored is a no-op anyway, so an interrupted job is simply run again.

Import sources:

- ``FILE.jsonl``: one article per line, ``{"text" or "html", "url", "guid", "title",
  "author", "published", "feed"}`` (``text`` or ``html`` required). A bad line is logged
  with its file and line number and skipped; the others are stored.
- ``DIR``: every ``*.html`` / ``*.htm`` page below it, in name order; the main text is
  extracted as for a fetched article page; the guid is the page's path under ``DIR``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import IO, Any

from lxml import html as lxml_html
from sqlalchemy import func, select

from worker.clock import as_utc, utcnow
from worker.config import Config, FeedConfig, FullTextMode
from worker.dedup.engine import DedupEngine
from worker.errors import NewsdedupError
from worker.logs import log_context
from worker.pipeline.build import dedup_policy
from worker.pipeline.entries import fingerprint_text
from worker.pipeline.poll import Ingestor
from worker.reader.parser import Entry
from worker.reader.sanitizer import sanitize_html
from worker.reader.urlcleaner import canonical_url
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, Feed

log = logging.getLogger("newsdedup.backfill")


class Progress:
    """A progress bar on a terminal; otherwise a log line every ``every`` seconds."""

    def __init__(
        self, label: str, total: int, *, stream: IO[str] | None = None, every: float = 10.0
    ) -> None:
        self.label, self.total, self.done = label, total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every if not self.tty else 0.1
        self.started = self._last = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._show()

    def _status(self) -> tuple[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        share = self.done / self.total if self.total else 1.0
        eta = (self.total - self.done) / rate if rate and self.total else 0.0
        return f"{self.done}/{self.total} ({share:.0%}) {rate:.1f}/s eta {eta:.0f}s", share

    def _show(self) -> None:
        status, share = self._status()
        if self.tty:
            bar = "#" * int(30 * min(share, 1.0))
            self.stream.write(f"\r{self.label} [{bar:<30}] {status} ")
            self.stream.flush()
        else:
            log.info("%s: %s", self.label, status)

    def close(self) -> None:
        self._show()
        if self.tty:
            self.stream.write("\n")


@dataclass
class Checkpoint:
    """How far a job got, in a JSON file; only valid for the same ``key`` (source and
    settings), so a checkpoint of another job is never applied."""

    path: Path
    key: str

    def load(self) -> int:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return 0
        return int(data.get("position", 0)) if data.get("key") == self.key else 0

    def save(self, position: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": self.key, "position": position}))
        tmp.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def checkpoint_path(config: Config, job: str) -> Path:
    return config.base_dir / f".newsdedup-{job}.checkpoint"


# -- import ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    where: str  # file:line or file, for messages
    entry: Entry
    feed: str | None = None
    page: bytes | None = None  # a whole page: extracted like a fetched article page


class BackfillIngestor(Ingestor):
    """The normal store path for imports: entries of feeds that may be no configured feed
    (an import-only feed row), whole pages carried by the entry (``Entry.page``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._import_feeds: dict[str, int] = {}

    def import_feed_id(self, cfg: FeedConfig) -> int:
        """The row of an import-only feed, read (or created) once per run."""
        if cfg.name not in self._import_feeds:
            self._import_feeds[cfg.name] = _import_feed_id(self.db, cfg)
        return self._import_feeds[cfg.name]


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"published: {value!r} is not an ISO 8601 time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def make_entry(
    guid: str, url: str, title: str, body_html: str, author: Any, published: Any
) -> Entry:
    return Entry(
        guid=guid[:1000],
        url=canonical_url(url) if url else "",
        link=url,
        title=title,
        author=str(author) if author else None,
        published=_parse_time(published),
        content_html=sanitize_html(body_html),
        has_full_content=True,
    )


def _jsonl_records(path: Path) -> Iterator[Record | str]:
    """Records, or an error message naming the file and line for a bad line."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            where = f"{path}:{number}"
            if not line.strip():
                yield f"{where}: empty line"
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                if data.get("html"):
                    body = str(data["html"])
                elif data.get("text"):
                    body = "".join(f"<p>{escape(p)}</p>" for p in str(data["text"]).split("\n"))
                else:
                    raise ValueError('needs "text" or "html"')
                url = str(data.get("url") or "")
                guid = str(data.get("guid") or url or f"{path.name}:{number}")
                entry = make_entry(
                    guid, url, str(data.get("title") or ""), body, data.get("author"),
                    data.get("published"),
                )  # fmt: skip
            except ValueError as exc:
                yield f"{where}: {exc}"
                continue
            yield Record(where, entry, data.get("feed"))


def _page_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".html", ".htm"))


def _page_record(path: Path, folder: Path) -> Record:
    data = path.read_bytes()
    title, url = "", ""
    try:
        root = lxml_html.document_fromstring(data)
        title = " ".join((root.findtext(".//title") or "").split())
        link = root.find(".//link[@rel='canonical']")
        url = (link.get("href") or "") if link is not None else ""
    except (ValueError, lxml_html.etree.ParserError):
        pass
    entry = make_entry(str(path.relative_to(folder)), url, title, "", None, None)
    return Record(str(path), entry, page=data)


def _records(source: Path) -> tuple[int, Iterator[Record | str]]:
    if source.is_dir():
        files = _page_files(source)
        return len(files), (_page_record(p, source) for p in files)
    if source.is_file():
        with source.open("rb") as f:
            total = sum(1 for _ in f)
        return total, _jsonl_records(source)
    raise NewsdedupError(f"{source}: no such file or directory")


@dataclass
class ImportReport:
    stored: dict[str, int]
    bad: int
    skipped: int  # done by an earlier, interrupted run


def run_import(
    config: Config,
    db: Database,
    source: Path,
    *,
    feed: str = "import",
    restart: bool = False,
    progress_every: float = 10.0,
) -> ImportReport:
    total, records = _records(source)
    checkpoint = Checkpoint(checkpoint_path(config, "import"), f"{source.resolve()}|{feed}")
    start = 0 if restart else checkpoint.load()
    ingestor = BackfillIngestor(config, db)
    ingestor.sync_feeds()
    report = ImportReport({}, 0, start)
    progress = Progress(f"import {source.name}", total, every=progress_every)
    progress.advance(start)
    position = 0
    try:
        for position, record in enumerate(records, 1):
            if position <= start:
                continue
            if isinstance(record, str):
                report.bad += 1
                log.warning("%s: skipped", record)
            else:
                kind = store_record(ingestor, record, record.feed or feed, source)
                report.stored[kind] = report.stored.get(kind, 0) + 1
            progress.advance()
            if position % 50 == 0:
                checkpoint.save(position)
    except BaseException:
        checkpoint.save(max(position - 1, start))  # the record in flight is redone
        raise
    finally:
        progress.close()
        ingestor.close()
    checkpoint.clear()
    return report


def store_record(ingestor: BackfillIngestor, record: Record, feed_name: str, source: Path) -> str:
    return store_records(ingestor, [record], feed_name, source)[0]


def store_records(
    ingestor: BackfillIngestor, records: list[Record], feed_name: str, source: Path
) -> list[str]:
    """Store records of one feed in one batch, as a poll stores its entries."""
    cfg = next((f for f in ingestor.config.feeds if f.name == feed_name), None)
    if cfg is None:
        cfg = FeedConfig(name=feed_name, url=source.resolve().as_uri(), enabled=False)
        cfg = cfg.model_copy(update={"full_text": FullTextMode.NEVER})
        feed_id = ingestor.import_feed_id(cfg)
    else:
        feed_id = ingestor.feed_id(cfg.name)
    entries = [
        r.entry if r.page is None else dataclasses.replace(r.entry, page=r.page) for r in records
    ]
    where = records[0].where if len(records) == 1 else f"{records[0].where}..."
    with log_context(feed=feed_name, article=where):
        return ingestor.ingest_entries(cfg, feed_id, entries)


def _import_feed_id(db: Database, cfg: FeedConfig) -> int:
    """The row of an import-only feed (not in the config: created disabled, never polled)."""
    with db.session() as session, session.begin():
        row = session.scalar(select(Feed).where(Feed.name == cfg.name))
        if row is None:
            row = Feed(
                name=cfg.name,
                url=cfg.url,
                enabled=False,
                created_at=utcnow(),
                consecutive_failures=0,
            )
            session.add(row)
            session.flush()
        return row.id


# -- reindex ---------------------------------------------------------------------------
def _settings_key(config: Config) -> str:
    d = config.dedup
    lsh = dedup_policy(config).lsh
    return (
        f"{d.features}{d.shingle_size}/p{d.num_perm}/s{d.seed}/b{lsh.bands}x{lsh.rows}"
        f"/m{d.min_shingles}"
    )


def run_reindex(
    config: Config,
    db: Database,
    *,
    restart: bool = False,
    batch: int = 200,
    progress_every: float = 10.0,
) -> int:
    """Recompute every article's fingerprint and LSH rows under the current settings, in
    id order, one transaction per batch; returns how many articles were processed."""
    engine = DedupEngine(dedup_policy(config))
    checkpoint = Checkpoint(checkpoint_path(config, "reindex"), _settings_key(config))
    last_id = 0 if restart else checkpoint.load()
    with db.session() as session:
        total = session.scalar(
            select(func.count()).select_from(Article).where(Article.id > last_id)
        )
    progress = Progress("reindex", total or 0, every=progress_every)
    processed = 0
    try:
        while True:
            # The dedup lock: a running daemon's decisions never see half a batch.
            with db.dedup_transaction() as session:
                articles = session.execute(
                    select(Article.id, Article.clean_text, Article.fetched_at)
                    .where(Article.id > last_id)
                    .order_by(Article.id)
                    .limit(batch)
                ).all()
                engine.reindex(
                    ArticleStore(session),
                    (
                        # Keep the article's age: retention counts from when it was first
                        # indexed.
                        (
                            a.id,
                            fingerprint_text(config, a.clean_text or ""),
                            as_utc(a.fetched_at) or utcnow(),
                        )
                        for a in articles
                    ),
                )
            if not articles:
                break
            last_id = articles[-1].id
            processed += len(articles)
            checkpoint.save(last_id)
            progress.advance(len(articles))
    finally:
        progress.close()
    checkpoint.clear()
    return processed
