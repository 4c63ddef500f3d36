from __future__ import annotations

import gzip
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from worker.errors import (
    BlockedAddressError,
    FetchError,
    HTTPStatusError,
    ParseError,
    TooLargeError,
)
from worker.reader.fetcher import Fetcher, FetchLimits, check_public_host, parse_retry_after
from worker.reader.parser import parse_feed
from worker.reader.sanitizer import sanitize_html
from worker.reader.urlcleaner import canonical_url

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>60</ttl>
<item><title>One</title><link>http://news.example/a?utm_source=x&amp;id=7#top</link>
<guid>g-1</guid><pubDate>Fri, 20 Nov 2026 08:00:00 +0000</pubDate>
<description>&lt;p onclick="evil()"&gt;Hello&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description></item>
<item><title>No guid</title><link>/relative/b</link><description>x</description></item>
</channel></rss>"""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTP://News.Example:80/a/../b/?utm_campaign=x&b=2&a=1#frag",
            "http://news.example/b/?a=1&b=2",
        ),
        ("https://news.example:443/story?fbclid=123&gclid=4", "https://news.example/story"),
        ("https://news.example/story?cmpid=rss&page=2", "https://news.example/story?page=2"),
        ("mailto:someone@example.com", ""),
        ("", ""),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_parse_rss_entries_guid_fallback_dates_and_sanitising() -> None:
    feed = parse_feed(RSS, url="http://news.example/rss")
    assert feed.ttl_seconds == 3600
    first, second = feed.entries
    assert first.guid == "g-1"
    assert first.url == "http://news.example/a?id=7"
    assert first.published == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert "script" not in first.content_html and "onclick" not in first.content_html
    assert "Hello" in first.content_html
    # no GUID: the canonical link, resolved against the feed URL, is the identity
    assert second.guid == second.url == "http://news.example/relative/b"


def test_parse_atom_and_rdf() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
    <title>A</title><entry><id>urn:1</id><title>Atom entry</title><link href="http://a.example/1"/>
    <updated>2026-11-20T08:00:00Z</updated><content type="html">&lt;p&gt;Body&lt;/p&gt;</content></entry></feed>"""
    rdf = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://r.example/"><title>R</title></channel>
    <item rdf:about="http://r.example/1"><title>RDF entry</title><link>http://r.example/1</link>
    <description>Text</description></item></rdf:RDF>"""
    assert parse_feed(atom).entries[0].title == "Atom entry"
    assert parse_feed(atom).entries[0].has_full_content
    assert parse_feed(rdf).entries[0].url == "http://r.example/1"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response body"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "got an HTML page, not a feed"),
        (b"\x00\x01garbage\xff", "not a feed"),
    ],
)
def test_parse_errors_are_clear(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, url="http://x.example/feed")


def test_sanitizer_removes_executable_markup() -> None:
    dirty = '<a href="javascript:alert(1)" onmouseover="x()">l</a><img src=x onerror=y><iframe src="http://e"></iframe><style>*{}</style>'
    clean = sanitize_html(dirty)
    for bad in ("javascript:", "onmouseover", "onerror", "iframe", "style"):
        assert bad not in clean


def test_fetch_conditional_get_and_304(httpserver: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(RSS, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    fetcher = Fetcher(FetchLimits(timeout=5))
    first = fetcher.fetch(httpserver.url_for("/feed"))
    assert first.status == 200 and first.etag == '"v1"' and first.content == RSS
    second = fetcher.fetch(httpserver.url_for("/feed"), etag=first.etag)
    assert second.not_modified and second.content == b""


def test_304_keeps_the_connection_alive() -> None:
    """A round of 304s reuses one connection per host instead of opening one per poll."""
    clients: list[tuple[str, int]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            clients.append(self.client_address)
            self.send_response(304 if self.headers.get("If-None-Match") == '"v1"' else 200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/feed"
    try:
        with Fetcher(FetchLimits(timeout=5)) as fetcher:
            statuses = [fetcher.fetch(url, etag='"v1"').status for _ in range(5)]
            statuses.append(fetcher.fetch(url).status)  # and the 200 after them too
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == [304] * 5 + [200]
    assert len(set(clients)) == 1, clients


def test_fetch_gzip_and_decompressed_size_cap(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"<" * 2_000_000)  # 2 MB decompressed, a few KB on the wire
    httpserver.expect_request("/gz").respond_with_data(
        gzip.compress(RSS), headers={"Content-Encoding": "gzip"}
    )
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    fetcher = Fetcher(FetchLimits(timeout=5, max_bytes=1_000_000))
    assert fetcher.fetch(httpserver.url_for("/gz")).content == RSS
    with pytest.raises(TooLargeError, match="decompressed"):
        fetcher.fetch(httpserver.url_for("/bomb"))


def test_fetch_redirect_cap_and_status_errors(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    httpserver.expect_request("/busy").respond_with_data(
        "", status=503, headers={"Retry-After": "120"}
    )
    fetcher = Fetcher(FetchLimits(timeout=5, max_redirects=3))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetcher.fetch(httpserver.url_for("/loop"))
    with pytest.raises(HTTPStatusError) as info:
        fetcher.fetch(httpserver.url_for("/busy"))
    assert info.value.status == 503 and info.value.retry_after == 120


def test_untrusted_links_to_loopback_are_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data("<html></html>")
    fetcher = Fetcher(FetchLimits(timeout=5))
    with pytest.raises(BlockedAddressError):
        fetcher.fetch(httpserver.url_for("/page"), trusted=False)
    with pytest.raises(BlockedAddressError):
        check_public_host("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedAddressError):
        fetcher.fetch("file:///etc/passwd", trusted=False)


def test_file_urls_relative_to_config_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.xml").write_bytes(RSS)
    fetcher = Fetcher()
    assert fetcher.fetch("file:feeds/a.xml", base_dir=tmp_path).content == RSS
    assert fetcher.fetch(f"file://{tmp_path}/feeds/a.xml").content == RSS
    with pytest.raises(FetchError, match="cannot read"):
        fetcher.fetch("file:feeds/missing.xml", base_dir=tmp_path)


def test_retry_after_forms() -> None:
    assert parse_retry_after("30") == 30
    assert (
        parse_retry_after(
            "Fri, 20 Nov 2026 08:01:00 GMT",
            now=datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp(),
        )
        == 60
    )
    assert parse_retry_after("soon") is None
