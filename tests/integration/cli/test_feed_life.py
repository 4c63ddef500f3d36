"""A feed's life (issue 19, finding 2): `feeds disable|enable|remove` edit the config in
place keeping comments; a feed failing `worker.park_after` polls in a row is parked
(not polled, counted in a gauge, shown with its reason) until a person enables it or its
URL changes; `feeds refresh` polls one feed now."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integration.daemon.test_ops import (
    DEMO,
    RunningDaemon,
    feed_block,
    metric_value,
    wait_for,
)
from worker.cli import main
from worker.config import load_config
from worker.daemon.health import count_parked
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Feed

pytestmark = pytest.mark.slow  # a real daemon

CONFIG = """\
# newsdedup at the newsroom
[worker]
database = "{db}"
jitter = 0
park_after = 3   # three strikes

# The wire: everything else copies it
[[feeds]]
name = "wire"
url = "file:demo/metro-daily.xml"
interval = "1h"  # hourly is plenty

[[feeds]]
name = "valley"
url = "file:demo/valley-post.xml"
enabled = true   # keep

# Dead since the redesign
[[feeds]]
name = "gone"
url = "file:demo/missing.xml"
"""


@pytest.fixture
def config_path(tmp_path: Path, db_url: str) -> Path:
    shutil.copytree(DEMO, tmp_path / "demo")
    path = tmp_path / "newsdedup.toml"
    path.write_text(CONFIG.format(db=db_url))
    return path


def test_disable_enable_remove_edit_only_the_feeds_table(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = config_path.read_text()
    assert main(["-c", str(config_path), "feeds", "disable", "wire"]) == 0
    assert config_path.read_text() == original.replace(
        'name = "wire"\n', 'name = "wire"\nenabled = false\n'
    )
    assert main(["-c", str(config_path), "feeds", "disable", "valley"]) == 0
    assert "enabled = false   # keep" in config_path.read_text()
    assert main(["-c", str(config_path), "feeds", "enable", "valley"]) == 0
    assert main(["-c", str(config_path), "feeds", "enable", "wire"]) == 0
    assert config_path.read_text() == original.replace(
        'name = "wire"\n', 'name = "wire"\nenabled = true\n'
    )
    assert main(["-c", str(config_path), "feeds", "remove", "gone"]) == 0
    text = config_path.read_text()
    assert "gone" not in text and "Dead since the redesign" not in text
    assert "# The wire: everything else copies it\n" in text and "# three strikes" in text
    assert main(["-c", str(config_path), "feeds", "remove", "wire"]) == 0
    text = config_path.read_text()
    assert "hourly" not in text and "The wire" not in text and "\n\n\n" not in text
    assert [f.name for f in load_config(str(config_path)).feeds] == ["valley"]
    capsys.readouterr()
    assert main(["-c", str(config_path), "feeds", "remove", "nope"]) == 1
    assert "no feed named 'nope'" in capsys.readouterr().err


def test_a_failing_feed_is_parked_shown_and_revived(
    config_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(str(config_path))
    db = Database(db_url)
    db.upgrade()
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    outcomes = [ingestor.poll("gone") for _ in range(3)]
    assert [o.parked for o in outcomes] == [False, False, True]
    assert count_parked(db) == 1
    assert set(ingestor.poll_all()) == {"wire", "valley"}  # the parked feed is left alone
    ingestor.close()

    assert main(["-c", str(config_path), "feeds"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("gone "))
    assert "PARKED" in line and "next=never (parked)" in line
    assert "3 failed polls in a row, the last fetch:" in out
    assert "`newsdedup feeds enable gone`" in out

    assert main(["-c", str(config_path), "feeds", "enable", "gone"]) == 0
    assert "no longer parked" in capsys.readouterr().out
    assert count_parked(db) == 0
    with db.session() as session:
        assert session.scalar(select(Feed.consecutive_failures).where(Feed.name == "gone")) == 0

    # Parked again, then revived by a new URL in the config.
    ingestor = Ingestor(config, db)
    for _ in range(3):
        ingestor.poll("gone")
    assert count_parked(db) == 1
    config_path.write_text(config_path.read_text().replace("missing.xml", "news-hub.xml"))
    ingestor.config = load_config(str(config_path))
    ingestor.sync_feeds()
    assert count_parked(db) == 0
    assert ingestor.poll("gone").outcome == "ok"
    ingestor.close()
    db.dispose()


def test_refresh_polls_one_feed_now_and_unparks_it(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(config_path), "feeds", "refresh", "wire"]) == 0
    assert "feed 'wire': ok (4 entries, " in capsys.readouterr().out
    for _ in range(3):
        assert main(["-c", str(config_path), "feeds", "refresh", "gone"]) == 1
    assert "feed 'gone': error (fetch: " in capsys.readouterr().out
    config_path.write_text(config_path.read_text().replace("missing.xml", "news-hub.xml"))
    assert main(["-c", str(config_path), "feeds", "disable", "valley"]) == 0
    assert main(["-c", str(config_path), "feeds", "refresh", "valley"]) == 1
    assert "is disabled" in capsys.readouterr().err


def test_the_daemon_parks_a_dead_feed_shows_it_in_metrics_and_revives_it(
    tmp_path: Path,
) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    dead = '[[feeds]]\nname = "dead"\nurl = "file:demo/missing.xml"\ninterval = "1h"\n'
    daemon = RunningDaemon(
        tmp_path, f"sqlite:///{tmp_path / 'n.db'}", feed_block("metro-daily") + dead,
        extra="park_after = 1",
    )  # fmt: skip
    try:
        wait_for(lambda: "parked after 1 failed polls" in daemon.log, "the dead feed parked")
        assert metric_value(daemon.metrics(), "newsdedup_feeds_broken") == 1
        assert main(["-c", str(daemon.config), "feeds", "enable", "dead"]) == 0
        assert metric_value(daemon.metrics(), "newsdedup_feeds_broken") == 0
        assert main(["-c", str(daemon.config), "reload"]) == 0
        wait_for(lambda: "feed=dead no longer parked: scheduled" in daemon.log, "rescheduled")
        wait_for(lambda: daemon.log.count("feed=dead parked after") == 2, "polled, parked again")
        assert daemon.stop() == 0
    finally:
        daemon.close()
