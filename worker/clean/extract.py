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
from collections.abc import Callable

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.utils import load_html

from worker.clean.furniture import prepare_page
from worker.clean.headline import drop_headline, drop_own_address, page_addresses, page_headlines
from worker.clean.pagelines import PageLines, shipped

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "tr", "section", "article", "header", "footer", "figure", "figcaption",
    "dd", "dt", "dl", "hr", "aside", "main", "nav", "address",
}  # fmt: skip
# A run of spacing becomes one space; a single plain space is left alone (most of them:
# replacing each by itself was most of the cost).
_SPACES = re.compile(
    r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]{2,}|[\t\u00a0\u2000-\u200b\u202f\u205f\u3000]"
)
# trafilatura may keep this share of a fragment's words and still be trusted with it.
_FRAGMENT_MIN_KEEP = 0.9


def normalize_lines(text: str) -> str:
    """Collapse runs of spaces, strip each line, drop empty lines."""
    # Spacing never spans a line break, so one pass over the whole text does every line.
    lines = (line.strip() for line in _SPACES.sub(" ", text.replace("\r", "\n")).split("\n"))
    return "\n".join(line for line in lines if line)


def _fragment_root(html: str) -> lxml.html.HtmlElement | None:
    """``html`` parsed under a ``div``, scripts and styles dropped; ``None`` if unparseable."""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    return root


def _block_text(root: lxml.html.HtmlElement) -> str:
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag.lower() != "br":
                element.text = "\n" + (element.text or "")
    return normalize_lines(root.text_content())


def html_to_plain_text(html: str) -> str:
    """Every text node of ``html``, one line per block element; scripts and styles dropped."""
    if not html.strip():
        return ""
    root = _fragment_root(html)
    if root is None:
        return normalize_lines(re.sub(r"<[^>]+>", " ", html))
    return _block_text(root)


def page_to_text(
    html: str | bytes,
    url: str | None = None,
    *,
    favor_precision: bool = False,
    lines: PageLines | bool = True,
) -> str:
    """Main text of a whole web page, paragraphs on their own lines; ``""`` if none found.
    ``lines``: the line model that then takes chrome lines out (``pagelines``): the shipped
    one (``True``), another, or none (``False``)."""
    try:
        root = load_html(html)
        if root is None:
            return ""
        headlines = page_headlines(root)
        addresses = page_addresses(root, url)
        text = _extract(prepare_page(root), url, favor_precision=favor_precision) or ""
        if not favor_precision:
            text = second_opinion(text, lambda: _extract_recall(html, url))
    except Exception:  # trafilatura raises assorted parser errors on hostile markup
        return ""
    text = drop_own_address(drop_headline(normalize_lines(text), headlines), addresses)
    model = shipped() if lines is True else lines
    return model.clean(text, url) if model else text


def _extract(
    root: lxml.html.HtmlElement,
    url: str | None,
    *,
    favor_precision: bool = False,
    favor_recall: bool = False,
) -> str | None:
    return trafilatura.extract(
        root,
        url=url,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        favor_precision=favor_precision,
        favor_recall=favor_recall,
    )


def _extract_recall(html: str | bytes, url: str | None) -> str:
    """Recall-mode extraction of a page the precision pass already read; ``""`` if it
    fails (the precision pass's text then stands)."""
    try:
        root = load_html(html)  # parsed again: extraction prunes the tree it is given
        if root is None:
            return ""
        return _extract(prepare_page(root), url, favor_recall=True) or ""
    except Exception:  # the same assorted parser errors as the first pass
        return ""


# Below this many words of running text, the extractor most likely took a menu, a footer or
# a teaser block for the article (9 of the 1,544 spotsigs-dev pages, each of them a miss).
MIN_PROSE_WORDS = 50
_PROSE_LINE_WORDS = 8


