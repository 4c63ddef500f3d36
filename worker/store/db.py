"""Engine, sessions, migrations and the dedup lock.

>>> db = Database("sqlite://")
>>> db.upgrade()
>>> db.current_revision() == db.head_revision()
True
"""

from __future__ import annotations

import ast
import contextlib
import re
import threading
from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from worker.errors import StoreError
from worker.store import changes
from worker.store.index import IndexMirror
from worker.store.locks import DEDUP_LOCK_KEY, MIGRATION_LOCK_KEY

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


def _normalise_url(url: str) -> str:
    # A bare postgresql:// URL would pick psycopg2; psycopg 3 is what we install.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    with contextlib.suppress(Exception):  # in-memory databases have no WAL
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


_DECLARATION = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.MULTILINE)


def schema_head() -> str | None:
    """The head revision of the migration scripts, read from their ``revision`` and
    ``down_revision`` lines without importing them or alembic (``None``: several heads,
    which never matches a database, so ``ensure_current`` asks alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in resources.files("worker.schema").joinpath("versions").iterdir():
        if not script.name.endswith(".py"):
            continue
        for name, value in _DECLARATION.findall(script.read_text(encoding="utf-8")):
            try:
                parsed = ast.literal_eval(value.split("#")[0].strip())
            except (ValueError, SyntaxError):
                return None  # not a plain literal: alembic decides
            found = parsed if isinstance(parsed, tuple | list) else (parsed,)
            (revisions if name == "revision" else parents).update(v for v in found if v)
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


class Database:
    """One database: its engine, a session factory, migrations, the dedup lock and the
    in-memory mirror of its LSH index (``index``)."""

    def __init__(self, url: str, *, dedup_lock: bool = True) -> None:
        self.url = _normalise_url(url)
        # Off only in the test that shows what the lock prevents.
        self.dedup_lock = dedup_lock
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Change rows recorded in a transaction are written at its commit (change feed).
        changes.install(self.sessions)
        # This database's copy of the LSH index, kept by and for its own sessions.
        self.index = IndexMirror()
        self.index.serve(self.sessions)
        self._local_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()

    # -- migrations --------------------------------------------------------------------
    # alembic (and the migration scripts, which import numpy) is imported only to migrate
    # or to answer `db`: a start on a current schema, and every query command, checks the
    # revision with one SELECT against the scripts' own declarations (``schema_head``).
    def _alembic_config(self) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        location = resources.files("worker.schema")
        cfg.set_main_option("script_location", str(location))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        """The revision in ``alembic_version`` (``None``: no schema yet), as alembic's
        ``MigrationContext.get_current_revision`` reads it."""
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except OperationalError as exc:
            raise StoreError(f"cannot connect to the database: {exc.orig}") from exc
        if len(rows) > 1:
            raise StoreError(f"the database has {len(rows)} schema revisions; expected one")
        return str(rows[0][0]) if rows else None

    def upgrade(self, revision: str = "head") -> None:
        """Create or upgrade the schema (idempotent; serialised across workers)."""
        from alembic import command

        cfg = self._alembic_config()
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY}
                    )
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except SQLAlchemyError as exc:
            raise StoreError(f"migration failed: {exc}") from exc

    def downgrade(self, revision: str) -> None:
        from alembic import command

        cfg = self._alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    def ensure_current(self) -> None:
        if self.current_revision() != schema_head():
            self.upgrade()

    # -- concurrency -------------------------------------------------------------------
    @contextlib.contextmanager
    def dedup_transaction(self) -> Iterator[Session]:
        """A transaction in which find-candidates-then-write is serialised, so two copies
        of one story arriving at the same moment cannot both start a story.

        The lock is held until *after* the commit: released any earlier, the next writer
        could look for candidates before this one's article is visible. In-process threads
        share a lock; on PostgreSQL a transaction-scoped advisory lock covers every worker,
        on SQLite the database's write lock, taken at the start (``BEGIN IMMEDIATE``).
        """
        if not self.dedup_lock:
            with self.session() as session, session.begin():
                yield session
            return
        with self._local_lock, self.session() as session, session.begin():
            if self.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DEDUP_LOCK_KEY})
            elif self.dialect == "sqlite":
                # Take SQLite's write lock before reading candidates: a deferred transaction
                # would let another process read the same (empty) candidates meanwhile.
                session.execute(text("BEGIN IMMEDIATE"))
            yield session
