"""The schema: migrations create exactly what the models describe, views work, and the
example queries of schema/README.md run."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from worker.store.db import Database
from worker.store.models import Base

SCHEMA_README = Path(__file__).resolve().parent.parent / "schema" / "README.md"


def test_migration_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_downgrade_works(db: Database) -> None:
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    db.downgrade("base")
    assert "articles" not in inspect(db.engine).get_table_names()
    db.upgrade()
    assert {"feeds", "articles", "stories", "lsh_buckets", "poll_log"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_views_exist(db: Database) -> None:
    views = set(inspect(db.engine).get_view_names())
    assert {"canonical_articles", "story_variants"} <= views


def readme_queries() -> list[str]:
    """Every ```sql block of schema/README.md."""
    return re.findall(r"```sql\n(.*?)```", SCHEMA_README.read_text(), flags=re.S)


def test_schema_readme_documents_every_column(db: Database) -> None:
    doc = SCHEMA_README.read_text()
    for table in Base.metadata.sorted_tables:
        assert f"### `{table.name}`" in doc, table.name
        for column in table.columns:
            assert f"`{column.name}`" in doc, f"{table.name}.{column.name}"


def test_schema_readme_queries_run(db: Database) -> None:
    queries = readme_queries()
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
