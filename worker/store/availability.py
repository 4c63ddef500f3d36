"""Riding out database outages: wait for the database at start, retry transient errors
mid-run. A worker that runs for months sees its database restart; it must neither crash
nor lose the entry in hand.

    >>> calls = []
    >>> def flaky() -> str:
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    ...     return "stored"
    >>> retry_transient(flaky, what="test", first_delay=0.001)
    'stored'
    >>> len(calls)
    3
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from worker.errors import StoreError

log = logging.getLogger("newsdedup.store")
T = TypeVar("T")

# Errors after which the same statement may well succeed: lost connections, a server
# restarting, SQLite's "database is locked".
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def safe_url(url: str) -> str:
    """The database URL without its password, for messages.

    >>> safe_url("postgresql://news:secret@db/news")
    'postgresql://news:***@db/news'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def retry_transient(
    operation: Callable[[], T],
    *,
    what: str,
    attempts: int = 5,
    first_delay: float = 0.5,
    max_delay: float = 8.0,
    stop: threading.Event | None = None,
) -> T:
    """Run ``operation``; on a transient database error wait (doubling) and run it again.

    After ``attempts`` tries, or when ``stop`` is set, the last error is raised as
    ``StoreError``; each try is its own transaction, so nothing half-done is left.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except TRANSIENT_ERRORS as exc:
            if attempt == attempts or (stop is not None and stop.is_set()):
                raise StoreError(f"database unavailable ({what}): {_reason(exc)}") from exc
            log.warning(
                "database unavailable (%s), try %d of %d, again in %.1fs: %s",
                what,
                attempt,
                attempts,
                delay,
                _reason(exc),
            )
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")


def wait_for_database(
    connect: Callable[[], T],
    *,
    url: str,
    give_up_after: float | None,
    stop: threading.Event | None = None,
    max_delay: float = 60.0,
) -> T:
    """Call ``connect`` until it succeeds, logging one clear line per failed try.

    ``give_up_after`` seconds (``None``: never) then ``StoreError``; ``stop`` ends it early.
    A database that can never be written (a read-only file or file system) is not waited
    for: ``StoreError`` at once, one line that says so.
    """
    started = time.monotonic()
    delay = 1.0
    while True:
        try:
            return connect()
        except (StoreError, OperationalError, InterfaceError) as exc:
            if read_only(exc):
                raise StoreError(
                    f"database {safe_url(url)} is read-only ({_reason(exc)}): the worker "
                    "writes it, and on SQLite the -wal and -shm files beside it"
                ) from None
            waited = time.monotonic() - started
            if stop is not None and stop.is_set():
                raise StoreError(f"database {safe_url(url)} unavailable: {exc}") from exc
            if give_up_after is not None and waited + delay > give_up_after:
                raise StoreError(
                    f"database {safe_url(url)} still unavailable after {waited:.0f}s: "
                    f"{_reason(exc)}"
                ) from exc
            log.error(
                "database %s unavailable, retrying in %.0fs: %s", safe_url(url), delay, _reason(exc)
            )
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
            delay = min(delay * 2, max_delay)


def read_only(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be written at all (SQLite: a read-only
    file or file system; PostgreSQL: a read-only transaction or standby)."""
    while exc is not None:
        text = str(getattr(exc, "orig", None) or exc).lower()
        if "readonly database" in text or "read-only transaction" in text:
            return True
        exc = exc.__cause__  # type: ignore[assignment]
    return False


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())[:300]
