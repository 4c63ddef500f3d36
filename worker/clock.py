"""Time as the worker stores it: aware UTC datetimes everywhere.

>>> utcnow().tzinfo is UTC
True
>>> as_utc(datetime(2026, 1, 2, 3, 4))
datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
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
