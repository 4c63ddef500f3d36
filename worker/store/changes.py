"""The change feed (``changes``): every change a downstream reader could care about, one row
each, written in the transaction that made the change, numbered so that a reader that
saved the last ``seq`` it read misses nothing and needs no clock.

Writers ``record`` changes as they make them; the rows wait in the session and are written
when its transaction commits (a ``before_commit`` hook ``install`` puts on a session
factory): numbered there, after one more take of the dedup lock, which is held until the
commit is done. So sequence numbers are allocated and become visible in the same order,
across every worker: a reader's ``SELECT ... WHERE seq > :after`` sees a prefix of the
feed, never a later row without an earlier one. Numbers are consecutive (``max + 1``
under the lock; a transaction that rolls back takes its rows, and no number, with it).

    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.session() as s, s.begin():
    ...     record(s, "story_deleted", story_id=7)
    >>> with db.session() as s:
    ...     [(c.seq, c.kind, c.story_id) for c in changes_after(s, 0, 10)], latest_seq(s)
    ([(1, 'story_deleted', 7)], 1)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from worker.clock import as_utc, utcnow
from worker.store.locks import DEDUP_LOCK_KEY
from worker.store.models import Change

_changes = cast(Table, Change.__table__)
_PENDING = "newsdedup.changes"

# What a change row says (``docs/downstream.md`` documents each one's columns).
KINDS = (
    "story_created", "article_added", "article_updated", "canonical_changed",
    "story_merged", "story_split", "article_purged", "story_deleted",
    "event_created", "story_event_changed", "event_merged", "event_split",
)  # fmt: skip


@dataclass(frozen=True)
class ChangeRow:
    """One row of the change feed."""

    seq: int
    kind: str
    story_id: int | None
    article_id: int | None
    event_id: int | None
    other_id: int | None
    at: datetime
    detail: dict[str, Any] | None


def row(
    kind: str,
    *,
    story_id: int | None = None,
    article_id: int | None = None,
    event_id: int | None = None,
    other_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A change row to ``record_many``."""
    assert kind in KINDS, kind
    return {
        "kind": kind,
        "story_id": story_id,
        "article_id": article_id,
        "event_id": event_id,
        "other_id": other_id,
        "detail": json.dumps(detail, sort_keys=True) if detail is not None else None,
    }


def record_many(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Changes made in the session's transaction, in the order they were made: written
    with it when it commits, dropped if it rolls back."""
    session.info.setdefault(_PENDING, []).extend(rows)


def record(session: Session, kind: str, **columns: Any) -> None:
    """One change (``row``'s columns) made in the session's transaction."""
    record_many(session, [row(kind, **columns)])


def _write_pending(session: Session) -> None:
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # Held to the commit: the next writer numbers after these rows are visible.
        # Re-entrant: a dedup transaction holds it already (it is the same lock).
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DEDUP_LOCK_KEY})
    # SQLite: this transaction has written already, so it holds the one write lock.
    top = int(conn.execute(select(func.max(_changes.c.seq))).scalar() or 0)
    now = utcnow()
    conn.execute(
        insert(_changes), [{**r, "seq": top + i, "at": now} for i, r in enumerate(rows, 1)]
    )


def _drop_pending(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


def install(sessions: sessionmaker[Session]) -> None:
    """Write the changes each session records when its transaction commits."""
    event.listen(sessions, "before_commit", _write_pending)
    event.listen(sessions, "after_soft_rollback", _drop_pending)


# -- read side -------------------------------------------------------------------------
def _change(r: Any) -> ChangeRow:
    at = as_utc(r.at)
    assert at is not None  # never NULL
    return ChangeRow(
        r.seq, r.kind, r.story_id, r.article_id, r.event_id, r.other_id, at,
        json.loads(r.detail) if r.detail else None,
    )  # fmt: skip


def changes_after(session: Session, after: int, limit: int) -> list[ChangeRow]:
    """The first ``limit`` changes numbered above ``after``, in order."""
    rows = session.execute(
        select(_changes).where(_changes.c.seq > after).order_by(_changes.c.seq).limit(limit)
    )
    return [_change(r) for r in rows]


def latest_seq(session: Session) -> int:
    """The number of the newest change (0: none yet)."""
    return int(session.scalar(select(func.max(_changes.c.seq))) or 0)
