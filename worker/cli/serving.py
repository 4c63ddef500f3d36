"""``serve``: the read-only API and web page (and ``/metrics``, ``/healthz``) for a host that
runs no worker, over a database other hosts' workers fill."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from worker.cli.app import load_config, open_existing_database
from worker.errors import NewsdedupError
from worker.logs import setup_logging

DEFAULT_LISTEN = "127.0.0.1:9464"
log = logging.getLogger("newsdedup")


def _listen(value: str) -> str:
    from worker.config import parse_listen

    try:
        parse_listen(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    from worker.api.app import Served, create_app
    from worker.api.auth import configured_token, is_loopback
    from worker.api.server import serve_forever
    from worker.config import parse_listen
    from worker.daemon.health import DatabaseProbe

    config = load_config(args.config)
    setup_logging(config.worker.log_level, config.worker.log_format)
    listen = args.listen or config.worker.listen or DEFAULT_LISTEN
    db = open_existing_database(config)
    probe = DatabaseProbe(db.url)

    def health() -> tuple[bool, dict[str, Any]]:
        ok, state = probe.check()
        return ok, {"database": state}

    host = parse_listen(listen)[0]
    if not is_loopback(host) and configured_token(config) is None:
        log.warning("%s is not loopback and no [api] token is set: the API answers 403", listen)
    app = create_app(Served(db=db, config=lambda: config, health=health, listen=listen))
    log.info("serving http://%s/ (/api/v1, /, /metrics, /healthz)", listen)
    try:
        serve_forever(app, listen)
    except OSError as exc:
        raise NewsdedupError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
    finally:
        probe.dispose()
        db.dispose()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="serve the read-only API and web page over the database (no polling)"
    )
    serve.add_argument(
        "--listen",
        type=_listen,
        metavar="HOST:PORT",
        help=f"address to serve on (default: worker.listen, else {DEFAULT_LISTEN})",
    )
    serve.set_defaults(handler=cmd_serve)
