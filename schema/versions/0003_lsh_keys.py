"""LSH index as one row per article: ``lsh_keys`` (seq, article_id, added_at, keys) with the
band keys packed, replacing ``lsh_buckets``' row per band key. Lookups run on each
worker's in-memory mirror of the table (``worker.store.index``); the table is written as
an append, where 28 rows at random keys of a b-tree were half the cost of storing an
article. The rows are carried over per article, keys in band order, ``seq`` in the order
they were indexed; the downgrade unpacks them again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
CHUNK = 10_000  # articles per insert


def _per_article(conn: Any) -> Iterator[tuple[int, Any, bytes]]:
    """(article_id, added_at, packed keys) of every indexed article, oldest first."""
    rows = conn.execute(
        sa.text(
            "SELECT article_id, added_at, band, bucket FROM lsh_buckets "
            "ORDER BY added_at, article_id, band"
        )
    )
    current: int | None = None
    added: Any = None
    keys: list[int] = []
    for article_id, added_at, _band, bucket in rows:
        if article_id != current:
            if current is not None:
                yield current, added, np.array(keys, dtype="<i8").tobytes()
            current, added, keys = article_id, added_at, []
        keys.append(bucket)
    if current is not None:
        yield current, added, np.array(keys, dtype="<i8").tobytes()


def upgrade() -> None:
    op.create_table(
        "lsh_keys",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
            nullable=False,
        ),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.Column("keys", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_lsh_keys"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_lsh_keys_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("article_id", name="uq_lsh_keys_article_id"),
        sqlite_autoincrement=True,
    )  # fmt: skip
    conn = op.get_bind()
    insert = sa.text("INSERT INTO lsh_keys (article_id, added_at, keys) VALUES (:a, :t, :k)")
    # Read whole before writing: one connection cannot stream a select and insert at once
    # on every driver. About 250 bytes an article.
    rows = list(_per_article(conn))
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert, [{"a": a, "t": t, "k": k} for a, t, k in rows[start : start + CHUNK]])
    op.create_index("ix_lsh_keys_added_at", "lsh_keys", ["added_at"])
    op.drop_index("ix_lsh_buckets_article_id", "lsh_buckets")
    op.drop_index("ix_lsh_buckets_added_at", "lsh_buckets")
    op.drop_table("lsh_buckets")


def downgrade() -> None:
    op.create_table(
        "lsh_buckets",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "article_id", name="pk_lsh_buckets"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_lsh_buckets_article_id_articles",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )  # fmt: skip
    conn = op.get_bind()
    rows = [
        (int(bucket), added_at, article_id, band)
        for article_id, added_at, packed in conn.execute(
            sa.text("SELECT article_id, added_at, keys FROM lsh_keys")
        )
        for band, bucket in enumerate(np.frombuffer(packed, dtype="<i8").tolist())
    ]
    rows.sort(key=lambda r: (r[0], r[2]))  # primary-key order: appends to the b-tree
    insert = sa.text(
        "INSERT INTO lsh_buckets (bucket, added_at, article_id, band) VALUES (:k, :t, :a, :b)"
    )
    for start in range(0, len(rows), CHUNK * 28):
        conn.execute(
            insert,
            [{"k": k, "t": t, "a": a, "b": b} for k, t, a, b in rows[start : start + CHUNK * 28]],
        )
    op.create_index("ix_lsh_buckets_article_id", "lsh_buckets", ["article_id"])
    op.create_index("ix_lsh_buckets_added_at", "lsh_buckets", ["added_at"])
    op.drop_index("ix_lsh_keys_added_at", "lsh_keys")
    op.drop_table("lsh_keys")
