"""Hostile entries (issue 15): the corpus of ``worker.bench.hostile`` served over loopback
HTTP and polled by the daemon's own ``Ingestor``, on SQLite and PostgreSQL. No poll
crashes; every hostile entry is stored safely or skipped with a counted reason; the healthy
entries of the same feed are stored; everything stored exports as valid Atom and JSON and
prints without escape sequences; no story's canonical is taken over; a poll that fails is
recorded and backed off; the per-poll and per-document caps leave the rest for later."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select, text

from tests.hostile_server import HostileServer, hostile_server
from tests.integration.pipeline.test_hostile import MAX_RSS_BYTES, run_worker
from worker import limits, metrics
from worker.bench.hostile import (
    CASES,
    Case,
    big_entry_feeds,
    case_feed,
    feed_options,
    item,
    prose,
)
from worker.cli import main
from worker.config import Config, parse_config
from worker.daemon.scheduler import Daemon
from worker.downstream.export import atom_feed, json_document
from worker.downstream.models import Story as StoryOut
from worker.downstream.models import build
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import Article, Feed, PollLog, Story
from worker.store.stories import list_stories

pytestmark = pytest.mark.slow  # the hostile corpus, and 9 MB entries in a subprocess

BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with hostile_server() as srv:
        base = srv.url("/feed/page-")
        for case in CASES:
            srv.feeds[case.name] = case_feed(case, base)
            if case.page is not None:
                srv.feeds[f"page-{case.name}"] = case.page()
        yield srv


def _config(db: Database, tmp_path: Path, feeds: dict[str, str], options: dict[str, str]) -> Config:
    lines = ["[worker]", f'database = "{db.url}"', "jitter = 0"]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"', 'interval = "15m"']
        lines.append(options.get(name, 'full_text = "never"'))
    path = tmp_path / "newsdedup.toml"
    path.write_text("\n".join(lines) + "\n")
    return parse_config(path.read_text(), path=str(path))


def _rejected(reason: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("newsdedup_entries_rejected_total", {"reason": reason})
        or 0.0
    )


def test_every_hostile_entry_is_stored_safely_or_skipped_and_counted(
    db: Database, server: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = {case.name: server.url(f"/feed/{case.name}") for case in CASES}
    config = _config(db, tmp_path, feeds, {c.name: feed_options(c) for c in CASES})
    ingestor = Ingestor(config, db)
    before = {reason: _rejected(reason) for reason in metrics.REJECT_REASONS}
    expected_rejections: dict[str, int] = {}
    try:
        for case in CASES:
            outcome = ingestor.poll(case.name)
            assert outcome.outcome == "ok", (case.name, outcome.error)
            for reason, count in outcome.rejected.items():
                expected_rejections[reason] = expected_rejections.get(reason, 0) + count
            if case.expect == "stored":
                assert not outcome.rejected, (case.name, outcome.rejected_notes)
                assert (
                    outcome.articles_new + outcome.duplicates_exact + outcome.duplicates_near == 3
                )
            elif case.expect is not None:
                assert dict(outcome.rejected) == {case.expect: 1}, (case.name, outcome.rejected)
    finally:
        ingestor.close()
    for reason, count in expected_rejections.items():
        assert _rejected(reason) - before[reason] == count, reason

    with db.session() as s:
        feed_rows = {f.name: f for f in s.scalars(select(Feed))}
        articles = s.execute(select(Article, Feed.name).join(Feed)).all()
        logs = {f.name: log for log, f in s.execute(select(PollLog, Feed).join(Feed)).all()}
    by_feed: dict[str, dict[str, Article]] = {}
    for article, name in articles:
        by_feed.setdefault(name, {})[article.guid] = article
    for case in CASES:
        stored = by_feed.get(case.name, {})
        # The healthy entries of every feed, whatever its hostile one did.
        assert {f"{case.name}-ok-1", f"{case.name}-ok-2"} <= set(stored), case.name
        row = feed_rows[case.name]
        assert row.consecutive_failures == 0 and row.last_error is None, case.name
        if case.expect not in (None, "stored"):
            assert row.last_rejected == 1 and (row.last_rejections or "").startswith(case.expect)
            assert logs[case.name].entries_rejected == 1
    for article, _name in articles:
        for value in (article.title, article.clean_text, article.content_html or "", article.guid):
            assert "\x00" not in value and "\x1b" not in article.title, article.guid
        assert article.published_at is None or article.published_at.year < 9999
    assert by_feed["date-0001"]["h"].published_at is None
    assert by_feed["date-9999"]["h"].published_at is None
    assert "\ufffd" in by_feed["surrogate-hex"]["h"].title
    assert by_feed["nul"]["h"].title == "A B"
    # The page cases: the page's text, bounded, or the feed's own when the page is too big.
    assert "said it was the rail" in by_feed["page-many-elements"]["h"].clean_text
    assert by_feed["page-too-large"]["h"].clean_text == "A teaser."

    # Everything stored goes out safely: Atom parses, JSON loads, the terminal sees no
    # escape sequence (stories and story, through the real command).
    with db.session() as s:
        stories = build(StoryOut, list_stories(s))
    root = etree.fromstring(atom_feed(stories))
    assert len(root.findall("{http://www.w3.org/2005/Atom}entry")) == len(stories)
    assert len(json.loads(json_document(stories))["stories"]) == len(stories)
    config_path = Path(config.source_path or "")
    assert main(["-c", str(config_path), "stories"]) == 0
    story_id = next(s.id for s in stories if any(a.feed == "terminal-escapes" for a in s.articles))
    assert main(["-c", str(config_path), "story", str(story_id)]) == 0
    assert main(["-c", str(config_path), "feeds"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
    assert "entries skipped: markup_depth=1" in out
    out_file = tmp_path / "stories.xml"
    assert main(["-c", str(config_path), "export", "--atom", "-o", str(out_file)]) == 0
    etree.fromstring(out_file.read_bytes())


def test_no_canonical_is_taken_over(db: Database, server: HostileServer, tmp_path: Path) -> None:
    """The findings' takeover: another feed reusing the victim's URL (a tracking parameter
    added) with its own text, backdated to 0001; also an exact copy of the victim's text
    backdated, and a copy dated 9999. The victim stays every story's canonical."""
    rng = random.Random(4)
    victim_text, attacker_text = prose(rng, 300), prose(rng, 300)
    url = "https://victim.example/news/dam-opens"
    recent = (datetime.now(UTC) - timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    server.feeds["victim.xml"] = _rss(
        "victim", [item("v1", title="Dam opens", body=victim_text, link=url, pub_date=recent)]
    )
    server.feeds["attacker.xml"] = _rss(
        "attacker",
        [
            item(
                "a1",
                title="Dam opens",
                body=attacker_text,
                link=url + "?fbclid=IwAR0x",
                pub_date="Mon, 01 Jan 0001 00:00:00 GMT",
            ),
            item(
                "a2",
                title="Buy pills",
                body=victim_text,
                link="https://attacker.example/2",
                pub_date="Mon, 01 Jan 0001 00:00:00 GMT",
            ),
        ],
    )
    server.feeds["second.xml"] = _rss(
        "second",
        [item("a3", title="Dam opens!", body=victim_text + " More soon.", link=url + "?utm_source=x",
              pub_date="Wed, 01 Dec 9999 00:00:00 GMT")],
    )  # fmt: skip
    feeds = {name: server.url(f"/feed/{name}.xml") for name in ("victim", "attacker", "second")}
    ingestor = Ingestor(_config(db, tmp_path, feeds, {}), db)
    try:
        assert ingestor.poll("victim").articles_new == 1
        assert ingestor.poll("attacker").outcome == "ok"
        assert ingestor.poll("second").outcome == "ok"
    finally:
        ingestor.close()
    with db.session() as s:
        kinds = dict(s.execute(select(Article.guid, Article.match_kind)).all())
        stories = {a.guid: a.story_id for a in s.scalars(select(Article))}
        canonical = s.execute(
            text("SELECT story_id, feed, url, title, clean_text FROM canonical_articles")
        ).all()
    # a1: the URL is the victim's but the text is not: a story of its own.
    assert kinds["a1"] == "new" and stories["a1"] != stories["v1"]
    # a2 and a3 carry the victim's text: copies, in its story (a3 by its URL, the text
    # agreeing).
    assert stories["a2"] == stories["a3"] == stories["v1"]
    assert (kinds["a2"], kinds["a3"]) == ("content", "url")
    taken = [row for row in canonical if row.story_id == stories["v1"]]
    assert [(r.feed, r.url, r.title) for r in taken] == [("victim", url, "Dam opens")]
    assert taken[0].clean_text.startswith(victim_text[:200])


def _rss(title: str, items: list[str]) -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def test_a_failing_poll_is_recorded_backed_off_and_never_rerun_at_once(
    db: Database, server: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.feeds["fine.xml"] = _rss("fine", [item("f1", title="Fine", body=prose(random.Random()))])
    config = _config(db, tmp_path, {"fine": server.url("/feed/fine.xml")}, {})
    ingestor = Ingestor(config, db)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug nobody expected")

    monkeypatch.setattr("worker.pipeline.poll.parse_feed", broken)
    internal = "newsdedup_errors_total"
    before = metrics.REGISTRY.get_sample_value(internal, {"kind": "internal"}) or 0.0
    try:
        started = datetime.now(UTC)
        outcome = ingestor.poll("fine")
        assert (outcome.outcome, outcome.error_kind) == ("error", "internal")
        assert "a bug nobody expected" in (outcome.error or "")
        assert outcome.next_poll_at is not None
        assert outcome.next_poll_at >= started + timedelta(minutes=15)  # backed off, not now
        with db.session() as s:
            row = s.scalars(select(Feed)).one()
            assert (row.consecutive_failures, row.last_error_kind) == (1, "internal")
        assert metrics.REGISTRY.get_sample_value(internal, {"kind": "internal"}) == before + 1

        # Even a poll that raises past the Ingestor is planned with backoff, not at the
        # stale (past) next_poll_at it used to be given.
        daemon = Daemon(ingestor)
        monkeypatch.setattr(ingestor, "poll", broken)
        daemon._run_poll("fine")
        job = daemon.scheduler.get_job("poll:fine")
        assert job.trigger.run_date >= datetime.now(UTC) + timedelta(minutes=15)
    finally:
        ingestor.close()


def test_entries_over_the_poll_cap_come_on_the_next_polls(
    db: Database, server: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(8)
    items = [item(f"e{n}", title=f"Entry {n}", body=prose(rng, 80)) for n in range(8)]
    server.feeds["long.xml"] = _rss("long", items)
    monkeypatch.setattr(limits, "MAX_FEED_ENTRIES", 7)  # the 8th is never read
    ingestor = Ingestor(_config(db, tmp_path, {"long": server.url("/feed/long.xml")}, {}), db)
    ingestor.max_entries_per_poll = 3
    try:
        first = ingestor.poll("long")
        assert (first.articles_new, first.entries_deferred) == (3, 4)
        assert dict(first.rejected) == {"feed_too_long": 1}
        assert first.next_poll_at is not None
        assert first.next_poll_at <= datetime.now(UTC) + timedelta(seconds=61)
        with db.session() as s:
            assert s.scalars(select(Feed)).one().etag is None  # validators kept back
        assert ingestor.poll("long").articles_new == 3
        last = ingestor.poll("long")
        assert (last.articles_new, last.entries_deferred) == (1, 0)
    finally:
        ingestor.close()
    with db.session() as s:
        assert sorted(s.scalars(select(Article.guid))) == [f"e{n}" for n in range(7)]


def test_entry_budget_stop_and_lease_end_an_entry(
    db: Database, server: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(9)
    server.feeds["b.xml"] = _rss(
        "b", [item(f"b{n}", title=f"B{n}", body=prose(rng)) for n in range(3)]
    )
    config = _config(db, tmp_path, {"b": server.url("/feed/b.xml")}, {})
    ingestor = Ingestor(config, db)
    try:
        # Over budget: each entry skipped and counted, the poll itself fine.
        monkeypatch.setattr(limits, "ENTRY_CPU_SECONDS", 0.0)
        outcome = ingestor.poll("b")
        assert (outcome.outcome, dict(outcome.rejected)) == ("ok", {"budget": 3})
        monkeypatch.setattr(limits, "ENTRY_CPU_SECONDS", 2.0)

        # SIGTERM (the stop event) during a long entry: it is abandoned at the next check
        # (an ordinary one, done within a second, is finished and written).
        clean = ingestor.texts.read

        def stop_midway(*args: object, **kwargs: object) -> tuple[str, str]:
            ingestor.stop.set()
            time.sleep(limits.STOP_GRACE_SECONDS + 0.2)  # a slow stage
            return clean(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ingestor.texts, "read", stop_midway)
        assert ingestor.poll("b").outcome == "interrupted"
        with db.session() as s:
            assert s.scalars(select(Article)).all() == []
        ingestor.stop.clear()

        # The lease runs out while an entry is cleaned: the entry ends at the next check.
        # Nobody took the feed meanwhile: that entry is skipped like one over budget (ending
        # the poll would bring it straight back), and the poll goes on.
        monkeypatch.setattr(ingestor.leases, "timeout", timedelta(seconds=0.2))

        def slow(*args: object, **kwargs: object) -> tuple[str, str]:
            ingestor.stop.wait(0.3)
            return clean(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ingestor.texts, "read", slow)
        outcome = ingestor.poll("b")
        assert (outcome.outcome, dict(outcome.rejected)) == ("ok", {"budget": 3})
        with db.session() as s:
            assert s.scalars(select(Article)).all() == []

        # Another worker has taken the feed: the poll ends at the next entry.
        monkeypatch.setattr(ingestor.leases, "renew", lambda _feed_id: False)
        assert ingestor.poll("b").outcome == "interrupted"
    finally:
        ingestor.close()


def test_an_edited_entry_without_guid_or_link_stays_one_article(
    db: Database, server: HostileServer, tmp_path: Path
) -> None:
    rng = random.Random(10)
    body = prose(rng)
    date = "Tue, 01 Dec 2026 08:00:00 GMT"
    server.feeds["noid.xml"] = _rss(
        "noid", [item(None, title="Council vote", body=body, pub_date=date)]
    )
    ingestor = Ingestor(_config(db, tmp_path, {"noid": server.url("/feed/noid.xml")}, {}), db)
    try:
        assert ingestor.poll("noid").articles_new == 1
        edited = item(None, title="Council vote", body=body + " Updated at noon.", pub_date=date)
        server.feeds["noid.xml"] = _rss("noid", [edited])
        assert ingestor.poll("noid").articles_updated == 1
    finally:
        ingestor.close()
    with db.session() as s:
        assert len(s.scalars(select(Article)).all()) == 1
        assert len(s.scalars(select(Story)).all()) == 1


def test_a_cross_feed_redirect_goes_through_the_address_guard(
    db: Database, server: HostileServer, tmp_path: Path
) -> None:
    """A feed URL the operator gave (127.0.0.1, trusted) redirecting to another host
    (localhost, loopback too) is the server's choice: refused, unless the feed allows
    private addresses; a redirect on the same host is followed."""
    server.feeds["plain.xml"] = _rss("plain", [item("p1", title="Plain", body="Some text.")])
    port = server.server_address[1]
    elsewhere = server.url(f"/redirect?http://localhost:{port}/feed/plain.xml")
    same_host = server.url("/redirect?/feed/plain.xml")
    feeds = {"elsewhere": elsewhere, "same-host": same_host, "allowed": elsewhere}
    options = {"allowed": 'full_text = "never"\nallow_private_addresses = true'}
    ingestor = Ingestor(_config(db, tmp_path, feeds, options), db)
    try:
        refused = ingestor.poll("elsewhere")
        assert (refused.outcome, refused.error_kind) == ("error", "blocked_address")
        assert ingestor.poll("same-host").articles_new == 1
        assert ingestor.poll("allowed").outcome == "ok"
    finally:
        ingestor.close()


def test_feeds_add_does_not_follow_an_announced_feed_to_another_host(
    server: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = server.server_address[1]
    page = (
        "<!DOCTYPE html><html><head><title>Front</title>"
        f'<link rel="alternate" type="application/rss+xml" href="http://localhost:{port}/feed/plain.xml">'
        "</head><body>news</body></html>"
    )
    server.feeds["front.html"] = page.encode()
    server.feeds["plain.xml"] = _rss("plain", [item("p1", title="Plain", body="Some text.")])
    config = tmp_path / "newsdedup.toml"
    config.write_text(f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\n')
    before = config.read_text()
    assert main(["-c", str(config), "feeds", "add", server.url("/feed-as-html/front.html")]) == 1
    assert "non-public address" in capsys.readouterr().err
    assert config.read_text() == before


def test_case_names_are_unique_and_every_finding_has_an_expectation() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    findings = [c for c in CASES if not c.name.startswith("generated-")]
    assert all(isinstance(c, Case) and c.expect for c in findings)
    assert {c.expect for c in findings} >= {
        "stored", "too_large", "markup_depth", "markup_items", "attributes",
    }  # fmt: skip


def test_four_feeds_of_9_mb_entries_at_once_stay_small(
    server: HostileServer, tmp_path: Path
) -> None:
    """The worker (a real ``run --once``) polling four feeds at once, each with a 9 MB entry
    (a 9.4 MB entry peaked at 794 MB before the bounds): under 300 MB, and the healthy
    entries of each stored."""
    feeds = {}
    for name, body in big_entry_feeds(4).items():
        server.feeds[f"{name}.xml"] = body
        feeds[name] = server.url(f"/feed/{name}.xml")
    db_path = tmp_path / "big.db"
    lines = ["[worker]", f'database = "sqlite:///{db_path}"', "jitter = 0", "[fetch]"]
    lines.append("max_concurrency = 4")
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"', 'full_text = "never"']
    config = tmp_path / "big.toml"
    config.write_text("\n".join(lines) + "\n")
    status, err, peak = run_worker(config)
    assert status == 0, err
    print(f"four 9 MB entries at once: peak RSS {peak / 2**20:.0f} MiB")
    assert peak < MAX_RSS_BYTES, f"peak RSS {peak / 2**20:.0f} MiB"
    db = Database(f"sqlite:///{db_path}")
    try:
        with db.session() as s:
            rows = {f.name: f for f in s.scalars(select(Feed))}
            guids = set(s.scalars(select(Article.guid)))
    finally:
        db.dispose()
    for name in feeds:
        assert {f"{name}-ok-1", f"{name}-ok-2"} <= guids
        assert rows[name].last_rejected == 1 and "too_large" in (rows[name].last_rejections or "")
