"""The retention window of the LSH index: articles older than ``dedup.retention`` stay
stored (and in their stories) but stop being match candidates.

Candidate lookups already ignore index rows older than the window; this prune deletes
them, so the index, and the lookups over it, stay the size of the window however long
the daemon runs. The daemon runs it hourly; several workers doing so is harmless (the
deletes are idempotent). Batches keep each transaction, and the locks it holds, short.

    >>> from datetime import datetime, UTC
    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> prune_index(db, datetime(2026, 1, 1, tzinfo=UTC))
    0
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import InstrumentedAttribute

from worker.store.db import Database
from worker.store.models import LshKeys

log = logging.getLogger("newsdedup.retention")
BATCH = 1_000  # index rows (articles) per transaction


def delete_in_batches(
    db: Database,
    key: InstrumentedAttribute[int],
    where: ColumnElement[bool],
    order_by: InstrumentedAttribute[Any],
    *,
    batch: int,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Delete the rows of ``key``'s table that ``where`` selects, ``batch`` at a time in
    ``order_by`` order, each batch its own short transaction; ``stop`` is asked between
    batches. Returns how many rows went."""
    deleted = 0
    while not stop():
        with db.session() as session, session.begin():
            keys = list(session.scalars(select(key).where(where).order_by(order_by).limit(batch)))
            if not keys:
                break
            session.execute(
                delete(key.class_).where(key.in_(keys)).execution_options(synchronize_session=False)
            )
        deleted += len(keys)
    return deleted


def prune_index(db: Database, cutoff: datetime, *, batch: int = BATCH) -> int:
    """Delete index rows added before ``cutoff``; returns how many articles left the index.
    This process's mirror forgets everything older than ``cutoff``, whichever worker
    deleted the rows (until then its lookups skip them: they are outside the window)."""
    articles = delete_in_batches(
        db, LshKeys.seq, LshKeys.added_at < cutoff, LshKeys.added_at, batch=batch
    )
    # Every row deleted above is older than the cutoff in the mirror too: one prune there.
    db.index.forget_before(cutoff)
    if articles:
        log.info("retention: %d articles older than %s left the index", articles, cutoff)
    return articles
