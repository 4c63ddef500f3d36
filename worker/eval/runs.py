"""What every eval run shares: the order it stores documents in, the database it stores
them in, and the stored articles it scores."""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from worker.errors import NewsdedupError
from worker.eval.corpus import Document
from worker.store.db import Database
from worker.store.models import Article


def arrival_order(docs: list[Document], order_seed: int) -> list[Document]:
    """The documents in the order an eval stores them (a seeded shuffle)."""
    keys = [d.key for d in docs]
    if len(set(keys)) != len(keys):
        raise NewsdedupError("the labels name one file twice")
    order = list(docs)
    random.Random(order_seed).shuffle(order)
    return order


def stored_rows(db: Database) -> list[Any]:
    """Every stored article as the scores read it."""
    with db.session() as session:
        return list(
            session.execute(
                select(Article.guid, Article.story_id, Article.signature, Article.shingle_count,
                       Article.content_hash, Article.sig_scheme, Article.sig_seed,
                       Article.clean_text)
            ).all()
        )  # fmt: skip


@contextmanager
def run_database(server: str | None) -> Iterator[str]:
    """The URL of an empty database for one run, removed afterwards: a temporary SQLite
    file, or with ``server`` (a PostgreSQL URL) a new database on that server (the role
    needs CREATEDB); the database ``server`` names is not touched."""
    if server is None:
        with tempfile.TemporaryDirectory(prefix="newsdedup-eval-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'eval.db'}"
        return
    if not server.startswith(("postgresql://", "postgresql+psycopg://")):
        raise NewsdedupError(f"--database {server}: a PostgreSQL URL (postgresql://...)")
    name = f"newsdedup_eval_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        head, _, _ = server.rpartition("/")
        try:
            yield f"{head}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
