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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType

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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json_safe(json.dumps(payload, ensure_ascii=False))


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
