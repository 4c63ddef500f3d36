"""A loopback HTTP server for ``eval dedup --path``: many sites, one thread.

Each site listens on its own loopback address (``127.0.x.y``: Linux routes all of
``127.0.0.0/8`` to the loopback interface), so the links the poll path fetches carry one
host per site, as on the web, and chrome learned per host sees each site on its own. One
thread serves every socket in turn: the eval fetches one URL at a time.

    >>> sites = LoopbackSites(2)
    >>> sites.put(1, "/a", b"hello", "text/plain")
    >>> url = sites.url(1, "/a")
    >>> with sites:
    ...     import urllib.request
    ...     urllib.request.urlopen(url).read()
    b'hello'
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any


def site_address(index: int) -> str:
    """The loopback address of site ``index`` (0-based); 127.0.0.1 is left to others."""
    if not 0 <= index < 250 * 250:
        raise ValueError(f"site index {index} out of range")
    return f"127.0.{index // 250}.{index % 250 + 2}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing left half-open
    server: Any

    def do_GET(self) -> None:
        host = self.connection.getsockname()[0]
        found = self.server.files.get((host, self.path))
        if found is None:
            self.send_error(404)
            return
        body, content_type = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackSites:
    """``sites`` listening sockets; ``put`` what each serves (changeable while serving)."""

    def __init__(self, sites: int) -> None:
        self.files: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._sockets: list[socket.socket] = []
        self._ports: list[int] = []
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            for index in range(sites):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._sockets.append(sock)
                sock.bind((site_address(index), 0))
                sock.listen(16)
                sock.setblocking(False)
                self._ports.append(sock.getsockname()[1])
                self._selector.register(sock, selectors.EVENT_READ)
        except OSError:
            self.close()
            raise

    def url(self, site: int, path: str) -> str:
        return f"http://{site_address(site)}:{self._ports[site]}{path}"

    def put(self, site: int, path: str, body: bytes, content_type: str) -> None:
        self.files[(site_address(site), path)] = (body, content_type)

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    conn, address = sock.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(True)
                conn.settimeout(10)
                try:
                    _Handler(conn, address, self)  # type: ignore[arg-type]  # duck-typed: .files
                except OSError:
                    pass  # the client went away: its fetch reports it
                finally:
                    conn.close()

    def __enter__(self) -> LoopbackSites:
        self._thread = threading.Thread(target=self._serve, name="eval-sites", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for sock in self._sockets:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
        self._selector.close()
