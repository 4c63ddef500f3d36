"""Feed bodies: a whole page or a fragment with a page's rails is read as a page; the chrome
feed bodies carry (pixels, share and flare links, related lists, "appeared first on",
"Continue reading") goes; a plain article body is read exactly as before. All markup here is
invented."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.corpus import WIRE
from worker.clean import bodies
from worker.clean.bodies import body_kind, body_to_text
from worker.clean.extract import fragment_to_text
from worker.reader.parser import parse_feed
from worker.reader.sanitizer import sanitize_html

ARTICLE = "".join(f"<p>{p}</p>" for p in WIRE["bridge"])
MENU = "".join(
    f"<li><a href='http://gazette.example/{s}'>{s.title()}</a></li>"
    for s in ("world", "local", "sport", "business", "arts", "science", "travel", "opinion",
              "weather", "obituaries", "classifieds", "jobs")
)  # fmt: skip
RAIL = "".join(
    f"<p><a href='http://gazette.example/story/{n}'>Headline number {n} of the day</a></p>"
    for n in range(6)
)
NAV_LINES = ("Home", "Sport", "Classifieds", "Headline number 3 of the day", "Log in")


def _lines(text: str) -> set[str]:
    return set(text.split("\n"))


def _has_article(text: str) -> bool:
    return all(p.split(",")[0] in text for p in WIRE["bridge"])


def test_plain_paragraphs_read_as_before() -> None:
    assert body_kind(ARTICLE) == "fragment"
    assert body_to_text(ARTICLE) == fragment_to_text(ARTICLE)


def test_article_with_inline_links_is_a_fragment_read_as_before() -> None:
    body = ARTICLE.replace(
        "</p>", " <a href='http://council.example/report'>the council's report</a> says.</p>", 1
    )
    assert body_kind(body) == "fragment"
    assert body_to_text(body) == fragment_to_text(body)


def test_whole_document_is_a_page() -> None:
    source = (
        "<!DOCTYPE html><html><head><title>Bridge shut</title></head><body>"
        f"<div class='menu'><ul>{MENU}</ul></div><div class='story'>{ARTICLE}</div>"
        f"<div class='rail'>{RAIL}</div><div class='foot'>Copyright Gazette Media</div>"
        "</body></html>"
    )
    content = sanitize_html(source)
    assert body_kind(content, source) == "page"
    text = body_to_text(content, source, "http://gazette.example/bridge")
    assert _has_article(text)
    assert not _lines(text) & {"Sport", "Classifieds", "Headline number 3 of the day"}
    # Read as a fragment, the same body keeps the menus and the rail.
    assert {"Sport", "Classifieds"} <= _lines(fragment_to_text(content))


def test_fragment_with_menus_and_rails_is_a_page() -> None:
    # What a feed's sanitiser leaves of a page's main block: no <html>, no class names.
    body = f"<div><ul>{MENU}</ul><div>{ARTICLE}</div><div>{RAIL}</div></div>"
    assert body_kind(body) == "page"
    text = body_to_text(body)
    assert _has_article(text)
    assert not _lines(text) & set(NAV_LINES)


def test_nav_block_makes_a_page() -> None:
    nav = "<nav><a href='/'>Home</a> | <a href='/s'>Sport</a> | <a href='/login'>Log in</a></nav>"
    body = f"{nav}<article>{ARTICLE}</article><footer>Gazette Media, all rights reserved</footer>"
    assert body_kind(body) == "page"
    text = body_to_text(body)
    assert _has_article(text) and "Log in" not in text


def test_header_with_a_byline_stays_a_fragment() -> None:
    body = f"<header><h2>Bridge shut</h2><p>By a staff reporter</p></header>{ARTICLE}"
    assert body_kind(body) == "fragment"


@pytest.mark.parametrize(
    "chrome",
    [
        # WordPress-style footer line
        "<p>The post <a href='http://blog.example/bridge'>Bridge shut after cracks</a> "
        "appeared first on <a href='http://blog.example'>The Sample Blog</a>.</p>",
        # share links by their endpoints, with their label
        "<p>Share this: <a href='https://www.facebook.com/sharer/sharer.php?u=x'>Facebook</a> "
        "<a href='https://twitter.com/intent/tweet?url=x'>Twitter</a> "
        "<a href='mailto:?subject=Bridge'>Email</a></p>",
        # feed flare
        "<div><a href='http://feeds.example.net/~ff/sample?a=x'>Email this</a> "
        "<a href='http://feeds.example.net/~ff/sample?a=y'><img src='http://feeds.example.net/~ff/sample?i=y'></a></div>",
        # a related-posts list and its label
        "<h3>Related posts:</h3><ul><li><a href='http://blog.example/a'>Ferry fares rise</a></li>"
        "<li><a href='http://blog.example/b'>Council votes on the ring road</a></li>"
        "<li><a href='http://blog.example/c'>Ten bridges to walk this winter</a></li></ul>",
        # "Continue reading" tail, as a link
        "<p><a href='http://blog.example/bridge#more'>Continue reading <span>Bridge shut</span> →</a></p>",
        # tracking pixel (no text, but nothing of it may leak either)
        "<img src='http://feeds.example.net/~r/sample/~4/abc' width='1' height='1' alt='pixel'>",
    ],
    ids=["appeared-first", "share", "flare", "related", "continue", "pixel"],
)
def test_feed_body_chrome_goes(chrome: str) -> None:
    body = sanitize_html(ARTICLE + chrome)
    text = body_to_text(body)
    assert text == fragment_to_text(sanitize_html(ARTICLE))


def test_continue_reading_inside_the_text_stays() -> None:
    body = (
        ARTICLE
        + "<p>Continue reading the council's statement, the mayor said, before the vote.</p>"
    )
    assert "Continue reading the council" in body_to_text(body)


def test_list_of_links_mid_article_stays() -> None:
    links = (
        "<ul><li><a href='http://council.example/a'>The inspection report</a></li>"
        "<li><a href='http://council.example/b'>The diversion map</a></li></ul>"
    )
    body = (
        WIRE["bridge"][0].join(["<p>", "</p>"])
        + links
        + "".join(f"<p>{p}</p>" for p in WIRE["bridge"][1:])
    )
    # Not at the end, so not a related list: the body goes to the fragment path untouched.
    assert body_kind(body) == "fragment"
    assert body_to_text(body) == fragment_to_text(body)


def _rss(body: str, *, escaped: bool = True) -> bytes:
    from html import escape

    inner = escape(body) if escaped else f"<![CDATA[{body}]]>"
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        "<item><title>Bridge</title><link>http://gazette.example/bridge</link><guid>b1</guid>"
        f"<content:encoded>{inner}</content:encoded></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("escaped", [True, False])
def test_parser_keeps_the_body_as_given_and_stores_it_sanitised(escaped: bool) -> None:
    page = (
        "<html><head><title>Bridge</title><script>var menu = '<a href=\"' + x + '\">';</script>"
        f"</head><body><div class='nav'><ul>{MENU}</ul></div>{ARTICLE}</body></html>"
    )
    entry = parse_feed(_rss(page, escaped=escaped), url="http://gazette.example/feed").entries[0]
    assert entry.source_html.startswith("<html>")
    assert re.search(r"class=[\"']nav", entry.source_html)  # (quoting is feedparser's)
    # What is stored is the body as given through nh3: nothing executable, no document,
    # and a script's strings are no markup.
    assert entry.content_html == sanitize_html(entry.source_html)
    assert "<script" not in entry.content_html and "<html" not in entry.content_html
    assert "' + x + '" not in entry.content_html
    assert WIRE["bridge"][0][:40] in entry.content_html


def test_page_reading_that_finds_no_article_falls_back_to_the_fragment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A page the extractor cannot read (it returns nothing): the body's words stay.
    body = f"<div><ul>{MENU}</ul><div>{ARTICLE}</div><div>{RAIL}</div></div>"
    assert body_kind(body) == "page"
    monkeypatch.setattr(bodies, "page_to_text", lambda *_a, **_k: "")
    assert _has_article(body_to_text(body))
