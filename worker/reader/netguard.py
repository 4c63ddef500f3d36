"""Socket-level guards under httpx: a total deadline on every read and write, and (for
links that untrusted feeds supply) a public-address check on the very address we connect to.

Why at the socket: httpx's timeouts are per read, so a server dripping one byte a second
(even inside the status line or headers) never trips them; and a check that resolves a host
and then lets httpx resolve it again can be fooled by DNS rebinding (public answer first,
loopback the second time). Here the address that was checked is the address connected to.

    >>> is_public_address("93.184.216.34"), is_public_address("169.254.169.254")
    (True, False)
    >>> is_public_address("::ffff:127.0.0.1"), is_public_address("64:ff9b::7f00:1")
    (False, False)
    >>> is_public_address("64:ff9b::808:808"), is_public_address("2002:808:808::1")
    (True, True)
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
import typing
from collections.abc import Iterator

import httpcore
import httpx

from worker.errors import BlockedAddressError, FetchError, TimeoutError_

_local = threading.local()


# IPv6 prefixes whose last 32 bits are an IPv4 address a host or a translator reaches:
# IPv4-mapped, SIIT's IPv4-translated, and NAT64's well-known prefix (RFC 6052).
_V4_SUFFIX_PREFIXES = tuple(
    ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# NAT64 for local use (RFC 8215): where the IPv4 address sits depends on the operator's
# prefix length, so none of it is taken to be public. (Python's is_global changed for
# several of these prefixes between versions; the decision here does not lean on it.)
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, by every standard way of carrying one:
    mapped, translated, compatible (``::a.b.c.d``), NAT64, 6to4 (``2002:AABB:CCDD::``)
    and Teredo (server and client). A loopback or private address inside any of them
    reaches that address through the host's own stack or a translator on the path.

    >>> [str(a) for a in embedded_ipv4(ipaddress.IPv6Address("::127.0.0.1"))]
    ['127.0.0.1']
    """
    found: list[ipaddress.IPv4Address] = []
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    compatible = int(ip) >> 32 == 0 and int(ip) > 1  # ::a.b.c.d; :: and ::1 are not
    if compatible or any(ip in prefix for prefix in _V4_SUFFIX_PREFIXES):
        found.append(low)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public_address(address: str) -> bool:
    """Whether connecting to ``address`` reaches the public internet only. IPv6 forms that
    embed an IPv4 address are judged by it too (``::ffff:0:7f00:1``, ``64:ff9b::7f00:1``
    and ``2002:7f00:1::`` all carry 127.0.0.1)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_v4(ip)
    if ip in _LOCAL_NAT64 or ip.teredo is not None:  # Teredo: an obsolete tunnel, never a news site
        return False
    inner = embedded_ipv4(ip)
    if inner:
        return all(_public_v4(v4) for v4 in inner)
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int | None = None) -> list[str]:
    """Every address ``host`` resolves to, in resolver order."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def public_addresses(host: str, port: int | None = None) -> list[str]:
    """``host``'s addresses; ``BlockedAddressError`` if any of them is not public (a host
    with one private address among public ones is refused whole: we cannot tell which one
    the attacker meant us to use)."""
    addresses = resolve(host, port)
    for address in addresses:
        if not is_public_address(address):
            raise BlockedAddressError(f"{host} resolves to non-public address {address}")
    return addresses


@contextlib.contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every socket operation of this thread inside the block ends by ``at`` (monotonic)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = at
    try:
        yield
    finally:
        _local.deadline = previous


def _clamp(timeout: float | None) -> float | None:
    at: float | None = getattr(_local, "deadline", None)
    if at is None:
        return timeout
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("total timeout exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend with the thread's deadline applied and, when
    ``public_only``, a connection only to addresses checked to be public."""

    def __init__(self, *, public_only: bool) -> None:
        self.public_only = public_only
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        if not self.public_only:
            stream = self._inner.connect_tcp(
                host, port, _clamp(timeout), local_address, socket_options
            )
            return _DeadlineStream(stream)
        last: Exception | None = None
        for address in public_addresses(host, port):
            try:
                stream = self._inner.connect_tcp(
                    address, port, _clamp(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _DeadlineStream(stream)
        raise last or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connections go through ``GuardedBackend``.

    No proxy from the environment: a proxy would make the address check meaningless.
    """

    def __init__(self, *, public_only: bool, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(public_only=public_only),
        )


class HostSlots:
    """At most ``per_host`` requests at once to one host (a thousand feeds on one server
    must not open a thousand connections to it).

    >>> slots = HostSlots(1)
    >>> with slots.hold("example.com", timeout=1):
    ...     pass
    """

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    @contextlib.contextmanager
    def hold(self, host: str, *, timeout: float) -> Iterator[None]:
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        if not slot.acquire(timeout=timeout):
            raise TimeoutError_(f"waited {timeout:g}s for a free connection slot to {host}")
        try:
            yield
        finally:
            slot.release()
