"""Bounds on the work one entry (or one poll) may cause, and the per-entry budget that
enforces the rest. ``docs/limits.md`` states each bound and why it is where it is.

Inputs are bounded before the libraries that are slow on hostile shapes see them (the
entry's size, its markup depth and attribute count, checked on the raw bytes before
feedparser, nh3 and lxml); what is left is linear in a bounded input, and the budget
checked between the stages of an entry catches what slips through: an entry over it is
skipped and counted, and a stop (SIGTERM) or a lost lease ends the entry at the next
check instead of after it.

    >>> from datetime import datetime, UTC
    >>> fetched = datetime(2026, 1, 2, tzinfo=UTC)
    >>> plausible_published(datetime(1, 1, 1, tzinfo=UTC), fetched) is None
    True
    >>> plausible_published(datetime(2025, 12, 31, tzinfo=UTC), fetched).year
    2025
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, AnyStr

# -- one entry, on the raw bytes of its feed (worker/reader/prescan.py) --------------------
# Markup of one <item>/<entry>; a larger one is skipped whole (not truncated: cut XML is
# not XML). Real full-text entries run to tens of KiB, the largest page of the evaluation
# sets is 1.8 MB of HTML with its scripts.
MAX_ENTRY_BYTES = 1024 * 1024
# Nesting of the markup inside an entry (real tags and escaped ones, ``&lt;div&gt;``):
# nh3 is quadratic in it (100,000 nested <div> took 112 s). Article markup nests a few
# dozen levels; libxml2 itself stops at 256.
MAX_MARKUP_DEPTH = 256
# Attributes on one element: feedparser is quadratic in them (50,000 took 49 s).
MAX_ATTRIBUTES = 128
# Markup items of one entry (each "<" and each "&": tags, escaped tags, entity and
# character references): feedparser handles each as an event of its own, 13 to 30 us
# apiece (70,000 line breaks took 1 s, 100,000 "&amp;" 3.6 s).
MAX_MARKUP_ITEMS = 12_000
# Entries read from one feed document; those after it are dropped (a 200,000-entry feed
# took 134 s to poll and 26 s of CPU to poll again unchanged).
MAX_FEED_ENTRIES = 10_000

# -- one entry, later --------------------------------------------------------------------
# An article page fetched for its full text (a larger one is refused and the feed's own
# text is used).
MAX_PAGE_BYTES = 4 * 1024 * 1024
# Elements of an entry's body or an article page handed to extraction; the markup is cut
# before the next one. trafilatura is worse than linear in them (30,000 paragraphs took
# 7 s); the most in any page of the evaluation sets is 4,975.
MAX_ELEMENTS = 5000
# Extracted text kept for the chrome rules, the fingerprint and the database (cut at a
# line end): the longest text extracted from the evaluation pages is 43,000 characters.
# The chrome rules cost about 25 us a line, so lines are bounded too.
MAX_TEXT_CHARS = 500_000
MAX_TEXT_LINES = 5000
# CPU seconds one entry may use from its parse to its fingerprint (this thread's CPU, so
# other threads' load does not count against it).
ENTRY_CPU_SECONDS = 2.0
# A stop (SIGTERM) ends an entry that has run this long at its next check; a shorter one
# (an ordinary entry takes milliseconds) is finished and written, as a stop always did.
STOP_GRACE_SECONDS = 1.0

# -- one poll ----------------------------------------------------------------------------
# New or changed entries cleaned and stored per poll; the rest wait for the next poll,
# which comes after at most BACKLOG_REPOLL_SECONDS instead of the feed's interval.
MAX_ENTRIES_PER_POLL = 500
BACKLOG_REPOLL_SECONDS = 60.0

# -- dates -------------------------------------------------------------------------------
# A published time before this, or more than PUBLISHED_AHEAD after the entry was fetched,
# is a mistake or a lie (0001-01-01 made an entry every story's earliest): ignored.
EARLIEST_PUBLISHED = datetime(1990, 1, 1, tzinfo=UTC)
PUBLISHED_AHEAD = timedelta(days=1)

# -- config ------------------------------------------------------------------------------
# Any duration in the config (99999999999d overflowed the scheduler's arithmetic).
MAX_DURATION_SECONDS = 10 * 366 * 86400.0


def plausible_published(published: datetime | None, reference: datetime) -> datetime | None:
    """``published`` when it lies between 1990 and a day after ``reference`` (when the
    entry was fetched), else ``None``: the entry's date is not believed."""
    if published is None:
        return None
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    if published < EARLIEST_PUBLISHED or published > reference + PUBLISHED_AHEAD:
        return None
    return published


