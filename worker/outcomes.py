"""What one poll of one feed came to, as the poll path reports it and the store, the
metrics and the scheduler read it.

    >>> outcome = PollOutcome("ok")
    >>> outcome.count(["new", "near", "url"]); outcome.articles_new, outcome.duplicates_exact
    (1, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass
class PollOutcome:
    # ok | not_modified | error | interrupted (a stop cut the poll short: neither a
    # success nor a failure) | skipped | leased (not polled at all)
    outcome: str
    http_status: int | None = None
    entries_seen: int = 0
    articles_new: int = 0
    articles_updated: int = 0
    duplicates_exact: int = 0
    duplicates_near: int = 0
    entry_errors: int = 0
    error_kind: str | None = None
    error: str | None = None
    # When the feed is due again, as recorded (``None`` if the record failed): the
    # scheduler plans the next poll from it without reading the row back.
    next_poll_at: datetime | None = None
    # This failure was the `worker.park_after`-th in a row: the feed is parked.
    parked: bool = False

    def count(self, kinds: Iterable[str]) -> None:
        """Add stored entries, given how each was matched (``StoreResult.kind``)."""
        for kind in kinds:
            if kind == "new":
                self.articles_new += 1
            elif kind in ("url", "content"):
                self.duplicates_exact += 1
            elif kind == "near":
                self.duplicates_near += 1
            elif kind == "updated":
                self.articles_updated += 1
