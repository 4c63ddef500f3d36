"""The dedup engine's store over SQL (``ArticleStore``, a ``worker.dedup.protocol.DedupStore``):
rows in, rows out, in the caller's transaction, past the ORM. Every decision is the
engine's (``worker.dedup.engine``); this module only reads and writes articles, stories and
(through the database's ``IndexMirror``) their LSH index rows.

    >>> from worker.store.db import Database
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.session() as s:
    ...     ArticleStore(s).exact({"https://example.com/a"}, set())
    []
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Integer, Table, bindparam, func, insert, select, union, update
from sqlalchemy.orm import Session

from worker.clock import as_utc, utcnow
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
from worker.store import changes, merges
from worker.store.index import IndexMirror
from worker.store.models import Article, Feed, Story

_articles = cast(Table, Article.__table__)
_stories = cast(Table, Story.__table__)

# Bound parameters per IN list: far below SQLite's and PostgreSQL's limits.
_IN_CHUNK = 500

_EXACT_ROWS = select(
    _articles.c.id,
    _articles.c.story_id,
    _articles.c.canonical_url,
    _articles.c.content_hash,
    # What identity_match_allowed needs of a URL match: its feed and its fingerprint.
    _articles.c.feed_id,
    _articles.c.signature,
    _articles.c.shingle_count,
    _articles.c.sig_scheme,
    _articles.c.sig_seed,
    _articles.c.facts,
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
_REFRESH = (
    update(_stories)
    .where(_stories.c.id == bindparam("b_story"))
    .values(
        canonical_article_id=bindparam("b_canonical", type_=Integer),
        variant_count=bindparam("b_count", type_=Integer),
        first_seen_at=bindparam("b_first", type_=_stories.c.first_seen_at.type),
        last_seen_at=bindparam("b_last", type_=_stories.c.last_seen_at.type),
        updated_at=bindparam("b_now", type_=_stories.c.updated_at.type),
    )
)
_EXISTING = select(_articles.c.story_id, _articles.c.source_hash).where(
    _articles.c.id == bindparam("b_article")
)
_INSERT_ARTICLES = insert(_articles)
_INSERT_STORIES = insert(_stories)
_CANDIDATE_COLUMNS = (
    "a.id, a.story_id, a.signature, a.shingle_count, a.content_hash, a.sig_scheme, a.sig_seed,"
    " a.facts"
)


def fingerprint_columns(fp: Fingerprint) -> dict[str, object]:
    return {
        "content_hash": fp.content_hash,
        "shingle_count": fp.shingle_count,
        "signature": fp.to_bytes(),
        "sig_scheme": fp.scheme,
        "sig_seed": fp.seed,
        "sig_num_perm": fp.num_perm,
        "facts": fp.facts.to_bytes(),
    }


def draft_columns(draft: Draft) -> dict[str, object]:
    """The columns of an article that come from its entry (all but ids, times and match)."""
    return {
        "feed_id": draft.feed_id,
        "guid": draft.guid,
        "url": draft.url,
        "canonical_url": draft.canonical_url,
        "title": draft.title,
        "author": draft.author,
        "language": draft.language,
        "content_html": draft.content_html,
        "source_hash": draft.source_hash,
        "clean_text": draft.clean_text,
        "text_length": len(draft.clean_text),
        **fingerprint_columns(draft.fingerprint),
    }


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


def feed_priorities(session: Session, priorities_by_name: dict[str, int]) -> dict[int, int]:
    rows: Sequence[tuple[int, str]] = session.execute(select(Feed.id, Feed.name)).all()
    return {fid: priorities_by_name.get(name, 0) for fid, name in rows}


def _fingerprint(row: Any) -> Fingerprint:
    return Fingerprint.from_stored(
        row.signature,
        shingle_count=row.shingle_count,
        content_hash=row.content_hash,
        scheme=row.sig_scheme,
        seed=row.sig_seed or 0,
        facts=row.facts,
    )


class ArticleStore:
    """The ``DedupStore`` of one transaction of a ``Database`` session. ORM changes made
    in the session before it is built are flushed; it then works on the connection (an
    ORM statement, or object, per row cost more CPU than running it)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.index = IndexMirror.of(session)
        session.flush()
        self._conn = session.connection()
        self._mark = "%s" if self._conn.dialect.name == "postgresql" else "?"

    # -- identity ----------------------------------------------------------------------
    def entries(
        self, feed_id: int, guids: Iterable[str], canonical_urls: Iterable[str]
    ) -> tuple[dict[str, Stored], dict[str, Stored]]:
        return stored_entries(self.session, feed_id, guids, canonical_urls)

    def article(self, article_id: int) -> Existing:
        row = self._conn.execute(_EXISTING, {"b_article": article_id}).one()
        return Existing(row.story_id, row.source_hash)

    # -- matching ----------------------------------------------------------------------
    def exact(
        self, canonical_urls: Collection[str], content_hashes: Collection[str]
    ) -> list[ExactRow]:
        params = {"b_urls": sorted(canonical_urls), "b_hashes": sorted(content_hashes)}
        return [
            ExactRow(
                row.id,
                row.story_id,
                row.canonical_url,
                row.content_hash,
                row.feed_id,
                _fingerprint(row) if row.signature is not None and row.sig_scheme else None,
            )
            for row in self._conn.execute(_EXACT_ROWS, params)
        ]

    def band_hits(self, keys: set[int], since: float) -> dict[int, list[int]]:
        return self.index.hits(self.session, keys, since)

    def signatures(self, article_ids: Collection[int]) -> dict[int, Candidate]:
        wanted = sorted(article_ids)
        out = {}
        seen = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            part = wanted[start : start + _IN_CHUNK]
            marks = ", ".join([self._mark] * len(part))
            sql = f"SELECT {_CANDIDATE_COLUMNS} FROM articles AS a WHERE a.id IN ({marks})"
            for row in self._conn.exec_driver_sql(sql, tuple(part)):
                seen.add(row.id)
                if row.signature is not None and row.sig_scheme is not None:
                    out[row.id] = Candidate(row.id, row.story_id, _fingerprint(row))
        if len(seen) < len(wanted):  # deleted articles: their index rows went with them
            self.index.forget(a for a in wanted if a not in seen)
        return out

    def story_signatures(
        self, story_ids: Collection[int], per_story: int
    ) -> dict[int, list[Fingerprint]]:
        ranked = (
            select(
                Article.story_id,
                Article.signature,
                Article.shingle_count,
                Article.content_hash,
                Article.sig_scheme,
                Article.sig_seed,
                Article.facts,
                func.row_number()
                .over(partition_by=Article.story_id, order_by=Article.id)
                .label("n"),
            )
            .where(Article.story_id.in_(story_ids), Article.signature.is_not(None))
            .subquery()
        )
        out: dict[int, list[Fingerprint]] = {s: [] for s in story_ids}
        for row in self._conn.execute(select(ranked).where(ranked.c.n <= per_story)):
            if row.sig_scheme is not None:
                out[row.story_id].append(_fingerprint(row))
        return out

    def members(self, story_ids: Collection[int]) -> dict[int, list[Member]]:
        out: dict[int, list[Member]] = {}
        for row in self._conn.execute(_MEMBERS, {"b_stories": sorted(story_ids)}):
            out.setdefault(row.story_id, []).append(
                Member(
                    row.id,
                    as_utc(row.published_at),
                    cast(datetime, as_utc(row.fetched_at)),
                    row.feed_id,
                    row.text_length,
                )
            )
        return out

    # -- writes ------------------------------------------------------------------------
    def reserve_ids(self, table: Literal["articles", "stories"], count: int) -> list[int]:
        if self._conn.dialect.name == "postgresql":
            rows = self._conn.exec_driver_sql(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                "FROM generate_series(1, %s)",
                (count,),
            )
            return sorted(r[0] for r in rows)
        # SQLite gives a new row max(id) + 1 (under the write lock the dedup transaction
        # holds): the same ids one insert after another would take.
        top = int(
            self._conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar() or 0
        )
        return list(range(top + 1, top + 1 + count))

    def insert(self, stories: Sequence[NewStory], articles: Sequence[NewArticle]) -> None:
        if stories:
            self._conn.execute(
                _INSERT_STORIES,
                [
                    {"id": s.story_id, "first_seen_at": s.seen_at, "last_seen_at": s.seen_at,
                     "variant_count": 1, "updated_at": s.seen_at}
                    for s in stories
                ],
            )  # fmt: skip
        changes.record_many(
            self.session,
            [changes.row("story_created", story_id=s.story_id) for s in stories]
            + [
                changes.row("article_added", story_id=a.story_id, article_id=a.article_id,
                            other_id=a.matched_id, detail={"match_kind": a.kind})
                for a in articles
            ],
        )  # fmt: skip
        if not articles:
            return
        self._conn.execute(
            _INSERT_ARTICLES,
            [
                {
                    "id": a.article_id, "published_at": a.draft.published_at,
                    "fetched_at": a.fetched_at, "updated_at": None, "story_id": a.story_id,
                    "match_kind": a.kind, "matched_article_id": a.matched_id,
                    "similarity": a.similarity, **draft_columns(a.draft),
                }
                for a in articles
            ],
        )  # fmt: skip
        self.index.add(
            self.session, [(a.article_id, a.fetched_at, a.keys) for a in articles if a.keys]
        )

    def update_article(self, article_id: int, draft: Draft, updated_at: datetime) -> None:
        # What an edit replaces: its identity (feed, GUID, canonical URL) and language stay.
        values = {
            "title": draft.title,
            "author": draft.author,
            "url": draft.url,
            "content_html": draft.content_html,
            "source_hash": draft.source_hash,
            "updated_at": updated_at,
            "clean_text": draft.clean_text,
            "text_length": len(draft.clean_text),
            **fingerprint_columns(draft.fingerprint),
        }
        if draft.published_at is not None:
            values["published_at"] = draft.published_at
        story_id = self._conn.execute(
            update(_articles)
            .where(_articles.c.id == article_id)
            .values(values)
            .returning(_articles.c.story_id)
        ).scalar_one()
        changes.record(self.session, "article_updated", story_id=story_id, article_id=article_id)

    def set_fingerprint(self, article_id: int, fingerprint: Fingerprint) -> None:
        self._conn.execute(
            update(_articles)
            .where(_articles.c.id == article_id)
            .values(fingerprint_columns(fingerprint))
        )

    def replace_keys(self, article_id: int, added_at: datetime, keys: list[int]) -> None:
        self.index.replace(self.session, article_id, added_at, keys)

    def merge(self, survivor: int, folded: Sequence[int], reason: str = "bridge") -> None:
        merges.merge(self.session, survivor, folded, reason, utcnow())

    def split(self, story_id: int, article_ids: Sequence[int], reason: str) -> int:
        new_story = self.reserve_ids("stories", 1)[0]
        merges.split(self.session, story_id, article_ids, new_story, reason, utcnow())
        return new_story

    def _canonicals(self, story_ids: Sequence[int]) -> dict[int, int | None]:
        out: dict[int, int | None] = {}
        for start in range(0, len(story_ids), _IN_CHUNK):
            part = story_ids[start : start + _IN_CHUNK]
            rows = self._conn.execute(
                select(_stories.c.id, _stories.c.canonical_article_id).where(
                    _stories.c.id.in_(part)
                )
            )
            out.update((story_id, canonical) for story_id, canonical in rows)
        return out

    def refresh(self, states: Sequence[StoryState], empty: Collection[int]) -> None:
        if states:
            before = self._canonicals([s.story_id for s in states])
            now = utcnow()
            self._conn.execute(
                _REFRESH,
                [
                    {"b_story": s.story_id, "b_canonical": s.canonical_article_id,
                     "b_count": s.variant_count, "b_first": s.first_seen_at,
                     "b_last": s.last_seen_at, "b_now": now}
                    for s in states
                ],
            )  # fmt: skip
            changes.record_many(
                self.session,
                [
                    changes.row("canonical_changed", story_id=s.story_id,
                                article_id=s.canonical_article_id, other_id=before.get(s.story_id))
                    for s in states
                    if before.get(s.story_id) != s.canonical_article_id
                ],
            )  # fmt: skip
        merges.delete_stories(self.session, empty)
