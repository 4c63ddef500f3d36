"""Story identity across merges and splits: ``story_merges``, ``stories.merged_into`` (a
merged story stays as a tombstone pointing at its survivor), ``stories.updated_at`` (filled
with ``last_seen_at`` for existing rows), indexes on ``articles.published_at`` and
``events.merged_into``, and the three views restricted to live stories (``merged_into IS NULL``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# The views of 0001 and 0005; ``{live}`` is what this revision adds to their WHERE.
_VIEWS = {
    "canonical_articles": """
CREATE VIEW canonical_articles AS
SELECT s.id AS story_id, a.id AS article_id, f.name AS feed, a.title, a.url, a.canonical_url,
       a.author, a.published_at, a.fetched_at, a.language, a.clean_text,
       s.variant_count, s.first_seen_at, s.last_seen_at
FROM stories s
JOIN articles a ON a.id = s.canonical_article_id
JOIN feeds f ON f.id = a.feed_id
{where}
""",
    "story_variants": """
CREATE VIEW story_variants AS
SELECT a.story_id, a.id AS article_id,
       CASE WHEN s.canonical_article_id = a.id THEN 1 ELSE 0 END AS is_canonical,
       f.name AS feed, a.title, a.url, a.canonical_url, a.published_at, a.fetched_at,
       a.match_kind, a.matched_article_id, a.similarity, a.text_length
FROM articles a
JOIN stories s ON s.id = a.story_id
JOIN feeds f ON f.id = a.feed_id
{where}
""",
    "event_stories": """
CREATE VIEW event_stories AS
SELECT s.event_id, s.id AS story_id, a.id AS article_id, f.name AS feed, a.title, a.url,
       a.published_at, s.first_seen_at, s.last_seen_at, s.variant_count
FROM stories s
JOIN articles a ON a.id = s.canonical_article_id
JOIN feeds f ON f.id = a.feed_id
WHERE s.event_id IS NOT NULL{and_live}
""",
}
_LIVE = "s.merged_into IS NULL"


def _create_views(*, live: bool) -> None:
    for name, sql in _VIEWS.items():
        op.execute(f"DROP VIEW IF EXISTS {name}")
        op.execute(
            sql.format(
                where=f"WHERE {_LIVE}" if live else "", and_live=f" AND {_LIVE}" if live else ""
            )
        )


def _add_story_columns() -> None:
    # Plain ADD COLUMN on SQLite too: a batch rebuild of ``stories`` breaks the articles'
    # foreign keys inside the migration (see 0005).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE stories ADD COLUMN merged_into INTEGER")
        op.execute("ALTER TABLE stories ADD COLUMN updated_at DATETIME")
    else:
        op.add_column("stories", sa.Column("merged_into", sa.Integer()))
        op.add_column("stories", sa.Column("updated_at", TZ))
    op.execute("UPDATE stories SET updated_at = last_seen_at")


def upgrade() -> None:
    op.create_table(
        "story_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("into_story_id", sa.Integer(), nullable=False),
        sa.Column("articles_moved", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_story_merges"),
    )
    op.create_index("ix_story_merges_story_id", "story_merges", ["story_id"])
    op.create_index("ix_story_merges_into_story_id", "story_merges", ["into_story_id"])
    _add_story_columns()
    op.create_index("ix_stories_merged_into", "stories", ["merged_into"])
    op.create_index("ix_stories_updated_at", "stories", ["updated_at"])
    op.create_index("ix_articles_published_at", "articles", ["published_at"])
    # A merge re-points the events merged into the folded one: found by this index.
    op.create_index("ix_events_merged_into", "events", ["merged_into"])
    _create_views(live=True)


def downgrade() -> None:
    _create_views(live=False)
    op.drop_index("ix_events_merged_into", "events")
    op.drop_index("ix_articles_published_at", "articles")
    op.drop_index("ix_stories_updated_at", "stories")
    op.drop_index("ix_stories_merged_into", "stories")
    # The old schema has no tombstones: a merged story's row goes (its articles are in the
    # survivor already), as a merge deleted it before this revision.
    op.execute("DELETE FROM stories WHERE merged_into IS NOT NULL")
    for column in ("updated_at", "merged_into"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE stories DROP COLUMN {column}")
        else:
            op.drop_column("stories", column)
    op.drop_index("ix_story_merges_into_story_id", "story_merges")
    op.drop_index("ix_story_merges_story_id", "story_merges")
    op.drop_table("story_merges")
