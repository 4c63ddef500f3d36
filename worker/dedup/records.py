"""What passes between the dedup engine and a store: the policy it decides by, the drafts
it decides, what it answers, and the rows it reads and writes. Plain data, no behaviour.

    >>> from datetime import timedelta
    >>> from worker.dedup.decision import MatchRule
    >>> from worker.dedup.lsh import LshParams
    >>> policy = DedupPolicy(MatchRule(), LshParams.for_threshold(0.2, 128), "earliest",
    ...                      timedelta(days=30))
    >>> policy.rule.min_shingles
    5
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from worker.dedup.decision import MatchRule
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import LshParams


@dataclass(frozen=True)
class DedupPolicy:
    rule: MatchRule
    lsh: LshParams
    canonical_policy: str  # earliest | priority | longest
    retention: timedelta  # articles indexed longer ago are no match candidates


@dataclass(frozen=True)
class Draft:
    """Everything known about one entry before it is stored."""

    feed_id: int
    guid: str
    url: str | None
    canonical_url: str | None
    title: str
    author: str | None
    published_at: datetime | None
    language: str | None
    content_html: str | None
    clean_text: str
    source_hash: str
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Decision:
    """How one draft was stored."""

    article_id: int
    story_id: int
    kind: str  # new | url | content | near | updated | unchanged
    similarity: float | None = None
    merged: tuple[int, ...] = ()  # stories folded into ``story_id`` by this article


class Stored(NamedTuple):
    """A stored article as identity sees it: which one, and the entry it was made of."""

    article_id: int
    source_hash: str


class Existing(NamedTuple):
    """A stored article an entry is an edit of: its story and the entry it was made of."""

    story_id: int
    source_hash: str


class ExactRow(NamedTuple):
    """A stored article a draft can match exactly (same canonical URL or content hash)."""

    article_id: int
    story_id: int
    canonical_url: str | None
    content_hash: str
    # For ``identity_match_allowed``: whose article it is, and its text's fingerprint
    # (``None`` when it has none).
    feed_id: int = 0
    fingerprint: Fingerprint | None = None


class Member(NamedTuple):
    """What choosing a story's canonical article needs of each member (times in UTC)."""

    article_id: int
    published_at: datetime | None
    fetched_at: datetime
    feed_id: int
    text_length: int


class NewStory(NamedTuple):
    story_id: int
    seen_at: datetime


class NewArticle(NamedTuple):
    """A decided draft: its ids, how it matched, and its band keys (empty: not indexed)."""

    article_id: int
    story_id: int
    draft: Draft
    fetched_at: datetime
    kind: str
    matched_id: int | None
    similarity: float | None
    keys: list[int]


class StoryState(NamedTuple):
    """A story's derived columns, as its members give them."""

    story_id: int
    canonical_article_id: int
    variant_count: int
    first_seen_at: datetime
    last_seen_at: datetime
