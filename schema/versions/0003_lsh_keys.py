"""LSH index as one row per article: ``lsh_keys`` (seq, article_id, added_at, keys) with the
band keys packed, replacing ``lsh_buckets``' row per band key. Lookups run on each
worker's in-memory mirror of the table (``worker.store.index``); the table is written as
an append, where 28 rows at random keys of a b-tree were half the cost of storing an
article. The rows are carried over per article, keys in band order, ``seq`` in article id
order; the downgrade unpacks them again. Both copy a bounded range of article ids at a
time, so memory does not grow with the index.

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
CHUNK = 10_000  # article ids per step of a copy
STAGING = "lsh_buckets_unsorted"
COLUMNS = "bucket, added_at, article_id, band"


def _id_ranges(conn: Any, table: str) -> Iterator[tuple[int, int]]:
    """(low, high] ranges of ``table``'s article ids, ``CHUNK`` ids wide: each step of a
    copy reads and writes a bounded share of the index, whatever its size."""
    low, high = conn.execute(sa.text(f"SELECT min(article_id), max(article_id) FROM {table}")).one()
    if low is None:
        return
    for start in range(low - 1, high, CHUNK):
        yield start, start + CHUNK


def _per_article(conn: Any, low: int, high: int) -> list[dict[str, Any]]:
    """The articles in (low, high] of ``lsh_buckets``, each with its keys packed in band
    order."""
    rows = conn.execute(
        sa.text(
            "SELECT article_id, added_at, bucket FROM lsh_buckets "
            "WHERE article_id > :low AND article_id <= :high ORDER BY article_id, band"
        ),
        {"low": low, "high": high},
    )
    out: list[dict[str, Any]] = []
    keys: list[int] = []
    for article_id, added_at, bucket in rows:
        if not out or out[-1]["a"] != article_id:
            if out:
                out[-1]["k"] = np.array(keys, dtype="<i8").tobytes()
            out.append({"a": article_id, "t": added_at, "k": b""})
            keys = []
        keys.append(bucket)
    if out:
        out[-1]["k"] = np.array(keys, dtype="<i8").tobytes()
    return out


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
    for low, high in _id_ranges(conn, "lsh_buckets"):
        rows = _per_article(conn, low, high)
        if rows:
            conn.execute(insert, rows)
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
    # Unpacked into a plain table first, then copied in key order: the clustered key
    # is filled by appends, and the database does the sorting, on disk if it must.
    op.create_table(
        STAGING,
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
    )
    conn = op.get_bind()
    insert = sa.text(
        f"INSERT INTO {STAGING} (bucket, added_at, article_id, band) VALUES (:k, :t, :a, :b)"
    )
    for low, high in _id_ranges(conn, "lsh_keys"):
        found = conn.execute(
            sa.text(
                "SELECT article_id, added_at, keys FROM lsh_keys "
                "WHERE article_id > :low AND article_id <= :high"
            ),
            {"low": low, "high": high},
        )
        rows = [
            {"k": bucket, "t": added_at, "a": article_id, "b": band}
            for article_id, added_at, packed in found
            for band, bucket in enumerate(np.frombuffer(packed, dtype="<i8").tolist())
        ]
        if rows:
            conn.execute(insert, rows)
    op.execute(
        f"INSERT INTO lsh_buckets ({COLUMNS}) SELECT {COLUMNS} FROM {STAGING} "
        "ORDER BY bucket, article_id"
    )
    op.drop_table(STAGING)
    op.create_index("ix_lsh_buckets_article_id", "lsh_buckets", ["article_id"])
    op.create_index("ix_lsh_buckets_added_at", "lsh_buckets", ["added_at"])
    op.drop_index("ix_lsh_keys_added_at", "lsh_keys")
    op.drop_table("lsh_keys")
