"""The optional HTTP listener (``[worker] listen = "127.0.0.1:9464"``): ``/metrics`` in the
Prometheus text format and ``/healthz``, 200 when the daemon is healthy, else 503, with a
small JSON body saying which check failed.

"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from worker import metrics
from worker.config import parse_listen

log = logging.getLogger("newsdedup.http")

# (healthy, details) — details name each check and its result.
HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    health: HealthCheck


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "newsdedup"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            healthy, details = self.server.health()
            body = json.dumps({"healthy": healthy, **details}).encode()
            self._send(200 if healthy else 503, body, "application/json")
        else:
            self._send(404, b"not found: try /metrics or /healthz\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class Listener:
    """The listener in a background thread; ``close()`` stops it and frees the port."""

    def __init__(self, listen: str, health: HealthCheck) -> None:
        self.listen = listen
        host, port = parse_listen(listen)
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), _Handler)
        self._server.health = health
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-listener", daemon=True
        )
        self._thread.start()
        log.info("listening on http://%s/ (/metrics, /healthz)", listen)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
