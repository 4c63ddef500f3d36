"""The schema: migrations create exactly what the models describe, views work, and the
example queries of docs/downstream.md run."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from worker.dedup.decision import MatchRule
from worker.dedup.engine import DedupEngine, DedupPolicy
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import LshParams, band_keys
from worker.store.articles import ArticleStore
from worker.store.db import Database, schema_head
from worker.store.models import Base
from worker.store.search import modelled

# A retention window reaching back past the fixed timestamps written below.
POLICY = DedupPolicy(
    MatchRule(), LshParams.for_threshold(0.2, 128), "earliest", timedelta(days=36500)
)
ENGINE = DedupEngine(POLICY)
SCHEMA_DOC = Path(__file__).resolve().parents[3] / "docs" / "downstream.md"


def test_migration_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": modelled})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_downgrade_works(db: Database) -> None:
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    db.downgrade("base")
    assert "articles" not in inspect(db.engine).get_table_names()
    db.upgrade()
    assert {"feeds", "articles", "stories", "lsh_keys", "poll_log"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_schema_head_read_without_alembic_agrees(db: Database) -> None:
    # ensure_current compares against schema_head, which reads the scripts' declarations.
    assert schema_head() == db.head_revision() == db.current_revision()
    db.downgrade("0001")
    assert db.current_revision() == "0001"
    db.ensure_current()
    assert db.current_revision() == schema_head()


def _indexed_article_at(db: Database, revision: str) -> tuple[Fingerprint, list[int], int]:
    """A database at ``revision`` (0001 or 0002) holding one article and its index rows in
    ``lsh_buckets``; returns its fingerprint, band keys and id."""
    db.upgrade(revision)
    when = datetime(2026, 11, 30, 12, tzinfo=UTC)
    fp = Fingerprint(np.arange(128, dtype=np.uint32), 100, "h", "w3-test", 1)
    keys = band_keys(fp.hashvalues, POLICY.lsh)
    with db.engine.begin() as conn:
        feed = conn.execute(
            text(
                "INSERT INTO feeds (name, url, enabled, consecutive_failures, created_at) "
                "VALUES ('f', 'file:///dev/null', true, 0, :t) RETURNING id"
            ),
            {"t": when},
        ).scalar_one()
        story = conn.execute(
            text(
                "INSERT INTO stories (first_seen_at, last_seen_at, variant_count) "
                "VALUES (:t, :t, 1) RETURNING id"
            ),
            {"t": when},
        ).scalar_one()
        article = conn.execute(
            text(
                "INSERT INTO articles (feed_id, guid, title, fetched_at, clean_text, "
                "text_length, source_hash, content_hash, shingle_count, signature, "
                "sig_scheme, sig_seed, sig_num_perm, story_id, match_kind) VALUES (:f, 'g', "
                "'', :t, '', 0, '', 'h', 100, :sig, 'w3-test', 1, 128, :s, 'new') "
                "RETURNING id"
            ),
            {"f": feed, "t": when, "sig": fp.to_bytes(), "s": story},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO lsh_buckets (band, bucket, article_id, added_at) "
                "VALUES (:b, :k, :a, :t)"
            ),
            [{"b": b, "k": k, "a": article, "t": when} for b, k in enumerate(keys)],
        )
    return fp, keys, int(article)


def _bucket_rows(db: Database) -> list[tuple[int, int, int]]:
    with db.engine.connect() as conn:
        found = conn.execute(text("SELECT band, bucket, article_id FROM lsh_buckets"))
        return sorted((r.band, r.bucket, r.article_id) for r in found)


def test_0002_carries_index_rows_over_and_back(db_url: str) -> None:
    """The index migration keeps every row (and the band) both ways."""
    db = Database(db_url)
    _fp, keys, article = _indexed_article_at(db, "0001")
    expected = sorted((b, k, article) for b, k in enumerate(keys))
    db.upgrade("0002")
    assert _bucket_rows(db) == expected
    pk = inspect(db.engine).get_pk_constraint("lsh_buckets")["constrained_columns"]
    assert pk == ["bucket", "article_id"]
    db.downgrade("0001")
    assert _bucket_rows(db) == expected
    pk = inspect(db.engine).get_pk_constraint("lsh_buckets")["constrained_columns"]
    assert pk == ["band", "bucket", "article_id"]
    db.upgrade("0002")
    assert _bucket_rows(db) == expected
    db.dispose()


def test_0003_packs_index_rows_per_article_and_back(db_url: str) -> None:
    """The row-per-article index holds each article's keys in band order, answers lookups
    for rows written under the old layout, and unpacks to the same rows."""
    db = Database(db_url)
    fp, keys, article = _indexed_article_at(db, "0002")
    expected = sorted((b, k, article) for b, k in enumerate(keys))
    db.upgrade()
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT article_id, keys FROM lsh_keys")).all()
    assert [(a, np.frombuffer(k, dtype="<i8").tolist()) for a, k in rows] == [(article, keys)]
    with db.session() as session:
        assert [c.article_id for c in ENGINE.candidates(ArticleStore(session), fp)] == [article]
    db.downgrade("0002")
    assert _bucket_rows(db) == expected
    db.upgrade()
    with db.session() as session:
        assert [c.article_id for c in ENGINE.candidates(ArticleStore(session), fp)] == [article]
    db.dispose()


def test_views_exist(db: Database) -> None:
    views = set(inspect(db.engine).get_view_names())
    assert {"canonical_articles", "story_variants", "event_stories"} <= views


def doc_queries() -> list[str]:
    """Every ```sql block of docs/downstream.md."""
    return re.findall(r"```sql\n(.*?)```", SCHEMA_DOC.read_text(), flags=re.S)


def test_downstream_doc_documents_every_column(db: Database) -> None:
    doc = SCHEMA_DOC.read_text()
    for table in Base.metadata.sorted_tables:
        assert f"### `{table.name}`" in doc, table.name
        for column in table.columns:
            assert f"`{column.name}`" in doc, f"{table.name}.{column.name}"


def test_downstream_doc_queries_run(db: Database) -> None:
    queries = doc_queries()
    assert len(queries) >= 4
    ran = 0
    with db.engine.connect() as conn:
        for query in queries:
            tag = re.match(r"-- dialect: (\w+)", query)
            if tag and tag.group(1) != db.dialect:
                continue
            conn.execute(text(query)).fetchall()
            ran += 1
    assert ran >= 4
