"""Whole polls against feeds served by a local HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from tests.fixtures.corpus import OUTLETS, WIRE, content_html, demo_feeds, rss
from tests.helpers import make_config
from worker.cli import main
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article, Feed, LshKeys, PollLog, Story
from worker.store.stories import list_stories


def serve_demo(httpserver: HTTPServer) -> dict[str, str]:
    urls = {}
    for name, body in demo_feeds().items():
        path = f"/{name}"
        httpserver.expect_request(path).respond_with_data(body, content_type="application/rss+xml")
        urls[name.removesuffix(".xml")] = httpserver.url_for(path)
    return urls


def story_sets(db: Database) -> dict[int, set[str]]:
    with db.session() as s:
        rows = s.execute(select(Article.story_id, Feed.name, Article.guid).join(Feed)).all()
    out: dict[int, set[str]] = {}
    for story_id, _feed, guid in rows:
        out.setdefault(story_id, set()).add(guid.split("-", 1)[1] if "-" in guid else guid)
    return out


def test_syndicated_copies_fold_into_stories(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    config = make_config(db.url, serve_demo(httpserver), tmp_path)
    ingestor = Ingestor(config, db)
    results = ingestor.poll_all()
    assert {r.outcome for r in results.values()} == {"ok"}

    stories = story_sets(db)
    # each wire story is one story, whatever headline, trim or chrome the outlet gave it
    topics = sorted(tuple(sorted({g.split("-")[0] for g in guids})) for guids in stories.values())
    assert topics == sorted(
        [
            ("bridge",),
            ("vaccine",),
            ("orchestra",),
            ("harvest",),
            ("chess",),
            ("museum",),
            ("rail",),
            ("storm",),
        ]
    )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Story)) == 8
        assert s.scalar(select(func.count()).select_from(Article)) == 16
        bridge = next(st for st in list_stories(s) if "bridge" in (st["articles"][0]["url"] or ""))
    # earliest policy: the earliest-published variant (outlet 0) is canonical
    canonical = next(a for a in bridge["articles"] if a["id"] == bridge["canonical_id"])
    assert canonical["feed"] == OUTLETS[0].name
    assert "Calder Courier" not in canonical["text"] and "Leave a Reply" not in canonical["text"]

    # a second run changes nothing
    before = story_sets(db)
    again = ingestor.poll_all()
    assert all(
        r.articles_new == r.duplicates_near == r.duplicates_exact == 0 for r in again.values()
    )
    assert story_sets(db) == before


def test_not_modified_is_honoured(db: Database, httpserver: HTTPServer, tmp_path: Path) -> None:
    body = demo_feeds()["valley-post.xml"]
    seen_conditional = []

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"e1"':
            seen_conditional.append(True)
            return Response(status=304)
        return Response(body, headers={"ETag": '"e1"'}, content_type="application/rss+xml")

    httpserver.expect_request("/feed").respond_with_handler(handler)
    ingestor = Ingestor(make_config(db.url, {"vp": httpserver.url_for("/feed")}, tmp_path), db)
    assert ingestor.poll("vp").outcome == "ok"
    assert ingestor.poll("vp").outcome == "not_modified"
    assert seen_conditional == [True]
    with db.session() as s:
        outcomes = s.scalars(select(PollLog.outcome).order_by(PollLog.id)).all()
    assert outcomes == ["ok", "not_modified"]


def test_failing_feed_does_not_stop_the_others(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    urls = serve_demo(httpserver)
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)
    httpserver.expect_request("/html").respond_with_data("<html><body>not a feed</body></html>")
    urls.update(
        broken=httpserver.url_for("/broken"),
        html=httpserver.url_for("/html"),
        refused="http://127.0.0.1:9/feed",
    )
    ingestor = Ingestor(make_config(db.url, urls, tmp_path), db)
    results = ingestor.poll_all()
    assert (
        results["broken"].outcome
        == results["html"].outcome
        == results["refused"].outcome
        == "error"
    )
    assert results["html"].error_kind == "parse"
    assert sum(r.articles_new for r in results.values()) == 8
    with db.session() as s:
        broken = s.scalar(select(Feed).where(Feed.name == "broken"))
        assert broken is not None
        assert broken.consecutive_failures == 1 and "HTTP 500" in (broken.last_error or "")
        assert broken.next_poll_at is not None


def test_trimmed_and_retitled_copy_joins_longer_original(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    full = rss(
        "wire",
        "http://wire.example/",
        [
            {
                "title": "Bridge closed",
                "link": "http://wire.example/1",
                "guid": "w1",
                "pubDate": "Fri, 20 Nov 2026 08:00:00 +0000",
                "content": content_html(WIRE["bridge"]),
            }
        ],
    )
    trimmed = rss(
        "blog",
        "http://blog.example/",
        [
            {
                "title": "Our city loses its bridge!",
                "link": "http://blog.example/x",
                "guid": "b1",
                "pubDate": "Fri, 20 Nov 2026 09:00:00 +0000",
                "content": content_html(["Share", *WIRE["bridge"][:3], "Comments"]),
            }
        ],
    )
    httpserver.expect_request("/wire").respond_with_data(full)
    httpserver.expect_request("/blog").respond_with_data(trimmed)
    cfg = make_config(
        db.url, {"wire": httpserver.url_for("/wire"), "blog": httpserver.url_for("/blog")}, tmp_path
    )
    ingestor = Ingestor(cfg, db)
    ingestor.poll("blog")  # the trimmed copy arrives first
    ingestor.poll("wire")
    with db.session() as s:
        arts = {a.guid: a for a in s.scalars(select(Article))}
        assert arts["w1"].story_id == arts["b1"].story_id
        assert arts["w1"].match_kind == "near"
        story = s.get(Story, arts["w1"].story_id)
        assert story is not None and story.variant_count == 2
        assert story.canonical_article_id == arts["w1"].id  # earliest published


def test_edited_republication_updates_in_place(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    versions = [
        WIRE["vaccine"][:5],
        [*WIRE["vaccine"][:5], "Update: the first week saw 30,000 children vaccinated."],
    ]
    state = {"v": 0}

    def handler(request: Request) -> Response:
        body = rss(
            "h",
            "http://h.example/",
            [
                {
                    "title": "Flu spray",
                    "link": "http://h.example/flu",
                    "guid": "flu",
                    "pubDate": "Fri, 20 Nov 2026 08:00:00 +0000",
                    "content": content_html(versions[state["v"]]),
                }
            ],
        )
        return Response(body, content_type="application/rss+xml")

    httpserver.expect_request("/f").respond_with_handler(handler)
    ingestor = Ingestor(make_config(db.url, {"h": httpserver.url_for("/f")}, tmp_path), db)
    assert ingestor.poll("h").articles_new == 1
    state["v"] = 1
    assert ingestor.poll("h").articles_updated == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 1
        assert s.scalar(select(func.count()).select_from(Story)) == 1
        article = s.scalars(select(Article)).one()
        assert "30,000 children" in article.clean_text and article.updated_at is not None
        packed = s.scalar(select(LshKeys.keys).where(LshKeys.article_id == article.id))
        assert packed is not None and len(packed) == 8 * ingestor.policy.lsh.bands


def test_same_url_in_two_feeds_is_an_exact_duplicate(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    item = {
        "title": "Chess",
        "link": "http://news.example/chess?utm_source=a",
        "guid": "c",
        "pubDate": "Fri, 20 Nov 2026 08:00:00 +0000",
        "content": "<p>Short teaser.</p>",
    }
    httpserver.expect_request("/a").respond_with_data(rss("a", "http://a/", [item]))
    httpserver.expect_request("/b").respond_with_data(
        rss("b", "http://b/", [{**item, "link": "http://news.example/chess#top"}])
    )
    ingestor = Ingestor(
        make_config(
            db.url, {"a": httpserver.url_for("/a"), "b": httpserver.url_for("/b")}, tmp_path
        ),
        db,
    )
    ingestor.poll("a")
    assert ingestor.poll("b").duplicates_exact == 1


def test_cli_run_once_and_stories_json(
    db: Database, httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(db.url, serve_demo(httpserver), tmp_path)
    path = str(config.source_path)
    assert main(["--config", path, "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", path, "stories", "--since", "24h", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["next_cursor"] is None
    stories = listed["stories"]
    assert len(stories) == 8
    for story in stories:
        assert {"id", "canonical_id", "articles"} <= set(story)
        assert story["canonical_id"] in {a["id"] for a in story["articles"]}
        for article in story["articles"]:
            assert {"id", "title", "url", "feed", "published", "text"} <= set(article)
    assert main(["--config", path, "story", str(stories[0]["id"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == stories[0]["id"]
    assert main(["--config", path, "feeds", "--json"]) == 0
    feeds = json.loads(capsys.readouterr().out)["feeds"]
    assert {f["name"] for f in feeds} == set(config_names(config))
    assert main(["--config", path, "story", "99999"]) == 1


def config_names(config) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.name for f in config.feeds]


def test_concurrent_copies_end_in_one_story(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Eight feeds carry retitled copies of one story and are polled at the same moment;
    they must end in one story (the dedup lock is held across each commit)."""
    urls = {}
    for i in range(8):
        body = rss(
            f"f{i}",
            f"http://f{i}.example/",
            [
                {
                    "title": f"Headline variant {i}",
                    "link": f"http://f{i}.example/story",
                    "guid": f"g{i}",
                    "pubDate": f"Fri, 20 Nov 2026 08:0{i}:00 +0000",
                    "content": content_html(WIRE["harvest"][: 4 + i % 4]),
                }
            ],
        )
        httpserver.expect_request(f"/f{i}").respond_with_data(body)
        urls[f"f{i}"] = httpserver.url_for(f"/f{i}")
    for _round in range(3):
        with db.session() as s, s.begin():
            for table in (LshKeys, Article, Story, PollLog, Feed):
                s.query(table).delete()
        ingestor = Ingestor(make_config(db.url, urls, tmp_path), db)
        ingestor.poll_all(max_workers=8)
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Article)) == 8
            assert s.scalar(select(func.count()).select_from(Story)) == 1


def test_stories_piped_into_a_reader_that_stops_early(
    db: Database, httpserver: HTTPServer, tmp_path: Path
) -> None:
    """``newsdedup stories | head -1``: the closed pipe ends the command quietly (status
    141, as for SIGPIPE), not with a traceback on stderr."""
    config = make_config(db.url, serve_demo(httpserver), tmp_path)
    path = str(config.source_path)
    assert main(["--config", path, "run", "--once"]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--config", path, "stories"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    # The reader goes away before the listing is written (a reader that stops early only
    # races this), so the command's first write meets the closed pipe.
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr
