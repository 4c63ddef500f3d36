"""Retention over a month (issue 19, finding 1): 30 simulated days of 50 feeds on a clock
moved forward a day at a time. Articles past their feed's retention are purged in
batches with their index rows; stories, canonicals and the views stay consistent after
every purge; the database levels off; a dead feed is parked and counted."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.hostile_server import synthetic_text
from worker import clock, metrics
from worker.cli import main
from worker.config import parse_config
from worker.daemon.health import count_parked
from worker.pipeline.poll import Ingestor
from worker.pipeline.purge import preview_purge, run_purge
from worker.pipeline.repair import find_problems
from worker.reader.parser import Entry
from worker.store.changes import changes_after
from worker.store.db import Database
from worker.store.models import Article, LshKeys, PollLog, Story

pytestmark = pytest.mark.slow  # a 30-day simulation of 50 feeds

FEEDS = 50
COPIERS = 20  # f00..f19 republish the day's wire story word for word
SHORT = 5  # f00..f04 keep their articles 3 days, the others 10 (the global setting)
DAYS = 30


@pytest.fixture
def moved_clock() -> Iterator[None]:
    clock.reset()
    try:
        yield
    finally:
        clock.reset()


def make_config(db_url: str, tmp_path: Path) -> str:
    lines = [
        f'[worker]\ndatabase = "{db_url}"\njitter = 0\npark_after = 5\n',
        '[retention]\narticles = "10d"\npoll_log = "7d"\nbatch = 40\n',
    ]
    for i in range(FEEDS):
        lines.append(f'[[feeds]]\nname = "f{i:02d}"\nurl = "https://f{i:02d}.invalid/rss"\n')
        if i < SHORT:
            lines.append('retention = "3d"\n')
    lines.append('[[feeds]]\nname = "dead"\nurl = "file:missing.xml"\n')
    path = tmp_path / "newsdedup.toml"
    path.write_text("\n".join(lines))
    return str(path)


def entry(guid: str, body: str) -> Entry:
    return Entry(
        guid=guid,
        url=f"https://news.invalid/{guid}",
        link=f"https://news.invalid/{guid}",
        title=body[:40],
        author=None,
        published=clock.utcnow(),
        content_html=f"<p>{body}</p>",
        has_full_content=True,
    )


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Article)) or 0,
            session.scalar(select(func.count()).select_from(Story)) or 0,
            session.scalar(select(func.count()).select_from(LshKeys)) or 0,
        )


def views_agree(db: Database) -> None:
    with db.session() as session:
        problems = find_problems(session)
        assert problems == [], problems[:5]
        stories = session.scalar(select(func.count()).select_from(Story))
        canonical = session.scalar(text("SELECT count(*) FROM canonical_articles"))
        variants = session.scalar(text("SELECT count(*) FROM story_variants"))
        articles = session.scalar(select(func.count()).select_from(Article))
        assert canonical == stories and variants == articles


def read_changes(db: Database, after: int) -> tuple[list[str], int]:
    """A downstream reader's pass over the change feed: the kinds past ``after``, and
    the number to go on from."""
    kinds: list[str] = []
    with db.session() as session:
        while page := changes_after(session, after, 500):
            kinds += [c.kind for c in page]
            after = page[-1].seq
    return kinds, after


def sqlite_pages(db: Database) -> int:
    with db.engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar() or 0
        free = conn.execute(text("PRAGMA freelist_count")).scalar() or 0
    return int(pages - free)


def test_thirty_days_of_fifty_feeds_level_off_under_retention(
    db: Database, tmp_path: Path, moved_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = make_config(db.url.replace("+psycopg", ""), tmp_path)
    config = parse_config(Path(config_path).read_text(), path=config_path)
    ingestor = Ingestor(config, db)
    ids = ingestor.sync_feeds()
    rng = random.Random(19)
    after_purge: list[tuple[int, int, int]] = []
    pages: dict[int, int] = {}
    seq, purged_seen, gone_seen = 0, 0, 0
    for day in range(DAYS):
        wire = synthetic_text(rng)
        for i in range(FEEDS):
            name = f"f{i:02d}"
            body = wire if i < COPIERS else synthetic_text(rng)
            kinds = ingestor.ingest_entries(
                config.feed(name), ids[name], [entry(f"{name}-{day}", body)]
            )
            assert kinds[0] in ("new", "content"), kinds
        if day < 5:
            ingestor.poll("dead")  # the daemon stops polling it once parked
        if day == 12:  # what would go, without deleting it
            before = counts(db)
            assert main(["--config", config_path, "purge", "--dry-run"]) == 0
            out = capsys.readouterr().out
            assert counts(db) == before
            preview = preview_purge(config, db)
            assert preview.articles == SHORT + (FEEDS - SHORT)  # one day's worth of each
            # Own stories of day 2, and day 2's wire story (its 3-day copies went on day 5).
            assert preview.stories_deleted == FEEDS - COPIERS + 1
            assert f"{preview.articles} articles would go" in out
            assert main(["--config", config_path, "purge"]) == 0
            report_line = capsys.readouterr().out
            assert (
                f"{preview.articles} articles purged; {preview.stories_deleted} stories gone"
                in report_line
            )
        else:
            run_purge(config, db)
        kinds, seq = read_changes(db, seq)  # a reader following the feed once a day
        purged_seen += kinds.count("article_purged")
        gone_seen += kinds.count("story_deleted")
        views_agree(db)
        after_purge.append(counts(db))
        if db.dialect == "sqlite":
            pages[day] = sqlite_pages(db)
        clock.advance(timedelta(days=1))
    ingestor.close()

    steady = SHORT * 3 + (FEEDS - SHORT) * 10
    stories = (FEEDS - COPIERS) * 10 + 10  # own stories of 10 days, and 10 wire stories
    for day in range(10, DAYS):
        assert after_purge[day][:2] == (steady, stories), (day, after_purge[day])
    assert max(a for a, _s, _k in after_purge) == steady  # never above the window
    # The index shrinks with the articles, in the table and in this process's memory.
    assert after_purge[-1][2] == steady
    # The change feed reported every purge: the reader saw each purged article once.
    assert purged_seen == FEEDS * DAYS - steady
    assert gone_seen == DAYS * (FEEDS - COPIERS + 1) - stories  # every story that went
    # This process's mirror dropped what it purged; the day-12 purge ran on another
    # engine (the CLI's), like another worker: those ids stay until lookups meet them or
    # the index window passes them (lookups skip ids without an article meanwhile).
    assert steady - 1 <= db.index.size()[0] <= steady + FEEDS
    if db.dialect == "sqlite":
        assert pages[DAYS - 1] <= pages[15] * 1.1, pages  # freed pages are reused
    # Poll records older than 7 days went; the dead feed is parked and counted.
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PollLog)) == 0
    assert count_parked(db) == 1
    metrics.FEEDS_BROKEN.set_function(lambda: count_parked(db))
    assert b"newsdedup_feeds_broken 1.0" in metrics.render()


def test_a_story_keeps_a_canonical_of_its_own_when_the_canonical_article_is_purged(
    db: Database, tmp_path: Path, moved_clock: None
) -> None:
    config_path = make_config(db.url.replace("+psycopg", ""), tmp_path)
    config = parse_config(Path(config_path).read_text(), path=config_path)
    ingestor = Ingestor(config, db)
    ids = ingestor.sync_feeds()
    body = synthetic_text(random.Random(7))
    ingestor.ingest_entries(config.feed("f00"), ids["f00"], [entry("first", body)])
    clock.advance(timedelta(days=1))
    ingestor.ingest_entries(config.feed("f30"), ids["f30"], [entry("copy", body)])
    ingestor.close()
    with db.session() as session:
        story = session.scalars(select(Story)).one()
        first = session.scalar(select(Article.id).where(Article.guid == "first"))
        assert story.canonical_article_id == first and story.variant_count == 2
    clock.advance(timedelta(days=3))  # f00's 3 days are over, f30's 10 are not
    report = run_purge(config, db)
    assert (report.articles, report.stories_deleted, report.by_feed) == (1, 0, {"f00": 1})
    with db.session() as session:
        story = session.scalars(select(Story)).one()
        copy = session.scalar(select(Article.id).where(Article.guid == "copy"))
        assert story.canonical_article_id == copy and story.variant_count == 1
    views_agree(db)
    clock.advance(timedelta(days=10))
    assert run_purge(config, db).stories_deleted == 1
    assert counts(db) == (0, 0, 0)
