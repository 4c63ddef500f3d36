"""The LSH index: band keys of each indexed article, one ``lsh_keys`` row per article
written in the article's own transaction, and looked up in memory.

Each engine (each worker process) keeps a ``BandIndex`` mirror of the table. The first
time a transaction touches the index, the mirror reads the rows past the last ``seq`` it
has seen; since index rows are written under the dedup lock and ``seq`` only grows, those
are all the changes other workers committed. What the transaction itself writes goes to an
overlay of the session (``session.info``), which its lookups see and which is dropped at
commit or rollback: the mirror only ever holds committed rows, and reads the transaction's
own rows back at the next catch-up. Writing a row is an append (one row of a few hundred
bytes per article) where one row per band key inserted at random into a b-tree had cost
more than the rest of the store.

    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.session() as s:
    ...     sorted(band_hits(s, {1, 2, 3}, since=0.0))
    []
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, DateTime, Dialect, Engine, event
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.dedup.bandindex import BandIndex
from worker.dedup.decision import Candidate
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import band_keys

if TYPE_CHECKING:
    from worker.store.articles import DedupPolicy

# Above this many candidate rows a bucket is a common band (boilerplate); verify the best.
MAX_CANDIDATES = 500
_OVERLAY = "newsdedup.lsh_overlay"

_CANDIDATE_COLUMNS = (
    "a.id, a.story_id, a.signature, a.shingle_count, a.content_hash, a.sig_scheme, a.sig_seed"
)


def pack_keys(keys: Iterable[int]) -> bytes:
    return np.fromiter(keys, dtype="<i8").tobytes()


def unpack_keys(packed: bytes) -> np.ndarray:
    return np.frombuffer(packed, dtype="<i8")


@dataclass
class _Mirror:
    """One engine's copy of ``lsh_keys``: the rows up to ``seq``."""

    index: BandIndex = field(default_factory=BandIndex)
    seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_MIRRORS: weakref.WeakKeyDictionary[Engine, _Mirror] = weakref.WeakKeyDictionary()
_MIRRORS_LOCK = threading.Lock()


def _mirror(engine: Engine) -> _Mirror:
    with _MIRRORS_LOCK:
        mirror = _MIRRORS.get(engine)
        if mirror is None:
            mirror = _MIRRORS[engine] = _Mirror()
        return mirror


@dataclass
class _Overlay:
    """The index rows the session's open transaction wrote, and the mirror it reads."""

    mirror: _Mirror
    keys: dict[int, tuple[float, list[int]]] = field(default_factory=dict)  # by article
    by_key: dict[int, set[int]] = field(default_factory=dict)

    def put(self, article_id: int, added_at: float, keys: list[int]) -> None:
        self.drop(article_id)
        self.keys[article_id] = (added_at, keys)
        for key in keys:
            self.by_key.setdefault(key, set()).add(article_id)

    def drop(self, article_id: int) -> None:
        old = self.keys.pop(article_id, None)
        if old is not None:
            for key in old[1]:
                self.by_key[key].discard(article_id)


