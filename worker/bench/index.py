"""``newsdedup bench index``: the persistent LSH index at size.

Fills a database (``--database URL``, default a temporary SQLite file; PostgreSQL works the
same) with ``--articles`` synthetic articles and their index rows, then measures:

* bulk-load rate (articles per second, to fill the index: batches of articles, then the
  index rows, as a restore would);
* insert rate through the write path: ``SAMPLE_INSERTS`` more articles on the full index,
  each stored by the dedup engine in its own dedup transaction (identity, exact and
  candidate lookups, rows, index rows, story refresh; the median);
* candidate lookup latency, p50 and p99, through the engine's own ``candidates()``: half
  the queries are perturbed copies of stored signatures (they find their original), half
  random (they find nothing), as in a stream of mostly new stories;
* database bytes per article (file size, or PostgreSQL's relation sizes);
* peak memory of the restarted worker (below) at its first poll, and of this process;
* restart time to first poll: a real ``newsdedup run`` started on the filled database,
  until its first poll is recorded (start-up, migration check, consistency check included).

A PostgreSQL database given with ``--database`` must be empty or a bench leftover: its
tables are dropped first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, text

from worker.bench.measure import StageTimes, peak_rss_mib
from worker.bench.warm import WARM_FEED, warm_index
from worker.config import Config
from worker.dedup.engine import DedupEngine, Draft
from worker.dedup.fingerprint import Fingerprint, scheme_name
from worker.errors import NewsdedupError
from worker.pipeline.build import dedup_policy
from worker.store.articles import ArticleStore
from worker.store.db import Database
from worker.store.models import Article, Base, Feed, PollLog

LOOKUPS = 1000
SAMPLE_INSERTS = 500


def _reset(db: Database) -> None:
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            for view in ("canonical_articles", "story_variants", "event_stories"):
                conn.execute(text(f"DROP VIEW IF EXISTS {view} CASCADE"))
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.ensure_current()


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _bytes(db: Database, path: Path | None) -> int:
    if db.dialect == "sqlite" and path is not None:
        with db.engine.connect() as conn:  # the WAL holds a second copy of recent pages
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY"
                    "['articles', 'lsh_keys', 'stories']::regclass[]) AS c"
                )
            ).scalar_one()
        )


def _lookups(db: Database, config: Config, count: int) -> StageTimes:
    engine = DedupEngine(dedup_policy(config))
    rng = np.random.default_rng(11)
    with db.session() as session:
        top = session.scalar(select(func.max(Article.id))) or 0
        picks = [int(x) for x in rng.integers(1, top + 1, size=count // 2)] if top else []
        rows = session.execute(select(Article.id, Article.signature).where(Article.id.in_(picks)))
        stored = {row.id: row.signature for row in rows}
    times = StageTimes()
    scheme = scheme_name(config.dedup.shingle_size, "s")
    queries = []
    for pick in picks:
        sig = stored.get(pick)
        if sig is None:
            continue
        values = np.frombuffer(sig, dtype="<u4").astype(np.uint32).copy()
        changed = np.less(rng.random(values.shape[0]), 0.3)  # Jaccard ~0.7 to the original
        values[changed] = rng.integers(0, 2**32, size=int(changed.sum())).astype(np.uint32)
        queries.append(values)
    while len(queries) < count:
        queries.append(rng.integers(0, 2**32, size=config.dedup.num_perm).astype(np.uint32))
    found = 0
    with db.session() as session:
        store = ArticleStore(session)
        for values in queries:
            fp = Fingerprint(values, 100, "", scheme, config.dedup.seed)
            t0, c0 = time.perf_counter(), time.process_time()
            found += bool(engine.candidates(store, fp))
            times.add("lookup", 1000 * (time.perf_counter() - t0))
            times.add("lookup_cpu", 1000 * (time.process_time() - c0))
    times.add("found_share", found / max(1, len(queries)))
    return times


def _sample_inserts(db: Database, config: Config, feed_id: int, count: int) -> StageTimes:
    """``count`` more articles, each the way the daemon stores one: the engine, in its own
    dedup transaction (the lock included)."""
    engine = DedupEngine(dedup_policy(config))
    rng = np.random.default_rng(13)
    scheme = scheme_name(config.dedup.shingle_size, "s")
    times = StageTimes()
    with db.session() as session:
        first = (session.scalar(select(func.max(Article.id))) or 0) + 1
    for i in range(first, first + count):
        values = rng.integers(0, 2**32, size=config.dedup.num_perm).astype(np.uint32)
        fp = Fingerprint(values, 100, f"sample-{i}", scheme, config.dedup.seed)
        draft = Draft(
            feed_id=feed_id, guid=f"sample-{i}", url=None, canonical_url=None, title="",
            author=None, published_at=None, language=None, content_html=None, clean_text="",
            source_hash="", fingerprint=fp,
        )  # fmt: skip
        t0 = time.perf_counter()
        with db.dedup_transaction() as session:
            engine.store(ArticleStore(session), [draft])
        times.add("insert", 1000 * (time.perf_counter() - t0))
    return times


def _peak_rss_mib(pid: int) -> float:
    """A running process's peak resident memory (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _restart(db_url: str, workdir: Path) -> tuple[float, float]:
    """Seconds from starting ``newsdedup run`` on the filled database to its first poll,
    and that worker's peak memory by then."""
    feed = workdir / "restart.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>restart</title>'
        "<link>http://restart.invalid/</link><description>bench</description>"
        "</channel></rss>"
    )
    cfg = workdir / "restart.toml"
    cfg.write_text(
        f'[worker]\ndatabase = "{db_url}"\njitter = 0\nmin_interval = "1s"\n\n'
        # A 1 s interval bounds the deliberate cold-start spread (up to min(interval, 10 s))
        # to 1 s, so the figure is start-up cost, not the dice.
        f'[[feeds]]\nname = "restart"\nurl = "{feed.as_uri()}"\ninterval = "1s"\n'
    )
    db = Database(db_url)
    with db.session() as session:
        polls_before = session.scalar(select(func.count()).select_from(PollLog)) or 0
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--config", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None and time.perf_counter() - started < 600:
            with db.session() as session:
                if (session.scalar(select(func.count()).select_from(PollLog)) or 0) > polls_before:
                    return time.perf_counter() - started, _peak_rss_mib(proc.pid)
            time.sleep(0.05)
        raise RuntimeError(f"the worker did not poll (exit status {proc.poll()})")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        db.dispose()


