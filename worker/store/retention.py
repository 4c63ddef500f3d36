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
BATCH = 20_000  # index rows per transaction (about 700 articles)


def prune_index(db: Database, cutoff: datetime, *, batch: int = BATCH) -> int:
    """Delete index rows added before ``cutoff``; returns how many articles left the index."""
    articles = 0
    while True:
        with db.session() as session, session.begin():
            # The oldest rows, read in added_at order so both databases walk that index. A
            # DISTINCT article_id over the filter made SQLite walk the article_id index and
            # fetch every row's added_at: 400 s to prune 4,000 of 1,000,000 articles.
            oldest = (
                select(LshBucket.article_id)
                .where(LshBucket.added_at < cutoff)
                .order_by(LshBucket.added_at)
                .limit(batch)
                .subquery()
            )
            ids = list(session.scalars(select(oldest.c.article_id).distinct()))
            if not ids:
                break
            # All of each article's rows: they share their added_at, so none is left behind.
            session.execute(
                delete(LshBucket)
                .where(LshBucket.article_id.in_(ids))
                .execution_options(synchronize_session=False)
            )
        articles += len(ids)
    if articles:
        log.info("retention: %d articles older than %s left the index", articles, cutoff)
    return articles
