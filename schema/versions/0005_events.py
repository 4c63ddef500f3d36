"""The event level: ``events``, ``event_merges``, the event columns of ``stories`` and the
view ``event_stories``. Existing stories get no event (``event_id`` NULL): the event level
places the stories that arrive from now on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

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
    _add_story_columns()
    op.create_index("ix_stories_event_id", "stories", ["event_id"])
    op.create_index("ix_stories_event_seq", "stories", ["event_seq"])
    op.execute(EVENT_STORIES)


def _add_story_columns() -> None:
    """Plain ``ADD COLUMN``s, also on SQLite: a batch rebuild of ``stories`` would drop the
    table the articles' foreign keys point at, which SQLite refuses inside the migration's
    transaction once there are articles (``foreign_keys`` cannot be switched off there)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE stories ADD COLUMN event_id INTEGER "
            "CONSTRAINT fk_stories_event_id_events REFERENCES events (id)"
        )
        op.execute("ALTER TABLE stories ADD COLUMN event_seq BIGINT")
        op.execute("ALTER TABLE stories ADD COLUMN event_at DATETIME")
        op.execute("ALTER TABLE stories ADD COLUMN event_terms TEXT")
        return
    op.add_column("stories", sa.Column("event_id", sa.Integer()))
    op.add_column("stories", sa.Column("event_seq", sa.BigInteger()))
    op.add_column("stories", sa.Column("event_at", TZ))
    op.add_column("stories", sa.Column("event_terms", sa.Text()))
    op.create_foreign_key("fk_stories_event_id_events", "stories", "events", ["event_id"], ["id"])


def downgrade() -> None:
    op.execute("DROP VIEW event_stories")
    op.drop_index("ix_stories_event_seq", "stories")
    op.drop_index("ix_stories_event_id", "stories")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35 and later) drops a column with its foreign key in place.
        for column in ("event_terms", "event_at", "event_seq", "event_id"):
            op.execute(f"ALTER TABLE stories DROP COLUMN {column}")
    else:
        op.drop_constraint("fk_stories_event_id_events", "stories", type_="foreignkey")
        for column in ("event_terms", "event_at", "event_seq", "event_id"):
            op.drop_column("stories", column)
    op.drop_index("ix_event_merges_event_id", "event_merges")
    op.drop_table("event_merges")
    op.drop_index("ix_events_updated_at", "events")
    op.drop_table("events")
