"""``feeds``, ``stories`` and ``story``: what is stored, as text or JSON."""

from __future__ import annotations

import argparse
import json
import textwrap
from datetime import timedelta
from typing import Any

from worker.cli.app import load_config, open_database, parse_duration
from worker.cli.feedlist import register_feed_commands
from worker.errors import NewsdedupError


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _excerpt(text: str, width: int = 100) -> str:
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder=" ...")


def cmd_feeds(args: argparse.Namespace) -> int:
    from worker.store.stories import feed_states

    config = load_config(args.config)
    db = open_database(config)
    with db.session() as session:
        states = feed_states(session)
    if args.json:
        _print_json(states)
        return 0
    for f in states:
        status = "ok" if not f["consecutive_failures"] else f"FAILING x{f['consecutive_failures']}"
        if not f["enabled"]:
            status = "disabled"
        last, due = f["last_polled_at"] or "-", f["next_poll_at"] or "-"
        print(f"{f['name']:<28} {status:<12} last={last} next={due}")
        if f["last_error"] and f["consecutive_failures"]:
            print(f"    {f['last_error_kind']}: {f['last_error']}")
    return 0


def _print_story(story: dict[str, Any], full: bool = False) -> None:
    print(f"story {story['id']}: {story['title']}  ({story['variant_count']} article(s))")
    for a in story["articles"]:
        mark = "*" if a["is_canonical"] else " "
        sim = (
            f" sim={a['similarity']:.2f}"
            if a["similarity"] is not None and a["match_kind"] == "near"
            else ""
        )
        print(f"  {mark} [{a['id']}] {a['feed']}: {a['title']}  ({a['match_kind']}{sim})")
        if full:
            print(textwrap.indent(a["text"], "      "))
        else:
            print(f"      {_excerpt(a['text'])}")


def cmd_stories(args: argparse.Namespace) -> int:
    from worker.clock import utcnow
    from worker.store.stories import list_stories

    config = load_config(args.config)
    db = open_database(config)
    since = utcnow() - timedelta(seconds=parse_duration(args.since)) if args.since else None
    with db.session() as session:
        stories = list_stories(session, since=since, limit=args.limit)
    if args.json:
        _print_json(stories)
        return 0
    for story in stories:
        _print_story(story)
    folded = sum(s["variant_count"] - 1 for s in stories)
    print(f"{len(stories)} stories, {folded} copies folded into them")
    return 0


def cmd_story(args: argparse.Namespace) -> int:
    from worker.store.stories import get_story

    config = load_config(args.config)
    db = open_database(config)
    with db.session() as session:
        story = get_story(session, args.id)
    if story is None:
        raise NewsdedupError(f"no story with id {args.id}")
    if args.json:
        _print_json(story)
    else:
        _print_story(story, full=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    feeds = sub.add_parser("feeds", help="feeds and their polling state; add, import, export")
    feeds.add_argument("--json", action="store_true")
    feeds.set_defaults(handler=cmd_feeds)
    # Without an action `feeds` lists the feeds, as it always did.
    register_feed_commands(feeds.add_subparsers(dest="feeds_command", metavar="ACTION"))

    stories = sub.add_parser("stories", help="stories with their articles, newest first")
    stories.add_argument("--since", metavar="DURATION", help="only stories seen within, e.g. 24h")
    stories.add_argument("--limit", type=int, help="at most this many stories")
    stories.add_argument("--json", action="store_true")
    stories.set_defaults(handler=cmd_stories)

    story = sub.add_parser("story", help="one story with the full text of every article")
    story.add_argument("id", type=int)
    story.add_argument("--json", action="store_true")
    story.set_defaults(handler=cmd_story)
