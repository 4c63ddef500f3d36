"""Errors raised by newsdedup, as one hierarchy (like httpx's).

``NewsdedupError`` is the root; the CLI maps ``ConfigError`` to exit status 2 and every
other ``NewsdedupError`` to exit status 1 with a one-line message.
"""

from __future__ import annotations


class NewsdedupError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(NewsdedupError):
    """The configuration file is missing, unreadable or invalid.

    ``str(error)`` is one line per problem, each naming the file and the key.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class FeedError(NewsdedupError):
    """A poll of one feed failed. ``kind`` is a short stable label used in logs and metrics."""

    kind = "feed"

    def __init__(self, message: str, *, feed: str | None = None) -> None:
        super().__init__(message)
        self.feed = feed


class FetchError(FeedError):
    """The feed or page could not be retrieved (network, HTTP status, limits)."""

    kind = "fetch"


class TimeoutError_(FetchError):
    kind = "timeout"


class TooLargeError(FetchError):
    kind = "too_large"


class HTTPStatusError(FetchError):
    kind = "http_status"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        feed: str | None = None,
    ) -> None:
        super().__init__(message, feed=feed)
        self.status = status
        self.retry_after = retry_after


class BlockedAddressError(FetchError):
    """An untrusted URL resolved to a loopback, private, link-local or metadata address."""

    kind = "blocked_address"


class ParseError(FeedError):
    """The bytes are not a feed we can read (not XML/RSS/Atom, or no entries and a fatal error)."""

    kind = "parse"


class StoreError(NewsdedupError):
    """The database refused or failed an operation."""
