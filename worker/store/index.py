"""The LSH index: band keys of each indexed article, one ``lsh_keys`` row per article
written in the article's own transaction, and looked up in memory.

Each ``Database`` (each worker process) owns an ``IndexMirror``: a ``BandIndex`` copy of
the table. The first time a transaction touches the index, the mirror reads the rows past
the last ``seq`` it has seen; since index rows are written under the dedup lock and
``seq`` only grows, those are all the changes other workers committed. What the
transaction itself writes goes to an overlay of the session (``session.info``), which its
lookups see and which is dropped when the transaction ends (a listener on the owning
database's sessions only): the mirror only ever holds committed rows, and reads the
transaction's own rows back at the next catch-up. Writing a row is an append (one row of a
few hundred bytes per article) where one row per band key inserted at random into a
b-tree had cost more than the rest of the store.

    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.session() as s:
    ...     db.index.hits(s, {1, 2, 3}, since=0.0)
    {}
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, DateTime, Dialect, event
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    import numpy as np

    from worker.dedup.bandindex import BandIndex

# numpy and the band index are imported where the index is first used, not here: every
# ``Database`` holds a mirror, and a read-only command, which never touches the index,
# would pay a tenth of a second of its start-up for them.

_OVERLAY = "newsdedup.lsh_overlay"
_OWNER = "newsdedup.lsh_mirror"

# ``added_at`` as seconds since the epoch, computed by the database: parsing a million
# timestamps in Python would be most of a worker's start.
_EPOCH = {
    "sqlite": "(julianday(added_at) - 2440587.5) * 86400.0",
    "postgresql": "extract(epoch FROM added_at)::float8",
}
# A catch-up of fewer rows adds them one by one; more are sorted in one go.
_SMALL = 1_000
_CHUNK = 50_000  # rows fetched at once by a large catch-up
_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)


def pack_keys(keys: Iterable[int]) -> bytes:
    import numpy as np

    return np.fromiter(keys, dtype="<i8").tobytes()


def unpack_keys(packed: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(packed, dtype="<i8")


def _mark(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


@dataclass
class _Overlay:
    """The index rows the session's open transaction wrote."""

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


@lru_cache(maxsize=4)
def _time_binder(dialect: Dialect) -> Callable[[datetime], Any]:
    """A time as the dialect stores it (SQLite: SQLAlchemy's text format of ``added_at``)."""
    # The dialect's own implementation: the generic type has no processor, and sqlite3's
    # default adapter would write another text format (ISO with "+00:00").
    process = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda when: when)


