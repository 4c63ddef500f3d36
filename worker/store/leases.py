"""Poll leases: with several workers on one database, each due feed is polled by one.

A worker *claims* a feed before polling it with one conditional ``UPDATE``: it succeeds only
when nobody holds the lease (or the holder's lease has expired, or it is our own) and, for
a scheduled poll, only while the feed is due. PostgreSQL re-checks the ``WHERE`` of a
waiting ``UPDATE`` against the row the winner committed (READ COMMITTED), and SQLite runs
one writer at a time, so two workers can never both win. The holder renews the lease while
it stores entries and releases it when the poll is recorded; a worker that dies simply
stops renewing, and after ``worker.lease_timeout`` any other worker takes the feed over.
There is no leader: every worker runs the same schedule and the database decides.

    >>> from datetime import datetime, timedelta, UTC
    >>> from worker.store.db import Database
    >>> from worker.store.models import Feed
    >>> db = Database("sqlite://"); db.upgrade()
    >>> now = datetime(2026, 11, 24, tzinfo=UTC)
    >>> with db.session() as s, s.begin():
    ...     s.add(Feed(id=1, name="f", url="file:///f", enabled=True, created_at=now))
    >>> with db.session() as s, s.begin():
    ...     claim(s, 1, "a", now=now, timeout=timedelta(seconds=60))
    True
    >>> with db.session() as s, s.begin():  # held by a
    ...     claim(s, 1, "b", now=now, timeout=timedelta(seconds=60))
    False
    >>> with db.session() as s, s.begin():  # a died: its lease ran out
    ...     claim(s, 1, "b", now=now + timedelta(seconds=61), timeout=timedelta(seconds=60))
    True
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from worker.store.models import Feed


def worker_identity() -> str:
    """``host:pid:random``: unique per process, readable in ``feeds``' lease column."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def claim(
    session: Session,
    feed_id: int,
    owner: str,
    *,
    now: datetime,
    timeout: timedelta,
    due_by: datetime | None = None,
) -> bool:
    """Take (or renew) the feed's lease until ``now + timeout``; with ``due_by``, only if
    the feed is due by then (so a feed another worker has just polled is not polled again)."""
    free = or_(
        Feed.lease_owner.is_(None),
        Feed.lease_owner == owner,
        Feed.lease_expires_at.is_(None),
        Feed.lease_expires_at < now,
    )
    return _lease(session, _due(and_(Feed.id == feed_id, free), due_by), owner, now + timeout)


def _due(condition: ColumnElement[bool], due_by: datetime | None) -> ColumnElement[bool]:
    if due_by is None:
        return condition
    return and_(condition, or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= due_by))


def _lease(session: Session, condition: ColumnElement[bool], owner: str, until: datetime) -> bool:
    """Set the lease on the feed row matching ``condition``; whether there was one."""
    result = session.execute(
        update(Feed)
        .where(condition)
        .values(lease_owner=owner, lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def dead_local_owner(owner: str | None) -> bool:
    """Whether ``owner`` names a process of this host that no longer runs: its leases can
    be taken at once instead of after the timeout (a worker restarted after a crash)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def take_over(
    session: Session,
    feed_id: int,
    owner: str,
    dead: str,
    *,
    now: datetime,
    timeout: timedelta,
    due_by: datetime | None = None,
) -> bool:
    """Take the lease of a dead holder (only if it still holds it, and with ``due_by``
    only if the feed is due)."""
    condition = and_(Feed.id == feed_id, Feed.lease_owner == dead)
    return _lease(session, _due(condition, due_by), owner, now + timeout)


def renew(session: Session, feed_id: int, owner: str, *, now: datetime, timeout: timedelta) -> bool:
    """Extend our lease; ``False`` if it is no longer ours (it expired and was taken)."""
    return _lease(
        session, and_(Feed.id == feed_id, Feed.lease_owner == owner), owner, now + timeout
    )


def release(session: Session, feed_id: int, owner: str) -> None:
    session.execute(
        update(Feed)
        .where(Feed.id == feed_id, Feed.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def lease_of(session: Session, feed_id: int) -> tuple[str | None, datetime | None]:
    row = session.execute(
        select(Feed.lease_owner, Feed.lease_expires_at).where(Feed.id == feed_id)
    ).one_or_none()
    return (row.lease_owner, row.lease_expires_at) if row else (None, None)
