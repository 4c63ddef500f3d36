"""Socket-level guards under httpx: a total deadline on every read and write, and (for
links that untrusted feeds supply) a public-address check on the very address we connect to.

Why at the socket: httpx's timeouts are per read, so a server dripping one byte a second
(even inside the status line or headers) never trips them; and a check that resolves a host
and then lets httpx resolve it again can be fooled by DNS rebinding (public answer first,
loopback the second time). Here the address that was checked is the address connected to.

    >>> is_public_address("93.184.216.34"), is_public_address("169.254.169.254")
    (True, False)
    >>> is_public_address("::ffff:127.0.0.1")
    False
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


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
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
