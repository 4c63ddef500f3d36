"""A loopback HTTP server that misbehaves on purpose, for the robustness tests.

Each path is one kind of hostility (slow drip, gzip bomb, endless body, endless redirects,
garbage, reset mid-body, 429/503 with Retry-After...); ``feeds`` serves well-formed feeds
alongside, so a test can check the healthy ones are still ingested. Threaded, so a
dripping response does not hold up the others; every endless response ends when the
client hangs up or the server stops.
"""

from __future__ import annotations

import email.utils
import gzip
import random
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GIB = 1024**3
_FEED_HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><title>drip</title>'
_WORDS = [
    "river",
    "council",
    "bridge",
    "harbour",
    "budget",
    "vote",
    "engineers",
    "station",
    "storm",
    "museum",
    "rail",
    "ferry",
    "minister",
    "report",
    "school",
    "clinic",
    "vaccine",
    "trial",
    "market",
    "price",
    "farmers",
    "harvest",
    "court",
    "judge",
    "police",
    "mayor",
    "festival",
    "library",
    "orchestra",
    "season",
    "league",
    "match",
    "coach",
    "transfer",
    "airport",
    "runway",
    "delay",
    "union",
    "strike",
    "wages",
    "hospital",
    "nurses",
    "winter",
    "energy",
    "grid",
    "outage",
    "repair",
]


def synthetic_text(rng: random.Random, words: int = 120) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)) + "."


def rss_feed(title: str, items: list[tuple[str, str, str]]) -> bytes:
    """RSS 2.0 with ``(guid, title, text)`` items."""
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}']
    parts.append("</title><link>http://feeds.invalid/</link>")
    for guid, item_title, text in items:
        parts.append(
            f"<item><guid isPermaLink='false'>{guid}</guid><title>{item_title}</title>"
            f"<link>http://feeds.invalid/{guid}</link><description>{text}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def gzip_bomb(size: int) -> bytes:
    """Gzip that inflates to ``size`` zero bytes (about 1 KiB per MiB): one 16 MiB member,
    repeated (a multi-member gzip stream is one valid body)."""
    member = gzip.compress(bytes(16 * 1024 * 1024), compresslevel=9)
    return member * (size // (16 * 1024 * 1024))


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.feeds: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.stopping = threading.Event()
        self.bomb = b""
        self.active = 0
        self.peak_active = 0
        self._lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def track(self, delta: int) -> None:
        with self._lock:
            self.active += delta
            self.peak_active = max(self.peak_active, self.active)


class _Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.0"

    def log_message(self, *_args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        self.server.track(+1)
        try:
            route = self.path.split("?", 1)[0].strip("/").split("/")
            handler = _ROUTES.get(route[0])
            if handler is None:
                self._send(404, b"not found", "text/plain")
            else:
                handler(self, route[1:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: what the limits are for
        finally:
            self.server.track(-1)

    def _send(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, data: Iterator[bytes], interval: float) -> None:
        for piece in data:
            if self.server.stopping.is_set():
                return
            self.wfile.write(piece)
            self.wfile.flush()
            time.sleep(interval)

    # -- routes ------------------------------------------------------------------------
    def feed(self, rest: list[str]) -> None:
        body = self.server.feeds.get("/".join(rest))
        if body is None:
            self._send(404, b"no such feed", "text/plain")
        else:
            self._send(200, body, "application/rss+xml")

    def feed_as_html(self, rest: list[str]) -> None:
        self._send(200, self.server.feeds["/".join(rest)], "text/html; charset=utf-8")

    def slow(self, _rest: list[str]) -> None:
        """Headers at once, then one byte a second, for ever."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self._drip(iter(lambda: b" ", None), 1.0)  # type: ignore[arg-type]

    def slow_headers(self, _rest: list[str]) -> None:
        """The status line and headers themselves, one byte a second."""
        self._drip((bytes([b]) for b in b"HTTP/1.0 200 OK\r\nX-Padding: " + b"a" * 10**6), 1.0)

    def bomb(self, _rest: list[str]) -> None:
        self._send(200, self.server.bomb, "application/rss+xml", Content_Encoding="gzip")

    def huge(self, _rest: list[str]) -> None:
        """A 1 GiB body, streamed without Content-Length."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        chunk = b"<!-- " + b"x" * (64 * 1024 - 10) + b" -->\n"
        self.wfile.write(_FEED_HEAD)
        for _ in range(GIB // len(chunk)):
            if self.server.stopping.is_set():
                return
            self.wfile.write(chunk)

    def huge_declared(self, _rest: list[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(GIB))
        self.end_headers()
        self.wfile.write(_FEED_HEAD)

    def loop(self, rest: list[str]) -> None:
        hop = int(rest[0]) if rest else 0
        self.send_response(302)
        self.send_header("Location", f"/loop/{hop + 1}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def garbage(self, _rest: list[str]) -> None:
        rng = random.Random(7)
        self._send(200, rng.randbytes(200_000), "application/rss+xml")

    def html(self, _rest: list[str]) -> None:
        page = (
            b"<!DOCTYPE html><html><head><title>Front page</title>"
            b'<link rel="alternate" type="application/rss+xml" href="/feed/real.xml">'
            b"</head><body><p>Welcome</p></body></html>"
        )
        self._send(200, page, "application/rss+xml")

    def status(self, rest: list[str]) -> None:
        code = int(rest[0])
        if rest[1:] == ["date"]:
            retry = email.utils.formatdate(time.time() + 3 * 3600, usegmt=True)
        else:
            retry = "7200"
        self._send(code, b"slow down", "text/plain", Retry_After=retry)

    def reset(self, _rest: list[str]) -> None:
        """Promise 100 kB, send 5 kB, then reset the connection (RST, not FIN)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(_FEED_HEAD + b" " * 5000)
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def gzip_feed(self, rest: list[str]) -> None:
        body = gzip.compress(self.server.feeds["/".join(rest)])
        self._send(200, body, "application/rss+xml", Content_Encoding="gzip")

    def redirect(self, _rest: list[str]) -> None:
        """302 to the URL in the query string (``/redirect?http://elsewhere/...``)."""
        self.send_response(302)
        self.send_header("Location", urllib.parse.unquote(self.path.split("?", 1)[1]))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def sleepy(self, rest: list[str]) -> None:
        """A feed served after a pause (to observe concurrency)."""
        time.sleep(float(rest[0]))
        self._send(200, rss_feed("sleepy", []), "application/rss+xml")


_ROUTES: dict[str, Callable[[_Handler, list[str]], None]] = {
    "feed": _Handler.feed,
    "feed-as-html": _Handler.feed_as_html,
    "slow": _Handler.slow,
    "slow-headers": _Handler.slow_headers,
    "bomb": _Handler.bomb,
    "huge": _Handler.huge,
    "huge-declared": _Handler.huge_declared,
    "loop": _Handler.loop,
    "garbage": _Handler.garbage,
    "html": _Handler.html,
    "status": _Handler.status,
    "reset": _Handler.reset,
    "gzip-feed": _Handler.gzip_feed,
    "sleepy": _Handler.sleepy,
    "redirect": _Handler.redirect,
}


@contextmanager
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
