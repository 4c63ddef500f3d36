"""Query parameters as the API and the page read them: bounded, and every bad value a 400
naming the parameter (never a database error later).

    >>> decode_story_cursor(encode_story_cursor((datetime(2026, 1, 2, tzinfo=UTC), 7)))
    (datetime.datetime(2026, 1, 2, 0, 0, tzinfo=datetime.timezone.utc), 7)
    >>> decode_id_cursor("not a cursor")
    Traceback (most recent call last):
    ...
    fastapi.exceptions.HTTPException: 400: cursor: not a cursor this server gave out
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated

from fastapi import HTTPException, Path, Query

from worker.clock import WHEN_HELP, parse_when
from worker.store.search import query_words

DEFAULT_LIMIT = 20
MAX_LIMIT = 200  # a larger limit is served as this: a page stays a page
MAX_ID = 2**63 - 1  # what the databases' integers hold
MAX_TEXT = 500  # characters of q, feed, cursor

Limit = Annotated[
    int, Query(ge=1, description=f"items per page (at most {MAX_LIMIT}; more is served as that)")
]
Since = Annotated[str | None, Query(max_length=100, description=f"from this time on: {WHEN_HELP}")]
Until = Annotated[str | None, Query(max_length=100, description=f"before this time: {WHEN_HELP}")]
Cursor = Annotated[
    str | None,
    Query(max_length=MAX_TEXT, description="next_cursor of the previous page"),
]
FeedName = Annotated[
    str | None, Query(max_length=200, description="only what this feed (by name) carried")
]
Words = Annotated[
    str | None, Query(max_length=MAX_TEXT, description="words that must all occur (full text)")
]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
After = Annotated[int, Query(ge=0, le=MAX_ID, description="the last seq read (0: from the start)")]


def bad(parameter: str, message: str) -> HTTPException:
    return HTTPException(400, f"{parameter}: {message}")


def limit(value: int) -> int:
    return min(value, MAX_LIMIT)


def when(parameter: str, value: str | None) -> datetime | None:
    """A time filter as every command reads it (``worker.clock.parse_when``), in UTC."""
    if value is None or not value.strip():
        return None
    try:
        return parse_when(value)
    except ValueError:
        raise bad(parameter, f"expected {WHEN_HELP}") from None


def text(parameter: str, value: str | None) -> str | None:
    """A string parameter, refused when it holds what no stored name does (NUL)."""
    if value is None or value == "":
        return None
    if "\x00" in value:
        raise bad(parameter, "contains a NUL character")
    return value


def words(value: str | None) -> list[str] | None:
    """The words of ``q`` (``None``: no ``q``); a ``q`` without a word is a 400."""
    value = text("q", value)
    if value is None:
        return None
    found = query_words(value)
    if not found:
        raise bad("q", "no word to search for")
    return found


def _encode(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad("cursor", "not a cursor this server gave out") from None


def encode_story_cursor(key: tuple[datetime, int] | None) -> str | None:
    if key is None:
        return None
    return _encode(f"s|{key[0].astimezone(UTC).isoformat()}|{key[1]}")


def decode_story_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    kind, _, rest = _decode(cursor).partition("|")
    seen, _, number = rest.rpartition("|")
    try:
        if kind != "s":
            raise ValueError(kind)
        key = (datetime.fromisoformat(seen).astimezone(UTC), int(number))
    except (ValueError, OverflowError):
        raise bad("cursor", "not a cursor this server gave out") from None
    if not 0 < key[1] <= MAX_ID:
        raise bad("cursor", "not a cursor this server gave out")
    return key


def encode_id_cursor(article_id: int | None) -> str | None:
    return _encode(f"a|{article_id}") if article_id is not None else None


def decode_id_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    kind, _, number = _decode(cursor).partition("|")
    if kind != "a" or not (number.isascii() and number.isdigit()) or not 0 < int(number) <= MAX_ID:
        raise bad("cursor", "not a cursor this server gave out")
    return int(number)
