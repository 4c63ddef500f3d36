"""full_text modes: a summary-only entry gets its article page fetched and extracted; links
to private addresses are refused unless the feed allows them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from tests.fixtures.corpus import WIRE, rss
from tests.helpers import make_config
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article

PAGE = (
    "<html><head><title>Orchestra tour</title></head><body>"
    "<nav><a href='/'>Home</a> | <a href='/arts'>Arts</a> | <a href='/login'>Log in</a></nav>"
    "<article><h1>Philharmonic announces tour</h1>"
    + "".join(f"<p>{p}</p>" for p in WIRE["orchestra"])
    + "</article><aside>Most read: Ten recipes for autumn</aside>"
    "<footer>© Arts Weekly 2026. All rights reserved.</footer></body></html>"
)


def serve(httpserver: HTTPServer) -> str:
    summary = WIRE["orchestra"][0][:90] + "..."
    httpserver.expect_request("/page").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/feed").respond_with_data(
        rss(
            "arts",
            "http://arts.example/",
            [
                {
                    "title": "Tour",
                    "link": httpserver.url_for("/page"),
                    "guid": "t1",
                    "pubDate": "Fri, 20 Nov 2026 08:00:00 +0000",
                    "summary": summary,
                    "content": "",
                }
            ],
        ).replace("<content:encoded><![CDATA[]]></content:encoded>", "")
    )
    return httpserver.url_for("/feed")


def stored_text(db: Database) -> str:
    with db.session() as s:
        return s.scalars(select(Article.clean_text)).one()


@pytest.mark.parametrize("mode", ["auto", "always"])
def test_summary_only_entry_gets_its_page(
    db: Database, httpserver: HTTPServer, tmp_path: Path, mode: str
) -> None:
    cfg = make_config(
        db.url, {"arts": serve(httpserver)}, tmp_path, feed_extra="allow_private_addresses = true"
    ).model_copy(deep=True)
    feeds = [f.model_copy(update={"full_text": mode}) for f in cfg.feeds]
    Ingestor(cfg.model_copy(update={"feeds": feeds}), db).poll("arts")
    text = stored_text(db)
    for paragraph in WIRE["orchestra"]:
        assert paragraph in text
    assert "Log in" not in text and "All rights reserved" not in text


def test_private_page_refused_by_default_falls_back_to_summary(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    cfg = make_config(db.url, {"arts": serve(httpserver)}, tmp_path)
    feeds = [f.model_copy(update={"full_text": "auto"}) for f in cfg.feeds]
    Ingestor(cfg.model_copy(update={"feeds": feeds}), db).poll("arts")
    text = stored_text(db)
    assert text.startswith(WIRE["orchestra"][0][:60]) and WIRE["orchestra"][2] not in text
    assert not any("/page" in str(r) for r, _ in httpserver.log)


def test_never_mode_does_not_fetch(db: Database, httpserver: HTTPServer, tmp_path: Path) -> None:
    cfg = make_config(
        db.url, {"arts": serve(httpserver)}, tmp_path, feed_extra="allow_private_addresses = true"
    )
    Ingestor(cfg, db).poll("arts")  # make_config sets full_text = "never"
    assert not any("/page" in str(r) for r, _ in httpserver.log)
