"""The JSON API on a database the real poll path filled, SQLite and PostgreSQL: the shapes
are the command line's, paging by cursor reaches every story once, filters and full-text
search find what they should, and the search index follows edits and deletes."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from tests.integration.api.conftest import HOSTILE_TITLE
from worker.cli import main
from worker.config import Config
from worker.store.db import Database
from worker.store.models import Article, Story

Served = tuple[TestClient, Database, Config]


def get(client: TestClient, path: str, status: int = 200) -> Any:
    response = client.get(path)
    assert response.status_code == status, (path, response.text)
    return response.json()


def test_story_list_pages_by_cursor_through_every_story_once(served: Served) -> None:
    client, db, _config = served
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Story))
    seen: list[int] = []
    cursor = ""
    for _ in range(50):
        page = get(client, f"/api/v1/stories?limit=3{cursor}")
        assert set(page) == {"stories", "next_cursor"}
        assert len(page["stories"]) <= 3
        seen += [s["id"] for s in page["stories"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == total and total > 3
    stamps = [get(client, f"/api/v1/stories/{i}")["last_seen"] for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_shapes_are_the_command_lines(served: Served, capsys: Any) -> None:
    client, _db, config = served
    api = get(client, "/api/v1/stories?limit=200")
    assert main(["-c", str(config.source_path), "stories", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli == api
    story = api["stories"][0]
    assert main(["-c", str(config.source_path), "story", str(story["id"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == get(client, f"/api/v1/stories/{story['id']}")
    assert main(["-c", str(config.source_path), "feeds", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == get(client, "/api/v1/feeds")


def test_one_story_carries_its_match_evidence(served: Served) -> None:
    client, _db, _config = served
    stories = get(client, "/api/v1/stories?limit=200")["stories"]
    folded = next(s for s in stories if s["variant_count"] > 2)
    story = get(client, f"/api/v1/stories/{folded['id']}")
    kinds = {a["match_kind"] for a in story["articles"]}
    assert "new" in kinds and kinds & {"near", "content", "url"}
    for article in story["articles"]:
        assert article["story_id"] == story["id"]
        if article["match_kind"] == "new":
            assert article["matched_article_id"] is None
        else:
            assert article["matched_article_id"] is not None
        if article["match_kind"] == "near":
            assert 0 < article["similarity"] <= 1
    assert sum(a["is_canonical"] for a in story["articles"]) == 1
    one = get(client, f"/api/v1/articles/{story['articles'][0]['id']}")
    assert one == story["articles"][0]


def test_filters_by_feed_time_and_words(served: Served) -> None:
    client, _db, _config = served
    everything = get(client, "/api/v1/stories?limit=200")["stories"]
    quay = get(client, "/api/v1/stories?feed=quay-news")["stories"]
    assert [s["title"] for s in quay] == [HOSTILE_TITLE]
    assert get(client, "/api/v1/stories?feed=no-such-feed")["stories"] == []
    assert len(get(client, "/api/v1/stories?since=1h&limit=200")["stories"]) == len(everything)
    assert get(client, "/api/v1/stories?until=2000-01-01")["stories"] == []
    assert get(client, "/api/v1/stories?since=2999-01-01T00:00:00%2B01:00")["stories"] == []
    bridge = get(client, "/api/v1/stories?q=Lantern+Bridge")["stories"]
    assert bridge and all(
        any("lantern bridge" in (a["text"] + a["title"]).lower() for a in s["articles"])
        for s in bridge
    )
    assert get(client, "/api/v1/stories?q=lantern+zeppelin")["stories"] == []


def test_search_finds_articles_and_follows_edits_and_deletes(served: Served) -> None:
    client, db, _config = served
    hits = get(client, "/api/v1/search?q=harbour+quay")["articles"]
    assert [a["title"] for a in hits] == [HOSTILE_TITLE]
    article_id = hits[0]["id"]
    # Case and punctuation in a query are no syntax: words are words.
    assert get(client, '/api/v1/search?q="QUAY"+(harbour*')["articles"] == hits
    with db.session() as s, s.begin():
        s.execute(
            update(Article)
            .where(Article.id == article_id)
            .values(title="Landing", clean_text="a zeppelin landed")
        )
    assert get(client, "/api/v1/search?q=harbour+quay")["articles"] == []
    assert [a["id"] for a in get(client, "/api/v1/search?q=zeppelin")["articles"]] == [article_id]
    story_id = hits[0]["story_id"]
    with db.session() as s, s.begin():
        s.execute(update(Story).where(Story.id == story_id).values(canonical_article_id=None))
        s.execute(delete(Article).where(Article.id == article_id))
    assert get(client, "/api/v1/search?q=zeppelin")["articles"] == []


def test_search_pages_newest_first(served: Served) -> None:
    client, _db, _config = served
    everything = get(client, "/api/v1/search?q=the&limit=200")["articles"]
    assert len(everything) > 4
    ids: list[int] = []
    cursor = ""
    while True:
        page = get(client, f"/api/v1/search?q=the&limit=2{cursor}")
        ids += [a["id"] for a in page["articles"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert ids == [a["id"] for a in everything] == sorted(ids, reverse=True)


def test_articles_feeds_and_events(served: Served) -> None:
    client, _db, _config = served
    articles = get(client, "/api/v1/articles?feed=metro-daily&limit=200")["articles"]
    assert articles and {a["feed"] for a in articles} == {"metro-daily"}
    assert [a["id"] for a in articles] == sorted((a["id"] for a in articles), reverse=True)
    first = get(client, "/api/v1/articles?limit=1")
    second = get(client, f"/api/v1/articles?limit=1&cursor={first['next_cursor']}")
    assert second["articles"][0]["id"] < first["articles"][0]["id"]
    feeds = {f["name"]: f for f in get(client, "/api/v1/feeds")["feeds"]}
    assert feeds["gone-away"]["consecutive_failures"] == 1
    assert feeds["gone-away"]["last_error"]
    assert get(client, "/api/v1/feeds/metro-daily")["name"] == "metro-daily"
    # The event level is on by default: every story is in exactly one event.
    events = get(client, "/api/v1/events?limit=200")["events"]
    in_events = [s["id"] for e in events for s in e["stories"]]
    stories = get(client, "/api/v1/stories?limit=200")["stories"]
    assert events and sorted(in_events) == sorted(s["id"] for s in stories)


def test_openapi_document_is_served(served: Served) -> None:
    client, _db, _config = served
    document = get(client, "/api/v1/openapi.json")
    assert "/api/v1/stories/{story_id}" in document["paths"]
    assert "Story" in document["components"]["schemas"]
