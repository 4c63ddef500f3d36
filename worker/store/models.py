"""SQLAlchemy 2.x models. ``docs/downstream.md`` documents every table, column and view;
``schema/versions`` holds the Alembic migrations that create them (a test checks that the
migrations and these models agree)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error_kind: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # ok | not_modified | error | interrupted (cut by SIGTERM): what `newsdedup feeds` shows.
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    # Set after `worker.park_after` failures in a row: not polled until `feeds enable`,
    # `feeds refresh` or a new URL clears it.
    parked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parked_reason: Mapped[str | None] = mapped_column(Text)
    # Work sharing between workers: who polls this feed now, and until when.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Entries the latest poll that read the feed's entries skipped (hostile or broken).
    last_rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_rejections: Mapped[str | None] = mapped_column(Text)


class Story(Base):
    __tablename__ = "stories"
    __table_args__ = (
        # Tombstones only: a merge finds the ones to re-point by it, and a query for live
        # stories (``merged_into IS NULL``, every view) cannot be planned through it, which
        # SQLite without statistics did, sorting every live story for a newest-first page.
        Index(
            "ix_stories_merged_into",
            "merged_into",
            sqlite_where=text("merged_into IS NOT NULL"),
            postgresql_where=text("merged_into IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    canonical_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", use_alter=True, ondelete="SET NULL"), index=True
    )
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    variant_count: Mapped[int] = mapped_column(Integer, default=1)
    # The event level (``worker.events``): the story's event, the sequence number of its
    # last assignment (workers follow each other's by it), its time for the event window
    # (published, else first seen) and its event terms (JSON term counts).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    event_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)
    event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    event_terms: Mapped[str | None] = mapped_column(Text)
    # Set when the story was merged into another: the row stays as a tombstone (no
    # articles, no canonical) so an id a reader saved leads to the live story. Always the
    # live story itself, never another tombstone (a merge re-points the chain).
    merged_into: Mapped[int | None] = mapped_column(Integer)
    # When anything of the story last changed (an article in or out, its canonical, a
    # merge); NULL only in rows the pre-0008 schema wrote and 0008 did not fill.
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class StoryMerge(Base):
    """A recorded change of stories: ``merge`` (every article of ``story_id`` moved into
    ``into_story_id``, the survivor) or ``split`` (``articles_moved`` articles of
    ``story_id`` moved out into the new story ``into_story_id``); ``reason`` says what did
    it (``bridge``: a copy matched both; ``consolidation``; ``purge``)."""

    __tablename__ = "story_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    story_id: Mapped[int] = mapped_column(Integer, index=True)
    into_story_id: Mapped[int] = mapped_column(Integer, index=True)
    articles_moved: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Change(Base):
    """The change feed: one row per change a downstream reader could care about, written in
    the transaction that made the change. ``seq`` values are consecutive and commit in
    order (``worker.store.changes``), so a reader that saved the last one misses nothing."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(String(24))
    story_id: Mapped[int | None] = mapped_column(Integer)
    article_id: Mapped[int | None] = mapped_column(Integer)
    event_id: Mapped[int | None] = mapped_column(Integer)
    other_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    detail: Mapped[str | None] = mapped_column(Text)  # JSON


class Event(Base):
    """An event: the stories (different write-ups) that report one real-world event."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    story_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the event was merged into another: an old id leads to the new one.
    merged_into: Mapped[int | None] = mapped_column(Integer, index=True)


class EventMerge(Base):
    """A recorded change of events: ``merge`` (``event_id`` folded into ``into_event_id``)
    or ``split`` (stories of ``event_id`` moved out into the new ``into_event_id``)."""

    __tablename__ = "event_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    into_event_id: Mapped[int] = mapped_column(Integer)
    story_id: Mapped[int | None] = mapped_column(Integer)  # the story whose arrival did it
    stories_moved: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid"),
        Index("ix_articles_content_hash", "content_hash"),
        Index("ix_articles_canonical_url", "canonical_url"),
        # One feed's articles newest first (the API's ?feed=), without a sort.
        Index("ix_articles_feed_id_id", "feed_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str | None] = mapped_column(String(20))
    content_html: Mapped[str | None] = mapped_column(Text)  # sanitised
    clean_text: Mapped[str] = mapped_column(Text, default="")
    text_length: Mapped[int] = mapped_column(Integer, default=0)
    source_hash: Mapped[str] = mapped_column(String(64))  # of the entry as the feed gave it
    content_hash: Mapped[str] = mapped_column(String(64))  # of the clean text's tokens
    shingle_count: Mapped[int] = mapped_column(Integer, default=0)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    facts: Mapped[bytes | None] = mapped_column(LargeBinary)  # worker.dedup.facts
    sig_scheme: Mapped[str | None] = mapped_column(String(40))
    sig_seed: Mapped[int | None] = mapped_column(Integer)
    sig_num_perm: Mapped[int | None] = mapped_column(SmallInteger)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    match_kind: Mapped[str] = mapped_column(String(16))  # new | url | content | near
    matched_article_id: Mapped[int | None] = mapped_column(Integer)
    similarity: Mapped[float | None] = mapped_column(Float)


class LshKeys(Base):
    """The persistent LSH index: one row per indexed version of an article, its band keys
    packed (``worker.store.index``). Lookups run on each worker's in-memory mirror of this
    table, which follows it by ``seq``: a row is only ever inserted (an edit deletes the
    old row and inserts a new one; a re-indexed article too short to be indexed gets a row
    with no keys, so the mirrors drop its old ones), so the rows past the last ``seq`` a
    mirror read are everything that changed since, apart from deletions, which are either
    older than the retention window (every mirror ages those out itself) or of articles
    that are gone (a lookup skips ids without an article)."""

    __tablename__ = "lsh_keys"
    __table_args__ = ({"sqlite_autoincrement": True},)  # a deleted seq is never reused

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), unique=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    keys: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian int64, band order


class ChromeLine(Base):
    """How many distinct articles of a feed carried a short line (learned chrome)."""

    __tablename__ = "chrome_lines"

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    line_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HostChromeLine(Base):
    """How many distinct articles of a site (the host of their links, over every feed)
    carried a short line (learned chrome)."""

    __tablename__ = "host_chrome_lines"

    host: Mapped[str] = mapped_column(String(253), primary_key=True)
    line_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PollLog(Base):
    __tablename__ = "poll_log"
    __table_args__ = (Index("ix_poll_log_feed_id_started_at", "feed_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(20))  # ok | not_modified | error | interrupted
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    entries_seen: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    duplicates_exact: Mapped[int] = mapped_column(Integer, default=0)
    duplicates_near: Mapped[int] = mapped_column(Integer, default=0)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    entries_rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejections: Mapped[str | None] = mapped_column(Text)
