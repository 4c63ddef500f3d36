"""Logging to stderr as text or JSON lines; quiet at steady state (polls with nothing new
log at DEBUG). Code that works on one feed or article wraps it in ``log_context``, and every
line logged inside carries ``feed=`` / ``article=`` (text) or ``"feed"`` / ``"article"`` (JSON).

    >>> with log_context(feed="wire"):
    ...     dict(_context.get())
    {'feed': 'wire'}
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType

from worker.safetext import json_safe, terminal_text

CONTEXT_KEYS = ("feed", "article", "story")
# Immutable default: each log_context() sets a new dict, never mutates the current one.
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "newsdedup_log_context", default=MappingProxyType({})
)


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Attach ``feed``/``article``/``story`` to every log line of this thread inside."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in values.items()}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message feed=... article=...`` (keys the message lacks)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        message = record.getMessage()
        extra = [
            f"{key}={getattr(record, key)}"
            for key in CONTEXT_KEYS
            if hasattr(record, key) and f"{key}=" not in message
        ]
        if extra:
            head, sep, tail = line.partition("\n")  # after the message, before a traceback
            line = f"{head} {' '.join(extra)}{sep}{tail}"
        # Messages quote feeds (titles, GUIDs, server errors): no escape sequence of theirs
        # reaches a terminal reading the log.
        return terminal_text(line)


# What every LogRecord carries; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ``log_context`` keys,
    every ``extra=`` field (a poll's ``outcome``, counts, ``error_kind``, ``duration_s``),
    and ``exception`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json_safe(json.dumps(payload, ensure_ascii=False, default=str))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("newsdedup").critical(
        "uncaught exception in thread %s", name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )  # fmt: skip


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    logging.getLogger("newsdedup").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Log to stderr as ``fmt``. Uncaught exceptions (of any thread, APScheduler's
    included) and warnings go through the same handler: on a JSON stream every line is
    JSON, a traceback is its ``exception`` field."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    logging.captureWarnings(True)
    for noisy in ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
