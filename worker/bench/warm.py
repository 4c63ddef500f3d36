"""A warm index for benchmarks: N synthetic articles with random signatures and their LSH
rows, bulk-inserted (Core ``executemany``, not the ORM; the index rows with COPY on
PostgreSQL) into a migrated database, and read into this process's in-memory mirror.

Random signatures share no band with real text, so they cost what a big index costs (index
depth, page cache) without becoming candidates by accident; that matches a real index where
almost every stored article is unrelated to the new one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert

from worker.clock import utcnow
from worker.dedup.fingerprint import scheme_name
from worker.dedup.lsh import LshParams, band_keys
from worker.store.db import Database
from worker.store.models import Article, Feed, Story

WARM_FEED = "bench-warm"
BATCH = 2000
LOAD_CHUNK = 100_000  # index rows (articles) per executemany / COPY


def warm_index(
    db: Database,
    articles: int,
    *,
    params: LshParams,
    num_perm: int = 128,
    seed: int = 1,
    scheme: str | None = None,
    rng_seed: int = 7,
) -> int:
    """Insert ``articles`` synthetic articles (one story each); returns the feed id used."""
    rng = np.random.default_rng(rng_seed)
    now = utcnow()
    scheme = scheme or scheme_name(3, "s")
    with db.engine.begin() as conn:
        feed_id = conn.execute(
            insert(Feed).values(
                name=WARM_FEED, url="file:///dev/null", enabled=False, created_at=now,
                consecutive_failures=0,
            ).returning(Feed.id)
        ).scalar_one()  # fmt: skip
    sqlite = db.dialect == "sqlite"
    ids = np.empty(articles, dtype=np.int64)
    keys = np.empty((articles, params.bands), dtype=np.int64)
    batch_times = []
    done = 0
    while done < articles:
        n = min(BATCH, articles - done)
        sigs = rng.integers(0, 2**32, size=(n, num_perm), dtype=np.uint32)
        added = now - timedelta(seconds=articles - done)
        batch_times.append(added.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else added)
        with db.engine.begin() as conn:
            first = conn.execute(
                insert(Story).returning(Story.id),
                [{"first_seen_at": added, "last_seen_at": added, "variant_count": 1}] * n,
            ).scalars().all()  # fmt: skip
            rows = [
                {
                    "feed_id": feed_id,
                    "guid": f"warm-{done + i}",
                    "title": "",
                    "fetched_at": added,
                    "clean_text": "",
                    "text_length": 0,
                    "source_hash": "",
                    "content_hash": f"warm-{done + i}",
                    "shingle_count": 100,
                    "signature": sigs[i].astype("<u4").tobytes(),
                    "sig_scheme": scheme,
                    "sig_seed": seed,
                    "sig_num_perm": num_perm,
                    "story_id": first[i],
                    "match_kind": "new",
                }
                for i in range(n)
            ]
            batch_ids = conn.execute(insert(Article).returning(Article.id), rows).scalars().all()
            mark = "?" if sqlite else "%s"
            conn.exec_driver_sql(
                f"UPDATE stories SET canonical_article_id = {mark} WHERE id = {mark}",
                list(zip(batch_ids, first, strict=True)),
            )
        ids[done : done + n] = batch_ids
        keys[done : done + n] = [band_keys(sig, params) for sig in sigs]
        done += n
    _load_index(db, ids, keys, batch_times)
    return int(feed_id)


def _load_index(db: Database, ids: np.ndarray, keys: np.ndarray, batch_times: list[Any]) -> None:
    """The index rows of all warm articles (one per article, its keys packed), in article
    order, then this process's mirror brought up to them, as a worker's start does."""
    packed = keys.astype("<i8")
    with db.engine.begin() as conn:
        dbapi: Any = conn.connection.dbapi_connection
        for start in range(0, len(ids), LOAD_CHUNK):
            part = range(start, min(start + LOAD_CHUNK, len(ids)))
            rows = [(int(ids[i]), batch_times[i // BATCH], packed[i].tobytes()) for i in part]
            if db.dialect == "postgresql":
                with (
                    dbapi.cursor() as cur,
                    cur.copy("COPY lsh_keys (article_id, added_at, keys) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
            else:
                conn.exec_driver_sql(
                    "INSERT INTO lsh_keys (article_id, added_at, keys) VALUES (?, ?, ?)", rows
                )
    with db.session() as session:
        db.index.catch_up(session)
