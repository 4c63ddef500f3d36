"""The web page: server-rendered HTML (Jinja2, every value escaped; no script at all), for a
person checking what was folded and why. ``/`` lists the stories newest first, ``/stories/ID``
shows one story's canonical text and each copy with its outlet, time, headline, how it was
matched and what it changed (a word diff), ``/events`` the events (different outlets'
stories of one real-world event) with their stories and outlets, ``/feeds`` the feeds and
their failures.

Stored text is shown as text: the sanitised HTML of the articles is never rendered."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader

from worker.api import params
from worker.api.params import Cursor, FeedName, Id, Words
from worker.api.worddiff import word_diff
from worker.downstream.models import Article, Event, Feed, Merge, Story, build

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30
# No script, no frame, nothing from elsewhere: a stored string that got past the escaping
# still could not run or load anything.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def href(url: str | None) -> str | None:
    """A stored link as a link only when it is http(s): never ``javascript:`` or ``data:``.

    >>> href("https://a.example/x"), href("javascript:alert(1)"), href(None)
    ('https://a.example/x', None, None)
    """
    return url if url and re.match(r"https?://", url, re.IGNORECASE) else None


@cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("worker.api", "templates"), autoescape=True, auto_reload=False
    )
    env.filters["href"] = href
    return env


def render(name: str, status: int = 200, headers: Any = None, **context: Any) -> HTMLResponse:
    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status, headers={**SECURITY_HEADERS, **(headers or {})})


def error_page(request: Request, status: int, message: str, headers: Any = None) -> Response:
    return render("error.html", status, headers, status_code=status, message=message)


def _session(request: Request) -> Any:
    return request.app.state.served.db.session()


@router.get("/style.css")
def style() -> Response:
    from importlib import resources

    css = resources.files("worker.api").joinpath("templates/style.css").read_text()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/", response_class=HTMLResponse)
def story_list(
    request: Request, q: Words = None, feed: FeedName = None, cursor: Cursor = None
) -> Response:
    from worker.store.browse import StoryFilter, story_page
    from worker.store.stories import feed_states

    where = StoryFilter(feed=params.text("feed", feed), words=params.words(q))
    with _session(request) as session:
        rows, next_key = story_page(session, where, params.decode_story_cursor(cursor), PAGE_SIZE)
        feeds = [f["name"] for f in feed_states(session)]
    return render(
        "stories.html",
        stories=build(Story, rows),
        next_cursor=params.encode_story_cursor(next_key),
        q=q or "",
        feed=feed or "",
        feeds=feeds,
    )


def _evidence(article: Article, pair: tuple[float, float] | None) -> str:
    """How a copy was matched, in words."""
    other = f"article {article.matched_article_id}" if article.matched_article_id else "?"
    if article.match_kind == "new":
        return "started the story"
    if article.match_kind == "url":
        return f"same canonical URL as {other}"
    if article.match_kind == "content":
        return f"same text as {other} (an exact copy)"
    if pair is not None:
        return (
            f"near copy of {other}: Jaccard {pair[0]:.2f}, containment {pair[1]:.2f} "
            "(MinHash estimates; either over its threshold makes a copy)"
        )
    if article.similarity is not None:
        return f"near copy of {other}: similarity {article.similarity:.2f}"
    return f"{article.match_kind} copy of {other}"


def _similarities(session: Any, articles: list[Article]) -> dict[int, tuple[float, float]]:
    """(Jaccard, containment) of each near copy and the article it matched, from the stored
    signatures (the database keeps only the larger of the two)."""
    from worker.dedup.decision import similarity
    from worker.store.articles import ArticleStore

    near = [a for a in articles if a.match_kind == "near" and a.matched_article_id]
    if not near:
        return {}
    wanted = {a.id for a in near} | {a.matched_article_id or 0 for a in near}
    signatures = ArticleStore(session).signatures(wanted)
    out = {}
    for a in near:
        mine, theirs = signatures.get(a.id), signatures.get(a.matched_article_id or 0)
        if mine and theirs and mine.fingerprint.compatible(theirs.fingerprint):
            sim = similarity(mine.fingerprint, theirs.fingerprint)
            out[a.id] = (sim.jaccard, sim.containment)
    return out


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, story_id: Id) -> Response:
    from worker.store.browse import merge_page
    from worker.store.stories import get_story

    with _session(request) as session:
        found = get_story(session, story_id)
        if found is None:
            return error_page(request, 404, f"no story with id {story_id}")
        story = Story.model_validate(found)
        pairs = _similarities(session, story.articles)
        merges = build(Merge, merge_page(session, story.id, None, params.MAX_LIMIT)[0])
    canonical = next((a for a in story.articles if a.is_canonical), None)
    variants = [
        {
            "article": a,
            "evidence": _evidence(a, pairs.get(a.id)),
            "diff": word_diff(canonical.text, a.text) if canonical is not None else [],
        }
        for a in story.articles
        if a is not canonical
    ]
    return render(
        "story.html",
        story=story,
        canonical=canonical,
        canonical_evidence=_evidence(canonical, pairs.get(canonical.id)) if canonical else "",
        paragraphs=[p for p in (canonical.text if canonical else "").split("\n") if p.strip()],
        variants=variants,
        merges=merges,
    )


@router.get("/feeds", response_class=HTMLResponse)
def feed_list(request: Request) -> Response:
    from worker.store.stories import feed_states

    with _session(request) as session:
        feeds = build(Feed, feed_states(session))
    failing = [f for f in feeds if f.enabled and (f.consecutive_failures or f.parked_at)]
    return render("feeds.html", feeds=feeds, failing=len(failing))


@router.get("/events", response_class=HTMLResponse)
def event_list(request: Request) -> Response:
    from worker.store.events import list_events

    with _session(request) as session:
        events = build(Event, list_events(session, limit=PAGE_SIZE))
    return render("events.html", events=events, single=False)


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, event_id: Id) -> Response:
    from worker.store.events import get_event

    with _session(request) as session:
        found = get_event(session, event_id)
    if found is None:
        return error_page(request, 404, f"no event with id {event_id}")
    return render("events.html", events=[Event.model_validate(found)], single=True)
