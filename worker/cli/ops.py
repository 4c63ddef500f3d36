"""``reload``, ``healthcheck``, ``import`` and ``reindex``: operating a running install."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from worker.cli.app import load_config, open_database
from worker.logs import setup_logging

RESTART_HELP = "start from the beginning, ignoring the checkpoint of an interrupted run"


def cmd_reload(args: argparse.Namespace) -> int:
    from worker.daemon.reload import signal_daemon

    # Check the file first: a config the daemon would refuse is reported here, not in its log.
    config = load_config(args.config)
    pid = signal_daemon(config)
    print(f"sent SIGHUP to newsdedup (pid {pid}); see its log for the result")
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    url = args.url
    if url is None:
        from worker.config import parse_listen

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


def cmd_import(args: argparse.Namespace) -> int:
    from worker.pipeline.backfill import run_import

    config = load_config(args.config)
    setup_logging(config.worker.log_level, config.worker.log_format)
    db = open_database(config)
    report = run_import(config, db, Path(args.source), feed=args.feed, restart=args.restart)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.stored.items())) or "nothing"
    resumed = f" (resumed after {report.skipped})" if report.skipped else ""
    print(f"imported {args.source}{resumed}: {kinds}; {report.bad} bad records skipped")
    return 1 if report.bad and not report.stored else 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from worker.pipeline.backfill import run_reindex

    config = load_config(args.config)
    setup_logging(config.worker.log_level, config.worker.log_format)
    db = open_database(config)
    count = run_reindex(config, db, restart=args.restart, batch=args.batch)
    print(f"reindexed {count} articles with the current [dedup] settings")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from worker.cli.app import open_existing_database
    from worker.pipeline.purge import preview_purge, run_purge

    config = load_config(args.config)
    if not args.dry_run:
        setup_logging(config.worker.log_level, config.worker.log_format)
    db = open_existing_database(config)
    report = preview_purge(config, db) if args.dry_run else run_purge(config, db)
    for feed, count in sorted(report.by_feed.items()):
        print(f"  {feed:<28} {count} articles")
    verb = "would go" if args.dry_run else "purged"
    stories = f"{report.stories_deleted} stories {'would go' if args.dry_run else 'gone'}"
    polls = "" if args.dry_run else f", {report.poll_records} poll records purged"
    kept = f"{report.stories_updated} kept with fewer articles"
    print(f"{report.articles} articles {verb}; {stories}, {kept}{polls}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    purge = sub.add_parser(
        "purge", help="delete articles older than their retention ([retention], feed retention)"
    )
    purge.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    purge.set_defaults(handler=cmd_purge)

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

    imp = sub.add_parser(
        "import", help="backfill a folder of HTML pages or a JSON Lines file of articles"
    )
    imp.add_argument("source", metavar="DIR|FILE.jsonl")
    imp.add_argument(
        "--feed", default="import", help="feed the articles belong to (default: %(default)s)"
    )
    imp.add_argument(
        "--restart", action="store_true", help="ignore the checkpoint of an earlier run"
    )
    imp.set_defaults(handler=cmd_import)

    reindex = sub.add_parser(
        "reindex", help="recompute fingerprints and the LSH index after changing [dedup] settings"
    )
    reindex.add_argument("--batch", type=int, default=200, help="articles per transaction")
    reindex.add_argument(
        "--restart", action="store_true", help="ignore the checkpoint of an earlier run"
    )
    reindex.set_defaults(handler=cmd_reindex)
