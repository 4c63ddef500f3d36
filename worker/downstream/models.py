"""The JSON shapes downstream tools see, one set for the HTTP API and every ``--json`` of the
command line (``stories``, ``story``, ``export --json/--jsonl``, ``feeds``, ``events``,
``event``), so a story looks the same wherever it is read. ``docs/downstream.md`` documents
them; the API's OpenAPI document (``docs/openapi.json``) is generated from them.

Lists come in one envelope: an object with the list under the name of what it holds and
the cursor of the next page (``null`` on the last page, and always for the command line,
which pages by ``--limit``):

    >>> page = StoryList(stories=[], next_cursor=None)
    >>> to_json(page, indent=None)
    '{"stories": [], "next_cursor": null}'

Times are ISO 8601 in UTC; every stored string comes out as stored (text, never markup a
reader should trust: ``worker.safetext.json_safe`` escapes what breaks JSON readers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from worker.safetext import json_safe


class _Out(BaseModel):
    # Built from the store's dicts, which carry more than a shape shows (etag, ...).
    model_config = ConfigDict(extra="ignore", frozen=True)


class Article(_Out):
    """One article (a copy of a story) with how it was matched into its story."""

    id: int
    story_id: int
    title: str | None = None
    url: str | None = Field(None, description="the link as the feed gave it")
    canonical_url: str | None = Field(
        None, description="the link normalised for identity: tracking parameters removed"
    )
    feed: str = Field(description="name of the feed that carried it")
    author: str | None = None
    published: datetime | None = None
    fetched: datetime | None = Field(None, description="when it was first stored")
    is_canonical: bool = False
    match_kind: str = Field(
        description="how it joined its story: new (started it), url (same canonical URL), "
        "content (same text), near (a verified near copy)"
    )
    matched_article_id: int | None = Field(None, description="the article it was matched to")
    similarity: float | None = Field(
        None, description="near: max(estimated Jaccard, estimated containment); 1.0 exact"
    )
    text: str = Field("", description="the clean text, one paragraph per line")


class Story(_Out):
    """A story: one news item with every copy of it (its canonical article marked)."""

    id: int
    canonical_id: int | None = None
    title: str | None = Field(None, description="the canonical article's headline")
    first_seen: datetime
    last_seen: datetime
    variant_count: int
    articles: list[Article] = Field(default_factory=list)
    merged_from: int | None = Field(
        None, description="set when the id asked for was merged into this story"
    )
    merged_at: datetime | None = Field(None, description="when merged_from was merged")
    seq: int | None = Field(
        None, description="in what changed after a seq: the number of its latest change"
    )


class Feed(_Out):
    """A feed with its polling state and last failure."""

    name: str
    url: str
    enabled: bool
    title: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    last_outcome: str | None = Field(None, description="ok, not_modified, error or interrupted")
    parked_at: datetime | None = Field(None, description="set: no longer polled (failing)")
    parked_reason: str | None = None
    last_error_kind: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_rejected: int = Field(0, description="entries the latest poll skipped")
    last_rejections: str | None = None


class Event(_Out):
    """An event: the stories that report one real-world event."""

    id: int
    title: str | None = None
    created: datetime
    updated: datetime
    story_count: int
    feeds: list[str]
    stories: list[Story]
    merged_from: int | None = Field(
        None, description="set when the id asked for was merged into this event"
    )


class Merge(_Out):
    """A recorded change of stories: ``merge`` (``story_id`` went into ``into_story_id``)
    or ``split`` (``articles_moved`` articles of ``story_id`` left for ``into_story_id``)."""

    id: int
    kind: Literal["merge", "split"]
    story_id: int
    into_story_id: int
    articles_moved: int = 0
    reason: str | None = None
    at: datetime


class Change(_Out):
    """One entry of the change feed, in commit order by ``seq`` (``docs/downstream.md``,
    the change feed: what each ``kind`` sets)."""

    seq: int
    kind: str = Field(
        description="story_created, article_added, article_updated, canonical_changed, "
        "story_merged, story_split, article_purged, story_deleted, event_created, "
        "story_event_changed, event_merged, event_split"
    )
    story_id: int | None = None
    article_id: int | None = None
    event_id: int | None = None
    other_id: int | None = Field(
        None, description="the other party: the story merged into, the matched article, ..."
    )
    at: datetime
    detail: dict[str, Any] | None = None


class MergedId(_Out):
    """A story id merged away: ``merged_into`` is the live story it is part of now."""

    id: int
    merged_into: int
    seq: int


class DeletedId(_Out):
    """A story id deleted (every article purged)."""

    id: int
    seq: int


class StoryChanges(_Out):
    """What changed after a change-feed number (``stories --after SEQ``,
    ``/api/v1/changes/stories?after=SEQ``): the live stories the changes name, each with
    ``seq``, the ids merged away or deleted, and ``seq``, the number to ask from next."""

    stories: list[Story]
    merged: list[MergedId]
    deleted: list[DeletedId]
    seq: int


class StoryList(_Out):
    stories: list[Story]
    next_cursor: str | None = None


class ArticleList(_Out):
    articles: list[Article]
    next_cursor: str | None = None


class FeedList(_Out):
    feeds: list[Feed]
    next_cursor: str | None = None


class EventList(_Out):
    events: list[Event]
    next_cursor: str | None = None


class MergeList(_Out):
    merges: list[Merge]
    next_cursor: str | None = None


class ChangeList(_Out):
    changes: list[Change]
    next_after: int = Field(
        description="the seq to ask for next (?after=): the last one here, else the one asked"
    )
    latest: int = Field(description="the newest seq now: caught up when next_after equals it")


class Error(_Out):
    """Every 4xx answer of the API: one line saying what was wrong."""

    error: str


M = TypeVar("M", bound=_Out)


def build(model: type[M], rows: Iterable[Mapping[str, Any]]) -> list[M]:
    """The store's dicts as ``model`` instances."""
    return [model.model_validate(row) for row in rows]


def to_json(model: BaseModel, *, indent: int | None = 2) -> str:
    """``model`` as a JSON document, safe for a terminal and for JavaScript readers."""
    data = model.model_dump(mode="json")
    return json_safe(json.dumps(data, indent=indent, ensure_ascii=False))
