"""The daemon operated for real: a subprocess with the HTTP listener on a free loopback
port, a notify socket standing in for systemd, SIGHUP with changed and broken configs,
`newsdedup reload`, and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.conftest import POSTGRES_ENV, postgres_url
from worker.clock import utcnow
from worker.store.db import Database
from worker.store.models import Article, Feed

pytestmark = pytest.mark.slow  # a real daemon with its listener

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def feed_block(name: str, interval: str = "1h") -> str:
    return f'[[feeds]]\nname = "{name}"\nurl = "file:demo/{name}.xml"\ninterval = "{interval}"\n'


def wait_for(check: Callable[[], object], what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def metric_value(body: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, body, flags=re.M)
    return float(match.group(1)) if match else 0.0


class RunningDaemon:
    """``python -m worker --config CFG run`` with stderr in a file and a notify socket."""

    def __init__(self, workdir: Path, database: str, feeds: str, extra: str = "") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = workdir / "newsdedup.toml"
        self.header = (
            f'[worker]\ndatabase = "{database}"\njitter = 0\nlisten = "127.0.0.1:{self.port}"\n'
            f'pid_file = "run/newsdedup.pid"\n{extra}\n'
        )
        self.write_config(feeds)
        self.notify_path = workdir / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify.settimeout(0.2)
        self.messages: list[str] = []
        # Drained as systemd would: a full datagram queue would make sd_notify fail.
        self._listening = True
        self._drain = threading.Thread(target=self._receive, daemon=True)
        self._drain.start()
        self.log_path = workdir / "daemon.log"
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify_path), "WATCHDOG_USEC": "1000000"}
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "worker", "--config", str(self.config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                cwd=workdir,
            )

    def write_config(self, body: str) -> None:
        self.config.write_text(self.header + body)

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def _receive(self) -> None:
        while self._listening:
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def notified(self, state: str) -> bool:
        return state in self.messages

    def metrics(self) -> str:
        status, body = http_get(self.base + "/metrics")
        assert status == 200
        return body

    def health(self) -> int:
        return http_get(self.base + "/healthz")[0]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._listening = False
        self._drain.join(timeout=5)
        self.notify.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(DEMO, tmp_path / "demo")
    return tmp_path


def count_articles(db_url: str, feed: str) -> int:
    db = Database(db_url)
    try:
        with db.session() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(Article)
                    .join(Feed, Feed.id == Article.feed_id)
                    .where(Feed.name == feed)
                )
                or 0
            )
    except Exception:
        return 0  # schema not created yet
    finally:
        db.dispose()


def test_daemon_metrics_health_reload_and_systemd_notify(workdir: Path) -> None:
    db_url = f"sqlite:///{workdir / 'state' / 'news.db'}"
    (workdir / "state").mkdir()
    daemon = RunningDaemon(workdir, db_url, feed_block("calder-courier"))
    try:
        wait_for(lambda: daemon.notified("READY=1"), "READY=1")
        wait_for(lambda: daemon.health() == 200, "/healthz 200")
        wait_for(
            lambda: metric_value(daemon.metrics(), "newsdedup_polls_total", 'outcome="ok"') >= 1,
            "a poll in the metrics",
        )
        after = daemon.metrics()
        stored = count_articles(db_url, "calder-courier")
        assert stored > 0
        assert (
            metric_value(after, "newsdedup_articles_stored_total", 'kind="new"')
            + metric_value(after, "newsdedup_articles_stored_total", 'kind="near"')
            + metric_value(after, "newsdedup_articles_stored_total", 'kind="exact"')
            == stored
        )
        assert metric_value(after, "newsdedup_entries_seen_total") >= stored
        # Every finished poll timed its fetch (checked against the polls: the first poll
        # may already be over when the daemon reports healthy).
        assert metric_value(after, "newsdedup_stage_seconds_count", 'stage="fetch"') >= (
            metric_value(after, "newsdedup_polls_total", 'outcome="ok"')
        )
        assert metric_value(after, "newsdedup_stage_seconds_count", 'stage="store"') == stored
        # The same port serves the read API over the daemon's database (on loopback: open).
        status, body = http_get(daemon.base + "/api/v1/articles?limit=200")
        assert status == 200 and len(json.loads(body)["articles"]) == stored
        assert metric_value(after, "newsdedup_feeds_enabled") == 1
        assert metric_value(after, "newsdedup_feeds_overdue") == 0
        # The index was read into memory before the first poll, and its size is a gauge.
        assert "LSH index: 0 articles in memory" in daemon.log
        assert 0 <= metric_value(after, "newsdedup_index_articles") <= stored
        assert "newsdedup_index_bytes" in after

        # A feed added to the config is polled after `newsdedup reload` (SIGHUP via pid file).
        daemon.write_config(feed_block("calder-courier") + feed_block("valley-post"))
        reload = subprocess.run(
            [sys.executable, "-m", "worker", "--config", str(daemon.config), "reload"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert reload.returncode == 0, reload.stderr
        wait_for(lambda: count_articles(db_url, "valley-post") > 0, "the added feed polled")
        assert "config reloaded: 1 feeds added" in daemon.log
        assert metric_value(daemon.metrics(), "newsdedup_feeds_enabled") == 2

        # A broken config is refused by `reload` before signalling, and by the daemon itself.
        daemon.write_config(feed_block("calder-courier") + feed_block("valley-post", "soon"))
        refused = subprocess.run(
            [sys.executable, "-m", "worker", "--config", str(daemon.config), "reload"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2 and "interval" in refused.stderr
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in daemon.log, "the refusal logged")
        body = daemon.metrics()
        assert metric_value(body, "newsdedup_config_reloads_total", 'result="refused"') == 1
        assert metric_value(body, "newsdedup_feeds_enabled") == 2  # old config still runs
        assert daemon.health() == 200

        wait_for(lambda: daemon.notified("WATCHDOG=1"), "a watchdog ping")
        assert (workdir / "run" / "newsdedup.pid").read_text().strip() == str(daemon.proc.pid)
        assert daemon.stop() == 0, daemon.log
        wait_for(lambda: daemon.notified("STOPPING=1"), "STOPPING=1", timeout=5)
        assert not (workdir / "run" / "newsdedup.pid").exists()
    finally:
        daemon.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def breakable_database(
    request: pytest.FixtureRequest, workdir: Path
) -> Iterator[tuple[str, Callable[[], None]]]:
    """A database URL and a function that makes it unreachable."""
    if request.param == "sqlite":
        folder = workdir / "state"
        folder.mkdir()
        yield f"sqlite:///{folder / 'news.db'}", lambda: shutil.rmtree(folder)
        return
    base = postgres_url()
    if not base:
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV}")
    name = f"newsdedup_health_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base.rpartition('/')[0]}/{name}", drop
    finally:
        drop()
        admin.dispose()


def healthcheck(daemon: RunningDaemon) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "worker", "-c", str(daemon.config), "healthcheck", "-q"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_healthz_503_when_the_database_goes_away(
    workdir: Path, breakable_database: tuple[str, Callable[[], None]]
) -> None:
    db_url, break_it = breakable_database
    daemon = RunningDaemon(workdir, db_url, feed_block("metro-daily"))
    try:
        wait_for(lambda: daemon.health() == 200, "/healthz 200")
        assert healthcheck(daemon).returncode == 0
        break_it()
        wait_for(lambda: daemon.health() == 503, "/healthz 503")
        _status, body = http_get(daemon.base + "/healthz")
        assert '"healthy": false' in body and "unreachable" in body
        unhealthy = healthcheck(daemon)  # what the Docker HEALTHCHECK runs
        assert unhealthy.returncode == 1 and "unhealthy (503)" in unhealthy.stderr
        assert daemon.stop() == 0, daemon.log
    finally:
        daemon.close()


def test_reload_adds_removes_and_reschedules_jobs_and_refuses_bad_configs(tmp_path: Path) -> None:
    """Daemon.reload in-process (scheduler not started: its pending jobs are inspectable)."""
    from worker.config import load_config
    from worker.daemon.scheduler import Daemon
    from worker.pipeline.poll import Ingestor

    shutil.copytree(DEMO, tmp_path / "demo")
    path = tmp_path / "newsdedup.toml"
    header = f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\njitter = 0\n'
    path.write_text(header + feed_block("calder-courier") + feed_block("valley-post", "2h"))
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.upgrade()
    daemon = Daemon(Ingestor(load_config(str(path)), db))
    daemon.ingestor.sync_feeds()
    assert daemon.schedule_all() == 2  # what the start line reports
    assert {j.id for j in daemon.scheduler.get_jobs()} == {
        "poll:calder-courier",
        "poll:valley-post",
    }

    # valley-post removed, metro-daily added, calder-courier moved to another URL.
    moved = feed_block("calder-courier").replace("calder-courier.xml", "news-hub.xml")
    path.write_text(header + moved + feed_block("metro-daily"))
    assert daemon.reload()
    jobs = {j.id: j for j in daemon.scheduler.get_jobs()}
    assert set(jobs) == {"poll:calder-courier", "poll:metro-daily"}
    moved_at = jobs["poll:calder-courier"].trigger.run_date
    assert abs((moved_at - utcnow()).total_seconds()) < 5  # a new URL is polled at once
    with db.session() as s:
        enabled = dict(s.execute(select(Feed.name, Feed.enabled)).all())
    assert enabled == {"calder-courier": True, "valley-post": False, "metro-daily": True}

    # Broken TOML, an invalid value, another database: each refused, nothing changes.
    for broken in (
        "[[feeds]\n",
        feed_block("x", "soon"),
        '[worker]\ndatabase = "sqlite:///other.db"\n',
    ):
        path.write_text((header if "database" not in broken else "") + broken)
        assert not daemon.reload()
        assert {j.id for j in daemon.scheduler.get_jobs()} == set(jobs)
        assert [f.name for f in daemon.ingestor.config.feeds] == ["calder-courier", "metro-daily"]
    daemon.ingestor.close()
    db.dispose()


def test_log_lines_carry_feed_and_article_context() -> None:
    import io
    import json
    import logging

    from worker.logs import ContextFilter, JsonFormatter, TextFormatter, log_context

    logger = logging.getLogger("newsdedup.test-context")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for formatter in (JsonFormatter(), TextFormatter("%(levelname)s %(message)s")):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        logger.handlers[:] = [handler]
        with log_context(feed="wire"):
            logger.info("poll started")
            with log_context(article="guid-1"):
                logger.warning("feed=wire not stored")
        logger.info("no context")
        lines = stream.getvalue().splitlines()
        if isinstance(formatter, JsonFormatter):
            records = [json.loads(line) for line in lines]
            assert [(r.get("feed"), r.get("article")) for r in records] == [
                ("wire", None),
                ("wire", "guid-1"),
                (None, None),
            ]
        else:
            assert lines == [
                "INFO poll started feed=wire",
                "WARNING feed=wire not stored article=guid-1",  # feed= not repeated
                "INFO no context",
            ]
    logger.handlers.clear()


def test_feeds_overdue_counts_enabled_feeds_a_minute_late(db: Database) -> None:
    from datetime import timedelta

    from worker.daemon.health import count_overdue

    now = utcnow()
    with db.session() as s, s.begin():
        for name, due, enabled in [
            ("late", now - timedelta(minutes=5), True),
            ("just-due", now - timedelta(seconds=10), True),
            ("future", now + timedelta(minutes=5), True),
            ("late-but-disabled", now - timedelta(hours=1), False),
            ("never-planned", None, True),
        ]:
            s.add(Feed(name=name, url="https://x.example/", enabled=enabled, next_poll_at=due,
                       created_at=now, consecutive_failures=0))  # fmt: skip
    assert count_overdue(db) == 1


def test_healthz_says_a_stuck_scheduler_is_dead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: a scheduler that stops running jobs (here paused, as a dead thread or a
    stuck dispatch would) is unhealthy although its state still says running."""
    from worker.config import load_config
    from worker.daemon import scheduler
    from worker.pipeline.poll import Ingestor

    monkeypatch.setattr(scheduler, "_TICK_SECONDS", 0.1)
    path = tmp_path / "newsdedup.toml"
    path.write_text(f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\n')
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.upgrade()
    daemon = scheduler.Daemon(Ingestor(load_config(str(path)), db))
    daemon.start_heartbeat()
    daemon.scheduler.start()
    try:
        assert daemon.health()[0]
        daemon.scheduler.pause()
        wait_for(lambda: not daemon.health()[0], "unhealthy once the heartbeat stops")
        assert daemon.health()[1]["scheduler"] == "stopped" and daemon.scheduler.running
        daemon.scheduler.resume()
        wait_for(lambda: daemon.health()[0], "healthy again")
    finally:
        daemon.scheduler.shutdown(wait=False)
        daemon.ingestor.close()
        db.dispose()
