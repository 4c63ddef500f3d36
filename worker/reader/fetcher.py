"""Fetch feeds and article pages with httpx, bounded in time, size and redirects.

    >>> from worker.reader.fetcher import Fetcher, FetchLimits
    >>> fetcher = Fetcher(FetchLimits(timeout=10))
    >>> result = fetcher.fetch("file:///etc/hostname")  # doctest: +SKIP
    >>> result.status, len(result.content) > 0  # doctest: +SKIP
    (200, True)

Every failure raises a ``worker.errors.FetchError`` subclass; nothing else escapes.
"""

from __future__ import annotations

import email.utils
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from worker.config import DEFAULT_USER_AGENT
from worker.errors import (
    BlockedAddressError,
    FetchError,
    HTTPStatusError,
    TimeoutError_,
    TooLargeError,
)
from worker.reader.netguard import GuardedTransport, HostSlots, deadline, public_addresses

_REDIRECT_CODES = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 30.0  # total seconds for one fetch, redirects and body included
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024  # decompressed body
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    per_host: int = 2  # requests at once to one host


@dataclass
class FetchResult:
    url: str  # final URL after redirects
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def url_host(url: str) -> str:
    """The host a URL names, as the guard compares it (``""`` when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def check_public_host(url: str) -> None:
    """Raise ``BlockedAddressError`` unless every address ``url``'s host resolves to is public.

    A fast refusal before any request; the guarded transport checks again at connect time,
    on the address it actually connects to (so DNS rebinding between the two is harmless).
    """
    host = url_host(url)
    if not host:
        raise BlockedAddressError(f"{url}: no host")
    try:
        public_addresses(host)
    except FetchError as exc:
        raise type(exc)(f"{url}: {exc}") from exc


class BoundedBody:
    """Collects a response body, decompressing gzip/deflate in steps that never produce
    more than the cap (``TooLargeError`` as soon as it is passed).

    >>> import gzip
    >>> body = BoundedBody("u", 10, "gzip")
    >>> body.feed(gzip.compress(b"0123456789"))
    >>> body.finish()
    b'0123456789'
    >>> BoundedBody("u", 10, "gzip").feed(gzip.compress(b"0" * 11))
    Traceback (most recent call last):
    ...
    worker.errors.TooLargeError: u: body exceeds 10 bytes (decompressed)
    """

    def __init__(self, url: str, max_bytes: int, encoding: str | None) -> None:
        self.url, self.max_bytes = url, max_bytes
        self.encoding = (encoding or "identity").strip().lower()
        if self.encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise FetchError(f"{url}: unsupported Content-Encoding {encoding!r}")
        self._chunks: list[bytes] = []
        self._size = 0
        self._inflater: Any = self._new_inflater() if self.encoding != "identity" else None

    def _new_inflater(self, raw_deflate: bool = False) -> Any:
        # 32 + MAX_WBITS: gzip or zlib header, detected; deflate is sometimes sent raw.
        return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else 32 + zlib.MAX_WBITS)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.max_bytes:
            raise TooLargeError(f"{self.url}: body exceeds {self.max_bytes} bytes (decompressed)")
        self._chunks.append(data)

    def feed(self, data: bytes) -> None:
        if self._inflater is None:
            self._keep(data)
            return
        while data:
            room = self.max_bytes - self._size + 1
            try:
                out = self._inflater.decompress(data, room)
            except zlib.error as exc:
                if self.encoding == "deflate" and self._size == 0 and not self._chunks:
                    self._inflater = self._new_inflater(raw_deflate=True)
                    out = self._inflater.decompress(data, room)
                else:
                    raise FetchError(f"{self.url}: cannot decompress body: {exc}") from exc
            self._keep(out)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof and self._inflater.unused_data:  # another gzip member
                data = self._inflater.unused_data + data
                self._inflater = self._new_inflater()

    def finish(self) -> bytes:
        return b"".join(self._chunks)


class Fetcher:
    """One shared httpx client; thread-safe, so scheduler jobs share it."""

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits or FetchLimits()
        timeout = httpx.Timeout(
            self.limits.timeout, connect=min(self.limits.connect_timeout, self.limits.timeout)
        )
        pool = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        common: dict[str, Any] = {
            "timeout": timeout,
            "follow_redirects": False,  # followed by hand: each hop is checked and counted
            "headers": {"User-Agent": self.limits.user_agent, "Accept-Encoding": "gzip, deflate"},
        }
        # Two clients, so a kept-alive connection to an operator's intranet feed host is
        # never reused for a link an untrusted feed supplied.
        self._client = httpx.Client(
            transport=GuardedTransport(public_only=False, limits=pool), **common
        )
        # No proxy from the environment for untrusted links: a proxy would connect for us,
        # past the address check.
        self._untrusted_client = httpx.Client(
            transport=GuardedTransport(public_only=True, limits=pool), trust_env=False, **common
        )
        self._hosts = HostSlots(self.limits.per_host)
        # Every holder gives its slot back within one total timeout; a queue this long
        # means the host is hopeless this round.
        self._slot_wait = self.limits.timeout * 10

    def close(self) -> None:
        self._client.close()
        self._untrusted_client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        user_agent: str | None = None,
        trusted: bool = True,
        trust_redirects: bool = False,
        base_dir: Path | None = None,
        max_bytes: int | None = None,
        accept: str = "application/rss+xml, application/atom+xml, application/rdf+xml, "
        "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    ) -> FetchResult:
        """GET ``url``; ``trusted=False`` refuses non-public addresses at every hop.

        ``trusted`` covers ``url``'s own host only: a redirect to another host is the
        server's choice, not the operator's, and is checked like an untrusted link unless
        ``trust_redirects`` (a feed with ``allow_private_addresses``). ``max_bytes``: a
        lower cap than the configured one for this fetch (article pages)."""
        limit = min(max_bytes or self.limits.max_bytes, self.limits.max_bytes)
        if url.lower().startswith("file:"):
            if not trusted:
                raise BlockedAddressError(f"{url}: file: URLs are only allowed in the config")
            return self._fetch_file(url, base_dir, limit)
        headers: dict[str, str] = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if user_agent:
            headers["User-Agent"] = user_agent
        deadline_at = time.monotonic() + self.limits.timeout
        started = time.monotonic()
        current = url
        origin = url_host(url)
        for _hop in range(self.limits.max_redirects + 1):
            if not current.lower().startswith(("http://", "https://")):
                raise FetchError(f"{current}: redirect to an unsupported scheme")
            hop_trusted = trusted and (trust_redirects or url_host(current) == origin)
            if not hop_trusted:
                check_public_host(current)
            queued = time.monotonic()
            # Waiting for a slot is not the server's time: the total timeout starts after it.
            with self._hosts.hold(url_host(current), timeout=self._slot_wait):
                deadline_at += time.monotonic() - queued
                status, body, response_headers = self._get_once(
                    current, headers, deadline_at, trusted=hop_trusted, max_bytes=limit
                )
            if status in _REDIRECT_CODES and "location" in response_headers:
                location = response_headers["location"]
                try:
                    current = urljoin(current, location)
                    urlsplit(current).hostname  # noqa: B018  (raises for a broken host)
                except ValueError as exc:
                    raise FetchError(f"{current}: redirect to a broken URL {location!r}") from exc
                continue
            if status == 304:
                return FetchResult(current, 304, b"", response_headers, time.monotonic() - started)
            if status >= 400:
                retry_after = parse_retry_after(response_headers.get("retry-after"))
                raise HTTPStatusError(
                    f"{current}: HTTP {status}", status=status, retry_after=retry_after
                )
            return FetchResult(current, status, body, response_headers, time.monotonic() - started)
        raise FetchError(f"{url}: more than {self.limits.max_redirects} redirects")

    def _get_once(
        self,
        url: str,
        headers: Mapping[str, str],
        deadline_at: float,
        *,
        trusted: bool,
        max_bytes: int,
    ) -> tuple[int, bytes, dict[str, str]]:
        client = self._client if trusted else self._untrusted_client
        try:
            with deadline(deadline_at), client.stream("GET", url, headers=headers) as response:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code == 304:
                    # A 304 has no body by definition (h11 frames it as empty, so this
                    # reads nothing from the socket); reading it to its end is what lets
                    # the connection go back to the pool instead of being closed: a round
                    # of mostly-304 polls then reuses its connections (keep-alive).
                    response.read()
                    return 304, b"", response_headers
                if response.status_code in _REDIRECT_CODES:
                    # Not drained: a redirect's body may be long or slow, and is not worth
                    # waiting for; its connection is closed.
                    return response.status_code, b"", response_headers
                declared = response_headers.get("content-length", "")
                if declared.isdigit() and (len(declared) > 18 or int(declared) > max_bytes):
                    raise TooLargeError(
                        f"{url}: Content-Length {declared} exceeds {max_bytes} bytes"
                    )
                return (
                    response.status_code,
                    self._read_body(url, response, deadline_at, max_bytes),
                    response_headers,
                )
        except httpx.TimeoutException as exc:
            raise TimeoutError_(
                f"{url}: timed out ({type(exc).__name__}; total limit {self.limits.timeout:g}s)"
            ) from exc
        except httpx.DecodingError as exc:
            raise FetchError(f"{url}: cannot decode body: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, zlib.error) as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc

    def _read_body(
        self, url: str, response: httpx.Response, deadline_at: float, max_bytes: int
    ) -> bytes:
        body = BoundedBody(url, max_bytes, response.headers.get("content-encoding"))
        # Raw bytes as they arrive, decompressed here in bounded steps: httpx would inflate a
        # whole network chunk at once (a 64 KiB gzip bomb chunk is 64 MiB, and nested
        # encodings multiply that). The socket deadline cuts a slow drip between reads.
        for chunk in response.iter_raw():
            body.feed(chunk)
            if time.monotonic() > deadline_at:  # also when a proxy bypasses the socket guard
                raise TimeoutError_(f"{url}: exceeded total timeout {self.limits.timeout:g}s")
        return body.finish()

    def _fetch_file(self, url: str, base_dir: Path | None, max_bytes: int) -> FetchResult:
        parts = urlsplit(url)
        raw = unquote(
            parts.path if parts.netloc in ("", "localhost") else "//" + parts.netloc + parts.path
        )
        path = Path(raw)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise TooLargeError(f"{url}: file is {size} bytes, limit {max_bytes}")
            content = path.read_bytes()
        except OSError as exc:
            raise FetchError(f"{url}: cannot read {path}: {exc.strerror or exc}") from exc
        mtime = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
        return FetchResult(url, 200, content, {"last-modified": mtime})
