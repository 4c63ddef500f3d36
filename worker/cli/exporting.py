"""``export``: canonical stories for downstream tools (Atom, JSON, JSON Lines)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from worker.cli.app import load_config, open_database, parse_duration
from worker.errors import NewsdedupError
from worker.files import write_atomically


def parse_since(value: str) -> datetime:
    """``24h`` (that long ago) or an ISO 8601 time (UTC when it names no zone)."""
    from worker.clock import utcnow

    try:
        return utcnow() - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise NewsdedupError(
            f"--since {value!r}: expected a duration such as 24h or an ISO time"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_export(args: argparse.Namespace) -> int:
    from worker.downstream import export
    from worker.store.stories import list_stories

    config = load_config(args.config)
    db = open_database(config)
    since = parse_since(args.since) if args.since else None
    with db.session() as session:
        stories = list_stories(session, since=since, limit=args.limit)
    if args.format == "atom":
        data = export.atom_feed(stories, title=args.title, self_url=args.self_url)
    elif args.format == "json":
        data = export.json_document(stories).encode()
    else:
        data = "".join(export.json_lines(stories)).encode()
    if args.output:
        write_atomically(Path(args.output), data)  # a reader never sees half a feed
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    exp = sub.add_parser(
        "export", help="canonical stories with links to their copies: Atom, JSON or JSON Lines"
    )
    fmt = exp.add_mutually_exclusive_group()
    fmt.add_argument("--atom", dest="format", action="store_const", const="atom")
    fmt.add_argument("--json", dest="format", action="store_const", const="json")
    fmt.add_argument("--jsonl", dest="format", action="store_const", const="jsonl")
    exp.set_defaults(format="atom", handler=cmd_export)
    exp.add_argument("--since", metavar="WHEN", help="stories seen since: 24h, or an ISO time")
    exp.add_argument("--limit", type=int, help="at most this many stories, newest first")
    exp.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    exp.add_argument("--title", default="newsdedup: canonical stories", help="Atom feed title")
    exp.add_argument("--self-url", help="the URL the Atom feed will be served at (rel=self)")
