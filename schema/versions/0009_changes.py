"""The change feed: ``changes`` (seq, kind, story_id, article_id, event_id, other_id, at,
detail), one row per change a downstream reader could care about. Starts empty: a reader
of an upgraded database reads the stories once, then follows the feed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        # INTEGER PRIMARY KEY on SQLite: the rowid itself, so max(seq) is one b-tree step.
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("story_id", sa.Integer()),
        sa.Column("article_id", sa.Integer()),
        sa.Column("event_id", sa.Integer()),
        sa.Column("other_id", sa.Integer()),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("seq", name="pk_changes"),
    )
    op.create_index("ix_changes_at", "changes", ["at"])


def downgrade() -> None:
    op.drop_index("ix_changes_at", "changes")
    op.drop_table("changes")
