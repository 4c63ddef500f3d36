"""The persistent LSH index: band keys of each indexed article are rows of ``lsh_buckets``,
written in the article's own transaction; a lookup finds stored articles sharing a band
with a fingerprint, within the retention window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Dialect, delete, insert
from sqlalchemy.orm import Session

from worker.dedup.decision import Candidate
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import band_keys
from worker.store.feeds import utcnow
from worker.store.models import LshBucket

if TYPE_CHECKING:
    from worker.store.articles import DedupPolicy

# Above this many candidate rows a bucket is a common band (boilerplate); verify the best.
MAX_CANDIDATES = 500


_CANDIDATE_COLUMNS = (
    "a.id, a.story_id, a.signature, a.shingle_count, a.content_hash, a.sig_scheme, a.sig_seed"
)


@lru_cache(maxsize=16)
def _lookup_sql(dialect: str, bands: int) -> str:
    """The candidate query, built once per dialect and band count: the band keys probe the
    (bucket, article_id) primary key, hits are counted per article, and the best articles'
    signatures come back in the same round trip. PostgreSQL gets the keys as one array
    (``= ANY``), so its statement text, and the plan psycopg prepares for it, never varies.
    Driver SQL (``?`` for sqlite3, ``%s`` for psycopg): SQLAlchemy's per-parameter binding
    of a ``text()`` was a third of a lookup's CPU."""
    mark = "?" if dialect == "sqlite" else "%s"
    if dialect == "postgresql":
        match = f"bucket = ANY({mark}::bigint[])"
    else:
        match = f"bucket IN ({', '.join([mark] * bands)})"
    return (
        f"SELECT {_CANDIDATE_COLUMNS} FROM ("
        f"SELECT article_id, count(*) AS shared FROM lsh_buckets "
        f"WHERE {match} AND added_at >= {mark} "
        f"GROUP BY article_id ORDER BY shared DESC, article_id LIMIT {mark}"
        ") AS hit JOIN articles AS a ON a.id = hit.article_id "
        "ORDER BY hit.shared DESC, hit.article_id"
    )


@lru_cache(maxsize=4)
def _time_binder(dialect: Dialect) -> Callable[[datetime], Any]:
    """A time as the dialect stores it (SQLite: SQLAlchemy's text format of ``added_at``)."""
    process = DateTime(timezone=True).bind_processor(dialect)
    return process if process is not None else (lambda when: when)


def candidates(
    session: Session, fp: Fingerprint, policy: DedupPolicy, keys: list[int] | None = None
) -> list[Candidate]:
    """Stored articles sharing a band with ``fp`` (most shared bands first, at most
    ``MAX_CANDIDATES``), within the retention window. ``keys``: the band keys of ``fp``,
    when the caller has them."""
    keys = keys if keys is not None else band_keys(fp.hashvalues, policy.lsh)
    if session.autoflush:
        session.flush()  # what session.execute() would do: pending rows must be seen
    conn = session.connection()
    dialect = conn.dialect
    cutoff = _time_binder(dialect)(utcnow() - policy.retention)
    params = (
        (keys, cutoff, MAX_CANDIDATES)
        if dialect.name == "postgresql"
        else (*keys, cutoff, MAX_CANDIDATES)
    )
    out = []
    for row in conn.exec_driver_sql(_lookup_sql(dialect.name, len(keys)), params):
        if row.signature is None or row.sig_scheme is None:
            continue
        stored = Fingerprint.from_stored(
            row.signature,
            shingle_count=row.shingle_count,
            content_hash=row.content_hash,
            scheme=row.sig_scheme,
            seed=row.sig_seed or 0,
        )
        out.append(Candidate(row.id, row.story_id, stored))
    return out


def index_article(
    session: Session,
    article_id: int,
    fp: Fingerprint,
    policy: DedupPolicy,
    now: datetime,
    keys: list[int] | None = None,
) -> None:
    session.execute(delete(LshBucket).where(LshBucket.article_id == article_id))
    if fp.shingle_count < policy.rule.min_shingles:
        return  # too short to be matched by similarity: keep it out of the index
    keys = keys if keys is not None else band_keys(fp.hashvalues, policy.lsh)
    session.execute(
        insert(LshBucket),
        [
            {"bucket": key, "added_at": now, "article_id": article_id, "band": band}
            for band, key in enumerate(keys)
        ],
    )
