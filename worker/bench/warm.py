"""A warm index for benchmarks: N synthetic articles with random signatures and their LSH
rows, bulk-inserted (Core ``executemany``, not the ORM) into a migrated database.

Random signatures share no band with real text, so they cost what a big index costs (index
depth, page cache) without becoming candidates by accident; that matches a real index where
almost every stored article is unrelated to the new one.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import insert

from worker.dedup.fingerprint import scheme_name
from worker.dedup.lsh import LshParams, band_keys
from worker.store.db import Database
from worker.store.feeds import utcnow
from worker.store.models import Article, Feed, Story

BATCH = 2000


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
                name="bench-warm", url="file:///dev/null", enabled=False, created_at=now,
                consecutive_failures=0,
            ).returning(Feed.id)
        ).scalar_one()  # fmt: skip
    sqlite = db.dialect == "sqlite"
    done = 0
    while done < articles:
        n = min(BATCH, articles - done)
        sigs = rng.integers(0, 2**32, size=(n, num_perm), dtype=np.uint32)
        added = now - timedelta(seconds=articles - done)
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
            ids = conn.execute(insert(Article).returning(Article.id), rows).scalars().all()
            mark = "?" if sqlite else "%s"
            conn.exec_driver_sql(
                f"UPDATE stories SET canonical_article_id = {mark} WHERE id = {mark}",
                list(zip(ids, first, strict=True)),
            )
            # The DBAPI directly: SQLAlchemy's per-row parameter handling would be most of
            # the time here (tens of rows per article).
            when = added.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else added
            conn.exec_driver_sql(
                f"INSERT INTO lsh_buckets (band, bucket, article_id, added_at) "
                f"VALUES ({mark}, {mark}, {mark}, {mark})",
                [
                    (band, key, ids[i], when)
                    for i in range(n)
                    for band, key in enumerate(band_keys(sigs[i], params))
                ],
            )
        done += n
    return int(feed_id)
