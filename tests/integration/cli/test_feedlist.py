"""The feed list in and out: `feeds import-opml`, `feeds export-opml`, `feeds add` (with
feed discovery from an HTML page), while `feeds` and `feeds --json` still list feeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from worker.cli import main
from worker.cli.app import open_database
from worker.config import load_config
from worker.pipeline.poll import Ingestor
from worker.subscriptions.opml import parse_opml, read_opml

CONFIG = """# production feeds -- keep this comment
[worker]
database = "sqlite:///{db}"  # the store

[[feeds]]
name = "calder-courier"   # wire partner
url = "https://courier.example/rss"
interval = "15m"
"""

OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>my subscriptions</title></head><body>
  <outline text="Wires">
    <outline type="rss" text="Calder Courier" xmlUrl="https://courier.example/rss"/>
    <outline type="rss" text="Valley Post &amp; Times" xmlUrl="https://valley.example/feed"/>
  </outline>
  <outline type="rss" title="calder courier" xmlUrl="https://other.example/atom"/>
  <outline text="no url here"/>
</body></opml>"""

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Gazette</title>
<link>http://h.example/</link><description>d</description>
<item><title>Ferry timetable changes</title><link>http://h.example/1</link>
<description>The winter timetable starts on Monday.</description></item>
</channel></rss>"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "newsdedup.toml"
    path.write_text(CONFIG.format(db=tmp_path / "n.db"))
    return path


def test_import_opml_appends_new_feeds_and_keeps_comments(
    config_path: Path, tmp_path: Path
) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_bytes(OPML)
    assert (
        main(["-c", str(config_path), "feeds", "import-opml", str(opml), "--interval", "1h"]) == 0
    )
    text = config_path.read_text()
    assert text.startswith(CONFIG.format(db=tmp_path / "n.db"))  # nothing above was touched
    config = load_config(str(config_path))
    assert [(f.name, f.url) for f in config.feeds] == [
        ("calder-courier", "https://courier.example/rss"),
        ("valley-post-times", "https://valley.example/feed"),
        ("calder-courier-2", "https://other.example/atom"),  # name taken: numbered
    ]
    assert all(f.interval == 3600 for f in config.feeds[1:])
    # Importing again adds nothing: every URL is configured now.
    assert main(["-c", str(config_path), "feeds", "import-opml", str(opml)]) == 0
    assert config_path.read_text() == text


def test_export_opml_round_trips(
    config_path: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["-c", str(config_path), "feeds", "export-opml"]) == 0
    exported = parse_opml(capsysbinary.readouterr().out, source="stdout")
    assert [(f.title, f.xml_url) for f in exported] == [
        ("calder-courier", "https://courier.example/rss")
    ]


