"""The write path: one entry becomes an article in a story, with its LSH buckets, in the
caller's transaction. Identity before similarity: same entry (feed + GUID or URL), then the
same canonical URL or the same text anywhere, then a verified near copy, else a new story.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from worker.clock import as_utc, utcnow
from worker.dedup.canonical import ArticleFacts, choose_canonical, seen_time
from worker.dedup.decision import (
    MAX_LINK_MEMBERS,
    Match,
    MatchRule,
    identity_match_allowed,
    stories_to_merge,
    story_match,
    verified_matches,
)
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import LshParams, band_keys
from worker.store.index import candidates, index_article
from worker.store.models import Article, Feed, Story

log = logging.getLogger("newsdedup.store")


@dataclass(frozen=True)
class DedupPolicy:
    rule: MatchRule
    lsh: LshParams
    canonical_policy: str
    retention: timedelta


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
class StoreResult:
    article_id: int
    story_id: int
    kind: str  # new | url | content | near | updated | unchanged
    similarity: float | None = None
    merged: tuple[int, ...] = ()  # stories folded into ``story_id`` by this article


_articles = cast(Table, Article.__table__)
_stories = cast(Table, Story.__table__)
_INSERT_ARTICLE = insert(_articles).returning(_articles.c.id)
_INSERT_STORY = insert(_stories).returning(_stories.c.id)
_SET_CANONICAL = (
    update(_stories)
    .where(_stories.c.id == bindparam("b_story"))
    .values(canonical_article_id=bindparam("b_article", type_=Integer))
)
_MEMBERS = select(
    _articles.c.id,
    _articles.c.published_at,
    _articles.c.fetched_at,
    _articles.c.feed_id,
    _articles.c.text_length,
).where(_articles.c.story_id == bindparam("b_story"))
REFRESH_STORY = (
    update(_stories)
    .where(_stories.c.id == bindparam("b_story"))
    .values(
        canonical_article_id=bindparam("b_canonical", type_=Integer),
        variant_count=bindparam("b_count", type_=Integer),
        first_seen_at=bindparam("b_first", type_=_stories.c.first_seen_at.type),
        last_seen_at=bindparam("b_last", type_=_stories.c.last_seen_at.type),
    )
)


@dataclass(frozen=True)
class Stored:
    """What identity needs of a stored article: which one, and the entry it was made of."""

    article_id: int
    source_hash: str


# Bound parameters per IN list: far below SQLite's and PostgreSQL's limits.
_IN_CHUNK = 500


def stored_entries(
    session: Session, feed_id: int, guids: Iterable[str], canonical_urls: Iterable[str]
) -> tuple[dict[str, Stored], dict[str, Stored]]:
    """The stored articles of ``feed_id`` for many entries at once, by GUID and by
    canonical URL (the lowest id per URL): an entry is the stored one of its GUID, else of
    its canonical URL."""
    by_guid: dict[str, Stored] = {}
    by_url: dict[str, Stored] = {}
    for column, wanted, found in (
        (Article.guid, sorted(set(guids)), by_guid),
        (Article.canonical_url, sorted(set(canonical_urls)), by_url),
    ):
        for start in range(0, len(wanted), _IN_CHUNK):
            rows = session.execute(
                select(column, Article.id, Article.source_hash)
                .where(Article.feed_id == feed_id, column.in_(wanted[start : start + _IN_CHUNK]))
                .order_by(Article.id)
            )
            for key, article_id, digest in rows:
                if key is not None:
                    found.setdefault(key, Stored(article_id, digest))
    return by_guid, by_url


def refresh_story(
    session: Session, story_id: int, policy: str, feed_priority: dict[int, int]
) -> None:
    """Recount the story's variants and choose its canonical article again (a story left
    without articles is deleted)."""
    session.flush()  # the statements below run on the connection, past the ORM
    conn = session.connection()
    members = conn.execute(_MEMBERS, {"b_story": story_id}).all()
    if not members:
        conn.execute(delete(_stories).where(_stories.c.id == story_id))
        return
    conn.execute(REFRESH_STORY, story_refresh(story_id, members, policy, feed_priority))


def story_refresh(
    story_id: int, members: Sequence[Any], policy: str, feed_priority: dict[int, int]
) -> dict[str, Any]:
    """The ``REFRESH_STORY`` parameters of a story from its members' rows (``_MEMBERS``)."""
    facts = [
        ArticleFacts(
            m.id,
            seen_time(as_utc(m.published_at), as_utc(m.fetched_at) or utcnow()),
            feed_priority.get(m.feed_id, 0),
            m.text_length,
        )
        for m in members
    ]
    seen = [s for s in (as_utc(m.fetched_at) for m in members) if s]
    return {
        "b_story": story_id,
        "b_canonical": choose_canonical(facts, policy),
        "b_count": len(members),
        "b_first": min(seen),
        "b_last": max(seen),
    }


