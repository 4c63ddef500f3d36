"""A batch of new entries stored set-based: the same decisions as ``store_draft`` one entry
at a time, in a handful of statements instead of about fifteen per entry.

For a run of entries, the exact-match rows (lowest id per canonical URL and per content
hash) and the LSH hits of all their band keys are read in one statement each; every entry
is then decided in order in memory, the run's earlier, not yet written, articles included
(a later entry matches an earlier one of the same batch as if it had been written). Ids are
taken in entry order before the rows are written (SQLite: the next rowid, under the
write lock the dedup transaction holds; PostgreSQL: the table's sequence), so decisions can
point at articles and stories that are still in memory; the run is then written as one
multi-row insert per table and one refresh per touched story.

Entries that are edits of stored articles, or whose matches span several stories (a
possible merge), are rare: the run so far is written, and that entry takes ``store_draft``
itself; the next run reads afresh, merges and edits included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, union
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.dedup.decision import (
    Candidate,
    identity_match_allowed,
    story_match,
    verified_matches,
)
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import band_keys
from worker.store.articles import (
    IDENTITY_COLUMNS,
    REFRESH_STORY,
    DedupPolicy,
    Draft,
    StoreResult,
    fingerprint_columns,
    stored_fingerprint,
    story_refresh,
)
from worker.store.index import (
    band_hits,
    insert_index_rows,
    shared_bands,
    stored_candidates,
    top_hits,
    window_start,
)
from worker.store.models import Article, Story

_articles = cast(Table, Article.__table__)
_stories = cast(Table, Story.__table__)
# Entries read and decided together: bounds the parameters of one statement (28 band keys
# an entry) far below SQLite's and PostgreSQL's limits.
RUN = 64

_EXACT_ROWS = select(
    _articles.c.id, _articles.c.story_id, _articles.c.canonical_url, *IDENTITY_COLUMNS
).where(
    _articles.c.id.in_(
        union(
            select(func.min(_articles.c.id))
            .where(_articles.c.canonical_url.in_(bindparam("b_urls", expanding=True)))
            .group_by(_articles.c.canonical_url),
            select(func.min(_articles.c.id))
            .where(_articles.c.content_hash.in_(bindparam("b_hashes", expanding=True)))
            .group_by(_articles.c.content_hash),
        )
    )
)
_MEMBERS = select(
    _articles.c.story_id,
    _articles.c.id,
    _articles.c.published_at,
    _articles.c.fetched_at,
    _articles.c.feed_id,
    _articles.c.text_length,
).where(_articles.c.story_id.in_(bindparam("b_stories", expanding=True)))
_INSERT_ARTICLES = insert(_articles)
_INSERT_STORIES = insert(_stories)


@dataclass(frozen=True)
class _Row:
    """An article a later entry can match exactly: stored, or pending in this run."""

    article_id: int
    story_id: int
    canonical_url: str | None
    # For ``identity_match_allowed``: whose article it is, and its text's fingerprint.
    feed_id: int = 0
    fingerprint: Fingerprint | None = None


@dataclass
class _Pending:
    """A decided article of the run, not written yet."""

    article_id: int
    story_id: int
    new_story: bool
    draft: Draft
    keys: list[int]  # its index rows' band keys (empty: too short to be indexed)
    now: datetime
    kind: str
    matched_id: int | None
    similarity: float | None


class _Ids:
    """Ids of one table taken in entry order before the rows are written."""

    def __init__(self, session: Session, table: str, count: int) -> None:
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                "FROM generate_series(1, %s)",
                (count,),
            )
            self._ids = sorted(r[0] for r in rows)
        else:
            # SQLite gives a new row max(id) + 1: the same ids the one-by-one path took.
            top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar()
            self._ids = list(range(int(top or 0) + 1, int(top or 0) + 1 + count))
        self._next = 0

    def take(self) -> int:
        taken = self._ids[self._next]
        self._next += 1
        return taken


@dataclass
class Run:
    """Entries decided together; see the module docstring."""

    session: Session
    policy: DedupPolicy
    priorities: dict[int, int]
    drafts: Sequence[Draft]
    start: int = 0  # index of ``drafts[0]`` in the caller's batch
    pending: list[_Pending] = field(default_factory=list)

    def __post_init__(self) -> None:
        drafts, rule = self.drafts, self.policy.rule
        urls = {d.canonical_url for d in drafts if d.canonical_url}
        hashes = {d.fingerprint.content_hash for d in drafts if d.fingerprint.shingle_count > 0}
        self._by_url: dict[str, _Row] = {}
        self._by_hash: dict[str, _Row] = {}
        if urls or hashes:
            conn = self.session.connection()
            params = {"b_urls": sorted(urls), "b_hashes": sorted(hashes)}
            for row in sorted(conn.execute(_EXACT_ROWS, params), key=lambda r: r.id):
                found = _Row(
                    row.id, row.story_id, row.canonical_url, row.feed_id, stored_fingerprint(row)
                )
                if row.canonical_url in urls:
                    self._by_url.setdefault(row.canonical_url, found)
                if row.content_hash in hashes:
                    self._by_hash.setdefault(row.content_hash, found)
        self._keys = [band_keys(d.fingerprint.hashvalues, self.policy.lsh) for d in drafts]
        wanted = {
            k for d, keys in zip(drafts, self._keys, strict=True) for k in keys
            if d.fingerprint.shingle_count >= rule.min_shingles
        }  # fmt: skip
        hits = band_hits(self.session, wanted, window_start(self.policy)) if wanted else {}
        self._shared = [shared_bands(keys, hits) for keys in self._keys]
        # Beyond the best MAX_CANDIDATES stored hits, pending ones cannot lift a stored one.
        tops = {a for shared in self._shared for a in top_hits(shared)}
        self._stored = stored_candidates(self.session, tops) if tops else {}
        self._article_ids = _Ids(self.session, "articles", len(drafts))
        self._story_ids = _Ids(self.session, "stories", len(drafts))
        self._pending_url: dict[str, _Pending] = {}
        self._pending_hash: dict[str, _Pending] = {}

    def decide(self, index: int) -> StoreResult | None:
        """Decide ``drafts[index]`` (after all earlier ones) into the run; ``None`` when
        its matches span several stories, which ``store_draft`` must handle."""
        draft, keys = self.drafts[index], self._keys[index]
        fp, rule = draft.fingerprint, self.policy.rule
        exact = self._exact(draft)
        kind: str
        similarity: float | None
        if exact is not None:
            story_id, matched_id, similarity = exact.story_id, exact.article_id, 1.0
            kind = (
                "url"
                if draft.canonical_url and exact.canonical_url == draft.canonical_url
                else "content"
            )
        else:
            matches = (
                verified_matches(fp, self._candidates(index), rule)
                if fp.shingle_count >= rule.min_shingles
                else []
            )
            near = story_match(matches)
            if near is not None and any(m.story_id != near.story_id for m in matches):
                return None
            if near is not None:
                story_id, matched_id = near.story_id, near.article_id
                similarity, kind = near.similarity.score, "near"
            else:
                story_id, matched_id, similarity, kind = self._story_ids.take(), None, None, "new"
        pending = _Pending(
            self._article_ids.take(), story_id, kind == "new", draft,
            keys if fp.shingle_count >= rule.min_shingles else [],
            utcnow(), kind, matched_id, similarity,
        )  # fmt: skip
        self.pending.append(pending)
        if draft.canonical_url:
            self._pending_url.setdefault(draft.canonical_url, pending)
        self._pending_hash.setdefault(fp.content_hash, pending)
        return StoreResult(pending.article_id, story_id, kind, similarity)

    def _exact(self, draft: Draft) -> _Row | None:
        """The lowest-id article with the draft's canonical URL or content hash, as
        ``_exact_match`` finds it: stored rows first (lower ids), then pending ones."""
        found: list[_Row] = []
        by_hash = draft.fingerprint.shingle_count > 0
        for stored, pending, key, wanted in (
            (self._by_url, self._pending_url, draft.canonical_url, bool(draft.canonical_url)),
            (self._by_hash, self._pending_hash, draft.fingerprint.content_hash, by_hash),
        ):
            if not wanted or key is None:
                continue
            row = stored.get(key)
            if row is None and key in pending:
                p = pending[key]
                row = _Row(
                    p.article_id, p.story_id, p.draft.canonical_url, p.draft.feed_id,
                    p.draft.fingerprint,
                )  # fmt: skip
            if (
                row is not None
                and stored is self._by_url
                and not identity_match_allowed(
                    draft.fingerprint, draft.feed_id, row.fingerprint, row.feed_id, self.policy.rule
                )
            ):
                continue  # as ``_exact_match``: the URL is no identity, the text decides
            if row is not None:
                found.append(row)
        return min(found, key=lambda r: r.article_id) if found else None

    def _candidates(self, index: int) -> list[Candidate]:
        """What ``candidates`` would return with the run's earlier articles written."""
        shared = dict(self._shared[index])
        mine = set(self._keys[index])
        extra: dict[int, Candidate] = {}
        for p in self.pending:
            if p.keys:
                count = len(mine.intersection(p.keys))
                if count:
                    shared[p.article_id] = count
                    extra[p.article_id] = Candidate(p.article_id, p.story_id, p.draft.fingerprint)
        out = []
        for article_id in top_hits(shared):
            cand = extra.get(article_id) or self._stored.get(article_id)
            if cand is not None:
                out.append(cand)
        return out

    def write(self) -> None:
        """Write the run's articles, their stories and index rows, then refresh every
        touched story once (its final state: what per-article refreshes ended in)."""
        if not self.pending:
            return
        self.session.flush()
        conn = self.session.connection()
        stories = [
            {"id": p.story_id, "first_seen_at": p.now, "last_seen_at": p.now, "variant_count": 1}
            for p in self.pending
            if p.new_story
        ]
        if stories:
            conn.execute(_INSERT_STORIES, stories)
        rows = []
        for p in self.pending:
            d = p.draft
            rows.append({
                "id": p.article_id, "feed_id": d.feed_id, "guid": d.guid, "url": d.url,
                "canonical_url": d.canonical_url, "title": d.title, "author": d.author,
                "published_at": d.published_at, "fetched_at": p.now, "language": d.language,
                "content_html": d.content_html, "source_hash": d.source_hash,
                "story_id": p.story_id, "match_kind": p.kind,
                "matched_article_id": p.matched_id, "similarity": p.similarity,
                "updated_at": None, **fingerprint_columns(d),
            })  # fmt: skip
        conn.execute(_INSERT_ARTICLES, rows)
        insert_index_rows(
            self.session, [(p.article_id, p.now, p.keys) for p in self.pending if p.keys]
        )
        refresh_stories(
            self.session, {p.story_id for p in self.pending}, self.policy, self.priorities
        )
        self.pending = []


def refresh_stories(
    session: Session, story_ids: set[int], policy: DedupPolicy, priorities: dict[int, int]
) -> None:
    """``refresh_story`` for several stories that all have articles: one read, one
    ``executemany``."""
    conn = session.connection()
    members: dict[int, list[Any]] = {}
    for row in conn.execute(_MEMBERS, {"b_stories": sorted(story_ids)}):
        members.setdefault(row.story_id, []).append(row)
    updates = [
        story_refresh(story_id, rows, policy.canonical_policy, priorities)
        for story_id, rows in sorted(members.items())
    ]
    if updates:
        conn.execute(REFRESH_STORY, updates)
