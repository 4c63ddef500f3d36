"""``newsdedup bench index``: the persistent LSH index at size.

Fills a database (``--database URL``, default a temporary SQLite file; PostgreSQL works the
same) with ``--articles`` synthetic articles and their index rows, then measures:

* insert rate (articles per second, with their index rows, in batches);
* candidate lookup latency, p50 and p99, through the daemon's own ``candidates()``: half
  the queries are perturbed copies of stored signatures (they find their original), half
  random (they find nothing), as in a stream of mostly new stories;
* database bytes per article (file size, or PostgreSQL's relation sizes);
* the worker's peak memory (this process);
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
from worker.bench.warm import warm_index
from worker.config import Config
from worker.dedup.fingerprint import Fingerprint, scheme_name
from worker.ingest import dedup_policy
from worker.store.db import Database
from worker.store.index import candidates
from worker.store.models import Article, Base, PollLog

LOOKUPS = 1000


def _reset(db: Database) -> None:
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            for view in ("canonical_articles", "story_variants"):
                conn.execute(text(f"DROP VIEW IF EXISTS {view} CASCADE"))
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.ensure_current()


def _bytes(db: Database, path: Path | None) -> int:
    if db.dialect == "sqlite" and path is not None:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY"
                    "['articles', 'lsh_buckets', 'stories']::regclass[]) AS c"
                )
            ).scalar_one()
        )


def _lookups(db: Database, config: Config, count: int) -> StageTimes:
    policy = dedup_policy(config)
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
        for values in queries:
            fp = Fingerprint(values, 100, "", scheme, config.dedup.seed)
            t0 = time.perf_counter()
            found += bool(candidates(session, fp, policy))
            times.add("lookup", 1000 * (time.perf_counter() - t0))
    times.add("found_share", found / max(1, len(queries)))
    return times


def _restart_seconds(db_url: str, workdir: Path) -> float:
    feed = workdir / "restart.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>restart</title>'
        "<link>http://restart.invalid/</link><description>bench</description>"
        "</channel></rss>"
    )
    cfg = workdir / "restart.toml"
    cfg.write_text(
        f'[worker]\ndatabase = "{db_url}"\njitter = 0\n\n'
        f'[[feeds]]\nname = "restart"\nurl = "{feed.as_uri()}"\ninterval = "1h"\n'
    )
    db = Database(db_url)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--config", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None and time.perf_counter() - started < 600:
            with db.session() as session:
                if session.scalar(select(func.count()).select_from(PollLog)):
                    return time.perf_counter() - started
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


def run_index(articles: int, database: str | None, workdir: Path) -> dict[str, Any]:
    path = None if database else workdir / "index.db"
    url = database or f"sqlite:///{path}"
    config = Config.model_validate({"worker": {"database": url}})
    db = Database(url)
    _reset(db)
    policy = dedup_policy(config)
    t0 = time.perf_counter()
    warm_index(db, articles, params=policy.lsh, num_perm=config.dedup.num_perm)
    insert_seconds = time.perf_counter() - t0
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    size = _bytes(db, path)
    lookups = _lookups(db, config, LOOKUPS)
    db.dispose()
    restart = _restart_seconds(url, workdir)
    return {
        "database": db.dialect,
        "articles": articles,
        "bands": policy.lsh.bands,
        "rows": policy.lsh.rows,
        "insert_per_second": articles / insert_seconds if insert_seconds else 0.0,
        "lookup_ms_p50": lookups.median("lookup"),
        "lookup_ms_p99": lookups.quantile("lookup", 0.99),
        "lookups_with_candidates": lookups.samples["found_share"][0],
        "bytes_per_article": size / articles if articles else 0.0,
        "peak_rss_mib": peak_rss_mib(),
        "restart_to_first_poll_seconds": restart,
    }


def render(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{r['articles']:,} articles on {r['database']} "
            f"({r['bands']} bands x {r['rows']} rows per signature)",
            f"insert:   {r['insert_per_second']:,.0f} articles/s (with their index rows)",
            f"lookup:   p50 {r['lookup_ms_p50']:.2f} ms, p99 {r['lookup_ms_p99']:.2f} ms "
            f"({r['lookups_with_candidates']:.0%} of queries found candidates)",
            f"size:     {r['bytes_per_article']:,.0f} bytes per article",
            f"memory:   {r['peak_rss_mib']:.0f} MiB peak (this process)",
            f"restart:  {r['restart_to_first_poll_seconds']:.1f} s to the first poll",
        ]
    )


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-") as tmp:
        result = run_index(args.articles, args.database, Path(tmp))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
