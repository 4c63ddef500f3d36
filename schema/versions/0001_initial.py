"""Initial schema: feeds, stories, articles, LSH buckets, learned chrome lines, poll log,
and the downstream views canonical_articles and story_variants.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

CANONICAL_ARTICLES = """
CREATE VIEW canonical_articles AS
SELECT s.id AS story_id, a.id AS article_id, f.name AS feed, a.title, a.url, a.canonical_url,
       a.author, a.published_at, a.fetched_at, a.language, a.clean_text,
       s.variant_count, s.first_seen_at, s.last_seen_at
FROM stories s
JOIN articles a ON a.id = s.canonical_article_id
JOIN feeds f ON f.id = a.feed_id
"""

STORY_VARIANTS = """
CREATE VIEW story_variants AS
SELECT a.story_id, a.id AS article_id,
       CASE WHEN s.canonical_article_id = a.id THEN 1 ELSE 0 END AS is_canonical,
       f.name AS feed, a.title, a.url, a.canonical_url, a.published_at, a.fetched_at,
       a.match_kind, a.matched_article_id, a.similarity, a.text_length
FROM articles a
JOIN stories s ON s.id = a.story_id
JOIN feeds f ON f.id = a.feed_id
"""


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("next_poll_at", TZ),
        sa.Column("last_polled_at", TZ),
        sa.Column("last_success_at", TZ),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error_kind", sa.String(40)),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_error_at", TZ),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.UniqueConstraint("name", name="uq_feeds_name"),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canonical_article_id", sa.Integer()),
        sa.Column("first_seen_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("variant_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
    )
    op.create_index("ix_stories_canonical_article_id", "stories", ["canonical_article_id"])
    op.create_index("ix_stories_last_seen_at", "stories", ["last_seen_at"])
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(1000), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("canonical_url", sa.String(2000)),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.Text()),
        sa.Column("published_at", TZ),
        sa.Column("fetched_at", TZ, nullable=False),
        sa.Column("updated_at", TZ),
        sa.Column("language", sa.String(20)),
        sa.Column("content_html", sa.Text()),
        sa.Column("clean_text", sa.Text(), nullable=False),
        sa.Column("text_length", sa.Integer(), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("shingle_count", sa.Integer(), nullable=False),
        sa.Column("signature", sa.LargeBinary()),
        sa.Column("sig_scheme", sa.String(40)),
        sa.Column("sig_seed", sa.Integer()),
        sa.Column("sig_num_perm", sa.SmallInteger()),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("match_kind", sa.String(16), nullable=False),
        sa.Column("matched_article_id", sa.Integer()),
        sa.Column("similarity", sa.Float()),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_articles_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], name="fk_articles_story_id_stories"),
        sa.UniqueConstraint("feed_id", "guid", name="uq_articles_feed_id_guid"),
    )
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])
    op.create_index("ix_articles_canonical_url", "articles", ["canonical_url"])
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    with op.batch_alter_table("stories") as batch:
        batch.create_foreign_key(
            "fk_stories_canonical_article_id_articles",
            "articles",
            ["canonical_article_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "lsh_buckets",
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("band", "bucket", "article_id", name="pk_lsh_buckets"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_lsh_buckets_article_id_articles",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_lsh_buckets_article_id", "lsh_buckets", ["article_id"])
    op.create_index("ix_lsh_buckets_added_at", "lsh_buckets", ["added_at"])
    op.create_table(
        "chrome_lines",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("line_key", sa.String(200), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("feed_id", "line_key", name="pk_chrome_lines"),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_chrome_lines_feed_id_feeds", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "poll_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("http_status", sa.SmallInteger()),
        sa.Column("entries_seen", sa.Integer(), nullable=False),
        sa.Column("articles_new", sa.Integer(), nullable=False),
        sa.Column("articles_updated", sa.Integer(), nullable=False),
        sa.Column("duplicates_exact", sa.Integer(), nullable=False),
        sa.Column("duplicates_near", sa.Integer(), nullable=False),
        sa.Column("error_kind", sa.String(40)),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_poll_log"),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_poll_log_feed_id_feeds", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_poll_log_feed_id_started_at", "poll_log", ["feed_id", "started_at"])
    op.execute(CANONICAL_ARTICLES)
    op.execute(STORY_VARIANTS)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS story_variants")
    op.execute("DROP VIEW IF EXISTS canonical_articles")
    op.drop_table("poll_log")
    op.drop_table("chrome_lines")
    op.drop_table("lsh_buckets")
    with op.batch_alter_table("stories") as batch:
        batch.drop_constraint("fk_stories_canonical_article_id_articles", type_="foreignkey")
    op.drop_table("articles")
    op.drop_table("stories")
    op.drop_table("feeds")
