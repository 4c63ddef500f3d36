"""Shared fixtures. PostgreSQL tests use the server named by NEWSDEDUP_TEST_POSTGRES_URL
(.ci/run sets it); without it they are skipped with that reason printed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from worker.store.db import Database

POSTGRES_ENV = "NEWSDEDUP_TEST_POSTGRES_URL"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def _fresh_postgres_database(base_url: str) -> tuple[str, str]:
    name = f"newsdedup_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        base_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    head, _, _ = base_url.rpartition("/")
    return f"{head}/{name}", name


def _drop_postgres_database(base_url: str, name: str) -> None:
    admin = create_engine(
        base_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = postgres_url()
    if not base:
        pytest.skip(
            f"PostgreSQL tests skipped: set {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
    url, name = _fresh_postgres_database(base)
    try:
        yield url
    finally:
        _drop_postgres_database(base, name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED
