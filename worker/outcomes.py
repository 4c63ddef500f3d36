"""What one poll of one feed came to, as the poll path reports it and the store, the
metrics and the scheduler read it.

    >>> outcome = PollOutcome("ok")
    >>> outcome.count(["new", "near", "url"]); outcome.articles_new, outcome.duplicates_exact
    (1, 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

# Lines kept about skipped entries per poll (the counts are always complete).
_MAX_NOTES = 20


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
    # Entries skipped by reason (``docs/limits.md``), with a line naming each; and new or
    # changed entries left for the next poll (``MAX_ENTRIES_PER_POLL``).
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_notes: list[str] = field(default_factory=list)
    entries_deferred: int = 0

    def reject(self, reason: str, note: str) -> None:
        self.rejected[reason] += 1
        if len(self.rejected_notes) < _MAX_NOTES:
            self.rejected_notes.append(note)

    def rejections(self) -> str | None:
        """``"markup_depth=1, unparseable=2; <the first notes>"``, or ``None``."""
        if not self.rejected:
            return None
        counts = ", ".join(f"{reason}={n}" for reason, n in sorted(self.rejected.items()))
        return "; ".join([counts, *self.rejected_notes[:3]])[:2000]

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
