"""LSH index keyed by the band key alone: primary key (bucket, article_id) instead of
(band, bucket, article_id), clustered on SQLite (WITHOUT ROWID), so a lookup is one
``bucket IN (...)`` probe of one index. Band keys already mix in their band number, so the
rows carry over unchanged; ``band`` stays as a plain column, which makes the downgrade
lossless.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
OLD = "lsh_buckets_old"
COLUMNS = "bucket, added_at, article_id, band"


def _set_aside() -> None:
    """Rename the current table out of the way and free its index and constraint names
    (PostgreSQL keeps index names schema-wide)."""
    op.drop_index("ix_lsh_buckets_article_id", "lsh_buckets")
    op.drop_index("ix_lsh_buckets_added_at", "lsh_buckets")
    op.rename_table("lsh_buckets", OLD)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT pk_lsh_buckets TO pk_{OLD}")
        op.execute(
            f"ALTER TABLE {OLD} RENAME CONSTRAINT fk_lsh_buckets_article_id_articles "
            f"TO fk_{OLD}_article_id_articles"
        )


def _create(primary_key: tuple[str, ...], *, clustered: bool) -> None:
    columns = [
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
    ]
    if not clustered:  # the 0001 column order
        columns = [columns[3], columns[0], columns[2], columns[1]]
    op.create_table(
        "lsh_buckets",
        *columns,
        sa.PrimaryKeyConstraint(*primary_key, name="pk_lsh_buckets"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_lsh_buckets_article_id_articles",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=not clustered,
    )


def _finish(order_by: str) -> None:
    # Loaded in primary-key order (cheapest for a clustered b-tree), secondary indexes
    # built once afterwards rather than row by row.
    op.execute(
        f"INSERT INTO lsh_buckets ({COLUMNS}) SELECT {COLUMNS} FROM {OLD} ORDER BY {order_by}"
    )
    op.drop_table(OLD)
    op.create_index("ix_lsh_buckets_article_id", "lsh_buckets", ["article_id"])
    op.create_index("ix_lsh_buckets_added_at", "lsh_buckets", ["added_at"])


def upgrade() -> None:
    _set_aside()
    _create(("bucket", "article_id"), clustered=True)
    _finish("bucket, article_id")


def downgrade() -> None:
    _set_aside()
    _create(("band", "bucket", "article_id"), clustered=False)
    _finish("band, bucket, article_id")
