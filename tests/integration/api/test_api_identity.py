"""The API over story identity and the change feed: a merged id answers with the story it
went into, merges are listed and shown on the page, and a reader following ``/changes``
from 0 sees every change once, in order, and is caught up when ``next_after == latest``."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.integration.api.test_api import Served, get
from worker.cli import main
from worker.dedup.canonical import merge_stories
from worker.store.articles import ArticleStore
from worker.store.models import Story


def _merge_two(served: Served) -> tuple[int, int]:
    client, db, _config = served
    stories = get(client, "/api/v1/stories?limit=200")["stories"]
    survivor, folded = sorted(s["id"] for s in stories)[:2]
    with db.dedup_transaction() as s:
        merge_stories(ArticleStore(s), survivor, [folded], "consolidation", "earliest", {})
    return survivor, folded


def test_a_merged_id_leads_to_its_story_and_merges_are_listed(served: Served) -> None:
    client, db, _config = served
    survivor, folded = _merge_two(served)
    story = get(client, f"/api/v1/stories/{folded}")
    assert story["id"] == survivor and story["merged_from"] == folded and story["merged_at"]
    listed = [s["id"] for s in get(client, "/api/v1/stories?limit=200")["stories"]]
    assert folded not in listed and survivor in listed
    merges = get(client, f"/api/v1/merges?story={folded}")["merges"]
    assert [(m["kind"], m["story_id"], m["into_story_id"]) for m in merges] == [
        ("merge", folded, survivor)
    ]
    assert get(client, "/api/v1/merges")["merges"] == merges
    html = client.get(f"/stories/{folded}", headers={"Accept": "text/html"}).text
    assert f"Story {folded} was merged into this one" in html
    assert "Merges and splits" in html
    with db.session() as s:
        assert s.scalar(select(Story.merged_into).where(Story.id == folded)) == survivor


def test_following_the_change_feed_misses_nothing(served: Served) -> None:
    client, _db, _config = served
    first = get(client, "/api/v1/changes?limit=200")
    assert first["changes"] and first["next_after"] == first["latest"]
    seqs = [c["seq"] for c in first["changes"]]
    assert seqs == list(range(1, len(seqs) + 1))
    created = {c["story_id"] for c in first["changes"] if c["kind"] == "story_created"}
    assert created == {s["id"] for s in get(client, "/api/v1/stories?limit=200")["stories"]}
    survivor, folded = _merge_two(served)
    paged: list[dict] = []
    after = first["next_after"]
    while True:
        page = get(client, f"/api/v1/changes?after={after}&limit=1")
        paged += page["changes"]
        if page["next_after"] == page["latest"]:
            break
        after = page["next_after"]
    merged = [c for c in paged if c["kind"] == "story_merged"]
    assert [(c["story_id"], c["other_id"]) for c in merged] == [(folded, survivor)]
    assert [c["seq"] for c in paged] == list(range(seqs[-1] + 1, seqs[-1] + 1 + len(paged)))
    assert get(client, f"/api/v1/changes?after={page['latest']}")["changes"] == []
    for bad in ("-1", "x", str(2**64)):
        assert client.get(f"/api/v1/changes?after={bad}").status_code == 400


def test_changed_stories_are_what_stories_after_prints(served: Served, capsys: Any) -> None:
    client, _db, config = served
    survivor, folded = _merge_two(served)
    api = get(client, "/api/v1/changes/stories?after=0&limit=200")
    assert main(["-c", str(config.source_path), "stories", "--after", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == api
    assert {"id": folded, "merged_into": survivor} in [
        {"id": m["id"], "merged_into": m["merged_into"]} for m in api["merged"]
    ]
    assert api["seq"] == get(client, "/api/v1/changes?after=0&limit=1")["latest"]
