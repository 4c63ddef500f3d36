"""Hostile servers and hostile feeds: every fetch is bounded, every failure is a clear
per-feed error, and the worker (a real subprocess) stays small and ingests the healthy feeds
of the same run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.fixtures.corpus import demo_feeds
from tests.hostile_server import GIB, HostileServer, gzip_bomb, hostile_server, rss_feed
from worker.bench.measure import peak_rss_bytes
from worker.errors import (
    BlockedAddressError,
    FetchError,
    HTTPStatusError,
    ParseError,
    TimeoutError_,
    TooLargeError,
)
from worker.reader.fetcher import Fetcher, FetchLimits
from worker.reader.parser import parse_feed
from worker.store.db import Database
from worker.store.models import Article, Feed

MAX_RSS_BYTES = 300 * 1024 * 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(GIB)  # ~1 MiB on the wire


@pytest.fixture
def server(bomb: bytes) -> Iterator[HostileServer]:
    with hostile_server() as srv:
        srv.bomb = bomb
        srv.feeds["plain.xml"] = rss_feed("plain", [("g1", "One", "first text")])
        yield srv


def fetcher(**limits: Any) -> Fetcher:
    return Fetcher(FetchLimits(**{"timeout": 2.0, "max_bytes": 1024 * 1024, **limits}))


# -- the fetcher against each hostility -----------------------------------------------------
@pytest.mark.parametrize("path", ["/slow", "/slow-headers"])
@pytest.mark.slow
def test_slow_drip_is_cut_at_the_total_timeout(server: HostileServer, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError_):
        fetcher(timeout=2.0).fetch(server.url(path))
    assert time.monotonic() - started < 5  # 2 s limit; slack for a loaded machine


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("/bomb", TooLargeError, "decompressed"),
        ("/huge", TooLargeError, "exceeds"),
        ("/huge-declared", TooLargeError, "Content-Length"),
        ("/loop/0", FetchError, "more than 5 redirects"),
        ("/reset", FetchError, "127.0.0.1"),
    ],
)
def test_limits_and_broken_bodies_raise_clear_errors(
    server: HostileServer, path: str, error: type[Exception], message: str
) -> None:
    started = time.monotonic()
    with pytest.raises(error, match=message):
        fetcher().fetch(server.url(path))
    assert time.monotonic() - started < 5  # 2 s limit; slack for a loaded machine


def test_gzip_body_is_decompressed_within_the_cap(server: HostileServer) -> None:
    result = fetcher().fetch(server.url("/gzip-feed/plain.xml"))
    assert parse_feed(result.content, url=result.url).entries[0].title == "One"


@pytest.mark.parametrize(("path", "at_least"), [("/status/429", 7200), ("/status/503/date", 10000)])
def test_retry_after_is_read_from_429_and_503(
    server: HostileServer, path: str, at_least: float
) -> None:
    with pytest.raises(HTTPStatusError) as info:
        fetcher().fetch(server.url(path))
    assert info.value.retry_after is not None and info.value.retry_after >= at_least


def test_per_host_concurrency_cap(server: HostileServer) -> None:
    client = fetcher(per_host=2, timeout=10.0)
    threads = [
        threading.Thread(target=client.fetch, args=(server.url("/sleepy/0.4"),)) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.peak_active == 2
    assert len(server.requests) == 6


def test_dns_rebinding_cannot_reach_loopback(
    server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first lookup (the early check) says public, every later one says loopback: the
    connection must go only to an address that was checked."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = server.server_address[1]
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1"):
        fetcher().fetch(f"http://rebind.test:{port}/feed/plain.xml", trusted=False)
    assert len(lookups) >= 2 and server.requests == []


def test_trusted_feed_urls_may_be_private(server: HostileServer) -> None:
    assert fetcher().fetch(server.url("/feed/plain.xml"), trusted=True).status == 200
    with pytest.raises(BlockedAddressError):
        fetcher().fetch(server.url("/feed/plain.xml"), trusted=False)


# -- hostile feed bytes -------------------------------------------------------------------
LAUGHS = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10)
)


def test_entity_expansion_does_not_expand() -> None:
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{LAUGHS}]><rss version="2.0"><channel>'
        "<title>&lol9;</title><item><guid>g</guid><title>Laughs &lol9;</title>"
        "<description>body &lol9;</description></item></channel></rss>"
    ).encode()
    started = time.monotonic()
    try:
        feed = parse_feed(body, url="http://x/")
    except ParseError:
        return  # refusing the document is as good as not expanding it
    assert time.monotonic() - started < 2
    for entry in feed.entries:
        assert len(entry.title) < 100 and len(entry.content_html) < 1000
        assert "lollol" not in entry.title + entry.content_html


def test_external_entities_reach_neither_files_nor_network(server: HostileServer) -> None:
    secret = Path(__file__).resolve()
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss ['
        f'<!ENTITY file SYSTEM "file://{secret}">'
        f'<!ENTITY net SYSTEM "{server.url("/feed/plain.xml")}">'
        f'<!ENTITY % param SYSTEM "{server.url("/feed/param.dtd")}"> %param;'
        ']><rss version="2.0"><channel><title>T</title><item><guid>g</guid>'
        "<title>A &file; B &net;</title><description>x &file; &net;</description>"
        "</item></channel></rss>"
    ).encode()
    try:
        feed = parse_feed(body, url="http://x/")
        stored = " ".join(e.title + e.content_html for e in feed.entries)
    except ParseError:
        stored = ""
    assert "hostile_server" not in stored and "First" not in stored  # this file's text
    assert server.requests == []


@pytest.mark.parametrize(
    ("body", "headers", "title"),
    [
        # declared in the HTTP header only
        (
            "Café ’x’".encode("cp1252"),
            {"content-type": "application/xml; charset=windows-1252"},
            "Café ’x’",
        ),
        ("Привет".encode("koi8-r"), {"content-type": "application/xml; charset=koi8-r"}, "Привет"),
        # declared in the XML declaration only
        (b"", {}, "Café"),
        # not declared at all, not UTF-8: falls back to windows-1252, readably
        ("Café ’x’".encode("cp1252"), {}, "Café ’x’"),
        # declared wrongly (UTF-8 but the bytes are Latin-1): same fallback
        ("Café".encode("latin-1"), {"content-type": "text/xml; charset=utf-8"}, "Café"),
        # a charset nobody knows: the bytes are read as UTF-8
        (b"Cafe", {"content-type": "text/xml; charset=x-no-such"}, "Cafe"),
    ],
)
def test_charsets_declared_sniffed_and_wrong(
    body: bytes, headers: dict[str, str], title: str
) -> None:
    if body:
        doc = b'<rss version="2.0"><channel><title>T</title><item><guid>g</guid><title>'
        doc += body + b"</title></item></channel></rss>"
    else:
        doc = '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel>'
        doc += "<title>T</title><item><guid>g</guid><title>Café</title></item></channel></rss>"
        doc = doc.encode("latin-1")
    assert [e.title for e in parse_feed(doc, url="http://x/", headers=headers).entries] == [title]


def test_utf16_with_byte_order_mark() -> None:
    doc = '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>T</title>'
    doc += "<item><guid>g</guid><title>Café</title></item></channel></rss>"
    assert parse_feed(doc.encode("utf-16"), url="http://x/").entries[0].title == "Café"


def test_html_page_instead_of_a_feed_names_the_feeds_it_links_to(server: HostileServer) -> None:
    result = fetcher().fetch(server.url("/html"))
    with pytest.raises(
        ParseError, match=r"HTML page, not a feed.*links to http://127.0.0.1:\d+/feed/real.xml"
    ):
        parse_feed(result.content, url=result.url, headers=result.headers)


# -- the whole worker, as a subprocess, against all of it at once ---------------------------
HOSTILE = {
    "slow": ("/slow", "timeout"),
    "slow-headers": ("/slow-headers", "timeout"),
    "bomb": ("/bomb", "too_large"),
    "huge": ("/huge", "too_large"),
    "huge-declared": ("/huge-declared", "too_large"),
    "loop": ("/loop/0", "fetch"),
    "garbage": ("/garbage", "parse"),
    "html": ("/html", "parse"),
    "reset": ("/reset", "fetch"),
    "too-many": ("/status/429", "http_status"),
    "unavailable": ("/status/503/date", "http_status"),
}


def run_worker(config: Path, timeout: float = 120) -> tuple[int, str, int]:
    """``run --once`` as a child; returns (exit status, stderr, peak RSS in bytes)."""
    err_path = config.with_suffix(".err")
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker", "--config", str(config), "run", "--once"],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        deadline = time.monotonic() + timeout
        peak = 0
        while True:
            # The worker's own high-water mark (VmHWM, since its exec). The child's
            # ru_maxrss would also count the copy of this (large) test process it was
            # forked from before the exec.
            peak = max(peak, peak_rss_bytes(proc.pid))
            pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"worker still running after {timeout}s")
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    return proc.returncode, err_path.read_text(), peak


@pytest.mark.slow
def test_worker_survives_hostile_servers_and_ingests_healthy_feeds(
    server: HostileServer, tmp_path: Path
) -> None:
    healthy = {}
    for name, body in demo_feeds().items():
        server.feeds[name] = body.encode()
        healthy[name.removesuffix(".xml")] = server.url(f"/feed/{name}")
    # A feed with a lying Content-Type is still a feed.
    healthy["typed-as-html"] = server.url("/feed-as-html/plain.xml")
    feeds = {**healthy, **{name: server.url(path) for name, (path, _kind) in HOSTILE.items()}}
    db_path = tmp_path / "hostile.db"
    lines = [
        "[worker]",
        f'database = "sqlite:///{db_path}"',
        "jitter = 0",
        "[fetch]",
        'timeout = "3s"',
        "max_concurrency = 24",
    ]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"', 'full_text = "never"']
    config = tmp_path / "hostile.toml"
    config.write_text("\n".join(lines) + "\n")

    started = time.monotonic()
    status, err, peak_rss = run_worker(config)
    elapsed = time.monotonic() - started
    assert status == 3, err  # `run --once` finished; exit 3: the hostile feeds failed
    print(f"hostile run: {elapsed:.1f}s, peak RSS {peak_rss / 2**20:.0f} MiB")
    assert peak_rss < MAX_RSS_BYTES, f"peak RSS {peak_rss / 2**20:.0f} MiB"

    db = Database(f"sqlite:///{db_path}")
    try:
        with db.session() as s:
            rows = {f.name: f for f in s.scalars(select(Feed))}
            counts = dict(
                s.execute(select(Article.feed_id, func.count()).group_by(Article.feed_id)).all()
            )
    finally:
        db.dispose()
    for name in healthy:
        assert rows[name].last_error is None, (name, rows[name].last_error)
        assert counts.get(rows[name].id, 0) > 0, name
    assert sum(counts.get(rows[n].id, 0) for n in healthy) == 16 + 1
    now = datetime.now(UTC)
    for name, (_path, kind) in HOSTILE.items():
        row = rows[name]
        assert (row.last_error_kind, row.consecutive_failures) == (kind, 1), (name, row.last_error)
        assert row.last_error and row.id not in counts
    for name, hours in (("too-many", 2), ("unavailable", 3)):
        next_poll = rows[name].next_poll_at
        assert next_poll is not None
        assert next_poll.replace(tzinfo=UTC) >= now + timedelta(hours=hours, minutes=-5)
