"""Whatever a client sends, the answer is a 4xx with one line of JSON, never a 500 or a
traceback: unknown ids and paths, bad and forged cursors, huge and negative limits,
malformed times and query strings, NUL bytes, ids past what a database integer holds."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import client_for, populate
from worker.api.app import openapi_json
from worker.store.db import Database

ROOT = Path(__file__).resolve().parents[3]
FORGED = base64.urlsafe_b64encode(b"s|not-a-time|1").decode()
HUGE = str(2**64)

BAD = [
    ("/api/v1/stories/999999", 404),
    (f"/api/v1/stories/{HUGE}", 400),
    ("/api/v1/stories/0", 400),
    ("/api/v1/stories/-3", 400),
    ("/api/v1/stories/abc", 400),
    ("/api/v1/articles/999999", 404),
    (f"/api/v1/articles/{HUGE}", 400),
    ("/api/v1/events/999999", 404),
    ("/api/v1/feeds/no-such-feed", 404),
    ("/api/v1/nothing-here", 404),
    ("/nothing-here", 404),
    ("/api/v1/stories?cursor=%%%%", 400),
    ("/api/v1/stories?cursor=bm90IGEgY3Vyc29y", 400),
    (f"/api/v1/stories?cursor={FORGED}", 400),
    ("/api/v1/stories?cursor=" + base64.urlsafe_b64encode(b"a|12").decode(), 400),
    ("/api/v1/articles?cursor=" + base64.urlsafe_b64encode("a|²".encode()).decode(), 400),
    ("/api/v1/articles?cursor=" + base64.urlsafe_b64encode(f"a|{HUGE}".encode()).decode(), 400),
    ("/api/v1/search?q=the&cursor=%00", 400),
    ("/api/v1/stories?limit=0", 400),
    ("/api/v1/stories?limit=-1", 400),
    ("/api/v1/stories?limit=ten", 400),
    ("/api/v1/stories?limit=1e400", 400),
    ("/api/v1/stories?since=last+week", 400),
    ("/api/v1/stories?since=99999999999d", 400),
    ("/api/v1/stories?since=0001-01-01T00:00:00%2B05:00", 400),
    ("/api/v1/stories?until=2026-13-45", 400),
    ("/api/v1/stories?since=" + "9" * 5000, 400),
    ("/api/v1/stories?q=%00bridge", 400),
    ("/api/v1/stories?q=...%20!!!", 400),
    ("/api/v1/stories?q=" + "word+" * 400, 400),
    ("/api/v1/stories?feed=a%00b", 400),
    ("/api/v1/search", 400),
    ("/api/v1/search?q=", 400),
    ("/api/v1/stories?limit=%ff%fe", 400),
]


@pytest.fixture
def client(db: Database, tmp_path: Path) -> TestClient:
    return client_for(db, populate(db, tmp_path))


def test_bad_input_is_a_one_line_json_4xx(client: TestClient) -> None:
    wrong = []
    for path, status in BAD:
        response = client.get(path)
        body = response.json() if response.headers["content-type"] == "application/json" else {}
        if (
            response.status_code != status
            or set(body) != {"error"}
            or not body["error"]
            or "\n" in body["error"]
            or "Traceback" in response.text
        ):
            wrong.append((path, response.status_code, response.text[:200]))
    assert wrong == []


def test_huge_limits_are_capped_and_odd_query_strings_read(client: TestClient) -> None:
    response = client.get(f"/api/v1/stories?limit={HUGE}")
    assert response.status_code == 200 and len(response.json()["stories"]) <= 200
    # Repeated, unknown and oddly encoded parameters: what can be read is read.
    for path in (
        "/api/v1/stories?limit=2&limit=3",
        "/api/v1/stories?unknown=1&&&=&feed=",
        "/api/v1/search?q=%E2%80%AEbridge%20%F0%9F%8C%89",
        "/api/v1/search?q=%ZZbridge",
        "/api/v1/stories?since=",
    ):
        assert client.get(path).status_code == 200, path


def test_the_checked_in_openapi_document_is_the_generated_one() -> None:
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert checked_in == json.loads(openapi_json()), (
        "docs/openapi.json is stale: python -m worker.api.app > docs/openapi.json"
    )
