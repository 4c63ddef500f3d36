"""The HTTP application: ``/healthz`` and ``/metrics`` as the listener always served them,
the read-only JSON API under ``/api/v1`` (``routes``) and the web page at ``/`` (``pages``).

Every refusal is a 4xx with a one-line JSON body ``{"error": "..."}`` (an HTML page for a
browser asking for one): a bad parameter 400, a missing or wrong token 401, an unknown id
or path 404; a database that does not answer is 503. Nothing a client sends produces a
traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from worker import __version__, metrics
from worker.api.auth import configured_token, is_loopback, refusal
from worker.config import Config, parse_listen
from worker.errors import ConfigError
from worker.store.db import Database

log = logging.getLogger("newsdedup.http")

# (healthy, details): details name each check and its result.
HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


@dataclass
class Served:
    """What the application reads: the database, the config in force (the daemon's
    changes on SIGHUP), the health check and the address it listens on."""

    db: Database
    config: Callable[[], Config]
    health: HealthCheck
    listen: str
    _token: tuple[int, str | None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.host = parse_listen(self.listen)[0]  # a bad address fails here, not per request

    def token(self) -> str | None:
        """The token of the config in force, read again when the config was reloaded."""
        config = self.config()
        if self._token is None or self._token[0] != id(config):
            self._token = (id(config), configured_token(config))
        return self._token[1]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every refusal."""
    line = " ".join(message.split())
    return JSONResponse({"error": line}, status_code=status, headers=headers)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _error_page(request: Request, status: int, message: str, headers: Any = None) -> Response:
    if _wants_html(request):
        from worker.api.pages import error_page

        return error_page(request, status, message, headers)
    return error(status, message, headers)


def _first_problem(exc: RequestValidationError) -> str:
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "query")
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return "invalid request"


def require_access(request: Request) -> None:
    """The token rule (``auth``) as a dependency of every API route and page."""
    served: Served = request.app.state.served
    try:
        token = served.token()
    except ConfigError as exc:  # token_file unreadable: refuse rather than serve openly
        log.error("%s", exc)
        raise HTTPException(503, "the API token file cannot be read (see the log)") from None
    why = refusal(served.host, token, request.headers.get("authorization"))
    if why is not None:
        # A browser shows its password prompt for Basic; an API client reads the error.
        scheme = "Basic" if _wants_html(request) else "Bearer"
        raise HTTPException(401, why, headers={"WWW-Authenticate": f'{scheme} realm="newsdedup"'})


def create_app(served: Served) -> FastAPI:
    """The application for one listener."""
    app = FastAPI(
        title="newsdedup",
        version=__version__,
        description="Read-only API of a newsdedup database: stories (each syndicated story "
        "once, with every copy and how it was matched), articles, feeds, events and search. "
        'Every error is a 4xx (or 503) with a one-line JSON body {"error": "..."}.',
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.served = served

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"not found: {request.url.path}"
        return _error_page(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error_page(request, 400, _first_problem(exc))

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> Response:
        log.warning("database error answering %s: %s", request.url.path, exc)
        return _error_page(request, 503, "the database did not answer; try again")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("error answering %s", request.url.path)
        return _error_page(request, 500, "internal error (logged by the server)")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        healthy, details = served.health()
        body = json.dumps({"healthy": healthy, **details})
        return Response(body, 200 if healthy else 503, media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    def metrics_page(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if served.config().api.metrics_loopback_only and not is_loopback(client):
            return error(403, "/metrics answers this machine only (api.metrics_loopback_only)")
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        # A bad parameter is a 400 with the one error shape here, never FastAPI's 422.
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = document.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    if served.config().api.enabled:
        from worker.api import pages, routes

        guarded = [Depends(require_access)]
        app.include_router(routes.router, dependencies=guarded)
        app.include_router(pages.router, dependencies=guarded)
    return app


def openapi_json() -> str:
    """The OpenAPI document as checked in at ``docs/openapi.json``; regenerate that with
    ``python -m worker.api.app > docs/openapi.json``."""
    from typing import cast

    config = Config()
    app = create_app(
        Served(cast(Database, None), lambda: config, lambda: (True, {}), "127.0.0.1:1")
    )
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(openapi_json(), end="")
