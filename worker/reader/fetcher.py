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
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
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

_REDIRECT_CODES = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 30.0  # total seconds for one fetch, redirects and body included
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024  # decompressed body
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT


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


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_public_host(url: str) -> None:
    """Raise ``BlockedAddressError`` unless every address ``url``'s host resolves to is public.

    Guards fetches of links that untrusted feeds supply (SSRF): loopback, private,
    link-local (cloud metadata 169.254.169.254 included), multicast and reserved ranges.
    """
    host = urlsplit(url).hostname
    if not host:
        raise BlockedAddressError(f"{url}: no host")
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{url}: cannot resolve {host}: {exc}") from exc
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise BlockedAddressError(f"{url}: {host} resolves to non-public address {address}")


class Fetcher:
    """One shared httpx client; thread-safe, so scheduler jobs share it."""

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits or FetchLimits()
        timeout = httpx.Timeout(
            self.limits.timeout, connect=min(self.limits.connect_timeout, self.limits.timeout)
        )
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,  # followed by hand: each hop is checked and counted
            headers={"User-Agent": self.limits.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    def close(self) -> None:
        self._client.close()

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
        base_dir: Path | None = None,
        accept: str = "application/rss+xml, application/atom+xml, application/rdf+xml, "
        "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    ) -> FetchResult:
        """GET ``url``; ``trusted=False`` refuses non-public addresses at every hop."""
        if url.lower().startswith("file:"):
            if not trusted:
                raise BlockedAddressError(f"{url}: file: URLs are only allowed in the config")
            return self._fetch_file(url, base_dir)
        headers: dict[str, str] = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if user_agent:
            headers["User-Agent"] = user_agent
        deadline = time.monotonic() + self.limits.timeout
        started = time.monotonic()
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            if not current.lower().startswith(("http://", "https://")):
                raise FetchError(f"{current}: redirect to an unsupported scheme")
            if not trusted:
                check_public_host(current)
            status, body, response_headers = self._get_once(current, headers, deadline)
            if status in _REDIRECT_CODES and "location" in response_headers:
                current = urljoin(current, response_headers["location"])
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
        self, url: str, headers: Mapping[str, str], deadline: float
    ) -> tuple[int, bytes, dict[str, str]]:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code in _REDIRECT_CODES or response.status_code == 304:
                    return response.status_code, b"", response_headers
                declared = response_headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.limits.max_bytes:
                    raise TooLargeError(
                        f"{url}: Content-Length {declared} exceeds {self.limits.max_bytes} bytes"
                    )
                chunks: list[bytes] = []
                size = 0
                # iter_bytes yields *decompressed* data, so a gzip bomb hits the cap early.
                for chunk in response.iter_bytes(chunk_size=65536):
                    size += len(chunk)
                    if size > self.limits.max_bytes:
                        raise TooLargeError(
                            f"{url}: body exceeds {self.limits.max_bytes} bytes (decompressed)"
                        )
                    if time.monotonic() > deadline:
                        raise TimeoutError_(f"{url}: exceeded total timeout {self.limits.timeout}s")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks), response_headers
        except httpx.TimeoutException as exc:
            raise TimeoutError_(f"{url}: timed out ({type(exc).__name__})") from exc
        except httpx.DecodingError as exc:
            raise FetchError(f"{url}: cannot decode body: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc

    def _fetch_file(self, url: str, base_dir: Path | None) -> FetchResult:
        parts = urlsplit(url)
        raw = unquote(
            parts.path if parts.netloc in ("", "localhost") else "//" + parts.netloc + parts.path
        )
        path = Path(raw)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        try:
            size = path.stat().st_size
            if size > self.limits.max_bytes:
                raise TooLargeError(f"{url}: file is {size} bytes, limit {self.limits.max_bytes}")
            content = path.read_bytes()
        except OSError as exc:
            raise FetchError(f"{url}: cannot read {path}: {exc.strerror or exc}") from exc
        mtime = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
        return FetchResult(url, 200, content, {"last-modified": mtime})
