"""Canonical stories for downstream tools: an Atom feed (one entry per story, linking every
copy), a JSON document or JSON Lines (one story per line).

The Atom feed is a deduplicated feed any reader can subscribe to: each entry's
``alternate`` link is the canonical article, and each other copy is a ``related`` link
titled with its feed's name. Links are the articles' canonical URLs (tracking parameters
such as ``utm_source`` removed), the URL as the feed gave it when there is none.

    >>> from worker.downstream.models import Story
    >>> story = Story.model_validate(
    ...     {"id": 7, "title": "Dam opens", "first_seen": "2026-01-02T03:04:05+00:00",
    ...      "last_seen": "2026-01-02T03:04:05+00:00", "variant_count": 1, "canonical_id": 1,
    ...      "articles": [{"id": 1, "story_id": 7, "title": "Dam opens", "feed": "a",
    ...                    "is_canonical": True, "match_kind": "new",
    ...                    "url": "https://a.example/1?utm_source=rss",
    ...                    "canonical_url": "https://a.example/1", "text": "The dam opened."}]})
    >>> feed = atom_feed([story], feed_id="urn:x", title="t")
    >>> b"<title>Dam opens</title>" in feed, b"utm_source" in feed
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any

from lxml import etree

from worker.downstream.models import Article, Story, StoryList, to_json
from worker.safetext import xml_text

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


def _canonical(story: Story) -> Article | None:
    return next((a for a in story.articles if a.is_canonical), None) or (
        story.articles[0] if story.articles else None
    )


def _link(article: Article) -> str | None:
    return article.canonical_url or article.url


def _time(value: datetime) -> str:
    return value.isoformat()


def _paragraphs_html(text: str) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line.strip())


def _entry(feed: etree._Element, story: Story, id_prefix: str) -> None:
    canonical = _canonical(story)
    if canonical is None:
        return
    entry = _sub(feed, "entry")
    _sub(entry, "id", f"{id_prefix}:story:{story.id}")
    _sub(entry, "title", canonical.title or f"story {story.id}")
    _sub(entry, "updated", _time(story.last_seen))
    if canonical.published:
        _sub(entry, "published", _time(canonical.published))
    author = _sub(entry, "author")
    _sub(author, "name", canonical.author or canonical.feed)
    href = _link(canonical)
    if href:
        _sub(entry, "link", rel="alternate", type="text/html", href=href)
    copies = [(v, link) for v in story.articles if v is not canonical and (link := _link(v))]
    for variant, link in copies:
        _sub(entry, "link", rel="related", type="text/html", href=link,
             title=f"{variant.feed}: {variant.title}")  # fmt: skip
    _sub(entry, "category", term=canonical.feed, label="source feed")
    text = canonical.text or ""
    _sub(entry, "summary", " ".join(text.split())[:400], type="text")
    listed = "".join(
        f'<li><a href="{escape(link)}">{escape(v.feed)}</a></li>' for v, link in copies
    )
    body = _paragraphs_html(text) + (f"<p>Also carried by:</p><ul>{listed}</ul>" if listed else "")
    _sub(entry, "content", body, type="html")


def atom_feed(
    stories: Iterable[Story],
    *,
    feed_id: str = "urn:newsdedup:stories",
    title: str = "newsdedup: canonical stories",
    self_url: str | None = None,
) -> bytes:
    """An Atom 1.0 document with one entry per story."""
    stories = list(stories)
    feed = etree.Element(_E + "feed", nsmap={None: ATOM_NS})
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    latest = max((s.last_seen for s in stories), default=None)
    _sub(feed, "updated", _time(latest or datetime.now(UTC).replace(microsecond=0)))
    _sub(feed, "generator", "newsdedup")
    if self_url:
        _sub(feed, "link", rel="self", href=self_url)
    for story in stories:
        _entry(feed, story, feed_id)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def json_document(stories: Iterable[Story]) -> str:
    """The stories as ``stories --json`` and the API list them (``StoryList``)."""
    return to_json(StoryList(stories=list(stories))) + "\n"


def json_lines(stories: Iterable[Story]) -> Iterator[str]:
    """One story a line, each as in ``json_document``."""
    for story in stories:
        yield to_json(story, indent=None) + "\n"
