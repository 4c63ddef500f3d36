"""What every eval run shares: the order it stores documents in, and the stored articles
it scores."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select

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