def test_bad_opml_is_refused_naming_the_file(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = config_path.read_text()
    bad = tmp_path / "bad.opml"
    bad.write_bytes(b"<opml><body><outline xmlUrl='x'></body>")
    assert main(["-c", str(config_path), "feeds", "import-opml", str(bad)]) == 2
    assert "bad.opml" in capsys.readouterr().err
    # An outline the config would refuse (not an http/file URL) is reported and skipped.
    bad.write_bytes(b"<opml><body><outline text='x' xmlUrl='ftp://x.example/rss'/></body></opml>")
    assert main(["-c", str(config_path), "feeds", "import-opml", str(bad)]) == 0
    assert "skipped x (ftp://x.example/rss): not an http(s):// or file: URL" in (
        capsys.readouterr().err
    )
    assert config_path.read_text() == before


def test_feeds_add_discovers_the_feed_of_a_page(
    config_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/").respond_with_data(
        "<html><head><title>Harbour Gazette</title>"
        '<link rel="alternate" type="application/rss+xml" href="/rss.xml"></head>'
        "<body>news</body></html>",
        content_type="text/html",
    )
    httpserver.expect_request("/rss.xml").respond_with_data(RSS, content_type="application/rss+xml")
    httpserver.expect_request("/plain").respond_with_data(
        "<html><body>no feed here</body></html>", content_type="text/html"
    )
    before = config_path.read_text()
    assert main(["-c", str(config_path), "feeds", "add", httpserver.url_for("/plain")]) == 1
    assert "announces none" in capsys.readouterr().err
    assert config_path.read_text() == before

    assert (
        main(["-c", str(config_path), "feeds", "add", httpserver.url_for("/"), "--interval", "30m"])
        == 0
    )
    feed = load_config(str(config_path)).feeds[-1]
    assert (feed.name, feed.url, feed.interval) == (
        "harbour-gazette",
        httpserver.url_for("/rss.xml"),
        1800,
    )
    assert config_path.read_text().startswith(before)
    # The same feed again is refused; the name can be chosen.
    assert main(["-c", str(config_path), "feeds", "add", httpserver.url_for("/rss.xml")]) == 1
    assert "already configured" in capsys.readouterr().err


def test_feeds_listing_still_works(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(str(config_path))
    db = open_database(config)
    Ingestor(config, db).sync_feeds()
    db.dispose()
    assert main(["-c", str(config_path), "feeds", "--json"]) == 0
    assert [f["name"] for f in json.loads(capsys.readouterr().out)["feeds"]] == ["calder-courier"]
    assert main(["-c", str(config_path), "feeds"]) == 0
    assert "calder-courier" in capsys.readouterr().out


NESTED = b"""<?xml version="1.0"?>
<opml version="2.0"><body>
  <outline text="News">
    <outline text="World">
      <outline type="rss" text="Seeds" xmlUrl="https://seeds.example/feeds/seeds.xml"
               htmlUrl="https://seeds.example/"/>
      <outline type="rss" text="Query" xmlUrl="https://q.example/rss?lang=en&amp;x=1"/>
    </outline>
    <outline type="rss" text="Local file" xmlUrl="file:demo/seeds.xml"/>
  </outline>
  <outline type="rss" text="Top" xmlUrl="http://top.example/index.xml" htmlUrl="javascript:x"/>
  <outline text="a note, not a feed"/>
  <outline text="relative" xmlUrl="seeds.xml"/>
  <outline text="Seeds again" xmlUrl="https://seeds.example/feeds/seeds.xml"/>
  <outline text="bad site" xmlUrl="https://bad.example/rss" htmlUrl="https://bad site/"/>
  <outline text="Empty folder"></outline>
</body></opml>"""


def test_opml_categories_and_site_urls_both_ways_and_every_skip_reported(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opml = tmp_path / "nested.opml"
    opml.write_bytes(NESTED)
    assert main(["-c", str(config_path), "feeds", "import-opml", str(opml)]) == 0
    out, err = capsys.readouterr()
    config = load_config(str(config_path))
    imported = {f.url: (f.category, f.site_url) for f in config.feeds[1:]}
    assert imported == {
        # URLs exactly as written: no slash added, query kept
        "https://seeds.example/feeds/seeds.xml": ("News/World", "https://seeds.example/"),
        "https://q.example/rss?lang=en&x=1": ("News/World", None),
        "file:demo/seeds.xml": ("News", None),
        "http://top.example/index.xml": (None, None),  # a javascript: htmlUrl is dropped
    }
    skipped = err.splitlines()
    assert skipped == [
        "skipped a note, not a feed: no xmlUrl: not a feed",
        "skipped relative (seeds.xml): not an http(s):// or file: URL",
        "skipped Seeds again (https://seeds.example/feeds/seeds.xml): listed twice in this file",
        "skipped Empty folder: no xmlUrl: not a feed",
        "skipped bad site (https://bad.example/rss): 'https://bad site/' is not an http(s):// URL",
    ]
    assert "imported 4 feeds, skipped 0 already configured and 5 other outlines" in out

    # Out again: folders and htmlUrl as they came in, and back in unchanged.
    exported = tmp_path / "out.opml"
    assert main(["-c", str(config_path), "feeds", "export-opml", "-o", str(exported)]) == 0
    feeds, skipped_again = read_opml(exported.read_bytes(), source="out.opml")
    assert skipped_again == []
    assert {f.xml_url: (f.category, f.html_url) for f in feeds} == {
        "https://courier.example/rss": (None, None),
        **imported,
    }
    fresh = tmp_path / "fresh.toml"
    fresh.write_text(f'[worker]\ndatabase = "sqlite:///{tmp_path / "f.db"}"\n')
    assert main(["-c", str(fresh), "feeds", "import-opml", str(exported)]) == 0
    again = load_config(str(fresh))
    assert {f.url: (f.category, f.site_url) for f in again.feeds} == {
        f.url: (f.category, f.site_url) for f in config.feeds
    }
