"""Canonical stories for downstream tools: an Atom feed (one entry per story, linking every
copy), a JSON document or JSON Lines (one story per line).

The Atom feed is a deduplicated feed any reader can subscribe to: each entry's
``alternate`` link is the canonical article, and each other copy is a ``related`` link
titled with its feed's name.

    >>> story = {"id": 7, "title": "Dam opens", "first_seen": "2026-01-02T03:04:05+00:00",
    ...          "last_seen": "2026-01-02T03:04:05+00:00", "variant_count": 1, "canonical_id": 1,
    ...          "articles": [{"id": 1, "title": "Dam opens", "url": "https://a.example/1",
    ...                        "feed": "a", "is_canonical": True, "published": None,
    ...                        "author": None, "text": "The dam opened."}]}
    >>> b"<title>Dam opens</title>" in atom_feed([story], feed_id="urn:x", title="t")
    True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any

from lxml import etree

from worker.safetext import json_safe, xml_text

ATOM_NS = "http://www.w3.org/2005/Atom"
_E = f"{{{ATOM_NS}}}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    # Every string, attributes too, stripped to what XML 1.0 allows: stored text may carry
    # control characters, U+FFFE/U+FFFF or NUL, and lxml refuses the whole document then.
    element = etree.SubElement(
        parent, _E + tag, {k: xml_text(v) for k, v in attrs.items() if v and xml_text(v)}
    )
    if text is not None:
        element.text = xml_text(text)
    return element


def _canonical(story: dict[str, Any]) -> dict[str, Any] | None:
    return next((a for a in story["articles"] if a["is_canonical"]), None) or (
        story["articles"][0] if story["articles"] else None
    )


def _paragraphs_html(text: str) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line.strip())


def _entry(feed: etree._Element, story: dict[str, Any], id_prefix: str) -> None:
    canonical = _canonical(story)
    if canonical is None:
        return
    entry = _sub(feed, "entry")
    _sub(entry, "id", f"{id_prefix}:story:{story['id']}")
    _sub(entry, "title", canonical["title"] or f"story {story['id']}")
    _sub(entry, "updated", story["last_seen"])
    if canonical.get("published"):
        _sub(entry, "published", canonical["published"])
    author = _sub(entry, "author")
    _sub(author, "name", canonical.get("author") or canonical["feed"])
    if canonical.get("url"):
        _sub(entry, "link", rel="alternate", type="text/html", href=canonical["url"])
    for variant in story["articles"]:
        if variant is not canonical and variant.get("url"):
            _sub(entry, "link", rel="related", type="text/html", href=variant["url"],
                 title=f"{variant['feed']}: {variant['title']}")  # fmt: skip
    _sub(entry, "category", term=canonical["feed"], label="source feed")
    text = canonical.get("text") or ""
    _sub(entry, "summary", " ".join(text.split())[:400], type="text")
    copies = "".join(
        f'<li><a href="{escape(v["url"])}">{escape(v["feed"])}</a></li>'
        for v in story["articles"]
        if v is not canonical and v.get("url")
    )
    body = _paragraphs_html(text) + (f"<p>Also carried by:</p><ul>{copies}</ul>" if copies else "")
    _sub(entry, "content", body, type="html")


def atom_feed(
    stories: Iterable[dict[str, Any]],
    *,
    feed_id: str = "urn:newsdedup:stories",
    title: str = "newsdedup: canonical stories",
    self_url: str | None = None,
) -> bytes:
    """An Atom 1.0 document with one entry per story (``worker.store.stories`` dicts)."""
    stories = list(stories)
    feed = etree.Element(_E + "feed", nsmap={None: ATOM_NS})
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    latest = max((s["last_seen"] for s in stories if s["last_seen"]), default=None)
    _sub(feed, "updated", latest or datetime.now(UTC).isoformat(timespec="seconds"))
    _sub(feed, "generator", "newsdedup")
    if self_url:
        _sub(feed, "link", rel="self", href=self_url)
    for story in stories:
        _entry(feed, story, feed_id)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def json_document(stories: Iterable[dict[str, Any]]) -> str:
    return json_safe(json.dumps({"stories": list(stories)}, indent=2, ensure_ascii=False)) + "\n"


def json_lines(stories: Iterable[dict[str, Any]]) -> Iterator[str]:
    for story in stories:
        yield json_safe(json.dumps(story, ensure_ascii=False)) + "\n"