class IndexMirror:
    """One database's copy of ``lsh_keys``: the committed rows up to ``seq``, plus each
    open transaction's own rows. Thread-safe; the band index is made at its first use."""

    def __init__(self) -> None:
        self._made: BandIndex | None = None
        self._seq = 0
        self._lock = threading.Lock()

    @property
    def _index(self) -> BandIndex:
        """The band index (made now if it was not yet); callers hold ``_lock``."""
        if self._made is None:
            from worker.dedup.bandindex import BandIndex

            self._made = BandIndex()
        return self._made

    @staticmethod
    def of(session: Session) -> IndexMirror:
        """The mirror of the database ``session`` belongs to."""
        mirror = session.info.get(_OWNER)
        if not isinstance(mirror, IndexMirror):
            raise ValueError("not a session of a Database: it has no LSH index mirror")
        return mirror

    def serve(self, sessions: sessionmaker[Session]) -> None:
        """Serve the sessions ``sessions`` makes (and only those): they carry this mirror,
        and their overlays are dropped when their transactions end."""
        sessions.configure(info={_OWNER: self})
        event.listen(sessions, "after_transaction_end", _end_overlay)

    # -- reads -------------------------------------------------------------------------
    def catch_up(self, session: Session) -> int:
        """Bring the mirror up to the committed index rows (a worker does so at start, so
        its first poll does not pay for it); returns how many articles it holds."""
        self._overlay(session)
        with self._lock:
            return len(self._index)

    def size(self) -> tuple[int, int]:
        """Articles in the mirror, and the bytes of its arrays."""
        with self._lock:
            return len(self._index), self._index.memory_bytes()

    def hits(self, session: Session, keys: set[int], since: float) -> dict[int, list[int]]:
        """Indexed articles (added at or after ``since``, seconds since the epoch) of each
        band key in ``keys``, the transaction's own rows included, ids ascending."""
        overlay = self._overlay(session)
        with self._lock:
            found = self._index.hits(keys, since)
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

    # -- writes ------------------------------------------------------------------------
    def add(self, session: Session, rows: list[tuple[int, datetime, list[int]]]) -> None:
        """Index rows ``(article_id, added_at, keys)``, one ``executemany`` (driver SQL:
        SQLAlchemy's per-row binding costs more than the insert). An article that already
        has a row must have had it deleted first."""
        if not rows:
            return
        overlay = self._overlay(session)
        conn = session.connection()
        bind = _time_binder(conn.dialect)
        mark = _mark(conn)
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

    def replace(
        self, session: Session, article_id: int, added_at: datetime, keys: list[int]
    ) -> None:
        """(Re-)index one article: its old row, if any, is replaced. An article with no
        keys stays out of the index; one that had keys gets a row without any, so other
        workers' mirrors drop them."""
        overlay = self._overlay(session)
        conn = session.connection()
        gone = conn.exec_driver_sql(
            f"DELETE FROM lsh_keys WHERE article_id = {_mark(conn)}", (article_id,)
        ).rowcount
        overlay.drop(article_id)
        if keys or gone:
            self.add(session, [(article_id, added_at, keys)])

    def forget(self, article_ids: Iterable[int]) -> None:
        """Drop ``article_ids`` from the mirror (their rows were deleted)."""
        with self._lock:
            for article_id in article_ids:
                self._index.discard(article_id)

    def forget_before(self, cutoff: datetime) -> int:
        """Drop the articles indexed before ``cutoff``, whichever worker deleted their
        rows; returns how many."""
        with self._lock:
            return self._index.prune(cutoff.timestamp())

    # -- catch-up ----------------------------------------------------------------------
    def _overlay(self, session: Session) -> _Overlay:
        """The session's overlay; the first call of a transaction brings the mirror up to
        the committed rows (under the dedup lock: everything any worker has written)."""
        overlay: _Overlay | None = session.info.get(_OVERLAY)
        if overlay is not None:
            return overlay
        if session.info.get(_OWNER) is not self:
            # Its overlay would outlive its transaction: nothing would drop it.
            raise ValueError("a session of another database (or none) used with this index")
        conn = session.connection()
        dialect = conn.dialect.name
        sql = (
            f"SELECT seq, article_id, {_EPOCH[dialect]}, keys FROM lsh_keys "
            f"WHERE seq > {_mark(conn)} ORDER BY seq "
            f"LIMIT {_SMALL}"  # bounded: psycopg holds a whole result in memory
        )
        with self._lock:
            rows = conn.exec_driver_sql(sql, (self._seq,)).all()
            if len(rows) < _SMALL:  # the usual catch-up: a few batches' rows
                for seq, article_id, added_at, keys in rows:
                    self._index.add(article_id, unpack_keys(keys), added_at)
                    self._seq = seq
            else:
                self._read_many(conn)
        overlay = session.info[_OVERLAY] = _Overlay()
        return overlay

    def _read_many(self, conn: Connection) -> None:
        """Many rows (a worker's start): sized first, then read through the driver's own
        cursor into arrays made once, and handed to the mirror in one piece, so it sorts
        once. At a million articles the keys alone are 224 MB: no copy of them is made."""
        import numpy as np

        dialect = conn.dialect.name
        mark = _mark(conn)
        rows, size, last = conn.exec_driver_sql(
            "SELECT count(*), coalesce(sum(length(keys)), 0), coalesce(max(seq), 0) "
            f"FROM lsh_keys WHERE seq > {mark}",
            (self._seq,),
        ).one()
        ids = np.empty(rows, dtype=np.int64)
        added = np.empty(rows, dtype=np.float64)
        counts = np.empty(rows, dtype=np.int64)
        keys = np.empty(size // 8, dtype=np.int64)
        filled = used = 0
        raw: Any = conn.connection.dbapi_connection
        # On PostgreSQL a named (server-side) cursor: psycopg's default one would hold the
        # whole result in the client, over a gigabyte at a million articles.
        cursor = raw.cursor(name="newsdedup_lsh_keys") if dialect == "postgresql" else raw.cursor()
        try:
            cursor.execute(
                f"SELECT article_id, {_EPOCH[dialect]}, keys FROM lsh_keys "
                f"WHERE seq > {mark} AND seq <= {mark} ORDER BY seq",
                (self._seq, last),
            )
            while chunk := cursor.fetchmany(_CHUNK):
                # Column by column through itemgetter: zip(*chunk) makes a tuple per
                # column of the chunk first, a fifth of this loop's time.
                n = len(chunk)
                ids[filled : filled + n] = np.fromiter(map(_FIRST, chunk), np.int64, n)
                added[filled : filled + n] = np.fromiter(map(_SECOND, chunk), np.float64, n)
                packed = list(map(_THIRD, chunk))
                counts[filled : filled + n] = np.fromiter(map(len, packed), np.int64, n) // 8
                flat = np.frombuffer(b"".join(packed), dtype="<i8")
                keys[used : used + len(flat)] = flat
                filled, used = filled + n, used + len(flat)
        finally:
            cursor.close()
        # Rows pruned between the two reads leave the arrays' ends unfilled.
        self._index.add_many(ids[:filled], added[:filled], counts[:filled], keys[:used])
        self._seq = last


def _end_overlay(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction: commit, rollback or close
        session.info.pop(_OVERLAY, None)
