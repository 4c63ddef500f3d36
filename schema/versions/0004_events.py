"""The event level: ``events``, ``event_merges``, the event columns of ``stories`` and the
view ``event_stories``. Existing stories get no event (``event_id`` NULL): the event level
places the stories that arrive from now on.

Revision ID: 0004_events
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_events"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# SQLite rebuilds ``stories`` to add a foreign key, and a view over the old table blocks
# the rename: the views over ``stories`` are dropped first and made again after, as 0001
# made them.
CANONICAL_ARTICLES = """
CREATE VIEW canonical_articles AS
SELECT s.id AS story_id, a.id AS article_id, f.name AS feed, a.title, a.url, a.canonical_url,
       a.author, a.published_at, a.fetched_at, a.language, a.clean_text,
       s.variant_count, s.first_seen_at, s.last_seen_at
FROM stories s
JOIN articles a ON a.id = s.canonical_article_id
JOIN feeds f ON f.id = a.feed_id
"""

STORY_VARIANTS = """
CREATE VIEW story_variants AS
SELECT a.story_id, a.id AS article_id,
       CASE WHEN s.canonical_article_id = a.id THEN 1 ELSE 0 END AS is_canonical,
       f.name AS feed, a.title, a.url, a.canonical_url, a.published_at, a.fetched_at,
       a.match_kind, a.matched_article_id, a.similarity, a.text_length
FROM articles a
JOIN stories s ON s.id = a.story_id
JOIN feeds f ON f.id = a.feed_id
"""

EVENT_STORIES = """
CREATE VIEW event_stories AS
SELECT s.event_id, s.id AS story_id, a.id AS article_id, f.name AS feed, a.title, a.url,
       a.published_at, s.first_seen_at, s.last_seen_at, s.variant_count
FROM stories s
JOIN articles a ON a.id = s.canonical_article_id
JOIN feeds f ON f.id = a.feed_id
WHERE s.event_id IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("story_count", sa.Integer(), nullable=False),
        sa.Column("merged_into", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_updated_at", "events", ["updated_at"])
    op.create_table(
        "event_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("into_event_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer()),
        sa.Column("stories_moved", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_merges"),
    )
    op.create_index("ix_event_merges_event_id", "event_merges", ["event_id"])
    _drop_story_views()
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("event_id", sa.Integer()))
        batch.add_column(sa.Column("event_seq", sa.BigInteger()))
        batch.add_column(sa.Column("event_at", TZ))
        batch.add_column(sa.Column("event_terms", sa.Text()))
        batch.create_foreign_key("fk_stories_event_id_events", "events", ["event_id"], ["id"])
        batch.create_index("ix_stories_event_id", ["event_id"])
        batch.create_index("ix_stories_event_seq", ["event_seq"])
    _create_story_views()
    op.execute(EVENT_STORIES)


def _drop_story_views() -> None:
    op.execute("DROP VIEW IF EXISTS story_variants")
    op.execute("DROP VIEW IF EXISTS canonical_articles")


def _create_story_views() -> None:
    op.execute(CANONICAL_ARTICLES)
    op.execute(STORY_VARIANTS)


def downgrade() -> None:
    op.execute("DROP VIEW event_stories")
    _drop_story_views()
    with op.batch_alter_table("stories") as batch:
        batch.drop_index("ix_stories_event_seq")
        batch.drop_index("ix_stories_event_id")
        batch.drop_constraint("fk_stories_event_id_events", type_="foreignkey")
        batch.drop_column("event_terms")
        batch.drop_column("event_at")
        batch.drop_column("event_seq")
        batch.drop_column("event_id")
    _create_story_views()
    op.drop_index("ix_event_merges_event_id", "event_merges")
    op.drop_table("event_merges")
    op.drop_index("ix_events_updated_at", "events")
    op.drop_table("events")
