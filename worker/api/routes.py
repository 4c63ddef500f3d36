"""The JSON API under ``/api/v1``: read-only, every answer one of the models of
``worker.downstream.models`` (the shapes of every ``--json`` too)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from worker.api import params
from worker.api.params import After, Cursor, FeedName, Id, Limit, Since, Until, Words
from worker.downstream.models import (
    Article,
    ArticleList,
    Change,
    ChangeList,
    Error,
    Event,
    EventList,
    Feed,
    FeedList,
    Merge,
    MergeList,
    Story,
    StoryChanges,
    StoryList,
    build,
    to_json,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "a bad parameter"},
    401: {"model": Error, "description": "the token is missing or wrong"},
    503: {"model": Error, "description": "the database did not answer"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "no such id"},
    **ERRORS,
}

router = APIRouter(prefix="/api/v1", tags=["read"])


def session(request: Request) -> Iterator[Session]:
    with request.app.state.served.db.session() as s:
        yield s


DB = Annotated[Session, Depends(session)]


def _one(model: type[BaseModel], found: Any, missing: str) -> Response:
    """One item, or a 404 saying what is missing."""
    if found is None:
        raise HTTPException(404, missing)
    return _json(model.model_validate(found))


def _json(model: BaseModel) -> Response:
    # Serialised once, by the models' own writer (the CLI's too): FastAPI would validate
    # the model a second time on the way out.
    return Response(to_json(model, indent=None), media_type="application/json")


@router.get("/stories", response_model=StoryList, responses=ERRORS)
def stories(
    db: DB,
    feed: FeedName = None,
    since: Since = None,
    until: Until = None,
    q: Words = None,
    cursor: Cursor = None,
    limit: Limit = params.DEFAULT_LIMIT,
) -> Response:
    """Stories, last seen first, each with every copy; filtered by feed, time (last seen)
    and words (of any copy's headline or text)."""
    from worker.store.browse import StoryFilter, story_page

    where = StoryFilter(
        feed=params.text("feed", feed),
        since=params.when("since", since),
        until=params.when("until", until),
        words=params.words(q),
    )
    after = params.decode_story_cursor(cursor)
    rows, next_key = story_page(db, where, after, params.limit(limit))
    page = StoryList(stories=build(Story, rows), next_cursor=params.encode_story_cursor(next_key))
    return _json(page)


@router.get("/stories/{story_id}", response_model=Story, responses=NOT_FOUND)
def story(db: DB, story_id: Id) -> Response:
    """One story with every copy and how each was matched. An id that was merged into
    another story answers with that story (``merged_from`` says so)."""
    from worker.store.stories import get_story

    return _one(Story, get_story(db, story_id), f"no story with id {story_id}")


@router.get("/articles", response_model=ArticleList, responses=ERRORS)
def articles(
    db: DB,
    feed: FeedName = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = params.DEFAULT_LIMIT,
) -> Response:
    """Articles, newest stored first; filtered by feed and time (first stored)."""
    from worker.store.browse import article_page

    rows, last = article_page(
        db,
        feed=params.text("feed", feed),
        since=params.when("since", since),
        until=params.when("until", until),
        before_id=params.decode_id_cursor(cursor),
        limit=params.limit(limit),
    )
    return _json(
        ArticleList(articles=build(Article, rows), next_cursor=params.encode_id_cursor(last))
    )


@router.get("/articles/{article_id}", response_model=Article, responses=NOT_FOUND)
def article(db: DB, article_id: Id) -> Response:
    """One article with its match evidence."""
    from worker.store.browse import get_article

    return _one(Article, get_article(db, article_id), f"no article with id {article_id}")


@router.get("/search", response_model=ArticleList, responses=ERRORS)
def search(
    db: DB, q: Words = None, cursor: Cursor = None, limit: Limit = params.DEFAULT_LIMIT
) -> Response:
    """Articles holding every word of ``q`` (headline or text), newest first; each names
    its story (``story_id``)."""
    from worker.store.browse import search_page

    found = params.words(q)
    if found is None:
        raise params.bad("q", "required")
    rows, last = search_page(db, found, params.decode_id_cursor(cursor), params.limit(limit))
    return _json(
        ArticleList(articles=build(Article, rows), next_cursor=params.encode_id_cursor(last))
    )


@router.get("/feeds", response_model=FeedList, responses=ERRORS)
def feeds(db: DB) -> Response:
    """Every feed with its polling state, last error and whether it is parked."""
    from worker.store.stories import feed_states

    return _json(FeedList(feeds=build(Feed, feed_states(db))))


@router.get("/feeds/{name}", response_model=Feed, responses=NOT_FOUND)
def feed(db: DB, name: str) -> Response:
    """One feed by name."""
    from worker.store.stories import feed_states

    found = next((f for f in feed_states(db) if f["name"] == name), None)
    return _one(Feed, found, f"no feed named {name!r}")


@router.get("/events", response_model=EventList, responses=ERRORS)
def events(db: DB, since: Since = None, limit: Limit = params.DEFAULT_LIMIT) -> Response:
    """Events (stories reporting one real-world event), last updated first."""
    from worker.store.events import list_events

    rows = list_events(db, since=params.when("since", since), limit=params.limit(limit))
    return _json(EventList(events=build(Event, rows)))


@router.get("/events/{event_id}", response_model=Event, responses=NOT_FOUND)
def event(db: DB, event_id: Id) -> Response:
    """One event with its stories; a merged id answers with the event it went into."""
    from worker.store.events import get_event

    return _one(Event, get_event(db, event_id), f"no event with id {event_id}")


@router.get("/changes", response_model=ChangeList, responses=ERRORS)
def changes(
    db: DB,
    after: After = 0,
    limit: Limit = params.DEFAULT_LIMIT,
) -> Response:
    """The change feed: every change numbered above ``after``, in commit order. Save
    ``next_after`` and ask again with it: nothing is missed, and no clock is needed."""
    from worker.store.changes import changes_after, latest_seq

    rows = changes_after(db, after, params.limit(limit))
    found = [Change.model_validate(r, from_attributes=True) for r in rows]
    page = ChangeList(
        changes=found, next_after=found[-1].seq if found else after, latest=latest_seq(db)
    )
    return _json(page)


@router.get("/merges", response_model=MergeList, responses=ERRORS)
def merges(
    db: DB,
    story: Annotated[
        int | None, Query(ge=1, le=params.MAX_ID, description="only those from or into it")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = params.DEFAULT_LIMIT,
) -> Response:
    """Story merges and splits in the order they happened."""
    from worker.store.browse import merge_page

    rows, last = merge_page(db, story, params.decode_id_cursor(cursor), params.limit(limit))
    return _json(MergeList(merges=build(Merge, rows), next_cursor=params.encode_id_cursor(last)))


@router.get("/changes/stories", response_model=StoryChanges, responses=ERRORS)
def changed_stories(
    db: DB,
    after: After = 0,
    limit: Limit = params.DEFAULT_LIMIT,
) -> Response:
    """What ``stories --after SEQ`` prints: the live stories the changes after ``after``
    name (each with its latest ``seq``), the ids merged away or deleted, and ``seq`` to ask
    from next."""
    from worker.store.stories import changed_after

    found = changed_after(db, after, params.limit(limit))
    return _json(StoryChanges.model_validate(found))
