"""Argument types shared by the commands: one parser for times (``--since``) and counts,
each failing as a usage error (exit 2, one line) rather than a traceback.

    >>> from datetime import datetime, UTC
    >>> now = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    >>> parse_when("24h", now=now).isoformat()
    '2026-03-03T15:30:00+00:00'
    >>> parse_when("yesterday", now=now).isoformat()
    '2026-03-03T00:00:00+00:00'
    >>> parse_when("2026-03-01", now=now).isoformat()
    '2026-03-01T00:00:00+00:00'
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

WHEN_HELP = "a duration ago (24h, 7d), today, yesterday, or an ISO 8601 date or time (UTC)"


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """A point in time from ``24h`` (that long ago), ``today`` / ``yesterday`` (midnight
    UTC) or an ISO 8601 date or time (UTC when it names no zone); ``ValueError`` if none."""
    from worker.clock import utcnow
    from worker.config import parse_duration  # pydantic: only when a time is given

    now = now or utcnow()
    word = value.strip().lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "today":
        return midnight
    if word == "yesterday":
        return midnight - timedelta(days=1)
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r}: expected {WHEN_HELP}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def when(value: str) -> datetime:
    """``parse_when`` as an argparse ``type``: a bad value is a usage error."""
    try:
        return parse_when(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at_least(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{value!r}: must be {minimum} or more")
    return number


def positive_int(value: str) -> int:
    return _at_least(value, 1)


def seq_number(value: str) -> int:
    """A change feed number (``--after``): a whole number, 0 or more."""
    return _at_least(value, 0)
