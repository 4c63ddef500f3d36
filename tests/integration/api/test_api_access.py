"""Who may read. A listener on loopback answers everyone; on any other address only a
request with the token (Bearer, or Basic as a browser sends it), and nothing while no token
is set; ``/healthz`` always answers; ``/metrics`` can be kept to this machine. The token
comes from the config, a file, or the environment (which wins)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.integration.api.conftest import client_for
from worker.config import Config, load_config, parse_config
from worker.errors import ConfigError
from worker.store.db import Database

TOKEN = "correct-horse-battery-staple"
PROTECTED = ["/api/v1/stories", "/api/v1/feeds", "/api/v1/stories/1", "/", "/feeds"]


def config_with(db: Database, api: str = "") -> Config:
    return parse_config(f'[worker]\ndatabase = "{db.url}"\n[api]\n{api}\n', path="t.toml")


@pytest.fixture
def empty_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.upgrade()
    return db


def test_loopback_needs_no_token(empty_db: Database) -> None:
    for listen in ("127.0.0.1:9464", "[::1]:9464", "localhost:9464"):
        client = client_for(empty_db, config_with(empty_db), listen)
        assert client.get("/api/v1/stories").status_code == 200, listen


def test_other_addresses_need_the_token(empty_db: Database) -> None:
    client = client_for(empty_db, config_with(empty_db, f'token = "{TOKEN}"'), "0.0.0.0:9464")
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    for path in PROTECTED:
        missing = client.get(path)
        assert missing.status_code == 401, path
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert set(missing.json()) == {"error"}
        wrong = client.get(path, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401 and wrong.json() == {"error": "wrong API token"}
        bearer = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code in (200, 404), path  # story 1 does not exist: 404
        assert client.get(path, headers={"Authorization": f"Basic {basic}"}).status_code in (
            200, 404,
        )  # fmt: skip
    # A browser is asked for the password (Basic), an API client is not.
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 401 and page.headers["www-authenticate"].startswith("Basic")
    assert "text/html" in page.headers["content-type"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_no_token_on_another_address_answers_nothing_but_health(empty_db: Database) -> None:
    client = client_for(empty_db, config_with(empty_db), "192.0.2.10:9464")
    response = client.get("/api/v1/stories", headers={"Authorization": "Bearer anything-at-all"})
    assert response.status_code == 401 and "token is set" in response.json()["error"]
    assert client.get("/healthz").status_code == 200


def test_metrics_can_be_kept_to_this_machine(empty_db: Database) -> None:
    config = config_with(empty_db, "metrics_loopback_only = true")
    client = client_for(empty_db, config, "0.0.0.0:9464")  # the test client is "testclient"
    response = client.get("/metrics")
    assert response.status_code == 403 and set(response.json()) == {"error"}
    open_metrics = client_for(empty_db, config_with(empty_db), "0.0.0.0:9464")
    assert open_metrics.get("/metrics").status_code == 200


def test_api_can_be_switched_off(empty_db: Database) -> None:
    client = client_for(empty_db, config_with(empty_db, "enabled = false"))
    assert client.get("/api/v1/stories").status_code == 404
    assert client.get("/healthz").status_code == 200


def test_token_from_file_and_environment(empty_db: Database, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    config_path = tmp_path / "newsdedup.toml"
    config_path.write_text(f'[worker]\ndatabase = "{empty_db.url}"\n[api]\ntoken_file = "token"\n')
    config = load_config(str(config_path), env={})
    client = client_for(empty_db, config, "0.0.0.0:9464")
    assert (
        client.get("/api/v1/feeds", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    )
    other = "from-the-environment-0123"
    env_config = load_config(str(config_path), env={"NEWSDEDUP_API_TOKEN": other})
    client = client_for(empty_db, env_config, "0.0.0.0:9464")
    assert (
        client.get("/api/v1/feeds", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    )
    assert (
        client.get("/api/v1/feeds", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    )
    (tmp_path / "secret").write_text(other)
    file_env = load_config(
        str(config_path), env={"NEWSDEDUP_API_TOKEN_FILE": str(tmp_path / "secret")}
    )
    assert file_env.api.token == other
    # Unreadable token file: refused, never served openly.
    (tmp_path / "token").unlink()
    client = client_for(empty_db, load_config(str(config_path), env={}), "0.0.0.0:9464")
    assert client.get("/api/v1/feeds").status_code == 503


def test_token_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match="not both"):
        parse_config(f'[api]\ntoken = "{TOKEN}"\ntoken_file = "t"\n', path="t.toml")
    with pytest.raises(ConfigError, match=r"api\.token"):
        parse_config('[api]\ntoken = "short"\n', path="t.toml")
    with pytest.raises(ConfigError, match="did you mean 'token'"):
        parse_config('[api]\ntokn = "x"\n', path="t.toml")
