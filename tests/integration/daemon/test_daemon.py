"""The daemon started for real: it polls on its schedule and exits 0 on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from worker.store.db import Database
from worker.store.models import Article

pytestmark = pytest.mark.slow  # a real daemon

ROOT = Path(__file__).resolve().parents[3]


def test_daemon_polls_then_exits_zero_on_sigterm(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config" / "demo", tmp_path / "demo")
    db_path = tmp_path / "daemon.db"
    feeds = "".join(
        f'[[feeds]]\nname = "{p.stem}"\nurl = "file:demo/{p.name}"\ninterval = "1h"\n'
        for p in sorted((tmp_path / "demo").glob("*.xml"))
    )
    cfg = tmp_path / "newsdedup.toml"
    cfg.write_text(f'[worker]\ndatabase = "sqlite:///{db_path}"\njitter = 0\n\n{feeds}')
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--config", str(cfg), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and stored < 16:
            time.sleep(0.5)
            if db_path.exists():
                db = Database(f"sqlite:///{db_path}")
                try:
                    with db.session() as s:
                        stored = s.scalar(select(func.count()).select_from(Article)) or 0
                except Exception:
                    stored = 0  # schema not created yet
                finally:
                    db.dispose()
        assert stored == 16
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in err
