"""The persistent LSH index: band keys of each indexed article are rows of ``lsh_buckets``,
written in the article's own transaction; a lookup finds stored articles sharing a band
with a fingerprint, within the retention window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Dialect, delete
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
    # The dialect's own implementation: the generic type has no processor, and sqlite3's
    # default adapter would write another text format (ISO with "+00:00").
    process = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
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
        cand = _candidate(row)
        if cand is not None:
            out.append(cand)
    return out


def _candidate(row: Any) -> Candidate | None:
    """A row of ``_CANDIDATE_COLUMNS`` as a candidate; ``None`` without a signature."""
    if row.signature is None or row.sig_scheme is None:
        return None
    stored = Fingerprint.from_stored(
        row.signature,
        shingle_count=row.shingle_count,
        content_hash=row.content_hash,
        scheme=row.sig_scheme,
        seed=row.sig_seed or 0,
    )
    return Candidate(row.id, row.story_id, stored)


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
    insert_index_rows(session, [(key, now, article_id, band) for band, key in enumerate(keys)])


# -- the same lookup for a whole batch -----------------------------------------------------
# ``candidates`` ranks and cuts in SQL; a batch reads the raw hits of all its fingerprints in
# one statement and ranks them here the same way (``top_hits``), so a later entry of the
# batch can add the batch's earlier, not yet written, articles to its hits.


_HITS = "SELECT bucket, article_id FROM lsh_buckets WHERE bucket"


def band_hits(
    session: Session, keys: set[int], policy: DedupPolicy, chunk: int = 900
) -> dict[int, list[int]]:
    """Stored articles (within the retention window) of each band key in ``keys``."""
    conn = session.connection()
    dialect = conn.dialect
    cutoff = _time_binder(dialect)(utcnow() - policy.retention)
    wanted = sorted(keys)
    out: dict[int, list[int]] = {}
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        if dialect.name == "postgresql":
            match, params = "= ANY(%s::bigint[])", (part, cutoff)
            sql = f"{_HITS} {match} AND added_at >= %s"
        else:
            sql = f"{_HITS} IN ({', '.join('?' * len(part))}) AND added_at >= ?"
            params = (*part, cutoff)
        for bucket, article_id in conn.exec_driver_sql(sql, params):
            out.setdefault(bucket, []).append(article_id)
    return out


def top_hits(shared: dict[int, int]) -> list[int]:
    """Article ids by shared bands, most first, ties to the lowest id, at most
    ``MAX_CANDIDATES``: the order and cut of ``candidates``' query."""
    return sorted(shared, key=lambda a: (-shared[a], a))[:MAX_CANDIDATES]


def stored_candidates(session: Session, article_ids: set[int]) -> dict[int, Candidate]:
    """The candidates among ``article_ids`` that have a signature, by id."""
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    wanted = sorted(article_ids)
    out = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join([mark] * len(part))
        sql = f"SELECT {_CANDIDATE_COLUMNS} FROM articles AS a WHERE a.id IN ({marks})"
        for row in conn.exec_driver_sql(sql, tuple(part)):
            cand = _candidate(row)
            if cand is not None:
                out[row.id] = cand
    return out


def insert_index_rows(session: Session, rows: list[tuple[int, datetime, int, int]]) -> None:
    """Index rows ``(bucket, added_at, article_id, band)`` of new articles, one
    ``executemany`` (driver SQL: SQLAlchemy's per-row binding cost more than the insert)."""
    if not rows:
        return
    conn = session.connection()
    bind = _time_binder(conn.dialect)
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    times: dict[datetime, Any] = {}
    params = []
    for bucket, when, article_id, band in rows:
        stamp = times.get(when)
        if stamp is None:
            stamp = times[when] = bind(when)
        params.append((bucket, stamp, article_id, band))
    # In key order: each B-tree page of the random-keyed index is visited once, in order
    # (about a quarter less CPU for the inserts and the commit on SQLite).
    params.sort()
    marks = ", ".join([mark] * 4)
    sql = f"INSERT INTO lsh_buckets (bucket, added_at, article_id, band) VALUES ({marks})"
    conn.exec_driver_sql(sql, params)