def run_index(
    articles: int, database: str | None, workdir: Path, *, reuse: bool = False
) -> dict[str, Any]:
    """Fill and measure; ``reuse``: measure the index an earlier run left in ``database``
    (a 1M fill takes most of an hour on a busy 2-core machine), without the load rate."""
    path = workdir / "index.db" if database is None else _sqlite_path(database)
    url = database or f"sqlite:///{path}"
    config = Config.model_validate({"worker": {"database": url}})
    db = Database(url)
    policy = dedup_policy(config)
    load_seconds = 0.0
    if reuse and database is None:
        raise NewsdedupError("--reuse needs the --database of the earlier run")
    if reuse:
        with db.session() as session:
            articles = session.scalar(select(func.count()).select_from(Article)) or 0
            feed_id = session.scalar(select(Feed.id).where(Feed.name == WARM_FEED))
        if feed_id is None:
            raise NewsdedupError(f"{url}: no index left by an earlier bench index run")
    else:
        _reset(db)
        t0 = time.perf_counter()
        feed_id = warm_index(db, articles, params=policy.lsh, num_perm=config.dedup.num_perm)
        load_seconds = time.perf_counter() - t0
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    size = _bytes(db, path)
    lookups = _lookups(db, config, LOOKUPS)
    inserts = _sample_inserts(db, config, feed_id, min(SAMPLE_INSERTS, articles))
    db.dispose()
    restart, worker_rss = _restart(url, workdir)
    return {
        "database": db.dialect,
        "articles": articles,
        "bands": policy.lsh.bands,
        "rows": policy.lsh.rows,
        "bulk_load_per_second": articles / load_seconds if load_seconds else None,
        "insert_per_second": 1000 / inserts.median("insert"),
        "insert_ms_p99": inserts.quantile("insert", 0.99),
        "lookup_ms_p50": lookups.median("lookup"),
        "lookup_ms_p99": lookups.quantile("lookup", 0.99),
        "lookup_cpu_ms_p50": lookups.median("lookup_cpu"),
        "lookup_cpu_ms_p99": lookups.quantile("lookup_cpu", 0.99),
        "lookups_with_candidates": lookups.samples["found_share"][0],
        "bytes_per_article": size / articles if articles else 0.0,
        "worker_peak_rss_mib": worker_rss,
        "bench_peak_rss_mib": peak_rss_mib(),
        "restart_to_first_poll_seconds": restart,
    }


def render(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{r['articles']:,} articles on {r['database']} "
            f"({r['bands']} bands x {r['rows']} rows per signature)",
            f"load:     {r['bulk_load_per_second']:,.0f} articles/s (bulk, to fill the index)"
            if r["bulk_load_per_second"]
            else "load:     (an index left by an earlier run)",
            f"insert:   {r['insert_per_second']:,.0f} articles/s (median of one transaction "
            f"each, as the daemon stores them; p99 {r['insert_ms_p99']:.2f} ms)",
            f"lookup:   p50 {r['lookup_ms_p50']:.2f} ms, p99 {r['lookup_ms_p99']:.2f} ms; "
            f"CPU p50 {r['lookup_cpu_ms_p50']:.2f} ms, p99 {r['lookup_cpu_ms_p99']:.2f} ms "
            f"({r['lookups_with_candidates']:.0%} of queries found candidates)",
            f"size:     {r['bytes_per_article']:,.0f} bytes per article",
            f"memory:   worker {r['worker_peak_rss_mib']:.0f} MiB peak at its first poll; "
            f"this bench {r['bench_peak_rss_mib']:.0f} MiB",
            f"restart:  {r['restart_to_first_poll_seconds']:.1f} s to the first poll",
        ]
    )


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-") as tmp:
        result = run_index(args.articles, args.database, Path(tmp), reuse=args.reuse)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