def prose_words(text: str) -> int:
    """Words in lines that read as running text: eight words or more, most of them lower
    case, no ``|`` or ``•`` separators (menus, bylines, breadcrumbs). Hard-wrapped
    paragraphs count too: their lines break mid-sentence.

    >>> prose_words("Home | News | Sport\\nThe storm reached the coast late on Monday, they said.")
    10
    >>> prose_words("Latest Headlines From Around The World Today")
    0
    """
    total = 0
    for line in text.split("\n"):
        words = line.split()
        if len(words) < _PROSE_LINE_WORDS or "|" in line or "\u2022" in line:
            continue
        lower = sum(1 for word in words if word[0].islower())
        if 2 * lower >= len(words):
            total += len(words)
    return total


def second_opinion(text: str, recall: Callable[[], str]) -> str:
    """``text``, or the recall-mode extraction (``recall()``, only asked when needed) when
    ``text`` holds almost no running text and the other holds at least twice as much.

    Precision mode misses the article on some table-built and portal pages and returns a
    block of site chrome instead; recall mode then usually finds it (with some chrome,
    which the line rules take out). A page that really has little prose keeps its text:
    recall must find ``MIN_PROSE_WORDS`` words of it and double what precision found.
    """
    found = prose_words(text)
    if found >= MIN_PROSE_WORDS:
        return text
    other = recall()
    return other if prose_words(other) >= max(2 * found, MIN_PROSE_WORDS) else text


_WORD = re.compile(r"\w+")


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


# Paragraphs and the inline markup that only styles their words.
_PROSE_TAGS = frozenset(
    {"div", "p", "br", "b", "strong", "i", "em", "u", "s", "span", "sub", "sup", "small", "mark"}
)


def _plain_prose(root: lxml.html.HtmlElement, text: str) -> bool:
    """Whether trafilatura would keep ``root`` word for word: paragraphs of styled text
    only (no links, lists, tables, figures or headings, where its rules may cut), no
    paragraph given twice (it drops repeats) and no ``&`` (it decodes an entity-like
    text a second time)."""
    if "&" in text:
        return False
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag.lower() not in _PROSE_TAGS:
            return False
        if element is not root and element.tag.lower() == "div":
            return False  # only the wrapper made by the parser
    lines = text.split("\n")
    return len(set(lines)) == len(lines)


# A body that is nothing but bare paragraphs of plain text: no markup inside them, no
# character reference, and only characters the HTML parser passes through unchanged (not
# CR, other control characters, byte order marks, surrogates or non-characters, which it
# may drop or replace). For such a body the parsed tree is known without parsing: one ``p`` per
# paragraph under the wrapper, its text the characters between the tags.
_BARE_PARAGRAPHS = re.compile(
    r"(?:<p>[^<>&\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufeff\ufffe\uffff]*</p>)+"
)
# Longer bodies are parsed (the parser's limits on a text node are far above this).
_BARE_MAX_CHARS = 1_000_000


def _bare_paragraphs(html: str) -> list[str] | None:
    """The paragraph texts of a body ``_BARE_PARAGRAPHS`` matches, else ``None``."""
    if len(html) > _BARE_MAX_CHARS or _BARE_PARAGRAPHS.fullmatch(html) is None:
        return None
    return html[3:-4].split("</p><p>")


def fragment_to_text(html: str) -> str:
    """Text of an article body given as an HTML fragment, every paragraph kept."""
    if not html.strip():
        return ""
    paragraphs = _bare_paragraphs(html)
    root = None
    if paragraphs is not None:
        # What _block_text makes of the parsed body: each paragraph on its own line.
        plain = normalize_lines("\n".join(paragraphs))
        lines = plain.split("\n")
        if plain and len(set(lines)) == len(lines):  # as _plain_prose decides for such a tree
            return plain
    else:
        root = _fragment_root(html)
        plain = (
            normalize_lines(re.sub(r"<[^>]+>", " ", html)) if root is None else _block_text(root)
        )
    if not plain:
        return ""
    if root is not None and _plain_prose(root, plain):
        # The feed's body is the article, and trafilatura would return these very words;
        # its run was most of the cost of a text-carrying feed's entry.
        return plain
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
