"""``newsdedup bench api``: the read API's latency at size, while a worker writes.

Fills a database (``--database URL``, default a temporary SQLite file; a PostgreSQL one is
emptied first, as ``bench index`` does) with ``--articles`` synthetic articles of invented
words (stories of one to three copies, a change-feed row per article), serves the API with
uvicorn on loopback, starts one writer process that stores new articles through the dedup
engine in batches of ``worker.store_batch`` (as a worker's poll does, change rows and
search index included) at ``WRITE_RATE`` articles a second, and measures wall latency
per HTTP request, p50 and p99, of: the story list (first page and pages deep by cursor),
a story by id, a change-feed page, full-text search, and the story list filtered by a word.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text

from worker.bench.index import _reset
from worker.bench.measure import StageTimes
from worker.clock import utcnow
from worker.config import Config
from worker.errors import NewsdedupError
from worker.store.db import Database
from worker.store.models import Article, Change, Feed, Story

REQUESTS = 300  # per kind of request
BATCH = 2000  # rows per insert of the fill
VOCABULARY = 20_000
WORDS_PER_ARTICLE = 80
# The writer's pace: a batch of worker.store_batch articles at this rate, about 5.5 million
# articles a day, well past what one worker's feeds bring (the pause also leaves the
# bench's 2 cores to the server rather than to a writer looping flat out).
WRITE_RATE = 64.0


def _words(rng: np.random.Generator, count: int) -> list[str]:
    """Invented words, Zipf-distributed as a language's are (a few common, most rare)."""
    ranks = np.minimum(rng.zipf(1.2, size=count), VOCABULARY)
    return [_word(int(r)) for r in ranks]


