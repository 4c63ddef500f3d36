"""Feed life for operators: ``feeds.last_outcome`` (the last poll's outcome, so a poll cut
by SIGTERM shows as ``interrupted`` rather than as a success); ``feeds.parked_at`` and
``feeds.parked_reason`` (a feed that failed ``worker.park_after`` times in a row is no
longer polled until a person revives it or its URL changes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: a batch copy of `feeds` would break the views that
# read it on SQLite (which drops columns itself since 3.35).


def upgrade() -> None:
    op.add_column("feeds", sa.Column("last_outcome", sa.String(20), nullable=True))
    op.add_column("feeds", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("feeds", sa.Column("parked_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("parked_reason", "parked_at", "last_outcome"):
        op.drop_column("feeds", column)
