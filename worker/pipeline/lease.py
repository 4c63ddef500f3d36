"""This worker's leases on the feeds it polls: a feed is polled by one worker at a time.

A poll takes its feed's lease in the database before it fetches (``claim``), renews it
while its entries take time (``renew``; after each batch, and before an entry once a third
of it has gone) and lets it go with the poll's record. Each entry's budget ends with the
lease (``entry_deadline``): an entry still running when another worker may take the feed
must not write what that worker is writing too.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from worker.clock import utcnow
from worker.limits import BudgetExceeded
from worker.store import leases
from worker.store.db import Database

log = logging.getLogger("newsdedup.ingest")


class FeedLeases:
    """The leases held by this worker process, shared by its poll threads (a feed is
    polled by one thread at a time, so each feed's entry is only touched by its poll)."""

    def __init__(self, db: Database, timeout: timedelta) -> None:
        self.db = db
        self.timeout = timeout
        self.owner = leases.worker_identity()
        # Per feed: (monotonic time of the last renewal, monotonic time it is valid until).
        self._held: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def claim(self, feed_id: int, name: str, *, scheduled: bool) -> leases.PollState | None:
        """The feed's lease and poll state in one statement (``None``: not ours to poll:
        another live worker holds it, or a ``scheduled`` poll finds the feed not due)."""
        now = utcnow()
        # A scheduled job fires at the planned time or just after; the slack only covers
        # clock differences between hosts, and must stay well under any interval.
        due_by = now + timedelta(seconds=0.5) if scheduled else None
        with self.db.engine.begin() as conn:
            state = leases.claim(
                conn, feed_id, self.owner, now=now, timeout=self.timeout, due_by=due_by
            )
            if state is not None:
                self._taken(feed_id)
                return state
            holder = leases.holder(conn, feed_id)
            if not leases.dead_local_owner(holder):
                return None
            assert holder is not None
            log.info("feed=%s taking over the lease of %s (not running)", name, holder)
            state = leases.take_over(
                conn, feed_id, self.owner, holder, now=now, timeout=self.timeout, due_by=due_by
            )
            if state is not None:
                self._taken(feed_id)
            return state

    def renew(self, feed_id: int) -> bool:
        """Renew the lease; ``False`` when another worker has taken the feed."""
        try:
            with self.db.engine.begin() as conn:
                if not leases.renew(conn, feed_id, self.owner, now=utcnow(), timeout=self.timeout):
                    log.warning("feed=%s lease lost to another worker", feed_id)
                    # The next entry's budget is spent before it starts: the poll ends.
                    with self._lock:
                        self._held[feed_id] = (time.monotonic(), 0.0)
                    return False
        except SQLAlchemyError as exc:
            log.warning("feed=%s lease not renewed: %s", feed_id, exc)
            return True  # still ours until it expires; the entry budget ends with it
        self._taken(feed_id)
        return True

    def entry_deadline(self, feed_id: int) -> float | None:
        """When the next entry of the feed's poll must be done (``time.monotonic()``), the
        lease renewed first when a third of it has gone (a slow entry must not let another
        worker take the feed midway); ``None`` when no lease is held (an import)."""
        with self._lock:
            held = self._held.get(feed_id)
        if held is not None and time.monotonic() - held[0] > self.timeout.total_seconds() / 3:
            if not self.renew(feed_id):
                raise BudgetExceeded("lease", "the feed's lease was taken by another worker")
            with self._lock:
                held = self._held[feed_id]
        return held[1] if held is not None else None

    def forget(self, feed_id: int) -> None:
        """The poll is over (its record lets the lease go in the database)."""
        with self._lock:
            self._held.pop(feed_id, None)

    def _taken(self, feed_id: int) -> None:
        now = time.monotonic()
        # A little before the database's expiry: another worker may take the feed then.
        with self._lock:
            self._held[feed_id] = (now, now + self.timeout.total_seconds() * 0.9)
