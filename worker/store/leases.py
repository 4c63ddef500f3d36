"""Poll leases: with several workers on one database, each due feed is polled by one.

A worker *claims* a feed before polling it with one conditional ``UPDATE``: it succeeds only
when nobody holds the lease (or the holder's lease has expired, or it is our own) and, for
a scheduled poll, only while the feed is due. PostgreSQL re-checks the ``WHERE`` of a
waiting ``UPDATE`` against the row the winner committed (READ COMMITTED), and SQLite runs
one writer at a time, so two workers can never both win. The same statement returns what
the poll needs from the row (validators, failure count: ``RETURNING``), so a claim is one
round trip. The holder renews the lease while it stores entries and releases it in the
statement that records the poll (``release_values``); a worker that dies simply stops
renewing, and after ``worker.lease_timeout`` any other worker takes the feed over.
There is no leader: every worker runs the same schedule and the database decides.

The statements are built once, with bound parameters: a poll that finds nothing new is
little more than these statements, so building and cache-keying an SQLAlchemy expression
per call would be a good part of its cost.

    >>> from datetime import datetime, timedelta, UTC
    >>> from worker.store.db import Database
    >>> from worker.store.models import Feed
    >>> db = Database("sqlite://"); db.upgrade()
    >>> now = datetime(2026, 11, 24, tzinfo=UTC)
    >>> with db.session() as s, s.begin():
    ...     s.add(Feed(id=1, name="f", url="file:///f", enabled=True, created_at=now, etag='"v1"'))
    >>> with db.engine.begin() as conn:
    ...     claim(conn, 1, "a", now=now, timeout=timedelta(seconds=60))
    PollState(etag='"v1"', last_modified=None, consecutive_failures=0)
    >>> with db.engine.begin() as conn:  # held by a
    ...     claim(conn, 1, "b", now=now, timeout=timedelta(seconds=60)) is None
    True
    >>> with db.engine.begin() as conn:  # a died: its lease ran out
    ...     claim(conn, 1, "b", now=now + timedelta(seconds=61), timeout=timedelta(seconds=60))
    PollState(etag='"v1"', last_modified=None, consecutive_failures=0)
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Update, and_, bindparam, case, null, or_, select, update

from worker.store.models import Feed


def worker_identity() -> str:
    """``host:pid:random``: unique per process, readable in ``feeds``' lease column."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class PollState:
    """What a poll reads from its feed row: the validators for a conditional GET and the
    failures so far (for the backoff)."""

    etag: str | None
    last_modified: str | None
    consecutive_failures: int


def _set_lease(condition: Any, *, due: bool) -> Update:
    if due:
        condition = and_(
            condition,
            or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= bindparam("due_by")),
        )
    return (
        update(Feed)
        .where(condition)
        .values(lease_owner=bindparam("new_owner"), lease_expires_at=bindparam("until"))
        .returning(Feed.etag, Feed.last_modified, Feed.consecutive_failures)
    )


_IS_FEED = Feed.id == bindparam("feed_id")
_FREE = or_(
    Feed.lease_owner.is_(None),
    Feed.lease_owner == bindparam("new_owner"),
    Feed.lease_expires_at.is_(None),
    Feed.lease_expires_at < bindparam("now"),
)
_HELD_BY = Feed.lease_owner == bindparam("holder")
# (statement, statement for a scheduled poll, which also needs the feed to be due)
_CLAIM = (_set_lease(and_(_IS_FEED, _FREE), due=False), _set_lease(and_(_IS_FEED, _FREE), due=True))
_TAKE_OVER = (
    _set_lease(and_(_IS_FEED, _HELD_BY), due=False),
    _set_lease(and_(_IS_FEED, _HELD_BY), due=True),
)
_RENEW = _set_lease(and_(_IS_FEED, _HELD_BY), due=False)
_HOLDER = select(Feed.lease_owner).where(_IS_FEED)


def _lease(conn: Connection, statement: Update, params: dict[str, Any]) -> PollState | None:
    row = conn.execute(statement, params).first()
    if row is None:
        return None
    return PollState(row.etag, row.last_modified, row.consecutive_failures or 0)


def claim(
    conn: Connection,
    feed_id: int,
    owner: str,
    *,
    now: datetime,
    timeout: timedelta,
    due_by: datetime | None = None,
) -> PollState | None:
    """Take (or renew) the feed's lease until ``now + timeout``; with ``due_by``, only if
    the feed is due by then (so a feed another worker has just polled is not polled again).
    The feed's poll state if claimed, else ``None``."""
    params = {"feed_id": feed_id, "new_owner": owner, "now": now, "until": now + timeout}
    if due_by is not None:
        params["due_by"] = due_by
    return _lease(conn, _CLAIM[due_by is not None], params)


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
    conn: Connection,
    feed_id: int,
    owner: str,
    dead: str,
    *,
    now: datetime,
    timeout: timedelta,
    due_by: datetime | None = None,
) -> PollState | None:
    """Take the lease of a dead holder (only if it still holds it, and with ``due_by``
    only if the feed is due)."""
    params = {"feed_id": feed_id, "new_owner": owner, "holder": dead, "until": now + timeout}
    if due_by is not None:
        params["due_by"] = due_by
    return _lease(conn, _TAKE_OVER[due_by is not None], params)


def renew(conn: Connection, feed_id: int, owner: str, *, now: datetime, timeout: timedelta) -> bool:
    """Extend our lease; ``False`` if it is no longer ours (it expired and was taken)."""
    params = {"feed_id": feed_id, "new_owner": owner, "holder": owner, "until": now + timeout}
    return _lease(conn, _RENEW, params) is not None


def holder(conn: Connection, feed_id: int) -> str | None:
    """Who holds the feed's lease now (``None``: nobody, or no such feed)."""
    return conn.execute(_HOLDER, {"feed_id": feed_id}).scalar()


def release_values() -> dict[str, Any]:
    """``SET`` values that give the lease up if the ``owner`` parameter still holds it, for
    the statement that records the poll: record and release are one write."""
    ours = Feed.lease_owner == bindparam("owner")
    return {
        "lease_owner": case((ours, null()), else_=Feed.lease_owner),
        "lease_expires_at": case((ours, null()), else_=Feed.lease_expires_at),
    }
