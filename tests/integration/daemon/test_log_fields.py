"""Logs and metrics a dashboard can use from the first minute (issue 19, finding 8): JSON
log lines carry a poll's outcome, counts, error kind and duration as fields; every
counter series exists at zero before anything happened; the start line counts feeds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.daemon.test_ops import (
    DEMO,
    RunningDaemon,
    feed_block,
    metric_value,
    wait_for,
)

pytestmark = pytest.mark.slow  # a real daemon

FRESH_METRICS = (
    "from worker import metrics\nimport sys\nsys.stdout.write(metrics.render().decode())\n"
)


def test_every_counter_series_exists_at_zero_from_the_start() -> None:
    body = subprocess.run(
        [sys.executable, "-c", FRESH_METRICS], capture_output=True, text=True, check=True
    ).stdout
    for series in [
        'newsdedup_errors_total{kind="http_status"} 0.0',
        'newsdedup_errors_total{kind="timeout"} 0.0',
        'newsdedup_errors_total{kind="parse"} 0.0',
        'newsdedup_errors_total{kind="database"} 0.0',
        'newsdedup_errors_total{kind="blocked_address"} 0.0',
        'newsdedup_polls_total{outcome="interrupted"} 0.0',
        'newsdedup_articles_stored_total{kind="new"} 0.0',
        'newsdedup_articles_stored_total{kind="updated"} 0.0',
        'newsdedup_config_reloads_total{result="refused"} 0.0',
    ]:
        assert series in body, series


def test_json_logs_carry_poll_fields_and_the_start_line_counts_feeds(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    feeds = (
        feed_block("metro-daily")
        + feed_block("valley-post")
        + '[[feeds]]\nname = "gone"\nurl = "file:demo/missing.xml"\ninterval = "1h"\n'
    )
    daemon = RunningDaemon(
        tmp_path, f"sqlite:///{tmp_path / 'n.db'}", feeds, extra='log_format = "json"'
    )
    try:
        wait_for(lambda: daemon.log.count('"outcome"') >= 3, "three polls logged")
        body = daemon.metrics()
        assert metric_value(body, "newsdedup_errors_total", 'kind="fetch"') == 1
        assert daemon.stop() == 0
    finally:
        daemon.close()
    records = [json.loads(line) for line in daemon.log.splitlines()]  # all JSON
    started = next(r for r in records if r["message"].startswith("started:"))
    assert started["message"] == "started: 3 feeds scheduled"  # not the retention job
    assert started["feeds_scheduled"] == 3
    polls = {r["feed"]: r for r in records if "outcome" in r}
    assert polls["metro-daily"]["outcome"] == "ok"
    assert polls["metro-daily"]["articles_new"] + polls["metro-daily"]["duplicates_near"] >= 1
    assert polls["metro-daily"]["entries_seen"] >= 1
    assert isinstance(polls["metro-daily"]["duration_s"], float)
    assert polls["gone"]["outcome"] == "error"
    assert polls["gone"]["error_kind"] == "fetch"
    assert polls["gone"]["level"] == "warning"
