"""The optional HTTP listener (``[worker] listen = "127.0.0.1:9464"``): ``/metrics`` in the
Prometheus text format, ``/healthz`` (200 when the daemon is healthy, else 503, with a small
JSON body saying which check failed) and, unless ``[api] enabled = false``, the read-only
API and web page of ``worker.api`` on the same port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.config import Config
    from worker.store.db import Database

log = logging.getLogger("newsdedup.http")

# (healthy, details) — details name each check and its result.
HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class Listener:
    """The listener in a background thread; ``close()`` stops it and frees the port.
    ``config`` gives the config in force (a reload changes the token without a restart)."""

    def __init__(
        self, listen: str, health: HealthCheck, db: Database, config: Callable[[], Config]
    ) -> None:
        # FastAPI and uvicorn only for a daemon that listens.
        from worker.api.app import Served, create_app
        from worker.api.server import BackgroundServer

        self.listen = listen
        app = create_app(Served(db=db, config=config, health=health, listen=listen))
        self._server = BackgroundServer(app, listen)
        served = "/metrics, /healthz" + (", /api/v1, /" if config().api.enabled else "")
        log.info("listening on http://%s/ (%s)", listen, served)

    @property
    def port(self) -> int:
        return self._server.port

    def close(self) -> None:
        self._server.close()
