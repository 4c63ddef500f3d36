"""``newsdedup bench redis-index``: datasketch's own Redis-backed ``MinHashLSH``, measured
the way ``bench index`` measures the index in the database, to choose between them.

Inserts ``--articles`` random signatures with the same band layout the daemon uses, then
runs the same mix of lookups (perturbed copies of stored signatures and random ones).
Needs a Redis server (``--redis``, default ``127.0.0.1:6379``; the database ``--db`` is
flushed first) and the ``redis`` package (``pip install "newsdedup[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from worker.bench.measure import StageTimes
from worker.config import Config
from worker.errors import NewsdedupError
from worker.pipeline.build import dedup_policy


def run_redis_index(articles: int, host: str, port: int, db: int) -> dict[str, Any]:
    try:
        import redis
    except ImportError as exc:
        raise NewsdedupError('bench redis-index needs: pip install "newsdedup[bench]"') from exc
    client = redis.Redis(host=host, port=port, db=db)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        raise NewsdedupError(f"redis at {host}:{port}: {exc}") from exc
    config = Config()
    policy = dedup_policy(config)
    num_perm = config.dedup.num_perm
    lsh = MinHashLSH(
        num_perm=num_perm,
        params=(policy.lsh.bands, policy.lsh.rows),
        storage_config={"type": "redis", "redis": {"host": host, "port": port, "db": db}},
    )
    rng = np.random.default_rng(7)
    sigs = rng.integers(0, 2**32, size=(articles, num_perm)).astype(np.uint64)
    memory_before = int(client.info("memory")["used_memory"])
    t0 = time.perf_counter()
    with lsh.insertion_session(buffer_size=1000) as session:
        for i in range(articles):
            session.insert(
                f"a{i}", MinHash(num_perm=num_perm, hashvalues=sigs[i], scheme="affine32")
            )
    insert_seconds = time.perf_counter() - t0
    memory = int(client.info("memory")["used_memory"]) - memory_before
    times = StageTimes()
    for i in range(1000):
        values = sigs[int(rng.integers(0, articles))].copy()
        if i % 2:
            values = rng.integers(0, 2**32, size=num_perm).astype(np.uint64)
        else:
            changed = np.less(rng.random(num_perm), 0.3)
            values[changed] = rng.integers(0, 2**32, size=int(changed.sum()))
        query = MinHash(num_perm=num_perm, hashvalues=values, scheme="affine32")
        started = time.perf_counter()
        lsh.query(query)
        times.add("lookup", 1000 * (time.perf_counter() - started))
    client.flushdb()
    return {
        "storage": "redis (datasketch MinHashLSH)",
        "articles": articles,
        "bands": policy.lsh.bands,
        "rows": policy.lsh.rows,
        "insert_per_second": articles / insert_seconds if insert_seconds else 0.0,
        "lookup_ms_p50": times.median("lookup"),
        "lookup_ms_p99": times.quantile("lookup", 0.99),
        "bytes_per_article": memory / articles if articles else 0.0,
    }


def main(args: argparse.Namespace) -> int:
    host, _, port = args.redis.partition(":")
    result = run_redis_index(args.articles, host, int(port or 6379), args.db)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['articles']:,} articles in Redis ({result['bands']} bands x "
            f"{result['rows']} rows): insert {result['insert_per_second']:,.0f}/s, lookup p50 "
            f"{result['lookup_ms_p50']:.2f} ms p99 {result['lookup_ms_p99']:.2f} ms, "
            f"{result['bytes_per_article']:,.0f} bytes per article (Redis memory)"
        )
    return 0
