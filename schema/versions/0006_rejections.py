"""Entries a poll skipped, and why: ``poll_log.entries_rejected`` / ``rejections`` per poll,
``feeds.last_rejected`` / ``last_rejections`` for the feed's latest poll that read its
entries (``newsdedup feeds`` shows them). A hostile or broken entry is skipped and counted
instead of failing the poll (``docs/limits.md``); without these columns a skipped entry
was visible only in the log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): SQLite rebuilding the table would break the views.
    op.add_column(
        "poll_log", sa.Column("entries_rejected", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("poll_log", sa.Column("rejections", sa.Text(), nullable=True))
    op.add_column(
        "feeds", sa.Column("last_rejected", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("feeds", sa.Column("last_rejections", sa.Text(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place on both (SQLite 3.35+), for the same reason.
    for table, column in (
        ("feeds", "last_rejections"),
        ("feeds", "last_rejected"),
        ("poll_log", "rejections"),
        ("poll_log", "entries_rejected"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
