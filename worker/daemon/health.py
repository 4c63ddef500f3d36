"""What ``/healthz`` and ``newsdedup_feeds_overdue`` look at in the database.

The probe opens a *new* connection each time (no pool): a pooled SQLite connection keeps
working after its file or folder is gone, and a pooled PostgreSQL one hides a server that
stopped accepting connections. It also reads ``alembic_version``, so an empty database
created in the place of the real one is not healthy either.

    >>> from worker.store.db import Database
    >>> probe = DatabaseProbe(Database("sqlite:////nonexistent/dir/x.db").url)
    >>> probe.check()[0]
    False
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from worker.clock import as_utc, utcnow
from worker.store.db import Database
from worker.store.models import Feed

# A feed is overdue when its poll is this late (the scheduler fires within a second or two).
OVERDUE_GRACE = timedelta(seconds=60)


class DatabaseProbe:
    def __init__(self, url: str, timeout: int = 3) -> None:
        connect_args = (
            {"timeout": timeout} if url.startswith("sqlite") else {"connect_timeout": timeout}
        )
        self.engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)

    def check(self) -> tuple[bool, str]:
        try:
            with self.engine.connect() as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            return False, f"unreachable: {str(reason).splitlines()[0]}"
        return True, f"ok (schema {revision})"

    def dispose(self) -> None:
        self.engine.dispose()


def count_parked(db: Database) -> float:
    """Enabled feeds parked after ``worker.park_after`` failures (NaN if unknown)."""
    try:
        with db.session() as session:
            query = select(func.count()).select_from(Feed)
            query = query.where(Feed.enabled.is_(True), Feed.parked_at.is_not(None))
            return float(session.scalar(query) or 0)
    except SQLAlchemyError:
        return math.nan


def count_overdue(db: Database) -> float:
    """Enabled feeds whose next poll is more than ``OVERDUE_GRACE`` late (NaN if unknown)."""
    limit = utcnow() - OVERDUE_GRACE
    try:
        with db.session() as session:
            due = session.scalars(
                select(Feed.next_poll_at).where(Feed.enabled.is_(True), Feed.parked_at.is_(None))
            )
            late = [when for when in map(as_utc, due) if when is not None and when < limit]
            return float(len(late))
    except SQLAlchemyError:
        return math.nan
