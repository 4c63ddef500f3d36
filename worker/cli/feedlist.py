"""``feeds import-opml``, ``feeds export-opml`` and ``feeds add``: the feed list in and out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from worker.cli.app import load_config
from worker.errors import ConfigError, NewsdedupError

RELOAD_HINT = "the running daemon picks it up on `newsdedup reload` (or SIGHUP)"


def cmd_import_opml(args: argparse.Namespace) -> int:
    from worker.config import resolve_config_path
    from worker.subscriptions.configfile import append_feeds, feed_table, slug, unique_name
    from worker.subscriptions.opml import parse_opml

    config = load_config(args.config)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read: {exc}", path=args.file) from exc
    names = {f.name for f in config.feeds}
    urls = {f.url for f in config.feeds}
    tables, skipped = [], 0
    for feed in parse_opml(data, source=args.file):
        if feed.xml_url in urls:
            skipped += 1
            continue
        name = unique_name(slug(feed.title), names)
        names.add(name)
        urls.add(feed.xml_url)
        note = f"from {Path(args.file).name}" + (
            f", folder {feed.category}" if feed.category else ""
        )
        tables.append(feed_table(name, feed.xml_url, interval=args.interval, comment=note))
    if tables:
        append_feeds(Path(resolve_config_path(args.config)), tables)
    print(f"imported {len(tables)} feeds, skipped {skipped} already configured; {RELOAD_HINT}")
    return 0


def cmd_export_opml(args: argparse.Namespace) -> int:
    from worker.subscriptions.opml import render_opml

    config = load_config(args.config)
    document = render_opml(config.feeds)
    if args.output:
        Path(args.output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from worker.config import resolve_config_path
    from worker.pipeline.build import fetcher_for
    from worker.subscriptions.configfile import (
        append_feeds,
        feed_table,
        find_feed,
        slug,
        unique_name,
    )

    config = load_config(args.config)
    fetcher = fetcher_for(config)
    try:
        feed_url, parsed = find_feed(args.url, fetcher, config.base_dir)
    finally:
        fetcher.close()
    if not parsed.entries:
        print(f"warning: {feed_url} has no entries yet", file=sys.stderr)
    if any(f.url == feed_url for f in config.feeds):
        raise NewsdedupError(f"{feed_url} is already configured")
    names = {f.name for f in config.feeds}
    name = args.name or unique_name(slug(parsed.title or feed_url), names)
    table = feed_table(name, feed_url, interval=args.interval, comment=parsed.title)
    append_feeds(Path(resolve_config_path(args.config)), [table])
    found = "" if feed_url == args.url else f" (announced by {args.url})"
    print(f"added feed {name!r}: {feed_url}{found}, {len(parsed.entries)} entries; {RELOAD_HINT}")
    return 0


def register_feed_commands(feeds_sub: argparse._SubParsersAction) -> None:
    imp = feeds_sub.add_parser("import-opml", help="append the feeds of an OPML file to the config")
    imp.add_argument("file")
    imp.add_argument("--interval", metavar="DURATION", help="poll interval of the new feeds")
    imp.set_defaults(handler=cmd_import_opml)

    exp = feeds_sub.add_parser("export-opml", help="write the configured feeds as OPML")
    exp.add_argument("--output", "-o", metavar="FILE", help="default: stdout")
    exp.set_defaults(handler=cmd_export_opml)

    add = feeds_sub.add_parser(
        "add", help="check a feed URL (or find the feed an HTML page announces) and add it"
    )
    add.add_argument("url")
    add.add_argument("--name", help="default: from the feed's title")
    add.add_argument("--interval", metavar="DURATION", help="e.g. 15m (default: 15m)")
    add.set_defaults(handler=cmd_add)
