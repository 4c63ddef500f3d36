"""``feeds``, ``stories``, ``story``, ``events`` and ``event``: what is stored, as text or JSON."""

from __future__ import annotations

import argparse
import textwrap
from datetime import datetime
from typing import TYPE_CHECKING, Any

from worker.cli.app import load_config, open_existing_database
from worker.cli.args import WHEN_HELP, positive_int, seq_number, when
from worker.cli.feedlist import register_feed_commands
from worker.errors import NewsdedupError
from worker.safetext import terminal_line, terminal_text

if TYPE_CHECKING:
    from pydantic import BaseModel

    from worker.downstream.models import Event, Story


def _print_json(model: BaseModel) -> None:
    from worker.downstream.models import to_json

    print(to_json(model))


def _excerpt(text: str, width: int = 100) -> str:
    return textwrap.shorten(terminal_line(text), width=width, placeholder=" ...")


def _line(value: Any) -> str:
    """A stored value on one terminal line: a feed chose it, so no escape sequence of it
    reaches the terminal (``ESC]52;`` writes the clipboard, ``ESC[2J`` clears the screen)."""
    return terminal_line(str(value)) if value is not None else "-"


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


def cmd_feeds(args: argparse.Namespace) -> int:
    from worker.downstream.models import Feed, FeedList, build
    from worker.store.stories import feed_states

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        feeds = build(Feed, feed_states(session))
    if args.json:
        _print_json(FeedList(feeds=feeds))
        return 0
    configured = {f.name for f in config.feeds}
    for f in feeds:
        status = "ok" if not f.consecutive_failures else f"FAILING x{f.consecutive_failures}"
        if f.last_outcome == "interrupted":
            status = "interrupted"  # cut by a stop; polled again first thing
        if not f.enabled:
            status = "disabled" if f.name in configured else "removed"
        elif f.parked_at:
            status = "PARKED"
        last, due = _when(f.last_polled_at), _when(f.next_poll_at)
        if status == "PARKED":
            due = "never (parked)"
        print(f"{_line(f.name):<28} {status:<12} last={last} next={due}")
        if status == "PARKED":
            print(f"    parked {_when(f.parked_at)}: {_line(f.parked_reason)}")
            print(f"    `newsdedup feeds enable {_line(f.name)}` (or a new URL) polls it again")
        elif f.last_error and f.consecutive_failures and f.enabled:
            print(f"    {_line(f.last_error_kind)}: {_line(f.last_error)}")
        if f.last_rejected:
            print(f"    {f.last_rejected} entries skipped: {_line(f.last_rejections)}")
    return 0


def _print_story(story: Story, full: bool = False) -> None:
    print(f"story {story.id}: {_line(story.title)}  ({story.variant_count} article(s))")
    for a in story.articles:
        mark = "*" if a.is_canonical else " "
        near = a.similarity is not None and a.match_kind == "near"
        sim = f" sim={a.similarity:.2f}" if near else ""
        print(f"  {mark} [{a.id}] {_line(a.feed)}: {_line(a.title)}  ({a.match_kind}{sim})")
        if full:
            print(textwrap.indent(terminal_text(a.text), "      "))
        else:
            print(f"      {_excerpt(a.text)}")


def _stories_after(args: argparse.Namespace) -> int:
    """``stories --after SEQ``: what changed since change ``SEQ``, and the number to ask
    from next time."""
    from worker.downstream.models import StoryChanges
    from worker.store.stories import changed_after

    db = open_existing_database(load_config(args.config))
    with db.session() as session:
        changed = StoryChanges.model_validate(changed_after(session, args.after, args.limit))
    if args.json:
        _print_json(changed)
        return 0
    for story in changed.stories:
        _print_story(story)
    for merged in changed.merged:
        print(f"story {merged.id} was merged into story {merged.merged_into}")
    for deleted in changed.deleted:
        print(f"story {deleted.id} was deleted")
    print(
        f"{len(changed.stories)} stories changed after change {args.after}; "
        f"next: --after {changed.seq}"
    )
    return 0


def cmd_stories(args: argparse.Namespace) -> int:
    from worker.downstream.models import Story, StoryList, build
    from worker.store.stories import list_stories

    if args.after is not None:
        return _stories_after(args)
    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        stories = build(Story, list_stories(session, since=args.since, limit=args.limit))
    if args.json:
        _print_json(StoryList(stories=stories))
        return 0
    for story in stories:
        _print_story(story)
    folded = sum(s.variant_count - 1 for s in stories)
    print(f"{len(stories)} stories, {folded} copies folded into them")
    return 0


def cmd_story(args: argparse.Namespace) -> int:
    from worker.downstream.models import Story
    from worker.store.stories import get_story

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        found = get_story(session, args.id)
    if found is None:
        raise NewsdedupError(f"no story with id {args.id}")
    story = Story.model_validate(found)
    if args.json:
        _print_json(story)
        return 0
    if story.merged_from is not None:
        when = story.merged_at.isoformat() if story.merged_at else "?"
        print(
            f"story {story.merged_from} was merged into story {story.id} on {when}; "
            f"showing {story.id}"
        )
    _print_story(story, full=True)
    return 0


def _print_event(event: Event, full: bool = False) -> None:
    feeds = _line(", ".join(event.feeds))
    stories = f"{event.story_count} {'story' if event.story_count == 1 else 'stories'}"
    print(f"event {event.id}: {_line(event.title)}  ({stories}; {feeds})")
    if event.merged_from:
        print(f"  (event {event.merged_from} was merged into this one)")
    for story in event.stories:
        outlets = _line(", ".join(sorted({a.feed for a in story.articles})))
        print(f"  story {story.id}: {_line(story.title)}  ({story.variant_count}; {outlets})")
        if full:
            canonical = next((a for a in story.articles if a.is_canonical), None)
            if canonical is not None:
                print(f"      {_excerpt(canonical.text, 200)}")


def cmd_events(args: argparse.Namespace) -> int:
    from worker.downstream.models import Event, EventList, build
    from worker.store.events import list_events

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        events = build(Event, list_events(session, since=args.since, limit=args.limit))
    if args.json:
        _print_json(EventList(events=events))
        return 0
    for event in events:
        _print_event(event)
    print(f"{len(events)} events, {sum(e.story_count for e in events)} stories in them")
    return 0


def cmd_event(args: argparse.Namespace) -> int:
    from worker.downstream.models import Event
    from worker.store.events import get_event

    config = load_config(args.config)
    db = open_existing_database(config)
    with db.session() as session:
        found = get_event(session, args.id)
    if found is None:
        raise NewsdedupError(f"no event with id {args.id}")
    event = Event.model_validate(found)
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
    start = stories.add_mutually_exclusive_group()
    start.add_argument(
        "--since", metavar="WHEN", type=when, help=f"stories seen since: {WHEN_HELP}"
    )
    start.add_argument(
        "--after",
        metavar="SEQ",
        type=seq_number,
        help="the stories changed after change SEQ of the change feed (0: from the start), "
        "the merged and deleted ones, and the number to ask from next",
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
