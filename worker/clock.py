"""Time as the worker stores it: aware UTC datetimes everywhere.

>>> utcnow().tzinfo is UTC
True
>>> as_utc(datetime(2026, 1, 2, 3, 4))
datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
