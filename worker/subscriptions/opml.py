"""OPML, the format feed readers use to move subscription lists.

>>> feeds = parse_opml(b'''<opml version="2.0"><body>
...   <outline text="Wires"><outline type="rss" text="Calder Courier"
...       xmlUrl="https://courier.example/rss" htmlUrl="https://courier.example/"/></outline>
... </body></opml>''', source="subs.opml")
>>> feeds
[OpmlFeed(title='Calder Courier', xml_url='https://courier.example/rss', category='Wires')]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from worker.config import FeedConfig
from worker.errors import ConfigError


@dataclass(frozen=True)
class OpmlFeed:
    title: str
    xml_url: str
    category: str | None = None


def parse_opml(data: bytes, *, source: str) -> list[OpmlFeed]:
    """Every outline with an ``xmlUrl``, at any depth (folders become ``category``)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"{source}: not OPML: line {exc.lineno}: {exc.msg}", path=source) from exc
    if root.tag != "opml":
        raise ConfigError(f"{source}: not OPML: root element is <{root.tag}>", path=source)
    out = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        title = (outline.get("title") or outline.get("text") or "").strip()
        parent = outline.getparent()
        category = None
        if parent is not None and parent.tag == "outline":
            category = (parent.get("title") or parent.get("text") or "").strip() or None
        out.append(OpmlFeed(title or url, url, category))
    return out


def render_opml(feeds: Iterable[FeedConfig], *, title: str = "newsdedup feeds") -> bytes:
    """An OPML 2.0 document with one ``rss`` outline per feed (disabled ones included,
    marked ``newsdedupEnabled="false"``)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = etree.SubElement(root, "body")
    for feed in feeds:
        outline = etree.SubElement(
            body, "outline", type="rss", text=feed.name, title=feed.name, xmlUrl=feed.url
        )
        if not feed.enabled:
            outline.set("newsdedupEnabled", "false")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
