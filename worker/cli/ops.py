"""``reload``, ``healthcheck``, ``import`` and ``reindex``: operating a running install."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

from worker.config import load_config
from worker.http import parse_listen
from worker.reload import signal_daemon


def cmd_reload(args: argparse.Namespace) -> int:
    # Check the file first: a config the daemon would refuse is reported here, not in its log.
    config = load_config(args.config)
    pid = signal_daemon(config)
    print(f"sent SIGHUP to newsdedup (pid {pid}); see its log for the result")
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    url = args.url
    if url is None:
        config = load_config(args.config)
        if not config.worker.listen:
            print("healthcheck: worker.listen is not set; nothing to ask", file=sys.stderr)
            return 2
        host, port = parse_listen(config.worker.listen)
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        host = f"[{host}]" if ":" in host else host
        url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as exc:
        print(f"unhealthy ({exc.code}): {exc.read().decode()}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(json.dumps(json.loads(body)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    reload = sub.add_parser(
        "reload", help="make the running daemon re-read its config (SIGHUP via worker.pid_file)"
    )
    reload.set_defaults(handler=cmd_reload)

    health = sub.add_parser(
        "healthcheck", help="ask the running daemon's /healthz; exit 0 when healthy, else 1"
    )
    health.add_argument("--url", help="default: /healthz at worker.listen")
    health.add_argument("--timeout", type=float, default=5.0)
    health.add_argument("--quiet", "-q", action="store_true")
    health.set_defaults(handler=cmd_healthcheck)
