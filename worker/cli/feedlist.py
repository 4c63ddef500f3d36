"""``feeds add|remove|enable|disable|refresh|import-opml|export-opml``: the feed list in
and out. The config file owns the list: these commands edit it in place (the one table
concerned, comments and layout kept), validated before it is written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from worker.cli.app import load_config
from worker.errors import ConfigError, NewsdedupError
from worker.safetext import terminal_line

if TYPE_CHECKING:
    from worker.config import Config

# pydantic's models, the reader and the OPML parser are imported by the command that uses
# them: `newsdedup --help` builds these parsers and imports none of it.

RELOAD_HINT = "the running daemon picks it up on `newsdedup reload` (or SIGHUP)"


def cmd_import_opml(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from worker.config import FeedConfig, resolve_config_path
    from worker.subscriptions.configfile import append_feeds, feed_table, slug, unique_name
    from worker.subscriptions.opml import SkippedOutline, read_opml

    config = load_config(args.config)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read: {exc}", path=args.file) from exc
    names = {f.name for f in config.feeds}
    urls = {f.url for f in config.feeds}
    feeds, skipped = read_opml(data, source=args.file)
    tables, configured = [], 0
    for feed in feeds:
        if feed.xml_url in urls:
            configured += 1
            continue
        name = unique_name(slug(feed.title), names)
        fields = {"name": name, "url": feed.xml_url, "category": feed.category}
        fields["site_url"] = feed.html_url
        try:  # one outline the config would refuse must not cost the others
            FeedConfig.model_validate({k: v for k, v in fields.items() if v is not None})
        except ValidationError as exc:
            reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            skipped.append(SkippedOutline(feed.title, feed.xml_url, reason))
            continue
        names.add(name)
        urls.add(feed.xml_url)
        tables.append(
            feed_table(
                name,
                feed.xml_url,
                interval=args.interval,
                comment=f"from {Path(args.file).name}",
                category=feed.category,
                site_url=feed.html_url,
            )
        )
    if tables:
        append_feeds(Path(resolve_config_path(args.config)), tables)
    for item in skipped:
        where = f" ({item.url})" if item.url and item.url != item.title else ""
        print(
            f"skipped {item.title or '(untitled outline)'}{where}: {item.reason}", file=sys.stderr
        )
    print(
        f"imported {len(tables)} feeds, skipped {configured} already configured and "
        f"{len(skipped)} other outlines; {RELOAD_HINT}"
    )
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
        print(f"warning: {terminal_line(feed_url)} has no entries yet", file=sys.stderr)
    if any(f.url == feed_url for f in config.feeds):
        raise NewsdedupError(f"{feed_url} is already configured")
    names = {f.name for f in config.feeds}
    name = args.name or unique_name(slug(parsed.title or feed_url), names)
    table = feed_table(name, feed_url, interval=args.interval, comment=parsed.title)
    append_feeds(Path(resolve_config_path(args.config)), [table])
    found = "" if feed_url == args.url else f" (announced by {terminal_line(args.url)})"
    print(
        f"added feed {terminal_line(repr(name))}: {terminal_line(feed_url)}{found}, "
        f"{len(parsed.entries)} entries; {RELOAD_HINT}"
    )
    return 0


def _configured(config: Config, name: str) -> None:
    if name not in {f.name for f in config.feeds}:
        raise NewsdedupError(f"{config.source_path}: no feed named {name!r}")


def _unpark(config: Config, name: str) -> bool:
    """Clear the feed's parking in the database (when there is one yet)."""
    from worker.cli.app import open_existing_database
    from worker.store.feeds import unpark

    try:
        db = open_existing_database(config)
    except NewsdedupError:
        return False  # no database yet: nothing is parked
    try:
        with db.session() as session, session.begin():
            return unpark(session, name)
    finally:
        db.dispose()


def cmd_enable(args: argparse.Namespace) -> int:
    from worker.config import resolve_config_path
    from worker.subscriptions.configfile import set_feed_enabled

    config = load_config(args.config)
    _configured(config, args.name)
    changed = set_feed_enabled(Path(resolve_config_path(args.config)), args.name, True)
    unparked = _unpark(config, args.name)
    done = ["enabled in the config"] if changed else []
    done += ["no longer parked"] if unparked else []
    print(f"feed {args.name!r}: {', '.join(done) or 'already enabled'}; {RELOAD_HINT}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from worker.config import resolve_config_path
    from worker.subscriptions.configfile import set_feed_enabled

    config = load_config(args.config)
    _configured(config, args.name)
    changed = set_feed_enabled(Path(resolve_config_path(args.config)), args.name, False)
    state = "disabled" if changed else "already disabled"
    print(f"feed {args.name!r}: {state} (its articles stay); {RELOAD_HINT}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from worker.config import resolve_config_path
    from worker.subscriptions.configfile import remove_feed

    config = load_config(args.config)
    _configured(config, args.name)
    remove_feed(Path(resolve_config_path(args.config)), args.name)
    print(
        f"feed {args.name!r}: removed from the config (its stored articles stay until "
        f"retention purges them); {RELOAD_HINT}"
    )
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """Poll one feed now (reviving it if it was parked), beside a running daemon: the
    poll lease keeps the two from polling it at once."""
    from worker.cli.app import open_database
    from worker.logs import setup_logging
    from worker.pipeline.poll import Ingestor
    from worker.store.feeds import unpark

    config = load_config(args.config)
    _configured(config, args.name)
    if not config.feed(args.name).enabled:
        raise NewsdedupError(f"feed {args.name!r} is disabled; `newsdedup feeds enable` it first")
    setup_logging(config.worker.log_level, config.worker.log_format)
    db = open_database(config)
    ingestor = Ingestor(config, db)
    try:
        ingestor.sync_feeds()
        with db.session() as session, session.begin():
            unparked = unpark(session, args.name)
        outcome = ingestor.poll(args.name)
    finally:
        ingestor.close()
        db.dispose()
    if outcome.outcome == "leased":
        print(f"feed {args.name!r} is being polled by another worker right now")
        return 0
    detail = (
        f"{outcome.error_kind}: {outcome.error}"
        if outcome.error
        else (
            f"{outcome.entries_seen} entries, {outcome.articles_new} new, "
            f"{outcome.duplicates_exact + outcome.duplicates_near} copies folded"
        )
    )
    print(f"feed {args.name!r}: {outcome.outcome} ({detail})")
    if unparked:
        print(f"feed {args.name!r} is no longer parked; {RELOAD_HINT}")
    return 1 if outcome.outcome == "error" else 0


def register_feed_commands(feeds_sub: argparse._SubParsersAction) -> None:
    for name, handler, text in (
        ("enable", cmd_enable, "enable a feed in the config; a parked feed is polled again"),
        ("disable", cmd_disable, "disable a feed in the config (its articles stay)"),
        ("remove", cmd_remove, "delete a feed's table from the config (its articles stay)"),
        ("refresh", cmd_refresh, "poll one feed now (and un-park it); exit 1 if the poll failed"),
    ):
        command = feeds_sub.add_parser(name, help=text)
        command.add_argument("name", metavar="NAME")
        command.set_defaults(handler=handler)

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