@event.listens_for(Session, "after_transaction_end")
def _end_overlay(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction: commit, rollback or close
        session.info.pop(_OVERLAY, None)


# ``added_at`` as seconds since the epoch, computed by the database: parsing a million
# timestamps in Python would be most of a worker's start.
_EPOCH = {
    "sqlite": "(julianday(added_at) - 2440587.5) * 86400.0",
    "postgresql": "extract(epoch FROM added_at)::float8",
}
# A catch-up of fewer rows adds them one by one; more are sorted in one go.
_SMALL = 1_000
_CHUNK = 50_000  # rows fetched at once by a large catch-up


def _overlay(session: Session) -> _Overlay:
    """The session's overlay; the first call of a transaction brings the mirror up to the
    committed rows (under the dedup lock: everything any worker has written)."""
    overlay: _Overlay | None = session.info.get(_OVERLAY)
    if overlay is not None:
        return overlay
    conn = session.connection()
    mirror = _mirror(conn.engine)
    dialect = conn.dialect.name
    mark = "%s" if dialect == "postgresql" else "?"
    sql = (
        f"SELECT seq, article_id, {_EPOCH[dialect]}, keys FROM lsh_keys WHERE seq > {mark} "
        f"ORDER BY seq LIMIT {_SMALL}"  # bounded: psycopg holds a whole result in memory
    )
    with mirror.lock:
        rows = conn.exec_driver_sql(sql, (mirror.seq,)).all()
        if len(rows) < _SMALL:  # the usual catch-up: a few batches' rows
            for seq, article_id, added_at, keys in rows:
                mirror.index.add(article_id, unpack_keys(keys), added_at)
                mirror.seq = seq
        else:
            _read_many(conn, mirror)
    overlay = session.info[_OVERLAY] = _Overlay(mirror)
    return overlay


def _read_many(conn: Connection, mirror: _Mirror) -> None:
    """Many rows (a worker's start): sized first, then read through the driver's own
    cursor into arrays made once, and handed to the mirror in one piece, so it sorts
    once. At a million articles the keys alone are 224 MB: no copy of them is made."""
    dialect = conn.dialect.name
    mark = "%s" if dialect == "postgresql" else "?"
    rows, size, last = conn.exec_driver_sql(
        "SELECT count(*), coalesce(sum(length(keys)), 0), coalesce(max(seq), 0) "
        f"FROM lsh_keys WHERE seq > {mark}",
        (mirror.seq,),
    ).one()
    ids = np.empty(rows, dtype=np.int64)
    added = np.empty(rows, dtype=np.float64)
    counts = np.empty(rows, dtype=np.int64)
    keys = np.empty(size // 8, dtype=np.int64)
    filled = used = 0
    raw: Any = conn.connection.dbapi_connection
    # On PostgreSQL a named (server-side) cursor: psycopg's default one would hold the whole
    # result in the client, over a gigabyte at a million articles.
    cursor = raw.cursor(name="newsdedup_lsh_keys") if dialect == "postgresql" else raw.cursor()
    try:
        cursor.execute(
            f"SELECT article_id, {_EPOCH[dialect]}, keys FROM lsh_keys "
            f"WHERE seq > {mark} AND seq <= {mark} ORDER BY seq",
            (mirror.seq, last),
        )
        while chunk := cursor.fetchmany(_CHUNK):
            chunk_ids, chunk_added, packed = zip(*chunk, strict=True)
            n = len(chunk)
            ids[filled : filled + n] = chunk_ids
            added[filled : filled + n] = chunk_added
            counts[filled : filled + n] = [len(k) // 8 for k in packed]
            flat = np.frombuffer(b"".join(packed), dtype="<i8")
            keys[used : used + len(flat)] = flat
            filled, used = filled + n, used + len(flat)
    finally:
        cursor.close()
    # Rows pruned between the two reads leave the arrays' ends unfilled.
    mirror.index.add_many(ids[:filled], added[:filled], counts[:filled], keys[:used])
    mirror.seq = last


def catch_up(session: Session) -> int:
    """Bring this process's mirror up to the committed index rows (a worker does so at
    start, so its first poll does not pay for it); returns how many articles it holds."""
    overlay = _overlay(session)
    return len(overlay.mirror.index)


def mirror_size(engine: Engine) -> tuple[int, int]:
    """Articles in this process's mirror, and the bytes of its arrays."""
    mirror = _mirror(engine)
    with mirror.lock:
        return len(mirror.index), mirror.index.memory_bytes()


def band_hits(session: Session, keys: set[int], since: float) -> dict[int, list[int]]:
    """Indexed articles (added at or after ``since``, seconds since the epoch) of each band
    key in ``keys``, the session's own uncommitted rows included, ids ascending."""
    overlay = _overlay(session)
    with overlay.mirror.lock:
        found = overlay.mirror.index.hits(keys, since)
    if not overlay.keys:
        return found
    mine = overlay.keys
    out: dict[int, list[int]] = {}
    for key in keys:
        ids = [a for a in found.get(key, ()) if a not in mine]
        ids += [a for a in overlay.by_key.get(key, ()) if mine[a][0] >= since]
        if ids:
            out[key] = sorted(ids)
    return out


def window_start(policy: DedupPolicy) -> float:
    """The oldest ``added_at`` (seconds since the epoch) still in the retention window."""
    return (utcnow() - policy.retention).timestamp()


def shared_bands(keys: Iterable[int], hits: dict[int, list[int]]) -> dict[int, int]:
    """How many of ``keys`` each article of ``hits`` shares."""
    shared: dict[int, int] = {}
    for key in set(keys):
        for article_id in hits.get(key, ()):
            shared[article_id] = shared.get(article_id, 0) + 1
    return shared


def candidates(
    session: Session, fp: Fingerprint, policy: DedupPolicy, keys: list[int] | None = None
) -> list[Candidate]:
    """Indexed articles sharing a band with ``fp`` (most shared bands first, ties to the
    lowest id, at most ``MAX_CANDIDATES``), within the retention window. ``keys``: the
    band keys of ``fp``, when the caller has them."""
    keys = keys if keys is not None else band_keys(fp.hashvalues, policy.lsh)
    if session.autoflush:
        session.flush()  # pending ORM rows must be seen by the signature read
    shared = shared_bands(keys, band_hits(session, set(keys), window_start(policy)))
    ranked = top_hits(shared)
    stored = stored_candidates(session, set(ranked)) if ranked else {}
    return [stored[a] for a in ranked if a in stored]


def top_hits(shared: dict[int, int]) -> list[int]:
    """Article ids by shared bands, most first, ties to the lowest id, at most
    ``MAX_CANDIDATES``."""
    return sorted(shared, key=lambda a: (-shared[a], a))[:MAX_CANDIDATES]


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


def stored_candidates(session: Session, article_ids: set[int]) -> dict[int, Candidate]:
    """The candidates among ``article_ids`` that have a signature, by id (an id whose
    article is gone is left out)."""
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    wanted = sorted(article_ids)
    out = {}
    seen = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join([mark] * len(part))
        sql = f"SELECT {_CANDIDATE_COLUMNS} FROM articles AS a WHERE a.id IN ({marks})"
        for row in conn.exec_driver_sql(sql, tuple(part)):
            seen.add(row.id)
            cand = _candidate(row)
            if cand is not None:
                out[row.id] = cand
    if len(seen) < len(wanted):  # deleted articles: their index rows went with them
        forget(conn.engine, [a for a in wanted if a not in seen])
    return out


@lru_cache(maxsize=4)
def _time_binder(dialect: Dialect) -> Callable[[datetime], Any]:
    """A time as the dialect stores it (SQLite: SQLAlchemy's text format of ``added_at``)."""
    # The dialect's own implementation: the generic type has no processor, and sqlite3's
    # default adapter would write another text format (ISO with "+00:00").
    process = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda when: when)


def insert_index_rows(session: Session, rows: list[tuple[int, datetime, list[int]]]) -> None:
    """Index rows ``(article_id, added_at, keys)``, one ``executemany`` (driver SQL:
    SQLAlchemy's per-row binding costs more than the insert). An article that already has
    a row must have had it deleted first."""
    if not rows:
        return
    overlay = _overlay(session)
    conn = session.connection()
    bind = _time_binder(conn.dialect)
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    times: dict[datetime, Any] = {}
    params = []
    for article_id, when, keys in rows:
        stamp = times.get(when)
        if stamp is None:
            stamp = times[when] = bind(when)
        params.append((article_id, stamp, pack_keys(keys)))
        overlay.put(article_id, when.timestamp(), keys)
    sql = f"INSERT INTO lsh_keys (article_id, added_at, keys) VALUES ({mark}, {mark}, {mark})"
    conn.exec_driver_sql(sql, params)


def index_article(
    session: Session,
    article_id: int,
    fp: Fingerprint,
    policy: DedupPolicy,
    now: datetime,
    keys: list[int] | None = None,
) -> None:
    """(Re-)index one article: its old row, if any, is replaced. An article too short to
    be matched by similarity stays out of the index; one that had keys gets a row without
    any, so other workers' mirrors drop them."""
    overlay = _overlay(session)
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    gone = conn.exec_driver_sql(
        f"DELETE FROM lsh_keys WHERE article_id = {mark}", (article_id,)
    ).rowcount
    overlay.drop(article_id)
    if fp.shingle_count < policy.rule.min_shingles:
        if gone:
            insert_index_rows(session, [(article_id, now, [])])
        return
    keys = keys if keys is not None else band_keys(fp.hashvalues, policy.lsh)
    insert_index_rows(session, [(article_id, now, keys)])


def forget(engine: Engine, article_ids: Iterable[int]) -> None:
    """Drop ``article_ids`` from this process's mirror (their rows were deleted)."""
    mirror = _mirror(engine)
    with mirror.lock:
        for article_id in article_ids:
            mirror.index.discard(article_id)


def forget_before(engine: Engine, cutoff: datetime) -> int:
    """Drop the articles indexed before ``cutoff`` from this process's mirror, whichever
    worker deleted their rows; returns how many."""
    mirror = _mirror(engine)
    with mirror.lock:
        return mirror.index.prune(cutoff.timestamp())
