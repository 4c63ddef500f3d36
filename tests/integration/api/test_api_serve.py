"""``newsdedup serve``: the API and page over an existing database, from a process that
polls nothing; it never creates a database, refuses a bad address as a usage error, and
stops on SIGTERM with status 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.api.conftest import populate
from worker.cli import main
from worker.store.db import Database

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_the_api_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.upgrade()
    config = populate(db, tmp_path)
    db.dispose()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "-c", str(config.source_path), "serve", "--listen",
         f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/stories") as r:
                    stories = json.loads(r.read())["stories"]
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
                time.sleep(0.2)
        assert stories
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
            assert json.loads(r.read())["healthy"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_what_it_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsdedup.toml"
    config.write_text(f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\n')
    assert main(["-c", str(config), "serve"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "n.db").exists()
    with pytest.raises(SystemExit) as exited:
        main(["-c", str(config), "serve", "--listen", ":9464"])
    assert exited.value.code == 2