class BudgetExceeded(Exception):
    """An entry used up its budget, or its poll must end (stop, lease lost).

    ``reason`` is a stable label (``budget``, ``stopped``, ``lease``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Budget:
    """What one entry may still spend: CPU of this thread, and a wall-clock deadline (the
    poll's lease), both checked by ``check`` at the entry's stage boundaries."""

    cpu_seconds: float = ENTRY_CPU_SECONDS
    deadline: float | None = None  # time.monotonic() by which the entry must be done
    stop: threading.Event | None = None

    def __post_init__(self) -> None:
        self._cpu_start = time.thread_time()
        self._started = time.monotonic()

    def used(self) -> float:
        return time.thread_time() - self._cpu_start

    def check(self, where: str) -> None:
        if (
            self.stop is not None
            and self.stop.is_set()
            and time.monotonic() - self._started > STOP_GRACE_SECONDS
        ):
            raise BudgetExceeded("stopped", f"stopped before {where}")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded("lease", f"the poll's lease ran out before {where}")
        used = self.used()
        if used > self.cpu_seconds:
            raise BudgetExceeded(
                "budget", f"{used:.2f}s of CPU before {where} (limit {self.cpu_seconds:g}s)"
            )


_local = threading.local()


@contextmanager
def entry_budget(budget: Budget) -> Iterator[Budget]:
    """Make ``budget`` the one ``checkpoint`` checks in this thread, for the block."""
    previous = getattr(_local, "budget", None)
    _local.budget = budget
    try:
        yield budget
    finally:
        _local.budget = previous


def checkpoint(where: str) -> None:
    """Check this thread's entry budget, if there is one (a no-op outside a poll)."""
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is not None:
        budget.check(where)


def cut_text(text: str, limit: int = MAX_TEXT_CHARS, lines: int = MAX_TEXT_LINES) -> str:
    """``text`` up to ``limit`` characters and ``lines`` lines, cut at the last line end
    before the limit (at the limit itself when a line is longer than half of it).

    >>> cut_text("one\\ntwo\\nthree", 9), cut_text("one\\ntwo\\nthree", lines=2)
    ('one\\ntwo', 'one\\ntwo')
    """
    if text.count("\n") >= lines:
        text = "\n".join(text.split("\n", lines)[:lines])
    if len(text) <= limit:
        return text
    end = text.rfind("\n", 0, limit + 1)
    return text[: end if end > limit // 2 else limit]


_START_TAG = re.compile("<[A-Za-z]")
_START_TAG_BYTES = re.compile(b"<[A-Za-z]")


def cut_markup(html: AnyStr, limit: int = MAX_ELEMENTS) -> AnyStr:
    """``html`` up to its ``limit``-th element, cut before the next start tag (an HTML
    parser closes what is left open).

    >>> cut_markup("<p>a</p><p>b</p><p>c</p>", 2)
    '<p>a</p><p>b</p>'
    """
    is_bytes = isinstance(html, bytes)
    if html.count(b"<" if is_bytes else "<") <= limit:  # type: ignore[arg-type]
        return html
    pattern: Any = _START_TAG_BYTES if is_bytes else _START_TAG
    for count, match in enumerate(pattern.finditer(html)):
        if count == limit:
            return html[: match.start()]
    return html
