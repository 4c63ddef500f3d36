"""Chrome lines learned per site: ``host_chrome_lines`` (host, line_key, article_count,
last_seen_at), counted like ``chrome_lines`` but per host of the articles' links, across
every feed that links to the host. Starts empty: the per-feed counts cannot be split by
host after the fact, and a site's chrome is learned again within a few articles.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_chrome_lines",
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("line_key", sa.String(length=200), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", "line_key", name="pk_host_chrome_lines"),
    )


def downgrade() -> None:
    op.drop_table("host_chrome_lines")
