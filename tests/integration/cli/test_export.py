"""Downstream: `newsdedup export` (Atom that feedparser reads without a bozo flag, JSON,
JSON Lines, --since) and the schema contract (the views keep their documented columns and
agree with the tables on a populated database)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import text

from tests.helpers import make_config
from worker.cli import main
from worker.downstream.export import atom_feed
from worker.downstream.models import Story, build
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.stories import list_stories

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "demo"
SCHEMA_DOC = ROOT / "docs" / "downstream.md"


@pytest.fixture
def demo_db(db: Database, tmp_path: Path) -> tuple[Database, Path]:
    feeds = {p.stem: p.as_uri() for p in sorted(DEMO.glob("*.xml"))}
    config = make_config(db.url.replace("+psycopg", ""), feeds, tmp_path)
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    results = ingestor.poll_all()
    ingestor.close()
    assert all(r.outcome == "ok" for r in results.values())
    return db, tmp_path / "newsdedup.toml"


def run_cli(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> bytes:
    assert main(list(argv)) == 0
    return capsysbinary.readouterr().out


def test_atom_export_is_a_valid_deduplicated_feed(
    demo_db: tuple[Database, Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    db, config = demo_db
    with db.session() as session:
        stories = build(Story, list_stories(session))
    assert any(s.variant_count > 1 for s in stories)  # the demo folds copies

    parsed = feedparser.parse(run_cli(capsysbinary, "--config", str(config), "export", "--atom"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert len(parsed.entries) == len(stories)
    by_id = {e.id.rsplit(":", 1)[1]: e for e in parsed.entries}
    for story in stories:
        entry = by_id[str(story.id)]
        canonical = next(a for a in story.articles if a.is_canonical)
        assert entry.title == canonical.title
        alternate = [link.href for link in entry.links if link.rel == "alternate"]
        related = sorted(link.href for link in entry.links if link.rel == "related")
        # The canonical URLs: no tracking parameters reach a reader's subscription.
        assert alternate == [canonical.canonical_url]
        assert related == sorted(a.canonical_url for a in story.articles if not a.is_canonical)
        assert not any("utm_" in href for href in [*alternate, *related])


def test_json_and_jsonl_exports_agree_and_since_filters(
    demo_db: tuple[Database, Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    _db, config = demo_db
    document = json.loads(run_cli(capsysbinary, "--config", str(config), "export", "--json"))
    lines = run_cli(capsysbinary, "--config", str(config), "export", "--jsonl").splitlines()
    assert [json.loads(line) for line in lines] == document["stories"]
    assert len(lines) > 0
    recent = run_cli(capsysbinary, "--config", str(config), "export", "--jsonl", "--since", "1h")
    assert len(recent.splitlines()) == len(lines)
    future = run_cli(
        capsysbinary, "-c", str(config), "export", "--jsonl", "--since", "2999-01-01T00:00:00"
    )
    assert future == b""
    out = config.parent / "stories.xml"
    run_cli(capsysbinary, "-c", str(config), "export", "--limit", "2", "-o", str(out))
    assert len(feedparser.parse(out.read_bytes()).entries) == 2


def test_atom_survives_hostile_text() -> None:
    story = Story.model_validate(
        {
            "id": 1,
            "title": None,
            "first_seen": "2026-01-01T00:00:00+00:00",
            "last_seen": "2026-01-01T00:00:00+00:00",
            "variant_count": 2,
            "canonical_id": 1,
            "articles": [
                {
                    "id": 1,
                    "title": "Q&A <b>\x0b control & markup",
                    "url": "https://a.example/x?a=1&b=2",
                    "feed": "a&b",
                    "is_canonical": True,
                    "match_kind": "new",
                    "story_id": 1,
                    "published": None,
                    "text": "line one\x00\nline <two> & three",
                },
                {
                    "id": 2,
                    "title": "copy",
                    "url": 'https://b.example/"quoted"',
                    "feed": "b",
                    "is_canonical": False,
                    "match_kind": "url",
                    "story_id": 1,
                    "published": None,
                    "text": "",
                },
            ],
        }
    )
    parsed = feedparser.parse(atom_feed([story]))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entry = parsed.entries[0]
    assert entry.title == "Q&A <b> control & markup"
    assert entry.link == "https://a.example/x?a=1&b=2"


def _documented_columns(view: str) -> set[str]:
    section = SCHEMA_DOC.read_text().split(f"### `{view}`", 1)[1].split("###", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row)}


@pytest.mark.parametrize("view", ["canonical_articles", "story_variants", "event_stories"])
def test_views_have_exactly_the_documented_columns(
    demo_db: tuple[Database, Path], view: str
) -> None:
    db, _config = demo_db
    with db.engine.connect() as conn:
        columns = set(conn.execute(text(f"SELECT * FROM {view} LIMIT 1")).keys())
    assert columns == _documented_columns(view)


def test_views_agree_with_the_tables(demo_db: tuple[Database, Path]) -> None:
    db, _config = demo_db
    with db.engine.connect() as conn:
        stories = conn.execute(text("SELECT COUNT(*) FROM stories")).scalar()
        canonical = conn.execute(text("SELECT COUNT(*) FROM canonical_articles")).scalar()
        variants = conn.execute(text("SELECT COUNT(*) FROM story_variants")).scalar()
        articles = conn.execute(text("SELECT COUNT(*) FROM articles")).scalar()
        flagged = conn.execute(
            text("SELECT COUNT(*) FROM story_variants WHERE is_canonical = 1")
        ).scalar()
        sizes = conn.execute(
            text(
                "SELECT c.story_id, c.variant_count, COUNT(v.article_id) FROM canonical_articles c "
                "JOIN story_variants v ON v.story_id = c.story_id "
                "GROUP BY c.story_id, c.variant_count"
            )
        ).all()
    assert stories == canonical == flagged and stories > 0
    assert variants == articles
    assert all(count == size for _story, size, count in sizes)
