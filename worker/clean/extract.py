"""HTML to main text with trafilatura.

Two entry points, because the input differs:

* ``page_to_text``: a whole web page (site chrome, menus, comments) - trafilatura's main
  content extraction decides what the article is.
* ``fragment_to_text``: the body a feed carries in ``content:encoded``/``<content>``; it *is*
  the article, so extraction runs in recall mode and falls back to a plain block-aware
  conversion when trafilatura drops more than a sliver of it (short paragraphs).

    >>> fragment_to_text("<p>First paragraph.</p><p>Second <b>one</b>.</p>")
    'First paragraph.\\nSecond one.'
"""

from __future__ import annotations

import logging
import re

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.utils import load_html

from worker.clean.furniture import prepare_page
from worker.clean.headline import drop_headline, page_headlines

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "tr", "section", "article", "header", "footer", "figure", "figcaption",
    "dd", "dt", "dl", "hr", "aside", "main", "nav", "address",
}  # fmt: skip
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
# trafilatura may keep this share of a fragment's words and still be trusted with it.
_FRAGMENT_MIN_KEEP = 0.9


def normalize_lines(text: str) -> str:
    """Collapse runs of spaces, strip each line, drop empty lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_plain_text(html: str) -> str:
    """Every text node of ``html``, one line per block element; scripts and styles dropped."""
    if not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return normalize_lines(re.sub(r"<[^>]+>", " ", html))
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag.lower() != "br":
                element.text = "\n" + (element.text or "")
    return normalize_lines(root.text_content())


def page_to_text(
    html: str | bytes, url: str | None = None, *, favor_precision: bool = False
) -> str:
    """Main text of a whole web page, paragraphs on their own lines; ``""`` if none found."""
    try:
        root = load_html(html)
        if root is None:
            return ""
        headlines = page_headlines(root)
        text = trafilatura.extract(
            prepare_page(root),
            url=url,
            include_comments=False,
            include_tables=True,
            favor_precision=favor_precision,
            deduplicate=False,
        )
    except Exception:  # trafilatura raises assorted parser errors on hostile markup
        return ""
    return drop_headline(normalize_lines(text or ""), headlines)


_WORD = re.compile(r"\w+")


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def fragment_to_text(html: str) -> str:
    """Text of an article body given as an HTML fragment, every paragraph kept."""
    plain = html_to_plain_text(html)
    if not plain:
        return ""
    try:
        extracted = trafilatura.extract(
            f"<html><body><article>{html}</article></body></html>",
            include_comments=False,
            include_tables=True,
            favor_recall=True,
            deduplicate=False,
        )
    except Exception:
        extracted = None
    extracted = normalize_lines(extracted or "")
    kept, total = _word_count(extracted), _word_count(plain)
    if kept < _FRAGMENT_MIN_KEEP * total or _WORD.findall(extracted) == _WORD.findall(plain):
        # Lost too much, or removed nothing: the plain conversion keeps inline markup
        # (<b>, <a>) inside its line, where trafilatura sometimes splits it.
        return plain
    return extracted
