"""Full-text search over the articles (the migration ``schema/versions/*_fts.py``): FTS5
on SQLite, a GIN index on a ``tsvector`` on PostgreSQL, both kept in step with every
insert, edit and purge by the database itself (triggers; the index). A query is words,
all of which must occur (no operators: whatever a reader types is taken as words, so no
input is a syntax error).

    >>> query_words('"dam" OR bridge-closure*  NEAR(x)')
    ['dam', 'OR', 'bridge', 'closure', 'NEAR', 'x']
    >>> fts5_query(["dam", "bridge"])
    '"dam" "bridge"'
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, text
from sqlalchemy.orm import Session

from worker.store.models import Article

# What the migration creates beside the models' tables, which the model comparison skips.
FTS_PREFIX = "articles_fts"
_WORD = re.compile(r"\w+")
MAX_WORDS = 32
# The expression of the PostgreSQL index, character for character (schema/versions/*_fts.py).
_PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(clean_text, ''))"
)


def modelled(name: str | None, type_: str, _parents: Any = None) -> bool:
    """Whether a schema object is one the models describe (alembic's ``include_name``):
    not the search objects of the ``*_fts.py`` migration, which only it declares."""
    return not (name or "").startswith((FTS_PREFIX, "ix_articles_fts"))


def query_words(query: str) -> list[str]:
    """The words of a reader's query (at most ``MAX_WORDS``)."""
    return _WORD.findall(query)[:MAX_WORDS]


def fts5_query(words: list[str]) -> str:
    """An FTS5 query matching rows with every word: each quoted, so none is an operator."""
    return " ".join(f'"{w}"' for w in words)


def matching_article_ids(session: Session, words: list[str]) -> Select[Any]:
    """A select of the ids of the articles holding every word (no order), to use in
    ``IN (...)``."""
    if session.get_bind().dialect.name == "sqlite":
        return (
            select(literal_column("rowid"))
            .select_from(text("articles_fts"))
            .where(text("articles_fts MATCH :fts").bindparams(fts=fts5_query(words)))
        )
    return select(Article.id).where(_pg_match(words))


def _pg_match(words: list[str]) -> ColumnElement[bool]:
    query = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
    return literal_column(_PG_DOCUMENT).bool_op("@@")(query)


def newest_matches(
    session: Session, words: list[str], *, before_id: int | None, limit: int
) -> list[int]:
    """Ids of the newest ``limit`` articles (by id, below ``before_id``) holding every word:
    both indexes walk their matches in id order, so a page costs the same however many
    articles match."""
    if session.get_bind().dialect.name == "sqlite":
        sql = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :fts"
        params: dict[str, Any] = {"fts": fts5_query(words), "n": limit}
        if before_id is not None:
            sql += " AND rowid < :before"
            params["before"] = before_id
        rows = session.execute(text(sql + " ORDER BY rowid DESC LIMIT :n"), params)
        return [int(r[0]) for r in rows]
    query = select(Article.id).where(_pg_match(words))
    if before_id is not None:
        query = query.where(Article.id < before_id)
    return list(session.scalars(query.order_by(Article.id.desc()).limit(limit)))
