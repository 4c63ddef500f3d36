"""The pure parts of issue 15's bounds, each against a plain reference or the finding it
closes: linear spot signatures, the document prescan, the parser's per-entry guard, the
per-medium string cleaning, the address guard's embedded-IPv4 forms, the backtracking
check of config patterns."""

from __future__ import annotations

import json
import random
import socket
from typing import Any

import feedparser
import pytest
from lxml import etree

from worker import limits
from worker.dedup.spots import ANTECEDENTS, STOPWORDS, spots
from worker.downstream.export import atom_feed
from worker.downstream.models import Story
from worker.errors import BlockedAddressError, ParseError
from worker.reader.fetcher import Fetcher, FetchLimits
from worker.reader.netguard import is_public_address
from worker.reader.parser import parse_feed
from worker.reader.prescan import entry_spans, fix_char_refs, markup_shape, prescan
from worker.regexguard import backtracking_risk
from worker.safetext import json_safe, storable, terminal_text, xml_text


def _plain_spots(words: list[str], chain: int) -> set[bytes]:
    """The scan ``spots`` replaced (quadratic on runs of function words)."""
    out = set()
    for i, word in enumerate(words):
        if word not in ANTECEDENTS:
            continue
        parts, j = [word], i + 1
        while j < len(words) and len(parts) <= chain:
            if words[j] not in STOPWORDS:
                parts.append(words[j])
            j += 1
        if len(parts) > 1:
            out.add(":".join(parts).encode())
    return out


@pytest.mark.slow
def test_spots_are_the_plain_scan_and_linear() -> None:
    rng = random.Random(3)
    vocab = [*sorted(STOPWORDS), "fire", "mayor", "bridge", "vote"]
    for _ in range(3000):
        share = rng.random()
        words = [
            rng.choice(sorted(ANTECEDENTS)) if rng.random() < share else rng.choice(vocab)
            for _ in range(rng.randint(0, 200))
        ]
        for chain in (1, 2, 3):
            assert spots(words, chain) == _plain_spots(words, chain)
    # The finding: 'the ' * 32000 took 59.5 s; a hundred times more words here.
    run = ["the"] * 3_200_000 + ["fire", "crews"]
    assert spots(run, 2) == {b"the:fire:crews"}


def test_entry_spans_pair_tags_in_one_pass() -> None:
    doc = b"<rss><item>a</item><entry>b</entry><atom:entry x='1'>c</atom:entry><item>"
    assert [doc[s:e] for s, e in entry_spans(doc)] == [
        b"<item>a</item>", b"<entry>b</entry>", b"<atom:entry x='1'>c</atom:entry>"
    ]  # fmt: skip
    # A hundred thousand unclosed items: one pass, not one scan of the rest per item.
    assert entry_spans(b"<item>" * 100_000) == []


def test_markup_shape_reads_escaped_markup_too() -> None:
    assert markup_shape(b"<div><div><p>x</p></div><div><b>y</b></div></div>") == (3, 0)
    assert markup_shape(b"&lt;div&gt;" * 10) == (10, 0)
    assert markup_shape(b"<p>" * 500 + b"<br>" * 500) == (0, 0)  # never nest
    assert markup_shape(b"&lt;img a=\"1\" b=2 c d='4'&gt;")[1] == 4


@pytest.mark.parametrize(
    ("ref", "fixed"),
    [
        (b"&#xD800;", b"&#xFFFD;"),
        (b"&#55296;", b"&#xFFFD;"),
        (b"&#x110000;", b"&#xFFFD;"),
        (b"&#1114112;", b"&#xFFFD;"),
        (b"&#" + b"9" * 400 + b";", b"&#xFFFD;"),
        (b"&amp;#xDFFF;", b"&amp;#xFFFD;"),
        (b"&#x2019;", b"&#x2019;"),
        (b"&#0;", b"&#0;"),
        (b"&#x10FFFF;", b"&#x10FFFF;"),
    ],
)
def test_char_refs_to_no_character_become_replacement(ref: bytes, fixed: bytes) -> None:
    assert fix_char_refs(b"a " + ref + b" b") == b"a " + fixed + b" b"


def test_prescan_cuts_out_entries_over_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_ENTRY_BYTES", 230)
    items = [
        b"<item><guid>ok</guid><title>fine</title></item>",
        b"<item><guid>big</guid>" + b"x" * 300 + b"</item>",
        b"<item><guid>deep</guid>" + b"&lt;b&gt;" * 20 + b"</item>",
    ]
    monkeypatch.setattr(limits, "MAX_MARKUP_DEPTH", 10)
    doc = b"<rss><channel>" + b"".join(items) + b"</channel></rss>"
    scan = prescan(doc)
    assert scan.content == b"<rss><channel>" + items[0] + b"</channel></rss>"
    assert dict(scan.rejected) == {"too_large": 1, "markup_depth": 1}
    assert [n.split(" (")[0] for n in scan.notes] == [
        "too_large: entry 'big'", "markup_depth: entry 'deep'"
    ]  # fmt: skip
    # Hostile markup outside any entry fails the whole document (nothing to salvage).
    with pytest.raises(ParseError, match="outside the entries"):
        prescan(b"<rss><channel>" + b"<x>" * 50 + b"</channel></rss>")


