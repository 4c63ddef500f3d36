"""``export``: canonical stories for downstream tools (Atom, JSON, JSON Lines)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from worker.cli.app import load_config, open_existing_database
from worker.cli.args import WHEN_HELP, positive_int, when
from worker.files import write_atomically


def cmd_export(args: argparse.Namespace) -> int:
    from worker.downstream import export
    from worker.downstream.models import Story, build
    from worker.store.stories import list_stories

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        stories = build(Story, list_stories(session, since=args.since, limit=args.limit))
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
    exp.add_argument("--since", metavar="WHEN", type=when, help=f"stories seen since: {WHEN_HELP}")
    exp.add_argument("--limit", type=positive_int, help="at most this many stories, newest first")
    exp.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    exp.add_argument("--title", default="newsdedup: canonical stories", help="Atom feed title")
    exp.add_argument("--self-url", help="the URL the Atom feed will be served at (rel=self)")
