"""A database populated through the real poll path (the demo's four outlets, plus a feed of
hostile strings and a failing feed), and the API application over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.helpers import make_config
from worker.api.app import Served, create_app
from worker.config import Config
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "demo"
HOSTILE_TITLE = '<script>alert("t")</script> Quay & "harbour" <b>works</b>'
HOSTILE_TEXT = (
    "The harbour quay works resumed on Friday after a pause of two weeks, the port said. "
    '<img src=x onerror=alert(1)> Crews will work nights. <a href="javascript:alert(2)">x</a> '
    "The port authority said the new quay would open in the spring for ferries and barges."
)
HOSTILE_FEED = f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Quay &lt;news&gt;</title><link>https://quay.example/</link>
<description>d</description>
<item><title>{HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;")}</title>
<link>javascript:alert(3)</link><guid isPermaLink="false">quay-1</guid>
<description>{HOSTILE_TEXT.replace("&", "&amp;").replace("<", "&lt;")}</description></item>
</channel></rss>
"""


def populate(db: Database, tmp_path: Path, extra: str = "") -> Config:
    """The demo's stories, the hostile feed and one feed that fails, polled once."""
    (tmp_path / "quay.xml").write_text(HOSTILE_FEED)
    feeds = {p.stem: p.as_uri() for p in sorted(DEMO.glob("*.xml"))}
    feeds["quay-news"] = (tmp_path / "quay.xml").as_uri()
    feeds["gone-away"] = (tmp_path / "missing.xml").as_uri()
    config = make_config(db.url.replace("+psycopg", ""), feeds, tmp_path, extra=extra)
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    ingestor.poll_all()
    ingestor.close()
    # The parser and sanitiser would have made these harmless; the API and the page must
    # not rely on that, so the stored row gets them back as a hostile feed could.
    with db.session() as s, s.begin():
        s.execute(
            update(Article)
            .where(Article.guid == "quay-1")
            .values(title=HOSTILE_TITLE, clean_text=HOSTILE_TEXT, url="javascript:alert(3)",
                    canonical_url="javascript:alert(3)")
        )  # fmt: skip
    return config


def healthy() -> tuple[bool, dict[str, str]]:
    return True, {"database": "ok"}


def client_for(db: Database, config: Config, listen: str = "127.0.0.1:9464") -> TestClient:
    app = create_app(Served(db=db, config=lambda: config, health=healthy, listen=listen))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def served(db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, Database, Config]]:
    config = populate(db, tmp_path)
    with client_for(db, config) as client:
        yield client, db, config
