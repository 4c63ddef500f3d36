"""The shapes a labelled document takes in a feed, for ``eval dedup --path``.

* ``whole-pages``: the page's whole HTML as the entry's body (some feeds carry that);
* ``fragments``: the page's main HTML block as the body: the lowest element holding the
  article's paragraphs, with whatever rails the site put inside it;
* ``summaries``: one sentence as the body, the page itself behind the entry's link.

A plain text (the distractors) is its paragraphs as the body in the first two shapes, and a
minimal page of them behind the link in the third. Which site a page comes from is the host
most of its absolute links point at (the saved pages carry no address of their own).

    >>> site_of(Document("a", "c", False, "t", page=b'<a href="http://www.x.org/1">1</a>'))
    'x.org'
    >>> first_sentence("Home\\nThe storm hit the coast on Monday. It left.")
    'The storm hit the coast on Monday.'
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import lxml.html
from lxml import etree
from trafilatura.utils import load_html

from worker.clean.extract import page_to_text
from worker.eval.corpus import Document

SHAPES = ("whole-pages", "fragments", "summaries")
_LINK_HOST = re.compile(rb"""href\s*=\s*["']?https?://([^/"'\s>:?#]+)""", re.I)
# Characters XML 1.0 forbids even escaped; old pages carry a few.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\u201d]?\s")
_PROBE_WORDS = 5


class Item(NamedTuple):
    guid: str
    title: str
    link: str
    body: str  # HTML
    summary_only: bool


def site_of(doc: Document) -> str:
    if doc.page is None:
        return doc.key.split("/", 2)[1] if doc.distractor else "texts"
    hosts = Counter(
        h.decode("ascii", "replace").lower().removeprefix("www.")
        for h in _LINK_HOST.findall(doc.page)
    )
    return hosts.most_common(1)[0][0] if hosts else f"unknown/{doc.key}"


def decode_page(page: bytes) -> str:
    try:
        text = page.decode("utf-8")
    except UnicodeDecodeError:
        text = page.decode("cp1252", errors="replace")
    return _XML_BAD.sub("", text)


def text_body(text: str) -> str:
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in text.split("\n") if p.strip())


def text_page(title: str, text: str) -> bytes:
    return (
        f"<html><head><title>{html.escape(title)}</title></head><body><article>"
        f"<h1>{html.escape(title)}</h1>{text_body(text)}</article></body></html>"
    ).encode()


def first_sentence(text: str) -> str:
    """The first sentence of the first line that reads as running text (eight words or
    more), else of the first line."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return ""
    line = next((line for line in lines if len(line.split()) >= 8), lines[0])
    match = _SENTENCE_END.search(line)
    return line[: match.start() + 1].strip() if match else line.strip()


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def main_block(page: bytes) -> str:
    """The lowest element holding the article's longest paragraphs (as the extractor finds
    them), serialised; the whole body when they cannot be placed."""
    text = page_to_text(page)
    tree = load_html(page)
    if tree is None:
        return decode_page(page)
    for bad in tree.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    probes = []
    for line in sorted(text.split("\n"), key=len, reverse=True)[:5]:
        words = _words(line)
        if len(words) >= 2 * _PROBE_WORDS:
            middle = len(words) // 2
            probes.append(" ".join(words[middle : middle + _PROBE_WORDS]))
    holders = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for part, owner in ((element.text, element), (element.tail, element.getparent())):
            if part and owner is not None:
                joined = " ".join(_words(part))
                if any(p in joined for p in probes):
                    holders.append(owner)
    body = tree.find(".//body")
    block = _common_ancestor(holders) if len(holders) >= 2 else body
    if block is None:
        block = tree
    if block.tag in ("p", "span", "font", "b", "i"):  # one paragraph: its container
        parent = block.getparent()
        block = parent if parent is not None else block
    try:
        return _XML_BAD.sub("", lxml.html.tostring(block, encoding="unicode"))
    except (etree.SerialisationError, ValueError):
        return decode_page(page)


def _common_ancestor(elements: list[etree._Element]) -> etree._Element | None:
    paths = []
    for element in elements:
        chain = [element, *element.iterancestors()]
        paths.append(list(reversed(chain)))
    common = None
    for level in zip(*paths, strict=False):
        if all(e is level[0] for e in level):
            common = level[0]
        else:
            break
    return common


def item_for(doc: Document, shape: str, link: str) -> Item:
    if doc.page is not None:
        if shape == "whole-pages":
            body, summary_only = decode_page(doc.page), False
        elif shape == "fragments":
            body, summary_only = main_block(doc.page), False
        else:
            sentence = first_sentence(page_to_text(doc.page)) or doc.title
            body, summary_only = html.escape(sentence, quote=False), True
    elif shape == "summaries":
        sentence = first_sentence(doc.text or "") or doc.title
        body, summary_only = html.escape(sentence, quote=False), True
    else:
        body, summary_only = text_body(doc.text or ""), False
    return Item(doc.key, _XML_BAD.sub("", doc.title), link, body, summary_only)


_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


def _date(position: int) -> datetime:
    return _EPOCH + timedelta(minutes=position)


def rss(title: str, items: list[tuple[int, Item]]) -> bytes:
    """RSS 2.0; a whole body in ``content:encoded``, a summary in ``description``."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{html.escape(title)}</title><link>http://eval.invalid/</link>"
    ]
    for position, item in items:
        body = html.escape(item.body, quote=False)
        parts.append(
            f"<item><title>{html.escape(item.title)}</title><link>{html.escape(item.link)}</link>"
            f'<guid isPermaLink="false">{html.escape(item.guid)}</guid>'
            f"<pubDate>{_date(position).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
            + (
                f"<description>{body}</description>"
                if item.summary_only
                else f"<content:encoded>{body}</content:encoded>"
            )
            + "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def atom(title: str, items: list[tuple[int, Item]]) -> bytes:
    """Atom 1.0; a whole body in ``content``, a summary in ``summary``."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{html.escape(title)}</title><id>urn:eval:{html.escape(title)}</id>"
        f"<updated>{_EPOCH.isoformat()}</updated>"
    ]
    for position, item in items:
        body = html.escape(item.body, quote=False)
        tag = "summary" if item.summary_only else "content"
        parts.append(
            f"<entry><title>{html.escape(item.title)}</title>"
            f'<link rel="alternate" href="{html.escape(item.link)}"/>'
            f"<id>{html.escape(item.guid)}</id><updated>{_date(position).isoformat()}</updated>"
            f'<{tag} type="html">{body}</{tag}></entry>'
        )
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")
