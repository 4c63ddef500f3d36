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
from worker.store.models import LshBucket

log = logging.getLogger("newsdedup.retention")
BATCH = 5000


def prune_index(db: Database, cutoff: datetime, *, batch: int = BATCH) -> int:
    """Delete index rows added before ``cutoff``; returns how many articles left the index."""
    articles = 0
    while True:
        with db.session() as session, session.begin():
            ids = list(
                session.scalars(
                    select(LshBucket.article_id)
                    .where(LshBucket.added_at < cutoff)
                    .distinct()
                    .limit(batch)
                )
            )
            if not ids:
                break
            session.execute(
                delete(LshBucket)
                .where(LshBucket.article_id.in_(ids))
                .execution_options(synchronize_session=False)
            )
        articles += len(ids)
    if articles:
        log.info("retention: %d articles older than %s left the index", articles, cutoff)
    return articles
