"""Full-text search over the articles' headline and clean text, for the API's ``q`` and
``/search``: on SQLite an FTS5 table ``articles_fts`` over ``articles`` (external content:
the text is not stored twice) kept in step by three triggers (insert, edit of the title or
text, delete: a purge takes its rows along); on PostgreSQL a GIN index on the ``simple``
``tsvector`` of the same text, which the database keeps in step itself. Both tokenise
without stemming (many languages; a word matches as written, case and accents folded on
SQLite, case folded on PostgreSQL). Also ``ix_articles_feed_id_id``: one feed's articles,
newest first, without a sort.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, clean_text, content='articles', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, clean_text) "
    "VALUES (new.id, new.title, new.clean_text); END",
    "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, clean_text) "
    "VALUES ('delete', old.id, old.title, old.clean_text); END",
    "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, clean_text ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, clean_text) "
    "VALUES ('delete', old.id, old.title, old.clean_text); "
    "INSERT INTO articles_fts(rowid, title, clean_text) "
    "VALUES (new.id, new.title, new.clean_text); END",
    # The articles stored before this migration.
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS articles_fts_update",
    "DROP TRIGGER IF EXISTS articles_fts_delete",
    "DROP TRIGGER IF EXISTS articles_fts_insert",
    "DROP TABLE IF EXISTS articles_fts",
]
# The expression is the one worker/store/search.py queries with, character for character:
# PostgreSQL uses an expression index only for the same expression.
POSTGRES_UP = [
    "CREATE INDEX ix_articles_fts ON articles USING gin "
    "(to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(clean_text, '')))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_articles_fts"]


def upgrade() -> None:
    op.create_index("ix_articles_feed_id_id", "articles", ["feed_id", "id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UP if sqlite else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index("ix_articles_feed_id_id", table_name="articles")