def fingerprint_columns(draft: Draft) -> dict[str, object]:
    fp = draft.fingerprint
    return {
        "clean_text": draft.clean_text,
        "text_length": len(draft.clean_text),
        "content_hash": fp.content_hash,
        "shingle_count": fp.shingle_count,
        "signature": fp.to_bytes(),
        "sig_scheme": fp.scheme,
        "sig_seed": fp.seed,
        "sig_num_perm": fp.num_perm,
    }


@dataclass(frozen=True)
class _Exact:
    article_id: int
    story_id: int
    kind: str  # url | content


# What ``identity_match_allowed`` needs of the article a URL matched.
IDENTITY_COLUMNS = (
    _articles.c.feed_id,
    _articles.c.content_hash,
    _articles.c.signature,
    _articles.c.shingle_count,
    _articles.c.sig_scheme,
    _articles.c.sig_seed,
)


def stored_fingerprint(row: Any) -> Fingerprint | None:
    """The fingerprint of a row with ``IDENTITY_COLUMNS``; ``None`` when it has none."""
    if row.signature is None or row.sig_scheme is None:
        return None
    return Fingerprint.from_stored(
        row.signature,
        shingle_count=row.shingle_count,
        content_hash=row.content_hash,
        scheme=row.sig_scheme,
        seed=row.sig_seed or 0,
    )


@lru_cache(maxsize=4)
def _exact_query(by_url: bool, by_hash: bool) -> Select[tuple[int, int, str | None]]:
    conditions = []
    if by_url:
        conditions.append(_articles.c.canonical_url == bindparam("b_url"))
    if by_hash:
        conditions.append(_articles.c.content_hash == bindparam("b_hash"))
    return (
        select(
            _articles.c.id,
            _articles.c.story_id,
            _articles.c.canonical_url,
            *IDENTITY_COLUMNS,
        )
        .where(or_(*conditions))
        .order_by(_articles.c.id)
        .limit(1)
    )


def _exact_match(session: Session, draft: Draft, rule: MatchRule) -> _Exact | None:
    by_url = bool(draft.canonical_url)
    by_hash = draft.fingerprint.shingle_count > 0
    if not (by_url or by_hash):
        return None
    params = {"b_url": draft.canonical_url, "b_hash": draft.fingerprint.content_hash}
    conn = session.connection()
    row = conn.execute(_exact_query(by_url, by_hash), params).first()
    if row is None:
        return None
    url_match = by_url and row.canonical_url == draft.canonical_url
    if url_match and not identity_match_allowed(
        draft.fingerprint, draft.feed_id, stored_fingerprint(row), row.feed_id, rule
    ):
        # Another feed's article under this URL with a text that does not agree: the URL
        # is no identity; the text alone decides (the same text, a near copy, or new).
        row = conn.execute(_exact_query(False, True), params).first() if by_hash else None
        if row is None:
            return None
        url_match = row.canonical_url == draft.canonical_url
    return _Exact(row.id, row.story_id, "url" if url_match else "content")


