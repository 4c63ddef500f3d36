"""The write path: one entry becomes an article in a story, with its LSH buckets, in the
caller's transaction. Identity before similarity: same entry (feed + GUID or URL), then the
same canonical URL or the same text anywhere, then a verified near copy, else a new story.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from worker.dedup.canonical import ArticleFacts, choose_canonical
from worker.dedup.decision import (
    MAX_LINK_MEMBERS,
    Match,
    MatchRule,
    stories_to_merge,
    story_match,
    verified_matches,
)
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import LshParams, band_keys
from worker.store.feeds import as_utc, utcnow
from worker.store.index import candidates, index_article
from worker.store.models import Article, ChromeLine, Feed, Story

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


def find_existing(
    session: Session, feed_id: int, guid: str, canonical_url: str | None
) -> Article | None:
    """The stored article for this entry of this feed (by GUID, else by canonical URL)."""
    article = session.scalar(
        select(Article).where(Article.feed_id == feed_id, Article.guid == guid)
    )
    if article is None and canonical_url:
        article = session.scalar(
            select(Article)
            .where(Article.feed_id == feed_id, Article.canonical_url == canonical_url)
            .order_by(Article.id)
            .limit(1)
        )
    return article


def refresh_story(
    session: Session, story_id: int, policy: str, feed_priority: dict[int, int]
) -> None:
    """Recount the story's variants and choose its canonical article again."""
    members = session.execute(
        select(
            Article.id,
            Article.published_at,
            Article.fetched_at,
            Article.feed_id,
            Article.text_length,
        ).where(Article.story_id == story_id)
    ).all()
    story = session.get(Story, story_id)
    if story is None:
        return
    if not members:
        session.delete(story)
        return
    facts = [
        ArticleFacts(
            m.id,
            as_utc(m.published_at or m.fetched_at) or utcnow(),
            feed_priority.get(m.feed_id, 0),
            m.text_length,
        )
        for m in members
    ]
    story.canonical_article_id = choose_canonical(facts, policy)
    story.variant_count = len(members)
    seen = [as_utc(m.fetched_at) for m in members]
    story.first_seen_at = min(s for s in seen if s)
    story.last_seen_at = max(s for s in seen if s)


def _apply_fingerprint(article: Article, draft: Draft) -> None:
    fp = draft.fingerprint
    article.clean_text = draft.clean_text
    article.text_length = len(draft.clean_text)
    article.content_hash = fp.content_hash
    article.shingle_count = fp.shingle_count
    article.signature = fp.to_bytes()
    article.sig_scheme, article.sig_seed, article.sig_num_perm = fp.scheme, fp.seed, fp.num_perm


def _exact_match(session: Session, draft: Draft) -> tuple[Article | None, str]:
    conditions = []
    if draft.canonical_url:
        conditions.append(Article.canonical_url == draft.canonical_url)
    if draft.fingerprint.shingle_count > 0:
        conditions.append(Article.content_hash == draft.fingerprint.content_hash)
    if not conditions:
        return None, ""
    match = session.scalar(select(Article).where(or_(*conditions)).order_by(Article.id).limit(1))
    if match is None:
        return None, ""
    url_match = bool(draft.canonical_url) and match.canonical_url == draft.canonical_url
    return match, "url" if url_match else "content"


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
        _apply_fingerprint(existing, draft)
        index_article(session, existing.id, draft.fingerprint, policy, now)
        session.flush()
        refresh_story(session, existing.story_id, policy.canonical_policy, feed_priority)
        return StoreResult(existing.id, existing.story_id, "updated")

    match_article, kind = _exact_match(session, draft)
    near: Match | None = None
    merged: tuple[int, ...] = ()
    keys = band_keys(draft.fingerprint.hashvalues, policy.lsh)
    if match_article is None and draft.fingerprint.shingle_count >= policy.rule.min_shingles:
        found = candidates(session, draft.fingerprint, policy, keys)
        matches = verified_matches(draft.fingerprint, found, policy.rule)
        near = story_match(matches)
        if near is not None and any(m.story_id != near.story_id for m in matches):
            members = _story_fingerprints(session, {m.story_id for m in matches})
            bridged = stories_to_merge(near, matches, members, policy.rule)
            if bridged:
                near, merged = _merge_stories(session, near, bridged, policy, feed_priority)
    if match_article is not None:
        story_id, matched_id, similarity = match_article.story_id, match_article.id, 1.0
    elif near is not None:
        story_id, matched_id, similarity = near.story_id, near.article_id, near.similarity.score
        kind = "near"
    else:
        story = Story(first_seen_at=now, last_seen_at=now, variant_count=1)
        session.add(story)
        session.flush()
        story_id, matched_id, similarity, kind = story.id, None, None, "new"

    article = Article(
        feed_id=draft.feed_id,
        guid=draft.guid,
        url=draft.url,
        canonical_url=draft.canonical_url,
        title=draft.title,
        author=draft.author,
        published_at=draft.published_at,
        fetched_at=now,
        language=draft.language,
        content_html=draft.content_html,
        source_hash=draft.source_hash,
        story_id=story_id,
        match_kind=kind,
        matched_article_id=matched_id,
        similarity=similarity,
    )
    _apply_fingerprint(article, draft)
    session.add(article)
    session.flush()
    index_article(session, article.id, draft.fingerprint, policy, now, keys)
    session.flush()
    refresh_story(session, story_id, policy.canonical_policy, feed_priority)
    return StoreResult(article.id, story_id, kind, similarity, merged)


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


def learned_keys(session: Session, feed_id: int, min_articles: int) -> frozenset[str]:
    rows = session.scalars(
        select(ChromeLine.line_key).where(
            ChromeLine.feed_id == feed_id, ChromeLine.article_count >= min_articles
        )
    )
    return frozenset(rows)


def count_lines(session: Session, feed_id: int, keys: Iterable[str]) -> None:
    """Count each key once more for ``feed_id`` (keys of one article)."""
    keys = sorted(set(keys))
    if not keys:
        return
    now = utcnow()
    known = set(
        session.scalars(
            select(ChromeLine.line_key).where(
                ChromeLine.feed_id == feed_id, ChromeLine.line_key.in_(keys)
            )
        )
    )
    if known:
        session.execute(
            update(ChromeLine)
            .where(and_(ChromeLine.feed_id == feed_id, ChromeLine.line_key.in_(known)))
            .values(article_count=ChromeLine.article_count + 1, last_seen_at=now)
        )
    session.add_all(
        ChromeLine(feed_id=feed_id, line_key=k, article_count=1, last_seen_at=now)
        for k in keys
        if k not in known
    )


def feed_priorities(session: Session, priorities_by_name: dict[str, int]) -> dict[int, int]:
    rows: Sequence[tuple[int, str]] = session.execute(select(Feed.id, Feed.name)).all()
    return {fid: priorities_by_name.get(name, 0) for fid, name in rows}
