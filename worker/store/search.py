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


def matching_story_ids(session: Session, words: list[str]) -> Select[Any]:
    """A select of the ids of the stories with an article holding every word, for
    ``Story.id.in_(...)``."""
    if session.get_bind().dialect.name == "sqlite":
        matches: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("articles_fts"))
            .where(text("articles_fts MATCH :fts").bindparams(fts=fts5_query(words)))
        )
        return select(Article.story_id).where(Article.id.in_(matches))
    # MATERIALIZED: the matches through the GIN index first. Left to itself the planner
    # walks the stories newest first and computes each article's tsvector (5 s a page for
    # a rare word at 100,000 articles).
    matched = (
        select(Article.story_id).where(_pg_match(words)).cte("matched").prefix_with("MATERIALIZED")
    )
    return select(matched.c.story_id)


def _pg_match(words: list[str]) -> ColumnElement[bool]:
    query = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
    return literal_column(_PG_DOCUMENT).bool_op("@@")(query)


# PostgreSQL searches the newest ids first, in windows this many times larger each time.
_FIRST_WINDOW = 20_000
_WINDOW_GROWTH = 10


def newest_matches(
    session: Session, words: list[str], *, before_id: int | None, limit: int
) -> list[int]:
    """Ids of the newest ``limit`` articles (by id, below ``before_id``) holding every word.
    FTS5 walks its matches in id order and stops after the page; PostgreSQL's GIN index
    gives its matches in no order, so the newest are looked for in id windows below the
    top, 20,000 ids, then ten times more each time, until the page is full."""
    if session.get_bind().dialect.name == "sqlite":
        below = " AND rowid < :before" if before_id is not None else ""
        sql = (
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :fts"
            + below
            + " ORDER BY rowid DESC LIMIT :n"
        )
        params = {"fts": fts5_query(words), "before": before_id, "n": limit}
        return [int(r[0]) for r in session.execute(text(sql), params)]
    return _pg_newest_matches(session, " ".join(words), before_id, limit)


def _pg_newest_matches(
    session: Session, words: str, before_id: int | None, limit: int
) -> list[int]:
    top = before_id
    if top is None:
        top = int(session.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM articles")))
    # Bitmap scans only, for this query: the GIN index's matches ANDed with the id range.
    # Left to itself the planner takes a narrow id range through the primary key and
    # computes each row's tsvector (160 ms for 4,000 rows at a million articles), or reads
    # every match of a common word from the heap (180 ms for 110,000 matches).
    session.execute(text("SET LOCAL enable_indexscan = off"))
    session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        window = _FIRST_WINDOW
        while True:
            floor = top - window if window < top else None
            sql = (
                f"WITH m AS MATERIALIZED (SELECT id FROM articles WHERE {_PG_DOCUMENT} "
                "@@ plainto_tsquery('simple'::regconfig, :q) AND id < :top"
                + (" AND id >= :floor" if floor is not None else "")
                + ") SELECT id FROM m ORDER BY id DESC LIMIT :n"
            )
            params = {"q": words, "top": top, "floor": floor, "n": limit}
            ids = [int(r[0]) for r in session.execute(text(sql), params)]
            if len(ids) >= limit or floor is None:
                return ids
            window *= _WINDOW_GROWTH
    finally:
        session.execute(text("SET LOCAL enable_indexscan = on"))
        session.execute(text("SET LOCAL enable_seqscan = on"))
