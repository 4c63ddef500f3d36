"""The facts each article's text states (``articles.facts``: sorted 64-bit slot and value
hashes, ``worker.dedup.facts``), compared beside the signature so templated reports of
different facts are no copies. NULL for articles stored before: they are compared on their
signatures alone until ``newsdedup reindex`` recomputes their fingerprints.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Plain ALTER TABLE, not batch mode: a batch copy of `articles` would break the views that
# read it on SQLite (which drops columns itself since 3.35).


def upgrade() -> None:
    op.add_column("articles", sa.Column("facts", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "facts")