def test_a_document_feedparser_cannot_read_whole_is_read_entry_by_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever else makes feedparser raise (the known cases are fixed before it), only the
    entry that does it is lost."""
    real = feedparser.parse

    def fragile(data: bytes, **kwargs: Any) -> Any:
        if b"BOOM" in data:
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        return real(data, **kwargs)

    monkeypatch.setattr(feedparser, "parse", fragile)
    doc = b'<rss version="2.0"><channel><title>T</title>'
    doc += b"<item><guid>1</guid><title>One</title></item>"
    doc += b"<item><guid>2</guid><title>BOOM</title></item>"
    doc += b"<item><guid>3</guid><title>Three</title></item></channel></rss>"
    feed = parse_feed(doc, url="http://x.example/")
    assert [e.title for e in feed.entries] == ["One", "Three"]
    assert dict(feed.rejected) == {"unparseable": 1}
    assert feed.title == "T"


def test_an_entry_the_parser_cannot_convert_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    import worker.reader.parser as parser

    real = parser.sanitize_html

    def fragile(html: str) -> str:
        if "BOOM" in html:
            raise ValueError("a library bug")
        return real(html)

    monkeypatch.setattr(parser, "sanitize_html", fragile)
    doc = b'<rss version="2.0"><channel><title>T</title>'
    doc += b"<item><guid>1</guid><title>One</title><description>x</description></item>"
    doc += b"<item><guid>2</guid><title>Two</title><description>BOOM</description></item>"
    doc += b"</channel></rss>"
    feed = parse_feed(doc, url="http://x.example/")
    assert [e.title for e in feed.entries] == ["One"]
    assert dict(feed.rejected) == {"unparseable": 1}


def test_strings_made_safe_for_each_medium() -> None:
    hostile = "a\x00b\x1b]52;c;ZXZpbA==\x07c\x1b[2Jd\x9b31me\ufffe\uffff\x0bf\u202eg"
    assert storable(hostile) == hostile.replace("\x00", "")
    assert terminal_text(hostile) == "abcde\ufffe\ufffffg"  # CSI 31 m is one sequence
    assert xml_text(hostile) == "ab]52;c;ZXZpbA==c[2Jd\x9b31mef\u202eg"
    document = json_safe(json.dumps({"t": hostile + "\ud800"}, ensure_ascii=False))
    assert "\x9b" not in document and json.loads(document)["t"].endswith("g\ud800")
    story = Story.model_validate({
        "id": 1, "title": hostile, "first_seen": "2026-01-01T00:00:00+00:00",
        "last_seen": "2026-01-01T00:00:00+00:00", "variant_count": 2, "canonical_id": 1,
        "articles": [
            {"id": 1, "title": hostile, "url": "https://a.example/1", "feed": "a\x00",
             "is_canonical": True, "published": None, "author": hostile, "text": hostile,
             "match_kind": "new", "story_id": 1},
            {"id": 2, "title": hostile, "url": "https://b.example/\x0b", "feed": "b\uffff",
             "is_canonical": False, "published": None, "author": None, "text": hostile,
             "match_kind": "near", "story_id": 1},
        ],
    })  # fmt: skip
    root = etree.fromstring(atom_feed([story]))
    related = root.find(".//{http://www.w3.org/2005/Atom}link[@rel='related']")
    assert related is not None and "\ufffe" not in related.get("title", "")


EMBEDDING_LOOPBACK_OR_PRIVATE = [
    "::ffff:127.0.0.1",  # mapped
    "::ffff:7f00:1",
    "::127.0.0.1",  # compatible
    "::ffff:0:7f00:1",  # SIIT translated
    "64:ff9b::7f00:1",  # NAT64
    "64:ff9b::a9fe:a9fe",  # NAT64 to the metadata address
    "64:ff9b:1::a00:1",  # NAT64, local use
    "2002:7f00:1::",  # 6to4
    "2002:c0a8:101::1",
    "2002:a9fe:a9fe::",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "::ffff:10.0.0.1",
    "::ffff:0:a9fe:a9fe",
]


@pytest.mark.parametrize("address", EMBEDDING_LOOPBACK_OR_PRIVATE)
def test_the_guard_refuses_every_embedded_ipv4_form(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_the_guard_still_allows_public_addresses(address: str) -> None:
    assert is_public_address(address)


def test_an_untrusted_link_resolving_to_an_embedded_form_is_not_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::7f00:1", port or 0, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(BlockedAddressError, match="64:ff9b::7f00:1"):
        Fetcher(FetchLimits(timeout=2)).fetch("http://nat64.test/a", trusted=False)


@pytest.mark.parametrize(
    "pattern", [r"(a+)+$", r"(a*)*", r"^(\w+\s?)*$", r"(x+x+)+y", r"(\d+[,.]?)+$", r"(a|aa)*c"]
)
def test_backtracking_patterns_are_refused(pattern: str) -> None:
    assert backtracking_risk(pattern)


@pytest.mark.parametrize(
    "pattern",
    [r"^Read more at .*$", r"^(?:Share|Tweet|Email)+$", r"^(?:[A-Z][a-z]+ ){2,}$", r"(a++)+",
     r"^Source: \w+$", r"([a-z]+\.)+com"],
)  # fmt: skip
def test_ordinary_patterns_pass(pattern: str) -> None:
    assert backtracking_risk(pattern) is None
