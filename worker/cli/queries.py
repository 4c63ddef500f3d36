"""``feeds``, ``stories``, ``story``, ``events`` and ``event``: what is stored, as text or JSON."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from worker.cli.app import load_config, open_existing_database
from worker.cli.args import WHEN_HELP, positive_int, when
from worker.cli.feedlist import register_feed_commands
from worker.errors import NewsdedupError
from worker.safetext import json_safe, terminal_line, terminal_text


def _print_json(data: Any) -> None:
    print(json_safe(json.dumps(data, indent=2, ensure_ascii=False)))


def _excerpt(text: str, width: int = 100) -> str:
    return textwrap.shorten(terminal_line(text), width=width, placeholder=" ...")


def _line(value: Any) -> str:
    """A stored value on one terminal line: a feed chose it, so no escape sequence of it
    reaches the terminal (``ESC]52;`` writes the clipboard, ``ESC[2J`` clears the screen)."""
    return terminal_line(str(value)) if value is not None else "-"


def cmd_feeds(args: argparse.Namespace) -> int:
    from worker.store.stories import feed_states

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        states = feed_states(session)
    if args.json:
        _print_json(states)
        return 0
    configured = {f.name for f in config.feeds}
    for f in states:
        status = "ok" if not f["consecutive_failures"] else f"FAILING x{f['consecutive_failures']}"
        if f["last_outcome"] == "interrupted":
            status = "interrupted"  # cut by a stop; polled again first thing
        if not f["enabled"]:
            status = "disabled" if f["name"] in configured else "removed"
        elif f["parked_at"]:
            status = "PARKED"
        last, due = f["last_polled_at"] or "-", f["next_poll_at"] or "-"
        if status == "PARKED":
            due = "never (parked)"
        print(f"{_line(f['name']):<28} {status:<12} last={last} next={due}")
        if status == "PARKED":
            print(f"    parked {f['parked_at']}: {_line(f['parked_reason'])}")
            print(f"    `newsdedup feeds enable {_line(f['name'])}` (or a new URL) polls it again")
        elif f["last_error"] and f["consecutive_failures"] and f["enabled"]:
            print(f"    {_line(f['last_error_kind'])}: {_line(f['last_error'])}")
        if f["last_rejected"]:
            print(f"    {f['last_rejected']} entries skipped: {_line(f['last_rejections'])}")
    return 0


def _print_story(story: dict[str, Any], full: bool = False) -> None:
    print(f"story {story['id']}: {_line(story['title'])}  ({story['variant_count']} article(s))")
    for a in story["articles"]:
        mark = "*" if a["is_canonical"] else " "
        sim = (
            f" sim={a['similarity']:.2f}"
            if a["similarity"] is not None and a["match_kind"] == "near"
            else ""
        )
        feed, title = _line(a["feed"]), _line(a["title"])
        print(f"  {mark} [{a['id']}] {feed}: {title}  ({a['match_kind']}{sim})")
        if full:
            print(textwrap.indent(terminal_text(a["text"]), "      "))
        else:
            print(f"      {_excerpt(a['text'])}")


def cmd_stories(args: argparse.Namespace) -> int:
    from worker.store.stories import list_stories

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        stories = list_stories(session, since=args.since, limit=args.limit)
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
    db = open_existing_database(config)
    with db.session() as session:
        story = get_story(session, args.id)
    if story is None:
        raise NewsdedupError(f"no story with id {args.id}")
    if args.json:
        _print_json(story)
        return 0
    if story.get("merged_from") is not None:
        print(
            f"story {story['merged_from']} was merged into story {story['id']} on "
            f"{story['merged_at'] or '?'}; showing {story['id']}"
        )
    _print_story(story, full=True)
    return 0


def _print_event(event: dict[str, Any], full: bool = False) -> None:
    feeds = _line(", ".join(event["feeds"]))
    print(
        f"event {event['id']}: {_line(event['title'])}  ({event['story_count']} stories; {feeds})"
    )
    if event.get("merged_from"):
        print(f"  (event {event['merged_from']} was merged into this one)")
    for story in event["stories"]:
        outlets = _line(", ".join(sorted({a["feed"] for a in story["articles"]})))
        title = _line(story["title"])
        print(f"  story {story['id']}: {title}  ({story['variant_count']}; {outlets})")
        if full:
            canonical = next((a for a in story["articles"] if a["is_canonical"]), None)
            if canonical is not None:
                print(f"      {_excerpt(canonical['text'], 200)}")


def cmd_events(args: argparse.Namespace) -> int:
    from worker.store.events import list_events

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        events = list_events(session, since=args.since, limit=args.limit)
    if args.json:
        _print_json(events)
        return 0
    for event in events:
        _print_event(event)
    print(f"{len(events)} events, {sum(e['story_count'] for e in events)} stories in them")
    return 0


def cmd_event(args: argparse.Namespace) -> int:
    from worker.store.events import get_event

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        event = get_event(session, args.id)
    if event is None:
        raise NewsdedupError(f"no event with id {args.id}")
    if args.json:
        _print_json(event)
    else:
        _print_event(event, full=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    feeds = sub.add_parser("feeds", help="feeds and their polling state; add, import, export")
    feeds.add_argument("--json", action="store_true")
    feeds.set_defaults(handler=cmd_feeds)
    # Without an action `feeds` lists the feeds, as it always did.
    register_feed_commands(feeds.add_subparsers(dest="feeds_command", metavar="ACTION"))

    stories = sub.add_parser("stories", help="stories with their articles, newest first")
    stories.add_argument(
        "--since", metavar="WHEN", type=when, help=f"stories seen since: {WHEN_HELP}"
    )
    stories.add_argument("--limit", type=positive_int, help="at most this many stories")
    stories.add_argument("--json", action="store_true")
    stories.set_defaults(handler=cmd_stories)

    story = sub.add_parser(
        "story", help="one story with the full text of every article (a merged id leads on)"
    )
    story.add_argument("id", type=int)
    story.add_argument("--json", action="store_true")
    story.set_defaults(handler=cmd_story)

    events = sub.add_parser("events", help="events (stories reporting one event), newest first")
    events.add_argument(
        "--since", metavar="WHEN", type=when, help=f"events updated since: {WHEN_HELP}"
    )
    events.add_argument("--limit", type=positive_int, help="at most this many events")
    events.add_argument("--json", action="store_true")
    events.set_defaults(handler=cmd_events)

    event = sub.add_parser("event", help="one event with its stories (a merged id leads on)")
    event.add_argument("id", type=int)
    event.add_argument("--json", action="store_true")
    event.set_defaults(handler=cmd_event)
