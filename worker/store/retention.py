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
from datetime import datetime

from sqlalchemy import delete, select

from worker.store.db import Database
from worker.store.models import LshKeys

log = logging.getLogger("newsdedup.retention")
BATCH = 1_000  # index rows (articles) per transaction


def prune_index(db: Database, cutoff: datetime, *, batch: int = BATCH) -> int:
    """Delete index rows added before ``cutoff``; returns how many articles left the index.
    This process's mirror forgets everything older than ``cutoff``, whichever worker
    deleted the rows (until then its lookups skip them: they are outside the window)."""
    articles = 0
    while True:
        with db.session() as session, session.begin():
            oldest = list(
                session.scalars(
                    select(LshKeys.seq)
                    .where(LshKeys.added_at < cutoff)
                    .order_by(LshKeys.added_at)
                    .limit(batch)
                )
            )
            if not oldest:
                break
            session.execute(
                delete(LshKeys)
                .where(LshKeys.seq.in_(oldest))
                .execution_options(synchronize_session=False)
            )
        articles += len(oldest)
    # Every row deleted above is older than the cutoff in the mirror too: one prune there.
    db.index.forget_before(cutoff)
    if articles:
        log.info("retention: %d articles older than %s left the index", articles, cutoff)
    return articles
