"""Serving the application with uvicorn: in a background thread beside the daemon's polls
(``worker.daemon.listener``), or in the foreground for ``newsdedup serve``.

The socket is bound here, before uvicorn starts: a port in use is an ``OSError`` for the
caller at once (uvicorn would report it in its own thread and exit the process)."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

from worker.config import parse_listen

log = logging.getLogger("newsdedup.http")


def bind(listen: str) -> socket.socket:
    """A listening socket on ``host:port`` (IPv6 in brackets)."""
    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by each accepted connection: uvicorn writes a response's head and
        # body apart, and with Nagle's algorithm the body waits for the client's delayed
        # ACK, 40 ms on Linux (measured: every request took 45-55 ms on loopback).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _server(app: Any) -> Any:
    import uvicorn

    # log_config None: the daemon's logging stays as it is; no access log (metrics count).
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", http="h11", loop="asyncio",
        server_header=False, timeout_graceful_shutdown=5,
    )  # fmt: skip
    return uvicorn.Server(config)


class BackgroundServer:
    """``app`` served on ``listen`` in a daemon thread; ``close()`` stops it and frees the
    port."""

    def __init__(self, app: Any, listen: str) -> None:
        self.listen = listen
        self._socket = bind(listen)
        self._server = _server(app)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="http-listener",
            daemon=True,
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def serve_forever(app: Any, listen: str) -> None:
    """``app`` on ``listen`` until SIGTERM or SIGINT, then a clean stop (exit status 0, as
    ``run`` has; uvicorn's own handlers would end the process by the signal)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    server = BackgroundServer(app, listen)
    try:
        while not stop.wait(1.0) and server.alive:
            pass
    finally:
        server.close()
