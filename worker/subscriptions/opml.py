"""OPML, the format feed readers use to move subscription lists.

Folders (outlines without ``xmlUrl`` holding others) are categories, nested ones joined
with ``/``; ``htmlUrl`` is the feed's site. Both survive an export and a re-import.

>>> feeds, skipped = read_opml(b'''<opml version="2.0"><body>
...   <outline text="Wires"><outline type="rss" text="Calder Courier"
...       xmlUrl="https://courier.example/rss" htmlUrl="https://courier.example/"/></outline>
...   <outline text="a note"/>
... </body></opml>''', source="subs.opml")
>>> feeds
[OpmlFeed(title='Calder Courier', xml_url='https://courier.example/rss', category='Wires', html_url='https://courier.example/')]
>>> skipped
[SkippedOutline(title='a note', url='', reason='no xmlUrl: not a feed')]
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
    html_url: str | None = None


@dataclass(frozen=True)
class SkippedOutline:
    """An outline that is not imported, and why: every one is reported."""

    title: str
    url: str
    reason: str


def _category(outline: etree._Element) -> str | None:
    """The folder path of an outline: its ancestor outlines' titles, outermost first."""
    names = []
    parent = outline.getparent()
    while parent is not None and parent.tag == "outline":
        name = (parent.get("title") or parent.get("text") or "").strip()
        if name:
            names.append(name.replace("/", "-"))
        parent = parent.getparent()
    return "/".join(reversed(names)) or None


def parse_opml(data: bytes, *, source: str) -> list[OpmlFeed]:
    """Every outline with an ``xmlUrl`` (``read_opml`` also says what it skipped)."""
    return read_opml(data, source=source)[0]


def read_opml(data: bytes, *, source: str) -> tuple[list[OpmlFeed], list[SkippedOutline]]:
    """Every outline with a usable ``xmlUrl``, at any depth, and every other outline that
    is not a folder, with the reason it was skipped."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"{source}: not OPML: line {exc.lineno}: {exc.msg}", path=source) from exc
    if root.tag != "opml":
        raise ConfigError(f"{source}: not OPML: root element is <{root.tag}>", path=source)
    out: list[OpmlFeed] = []
    skipped: list[SkippedOutline] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        title = (outline.get("title") or outline.get("text") or "").strip()
        if not url:
            if len(outline) == 0:  # a folder holds outlines; anything else is reported
                skipped.append(SkippedOutline(title, "", "no xmlUrl: not a feed"))
            continue
        if not url.lower().startswith(("http://", "https://", "file:")):
            skipped.append(SkippedOutline(title or url, url, "not an http(s):// or file: URL"))
            continue
        if url in seen:
            skipped.append(SkippedOutline(title or url, url, "listed twice in this file"))
            continue
        seen.add(url)
        html = (outline.get("htmlUrl") or outline.get("htmlurl") or "").strip()
        html_url = html if html.lower().startswith(("http://", "https://")) else None
        out.append(OpmlFeed(title or url, url, _category(outline), html_url))
    return out, skipped


def render_opml(feeds: Iterable[FeedConfig], *, title: str = "newsdedup feeds") -> bytes:
    """An OPML 2.0 document with one ``rss`` outline per feed (disabled ones included,
    marked ``newsdedupEnabled="false"``), in folders by ``category``, with ``htmlUrl``
    from ``site_url``."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}

    def folder(path: str | None) -> etree._Element:
        if not path:
            return body
        if path not in folders:
            parent_path, _, name = path.rpartition("/")
            folders[path] = etree.SubElement(folder(parent_path), "outline", text=name, title=name)
        return folders[path]

    for feed in feeds:
        outline = etree.SubElement(
            folder(feed.category), "outline", type="rss", text=feed.name, title=feed.name,
            xmlUrl=feed.url,
        )  # fmt: skip
        if feed.site_url:
            outline.set("htmlUrl", feed.site_url)
        if not feed.enabled:
            outline.set("newsdedupEnabled", "false")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