def store_draft(
    session: Session,
    draft: Draft,
    policy: DedupPolicy,
    feed_priority: dict[int, int],
    existing: Article | None = None,
) -> StoreResult:
    """Store ``draft``; the caller holds the dedup lock and commits."""
    now = utcnow()
    if existing is not None:
        if existing.source_hash == draft.source_hash:
            return StoreResult(existing.id, existing.story_id, "unchanged")
        # An edited re-publication: same article, new text; it stays in its story.
        existing.title, existing.author = draft.title, draft.author
        existing.url, existing.content_html = draft.url, draft.content_html
        existing.published_at = draft.published_at or existing.published_at
        existing.source_hash, existing.updated_at = draft.source_hash, now
        for column, value in fingerprint_columns(draft).items():
            setattr(existing, column, value)
        index_article(session, existing.id, draft.fingerprint, policy, now)
        session.flush()
        refresh_story(session, existing.story_id, policy.canonical_policy, feed_priority)
        return StoreResult(existing.id, existing.story_id, "updated")

    session.flush()  # the hot path below runs on the connection, past the ORM
    conn = session.connection()
    exact = _exact_match(session, draft, policy.rule)
    near: Match | None = None
    merged: tuple[int, ...] = ()
    keys = band_keys(draft.fingerprint.hashvalues, policy.lsh)
    if exact is None and draft.fingerprint.shingle_count >= policy.rule.min_shingles:
        found = candidates(session, draft.fingerprint, policy, keys)
        matches = verified_matches(draft.fingerprint, found, policy.rule)
        near = story_match(matches)
        if near is not None and any(m.story_id != near.story_id for m in matches):
            members = _story_fingerprints(session, {m.story_id for m in matches})
            bridged = stories_to_merge(near, matches, members, policy.rule)
            if bridged:
                near, merged = _merge_stories(session, near, bridged, policy, feed_priority)
    kind: str
    if exact is not None:
        story_id, matched_id, similarity, kind = exact.story_id, exact.article_id, 1.0, exact.kind
    elif near is not None:
        story_id, matched_id, similarity = near.story_id, near.article_id, near.similarity.score
        kind = "near"
    else:
        story_id = conn.execute(
            _INSERT_STORY, {"first_seen_at": now, "last_seen_at": now, "variant_count": 1}
        ).scalar_one()
        matched_id, similarity, kind = None, None, "new"

    # Prebuilt Core statements on the connection: building an ORM statement (or an ORM
    # object) per entry cost more CPU than running it.
    article_id = conn.execute(
        _INSERT_ARTICLE,
        {
            "feed_id": draft.feed_id,
            "guid": draft.guid,
            "url": draft.url,
            "canonical_url": draft.canonical_url,
            "title": draft.title,
            "author": draft.author,
            "published_at": draft.published_at,
            "fetched_at": now,
            "language": draft.language,
            "content_html": draft.content_html,
            "source_hash": draft.source_hash,
            "story_id": story_id,
            "match_kind": kind,
            "matched_article_id": matched_id,
            "similarity": similarity,
            **fingerprint_columns(draft),
        },
    ).scalar_one()
    index_article(session, article_id, draft.fingerprint, policy, now, keys)
    if kind == "new":
        # The story's only article: nothing to choose between.
        conn.execute(_SET_CANONICAL, {"b_story": story_id, "b_article": article_id})
    else:
        refresh_story(session, story_id, policy.canonical_policy, feed_priority)
    return StoreResult(article_id, story_id, kind, similarity, merged)


def _story_fingerprints(session: Session, story_ids: set[int]) -> dict[int, list[Fingerprint]]:
    """The stored fingerprints of each story's first ``MAX_LINK_MEMBERS`` articles by id."""
    ranked = (
        select(
            Article.story_id,
            Article.signature,
            Article.shingle_count,
            Article.content_hash,
            Article.sig_scheme,
            Article.sig_seed,
            func.row_number().over(partition_by=Article.story_id, order_by=Article.id).label("n"),
        )
        .where(Article.story_id.in_(story_ids), Article.signature.is_not(None))
        .subquery()
    )
    out: dict[int, list[Fingerprint]] = {s: [] for s in story_ids}
    for row in session.execute(select(ranked).where(ranked.c.n <= MAX_LINK_MEMBERS)):
        if row.sig_scheme is None:
            continue
        out[row.story_id].append(
            Fingerprint.from_stored(
                row.signature,
                shingle_count=row.shingle_count,
                content_hash=row.content_hash,
                scheme=row.sig_scheme,
                seed=row.sig_seed or 0,
            )
        )
    return out


def _merge_stories(
    session: Session,
    near: Match,
    stories: set[int],
    policy: DedupPolicy,
    feed_priority: dict[int, int],
) -> tuple[Match, tuple[int, ...]]:
    """One article is a verified copy of articles in several stories: they are one story.
    The oldest story (lowest id) survives, whichever worker sees the bridge first; every
    variant of the others is re-pointed to it, and the emptied stories are deleted."""
    survivor = min(stories | {near.story_id})
    folded = tuple(sorted((stories | {near.story_id}) - {survivor}))
    session.execute(update(Article).where(Article.story_id.in_(folded)).values(story_id=survivor))
    session.execute(delete(Story).where(Story.id.in_(folded)))
    log.info("stories %s merged into story %d", ", ".join(map(str, folded)), survivor)
    return Match(near.article_id, survivor, near.similarity), folded


def feed_priorities(session: Session, priorities_by_name: dict[str, int]) -> dict[int, int]:
    rows: Sequence[tuple[int, str]] = session.execute(select(Feed.id, Feed.name)).all()
    return {fid: priorities_by_name.get(name, 0) for fid, name in rows}
