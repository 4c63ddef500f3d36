"""Per-feed counts of the short lines seen at the head and tail of articles: a line that
recurs in enough articles of one feed is that feed's own chrome (``clean.learned``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import cast

from sqlalchemy import Connection, Insert, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.store.models import ChromeLine

_chrome_lines = cast(Table, ChromeLine.__table__)


def learned_keys(session: Session, feed_id: int, min_articles: int) -> frozenset[str]:
    rows = session.scalars(
        select(ChromeLine.line_key).where(
            ChromeLine.feed_id == feed_id, ChromeLine.article_count >= min_articles
        )
    )
    return frozenset(rows)


def line_counts(session: Session | Connection, feed_id: int, keys: Iterable[str]) -> dict[str, int]:
    """How many articles of ``feed_id`` carried each of ``keys`` (known keys only). Driver
    SQL: asked once per new article of a poll, building the statement cost more than
    running it."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    conn = session.connection() if isinstance(session, Session) else session
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    out: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        sql = (
            "SELECT line_key, article_count FROM chrome_lines WHERE feed_id = "
            f"{mark} AND line_key IN ({', '.join([mark] * len(part))})"
        )
        out.update((key, count) for key, count in conn.exec_driver_sql(sql, (feed_id, *part)))
    return out


@lru_cache(maxsize=2)
def _count_line(dialect: str) -> Insert:
    # One upsert for all keys instead of a read, an update and inserts; both supported
    # dialects have INSERT ... ON CONFLICT DO UPDATE.
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_chrome_lines)
    return statement.on_conflict_do_update(
        index_elements=[_chrome_lines.c.feed_id, _chrome_lines.c.line_key],
        set_={
            "article_count": _chrome_lines.c.article_count + statement.excluded.article_count,
            "last_seen_at": statement.excluded.last_seen_at,
        },
    )


def count_lines(session: Session, feed_id: int, keys: Iterable[str] | Mapping[str, int]) -> None:
    """Count each key once more for ``feed_id`` (keys of one article), or, given a mapping,
    as many more times as it says (the articles of a batch that carried it)."""
    counts = dict(keys) if isinstance(keys, Mapping) else dict.fromkeys(set(keys), 1)
    if not counts:
        return
    now = utcnow()
    session.flush()  # the upsert runs on the connection, past the ORM
    conn = session.connection()
    rows = [
        {"feed_id": feed_id, "line_key": key, "article_count": n, "last_seen_at": now}
        for key, n in sorted(counts.items())
    ]
    conn.execute(_count_line(conn.dialect.name), rows)
