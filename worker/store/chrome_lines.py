"""Counts of the short lines seen at the head and tail of articles, per feed and per site
(the host of the articles' links): a line that recurs in enough articles of one source is
that source's own chrome (``clean.learned``).

A feed's own wording ("via The Daily Sample") is learned per feed; a site's menus and
footers reach the worker through every feed that links to the site (its section feeds, an
aggregator, pages fetched for summaries), so they are learned per host across all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import cast

from sqlalchemy import Column, Connection, Insert, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.store.models import ChromeLine, HostChromeLine

_chrome_lines = cast(Table, ChromeLine.__table__)
_host_lines = cast(Table, HostChromeLine.__table__)
# The table of each scope and its owner column.
_SCOPES = {"feed": (_chrome_lines, "feed_id"), "host": (_host_lines, "host")}


def _table(scope: str) -> tuple[Table, Column[object]]:
    table, owner = _SCOPES[scope]
    return table, table.c[owner]


def learned_keys(session: Session, feed_id: int, min_articles: int) -> frozenset[str]:
    rows = session.scalars(
        select(ChromeLine.line_key).where(
            ChromeLine.feed_id == feed_id, ChromeLine.article_count >= min_articles
        )
    )
    return frozenset(rows)


def learned_host_keys(conn: Session | Connection, host: str, min_articles: int) -> frozenset[str]:
    rows = conn.execute(
        select(HostChromeLine.line_key).where(
            HostChromeLine.host == host, HostChromeLine.article_count >= min_articles
        )
    )
    return frozenset(key for (key,) in rows)


def _counts(
    session: Session | Connection, scope: str, owner: int | str, keys: Iterable[str]
) -> dict[str, int]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    table, column = _table(scope)
    conn = session.connection() if isinstance(session, Session) else session
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    out: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        sql = (
            f"SELECT line_key, article_count FROM {table.name} WHERE {column.name} = "
            f"{mark} AND line_key IN ({', '.join([mark] * len(part))})"
        )
        out.update((key, count) for key, count in conn.exec_driver_sql(sql, (owner, *part)))
    return out


def line_counts(session: Session | Connection, feed_id: int, keys: Iterable[str]) -> dict[str, int]:
    """How many articles of ``feed_id`` carried each of ``keys`` (known keys only). Driver
    SQL: asked once per new article of a poll, building the statement cost more than
    running it."""
    return _counts(session, "feed", feed_id, keys)


def host_line_counts(
    session: Session | Connection, host: str, keys: Iterable[str]
) -> dict[str, int]:
    """How many articles of site ``host`` carried each of ``keys`` (known keys only)."""
    return _counts(session, "host", host, keys)


@lru_cache(maxsize=4)
def _count_line(dialect: str, scope: str) -> Insert:
    # One upsert for all keys instead of a read, an update and inserts; both supported
    # dialects have INSERT ... ON CONFLICT DO UPDATE.
    table, column = _table(scope)
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return statement.on_conflict_do_update(
        index_elements=[column, table.c.line_key],
        set_={
            "article_count": table.c.article_count + statement.excluded.article_count,
            "last_seen_at": statement.excluded.last_seen_at,
        },
    )


def _count(
    session: Session, scope: str, owner: int | str, keys: Iterable[str] | Mapping[str, int]
) -> None:
    counts = dict(keys) if isinstance(keys, Mapping) else dict.fromkeys(set(keys), 1)
    if not counts:
        return
    now = utcnow()
    session.flush()  # the upsert runs on the connection, past the ORM
    conn = session.connection()
    column = _SCOPES[scope][1]
    rows = [
        {column: owner, "line_key": key, "article_count": n, "last_seen_at": now}
        for key, n in sorted(counts.items())
    ]
    conn.execute(_count_line(conn.dialect.name, scope), rows)


def count_lines(session: Session, feed_id: int, keys: Iterable[str] | Mapping[str, int]) -> None:
    """Count each key once more for ``feed_id`` (keys of one article), or, given a mapping,
    as many more times as it says (the articles of a batch that carried it)."""
    _count(session, "feed", feed_id, keys)


def count_host_lines(session: Session, host: str, keys: Iterable[str] | Mapping[str, int]) -> None:
    """``count_lines`` for the site ``host``."""
    _count(session, "host", host, keys)
