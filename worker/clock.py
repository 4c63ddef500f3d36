"""Time as the worker stores it: aware UTC datetimes everywhere.

>>> utcnow().tzinfo is UTC
True
>>> as_utc(datetime(2026, 1, 2, 3, 4))
datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)

Times a person gives (``--since``, the API's ``since`` and ``until``) are read by one
parser, ``parse_when``, everywhere:

>>> now = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
>>> parse_when("24h", now=now).isoformat()
'2026-03-03T15:30:00+00:00'
>>> parse_when("yesterday", now=now).isoformat()
'2026-03-03T00:00:00+00:00'
>>> parse_when("2026-03-01", now=now).isoformat()
'2026-03-01T00:00:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Added to the real time: simulations (the 30-day retention test) move it forward instead of
# waiting. Zero in production; nothing but ``advance`` changes it.
_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> None:
    """Move ``utcnow`` forward by ``delta`` (for simulations; ``reset`` undoes it)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


WHEN_HELP = "a duration ago (24h, 7d), today, yesterday, or an ISO 8601 date or time (UTC)"


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """A point in time, in UTC, from ``24h`` (that long ago), ``today`` / ``yesterday``
    (midnight UTC) or an ISO 8601 date or time (UTC when it names no zone); ``ValueError``
    if none.

    >>> parse_when("2026-03-01T10:00+01:00").isoformat()
    '2026-03-01T09:00:00+00:00'
    """
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
        # In UTC, as stored: SQLite compares the text, so 10:00+01:00 must be 09:00.
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{value!r}: expected {WHEN_HELP}") from None