def _word(rank: int) -> str:
    letters = "bcdfghklmnprstvz"
    vowels = "aeiou"
    out, n = [], rank
    while True:
        out.append(letters[n % 16] + vowels[(n // 16) % 5])
        n //= 80
        if not n:
            return "".join(out)


def fill(db: Database, articles: int, seed: int = 5) -> int:
    """``articles`` articles in stories of 1-3 copies over 30 days, with their change rows;
    the id of the bench feed."""
    rng = np.random.default_rng(seed)
    start = utcnow() - timedelta(days=30)
    with db.engine.begin() as conn:
        feed_id = conn.execute(
            insert(Feed).values(name="bench-api", url="file:///dev/null", enabled=True,
                                consecutive_failures=0, created_at=start).returning(Feed.id)
        ).scalar_one()  # fmt: skip
    article_id = story_id = seq = 0
    while article_id < articles:
        stories: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        while len(rows) < BATCH and article_id < articles:
            story_id += 1
            copies = min(int(rng.integers(1, 4)), articles - article_id)
            at = start + timedelta(seconds=30 * 86400 * article_id / articles)
            stories.append({"id": story_id, "first_seen_at": at, "last_seen_at": at,
                            "variant_count": copies, "updated_at": at})  # fmt: skip
            base = _words(rng, WORDS_PER_ARTICLE)
            for copy in range(copies):
                article_id += 1
                body = " ".join(base if copy == 0 else base[: WORDS_PER_ARTICLE - 10 * copy])
                rows.append({
                    "id": article_id, "feed_id": feed_id, "guid": f"a{article_id}",
                    "title": " ".join(base[:8]), "fetched_at": at, "clean_text": body,
                    "text_length": len(body), "source_hash": "", "content_hash": f"h{article_id}",
                    "shingle_count": 0, "story_id": story_id,
                    "match_kind": "new" if copy == 0 else "near",
                    "matched_article_id": None if copy == 0 else article_id - copy,
                    "similarity": None if copy == 0 else 0.8,
                })  # fmt: skip
                seq += 1
                changes.append({"seq": seq, "kind": "article_added", "story_id": story_id,
                                "article_id": article_id, "at": at})  # fmt: skip
            stories[-1]["canonical_article_id"] = article_id - copies + 1
        with db.engine.begin() as conn:
            canonical = {s["id"]: s.pop("canonical_article_id") for s in stories}
            conn.execute(insert(Story), stories)
            conn.execute(insert(Article), rows)
            conn.execute(insert(Change), changes)
            for sid, aid in canonical.items():
                conn.execute(text("UPDATE stories SET canonical_article_id = :a WHERE id = :s"),
                             {"a": aid, "s": sid})  # fmt: skip
    if db.dialect == "postgresql":  # ids were given: the sequences follow for the writer
        with db.engine.begin() as conn:
            for table in ("stories", "articles"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))  # fmt: skip
    return int(feed_id)


def _writer(url: str, feed_id: int, stop: Any, stored: Any) -> None:
    """A worker's writes: batches through the dedup engine, at ``WRITE_RATE``."""
    from worker.dedup.engine import DedupEngine, Draft
    from worker.dedup.fingerprint import fingerprint
    from worker.pipeline.build import dedup_policy
    from worker.store.articles import ArticleStore

    config = Config.model_validate({"worker": {"database": url}})
    db = Database(url)
    engine = DedupEngine(dedup_policy(config))
    rng = np.random.default_rng(int(time.time()))
    n = 0
    parent = os.getppid()
    # Also ends when the bench is gone (killed): a writer left behind fills the database.
    while not stop.wait(config.worker.store_batch / WRITE_RATE) and os.getppid() == parent:
        drafts = []
        for _ in range(config.worker.store_batch):
            n += 1
            body = " ".join(_words(rng, WORDS_PER_ARTICLE))
            drafts.append(Draft(
                feed_id=feed_id, guid=f"w{time.time_ns()}-{n}", url=None, canonical_url=None,
                title=body[:60], author=None, published_at=None, language=None,
                content_html=None, clean_text=body, source_hash="", fingerprint=fingerprint(body),
            ))  # fmt: skip
        with db.dedup_transaction() as session:
            engine.store(ArticleStore(session), drafts)
        stored.value += len(drafts)
    db.dispose()


def _measure(base: str, db: Database, requests: int) -> StageTimes:
    rng = np.random.default_rng(7)
    with db.session() as s:
        top_story = int(s.scalar(select(func.max(Story.id))) or 1)
        top_seq = int(s.scalar(select(func.max(Change.seq))) or 1)
    words = [_word(int(r)) for r in rng.integers(50, 2000, size=requests)]
    times = StageTimes()
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.connect()
    # As a client library should: without it, a request in two writes waits for the
    # server's delayed ACK (40 ms) and the bench would measure that.
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.closing(conn):

        def timed(stage: str, path: str) -> dict[str, Any]:
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            times.add(stage, 1000 * (time.perf_counter() - t0))
            if response.status != 200:
                raise NewsdedupError(f"{path}: HTTP {response.status}: {body[:200]!r}")
            return dict(json.loads(body))

        cursor = None
        for i in range(requests):
            timed("story_list", "/api/v1/stories?limit=20")
            page = f"/api/v1/stories?limit=20&cursor={cursor}" if cursor else "/api/v1/stories"
            deep = timed("story_list_deep", page)
            cursor = deep["next_cursor"] if i % 50 else None
            timed("story_by_id", f"/api/v1/stories/{int(rng.integers(1, top_story + 1))}")
            after = int(rng.integers(0, top_seq))
            timed("change_feed_page", f"/api/v1/changes?after={after}&limit=100")
            timed("search", f"/api/v1/search?q={words[i]}&limit=20")
            timed("story_list_q", f"/api/v1/stories?q={words[i]}&limit=20")
    return times


def run_api(articles: int, database: str | None, workdir: Path) -> dict[str, Any]:
    from worker.api.app import Served, create_app
    from worker.api.server import BackgroundServer

    url = database or f"sqlite:///{workdir / 'api.db'}"
    config = Config.model_validate({"worker": {"database": url}})
    db = Database(url)
    _reset(db)
    t0 = time.perf_counter()
    feed_id = fill(db, articles)
    fill_seconds = time.perf_counter() - t0
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with _port() as port:
        listen = f"127.0.0.1:{port}"
    app = create_app(Served(db, lambda: config, lambda: (True, {}), listen))
    server = BackgroundServer(app, listen)
    ctx = multiprocessing.get_context("spawn")
    stop, stored = ctx.Event(), ctx.Value("l", 0)
    writer = ctx.Process(target=_writer, args=(db.url, feed_id, stop, stored), daemon=True)
    writer.start()
    try:
        while stored.value == 0 and writer.is_alive():  # measure under writes, not before
            time.sleep(0.1)
        started = time.perf_counter()
        times = _measure(f"http://{listen}", db, REQUESTS)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        writer.join(60)
        server.close()
        db.dispose()
    stages = ("story_list", "story_list_deep", "story_by_id", "change_feed_page", "search",
              "story_list_q")  # fmt: skip
    return {
        "database": db.dialect,
        "articles": articles,
        "fill_seconds": fill_seconds,
        "requests_per_kind": REQUESTS,
        "writer_articles_per_second": stored.value / elapsed,
        **{f"{s}_ms_p50": times.median(s) for s in stages},
        **{f"{s}_ms_p99": times.quantile(s, 0.99) for s in stages},
    }


class _port:
    """A free loopback port (closed again before the server binds it)."""

    def __enter__(self) -> int:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *_: Any) -> None:
        self._sock.close()


def render(r: dict[str, Any]) -> str:
    lines = [
        f"{r['articles']:,} articles on {r['database']} (filled in {r['fill_seconds']:.0f} s); "
        f"a writer storing {r['writer_articles_per_second']:.0f} articles/s meanwhile",
    ]
    for stage in ("story_list", "story_list_deep", "story_by_id", "change_feed_page", "search",
                  "story_list_q"):  # fmt: skip
        lines.append(
            f"{stage:<18} p50 {r[f'{stage}_ms_p50']:7.1f} ms   p99 {r[f'{stage}_ms_p99']:7.1f} ms"
        )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-api-") as tmp:
        result = run_api(args.articles, args.database, Path(tmp))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
