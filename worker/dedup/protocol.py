"""The reads and writes the dedup engine needs of a store: rows in, rows out, no decisions.

``worker.store.articles.ArticleStore`` implements it over SQL (SQLite or PostgreSQL) and
the LSH index mirror; the engine (``worker.dedup.engine``) owns every decision. A store is
used for one transaction, under the dedup lock: what it writes, its later reads see.

    >>> from worker.store.articles import ArticleStore
    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.dedup_transaction() as s:
    ...     store: DedupStore = ArticleStore(s)
    ...     store.reserve_ids("stories", 3), store.members({1}), store.band_hits({7}, 0.0)
    ([1, 2, 3], {}, {})
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Literal, Protocol

from worker.dedup.decision import Candidate
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.records import (
    Draft,
    ExactRow,
    Existing,
    Member,
    NewArticle,
    NewStory,
    Stored,
    StoryState,
)


class DedupStore(Protocol):
    # -- identity ----------------------------------------------------------------------
    def entries(
        self, feed_id: int, guids: Iterable[str], canonical_urls: Iterable[str]
    ) -> tuple[dict[str, Stored], dict[str, Stored]]:
        """The stored articles of ``feed_id`` by GUID and by canonical URL (the lowest id
        per URL)."""
        ...

    def article(self, article_id: int) -> Existing:
        """A stored article's story and source hash, as they are now."""
        ...

    # -- matching ----------------------------------------------------------------------
    def exact(
        self, canonical_urls: Collection[str], content_hashes: Collection[str]
    ) -> list[ExactRow]:
        """The lowest-id article of each of ``canonical_urls`` and of each of
        ``content_hashes`` (one row may serve both)."""
        ...

    def band_hits(self, keys: set[int], since: float) -> dict[int, list[int]]:
        """The indexed articles of each band key, indexed at or after ``since`` (seconds
        since the epoch), this transaction's own rows included; ids ascending."""
        ...

    def signatures(self, article_ids: Collection[int]) -> dict[int, Candidate]:
        """The stored fingerprints (and stories) of those of ``article_ids`` that have one."""
        ...

    def story_signatures(
        self, story_ids: Collection[int], per_story: int
    ) -> dict[int, list[Fingerprint]]:
        """The stored fingerprints of each story's first ``per_story`` articles by id."""
        ...

    def members(self, story_ids: Collection[int]) -> dict[int, list[Member]]:
        """The members of each story that has any."""
        ...

    # -- writes ------------------------------------------------------------------------
    def reserve_ids(self, table: Literal["articles", "stories"], count: int) -> list[int]:
        """``count`` ascending ids for rows of ``table`` not written yet, in the order a
        one-by-one insert would have taken them."""
        ...

    def insert(self, stories: Sequence[NewStory], articles: Sequence[NewArticle]) -> None:
        """New stories, then new articles and their index rows."""
        ...

    def update_article(self, article_id: int, draft: Draft, updated_at: datetime) -> None:
        """An edit: the article's columns from ``draft`` (its published time kept when the
        draft has none); its story is left as it is."""
        ...

    def set_fingerprint(self, article_id: int, fingerprint: Fingerprint) -> None:
        """The article's fingerprint columns, recomputed (its text unchanged)."""
        ...

    def replace_keys(self, article_id: int, added_at: datetime, keys: list[int]) -> None:
        """The article's index row replaced (``keys`` empty: it leaves the index)."""
        ...

    def merge(self, survivor: int, folded: Sequence[int], reason: str = "bridge") -> None:
        """Every article of the ``folded`` stories re-pointed to ``survivor``; each folded
        story kept as a tombstone that leads to ``survivor`` (as do the tombstones that
        led to it) and recorded as a merge for ``reason``. The caller refreshes
        ``survivor``."""
        ...

    def split(self, story_id: int, article_ids: Sequence[int], reason: str) -> int:
        """``article_ids`` (some, not all, of ``story_id``'s articles) moved into a new
        story, recorded as a split for ``reason``; the new story's id. The caller refreshes
        both stories (``worker.dedup.canonical.split_story`` does both). ``ValueError``,
        nothing written, when the ids are not a proper part of a live story."""
        ...

    def refresh(self, states: Sequence[StoryState], empty: Collection[int]) -> None:
        """Stories' derived columns written (and their ``updated_at``); the ``empty``
        stories deleted, with the tombstones that lead to them (a tombstone among
        ``empty`` stays)."""
        ...
