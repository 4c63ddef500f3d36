"""The web page, read as HTML: stories newest first, a story with its canonical text, each
copy's outlet, headline, match and word diff, the feeds with their failures; every stored
string escaped, and a stored link that is not http(s) never a link."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.integration.api.conftest import HOSTILE_TITLE, client_for, populate
from tests.integration.api.test_api import Served, get
from worker.store.db import Database

HTML = {"Accept": "text/html"}


def page(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == status, (path, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]  # none at all
    return response.text


def test_story_list_and_story_page(served: Served) -> None:
    client, _db, _config = served
    listed = get(client, "/api/v1/stories?limit=30")["stories"]
    html = page(client, "/")
    links = re.findall(r'href="/stories/(\d+)"', html)
    assert [int(i) for i in links] == [s["id"] for s in listed]
    folded = next(s for s in listed if any(a["match_kind"] == "near" for a in s["articles"]))
    html = page(client, f"/stories/{folded['id']}")
    canonical = next(a for a in folded["articles"] if a["is_canonical"])
    assert f"Canonical: {canonical['feed']}" in html
    for article in folded["articles"]:
        if article is not canonical:
            assert f'<span class="outlet">{article["feed"]}</span>' in html
    assert "Jaccard" in html and "containment" in html
    assert "<del>" in html or "<ins>" in html  # a copy changed something
    assert "What it changed against the canonical text" in html


def test_every_stored_string_is_escaped(served: Served) -> None:
    client, _db, _config = served
    (story,) = get(client, "/api/v1/stories?feed=quay-news")["stories"]
    for html in (page(client, f"/stories/{story['id']}"), page(client, "/?feed=quay-news")):
        assert "<script>" not in html and "<b>works</b>" not in html
        assert "&lt;script&gt;" in html
        assert "<img" not in html  # the stored markup is text on the page
        assert 'href="javascript:' not in html
    text = page(client, f"/stories/{story['id']}")
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert HOSTILE_TITLE not in text


def test_feeds_page_shows_failures(served: Served) -> None:
    client, _db, _config = served
    html = page(client, "/feeds")
    row = html.split("gone-away", 1)[1].split("</tr>", 1)[0]
    assert "failing ×1" in row and "fetch" in row
    assert "1 failing or parked" in html


def test_unknown_story_page_is_a_404_page(served: Served) -> None:
    client, _db, _config = served
    assert "no story with id 999999" in page(client, "/stories/999999", 404)
    assert "cursor" in page(client, "/?cursor=zzz", 400)


def test_events_page_shows_each_event_with_its_stories_and_outlets(
    db: Database, tmp_path: Path
) -> None:
    config = populate(db, tmp_path, extra="\n[events]\nenabled = true")
    with client_for(db, config) as client:
        events = get(client, "/api/v1/events")["events"]
        assert events, "the event level placed no story"
        html = page(client, "/events")
        assert [int(i) for i in re.findall(r'href="/events/(\d+)"', html)] == [
            e["id"] for e in events
        ]
        for event in events:
            for story in event["stories"]:
                assert f'href="/stories/{story["id"]}"' in html
        one = next(e for e in events if len(e["feeds"]) > 1)
        html = page(client, f"/events/{one['id']}")
        assert ", ".join(one["feeds"]) in html
        assert "<script>" not in page(client, "/events")  # the hostile headline, escaped
        assert "no event with id 999999" in page(client, "/events/999999", status=404)
