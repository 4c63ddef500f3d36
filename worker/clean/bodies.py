"""The body a feed carries: a whole page, a fragment with a page's rails, or the article.

Some feeds put the whole web page in ``content:encoded``; others the page's main block,
menus, rails and all. Read as an article fragment (every line kept), such a body stores the
site's navigation, login forms and headline lists as text, and two pages of one site then
look alike for their chrome. ``body_to_text`` reads those as pages (``page_to_text``) and
the rest as fragments (``fragment_to_text``), and first takes out the chrome feed bodies
themselves carry (``strip_feed_chrome``): tracking pixels, share and flare links,
related-post lists, "The post X appeared first on Y", "Continue reading" tails.

The test is the markup's structure, never the site's wording:

* a document: the body as the feed gave it opens an ``<html>``, ``<head>`` or ``<body>``;
* a page's chrome: ``MIN_LINK_LINES`` lines or more that are links and nothing else
  (menus, headline lists), holding ``MIN_LINK_SHARE`` of the body's words or more; or
  ``nav``/``header``/``footer``/``aside``/``form`` blocks holding ``MIN_BLOCK_LINKS`` links
  or more between them. An article's inline links sit inside sentences, and the few lists
  of links an article body carries are the feed chrome taken out first.

    >>> body_kind("<p>Rain fell. <a href='http://a.example/x'>More</a> said.</p>")
    'fragment'
    >>> body_kind("<nav><a href='/'>Home</a> <a href='/a'>A</a> <a href='/b'>B</a></nav><p>x</p>")
    'page'
    >>> body_kind("", "<!DOCTYPE html><html><body><p>Rain.</p></body></html>")
    'page'
"""

from __future__ import annotations

import html
import re
from typing import Literal

import lxml.html
from lxml import etree

from worker.clean.extract import _BLOCK_TAGS, fragment_to_text, page_to_text, second_opinion

# Tuned on the even-named half of spotsigs-dev's clusters (fragments shape), see
# docs/decisions/feed-bodies-as-pages.md.
MIN_LINK_LINES = 10
MIN_LINK_SHARE = 0.1
MIN_BLOCK_LINKS = 3

_DOCUMENT = re.compile(r"<(?:html|head|body)\b", re.I)
_DOCUMENT_HEAD = 4096  # the document tags come first; a body never needs a scan past this
_CHROME_BLOCKS = ("nav", "header", "footer", "aside", "form")
# Cheap look before any parse: a body with none of these has no link, image or block of
# a page (plain paragraphs, the common case) and goes to the fragment path untouched.
_MAYBE_CHROME = re.compile(r"<(?:a|img|nav|header|footer|aside|form)\b|appeared first on", re.I)
_WORD = re.compile(r"\w+")
_OPEN, _CLOSE = "\ue001", "\ue002"  # link text markers (private use: never in markup)
_LINK_TEXT = re.compile(f"{_OPEN}[^{_OPEN}{_CLOSE}]*{_CLOSE}?")

# Share endpoints of the big networks and feed flare: the address says what the link is.
_SHARE_HREF = re.compile(
    r"(?:facebook\.com/(?:sharer|share|dialog/(?:share|feed))|twitter\.com/(?:intent|share|home\?status)"
    r"|//x\.com/(?:intent|share)|linkedin\.com/(?:sharearticle|sharing|cws/share)"
    r"|pinterest\.[a-z.]+/pin/create|reddit\.com/submit|tumblr\.com/(?:share|widgets/share)"
    r"|plus\.google\.com/share|getpocket\.com/(?:save|edit)|whatsapp\.com/send|wa\.me/\?"
    r"|t\.me/share|digg\.com/submit|del\.icio\.us/post|stumbleupon\.com/submit"
    r"|addtoany\.com/(?:share|add_to)|sharethis\.com|/~ff/|/~a/|^mailto:\?)",
    re.I,
)
_PIXEL_SRC = re.compile(r"/~r/|[?&/](?:pixel|beacon|tracking)\b", re.I)
_APPEARED_FIRST = re.compile(r"the post .{1,300} appeared first on .{1,200}", re.I | re.S)
_CONTINUE = re.compile(
    r"(?:continue|keep) reading\b.*|read (?:more|on|the (?:full|rest|whole)\b).*"
    r"|(?:full|whole) (?:story|article|post)\b.*|\[?(?:\.\.\.|…)\]?\s*(?:more|read more)?\W*",
    re.I | re.S,
)
# Words a label or a leftover may keep ("Share this:", "Related posts", "→").
_LABEL_WORDS = 6


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _parse(html: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return None


def _drop(element: etree._Element) -> None:
    if element.getparent() is not None:
        element.drop_tree()


def _block_of(element: etree._Element) -> etree._Element | None:
    for ancestor in element.iterancestors():
        if isinstance(ancestor.tag, str) and ancestor.tag in _BLOCK_TAGS:
            return ancestor
    return None


def _drop_links(links: list[etree._Element]) -> None:
    """Drop ``links``, and each block they leave with no more than a label's words."""
    blocks = {id(b): b for link in links if (b := _block_of(link)) is not None}
    for link in links:
        _drop(link)
    for block in blocks.values():
        if block.getparent() is not None and _words(block.text_content()) <= _LABEL_WORDS:
            _drop(block)


def _is_pixel(img: etree._Element) -> bool:
    sizes = [img.get("width", ""), img.get("height", "")]
    tiny = [s.strip().rstrip("px") in ("0", "1") for s in sizes if s]
    return (bool(tiny) and all(tiny)) or bool(_PIXEL_SRC.search(img.get("src", "")))


def _link_only(element: etree._Element) -> bool:
    """Every word of ``element`` is inside a link, and it has one."""
    link_words = sum(_words(a.text_content()) for a in element.iter("a"))
    return link_words > 0 and link_words >= _words(element.text_content())


def _words_after(element: etree._Element) -> int:
    """Words after ``element`` in document order."""
    total, node = 0, element
    while node is not None and node.getparent() is not None:
        for sibling in node.itersiblings():
            total += _words(sibling.text_content())
        total += _words(node.tail or "")
        node = node.getparent()
    return total


def _related_lists(root: etree._Element) -> None:
    """A list of nothing but links at the end of the body, and the short label before it."""
    for lst in list(root.iter("ul", "ol")):
        items = [li for li in lst if isinstance(li.tag, str) and li.tag == "li"]
        if len(items) < 2 or not all(_link_only(li) for li in items) or _words_after(lst) > 0:
            continue
        label = lst.getprevious()
        if label is not None and 0 < _words(label.text_content()) <= _LABEL_WORDS:
            _drop(label)
        parent = lst.getparent()
        _drop(lst)
        # A container left with just the label of the list ("Related posts:") goes too.
        if (
            parent is not None
            and parent is not root
            and _words(parent.text_content()) <= _LABEL_WORDS
        ):
            _drop(parent)


def _last_blocks(root: etree._Element) -> list[etree._Element]:
    """Innermost blocks with text, last first."""
    blocks = [
        e
        for e in root.iter()
        if isinstance(e.tag, str) and e.tag in _BLOCK_TAGS and e is not root
        and not any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in e)
        and _words(e.text_content())
    ]  # fmt: skip
    return blocks[::-1]


def _tails(root: etree._Element) -> None:
    """ "The post ... appeared first on ..." and "Continue reading" at the end."""
    for block in _last_blocks(root)[:3]:
        text = " ".join(block.text_content().split())
        if _APPEARED_FIRST.fullmatch(text):
            _drop(block)
            continue
        links = [
            a for a in block.iter("a") if _CONTINUE.fullmatch(" ".join(a.text_content().split()))
        ]
        if links and links[-1] is list(block.iter("a"))[-1]:
            _drop_links(links[-1:])
            break
        if _words(text) <= _LABEL_WORDS and _CONTINUE.fullmatch(text):
            _drop(block)
            continue
        break


def strip_feed_chrome(root: etree._Element) -> bool:
    """Take feed-body chrome out of ``root`` in place; whether anything went."""
    before = etree.tostring(root)
    for img in list(root.iter("img")):
        if _is_pixel(img):
            parent = img.getparent()
            _drop(img)
            if parent is not None and parent.tag == "a" and not _words(parent.text_content()):
                _drop(parent)
    _drop_links([a for a in root.iter("a") if _SHARE_HREF.search(a.get("href", ""))])
    _related_lists(root)
    _tails(root)
    return etree.tostring(root) != before


def _link_lines(root: etree._Element) -> tuple[int, int, int]:
    """``(lines that are only links, their words, all words)`` of the body as text."""
    root = etree.fromstring(etree.tostring(root), lxml.html.HTMLParser())  # a copy to mark up
    for a in root.iter("a"):
        a.text = _OPEN + (a.text or "")
        a.tail = _CLOSE + (a.tail or "")
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag != "br":
                element.text = "\n" + (element.text or "")
    lines = link_words = total = 0
    for line in root.text_content().split("\n"):
        inside = _words(" ".join(_LINK_TEXT.findall(line)))
        outside = _words(_LINK_TEXT.sub(" ", line))
        total += inside + outside
        if inside and not outside:
            lines += 1
            link_words += inside
    return lines, link_words, total


def _page_structure(root: etree._Element) -> bool:
    blocks = [e for e in root.iter(*_CHROME_BLOCKS)]
    if sum(len(list(b.iter("a"))) for b in blocks) >= MIN_BLOCK_LINKS:
        return True
    lines, link_words, total = _link_lines(root)
    return lines >= MIN_LINK_LINES and link_words >= MIN_LINK_SHARE * max(total, 1)


def body_kind(content_html: str, source_html: str = "") -> Literal["page", "fragment"]:
    """Whether a feed body reads as a page or as an article fragment (module docstring)."""
    if source_html and _DOCUMENT.search(source_html, 0, _DOCUMENT_HEAD):
        return "page"
    if not _MAYBE_CHROME.search(content_html):
        return "fragment"
    root = _parse(content_html)
    if root is None:
        return "fragment"
    strip_feed_chrome(root)
    return "page" if _page_structure(root) else "fragment"


def body_to_text(content_html: str, source_html: str = "", url: str | None = None) -> str:
    """Main text of a feed body: ``content_html`` sanitised, ``source_html`` as the feed
    gave it (``""``: unknown)."""
    if source_html and _DOCUMENT.search(source_html, 0, _DOCUMENT_HEAD):
        return _as_page(content_html, source_html, url)
    if not _MAYBE_CHROME.search(content_html):
        return fragment_to_text(content_html)
    root = _parse(content_html)
    if root is None:
        return fragment_to_text(content_html)
    changed = strip_feed_chrome(root)
    body = _inner_html(root) if changed else content_html
    if _page_structure(root):
        return _as_page(body, source_html, url)
    return fragment_to_text(body)


def _as_page(content_html: str, source_html: str, url: str | None) -> str:
    """The body read as a page; read as a fragment instead when the page reading found
    no article and the fragment reading at least twice its running text (nothing lost)."""
    text = page_to_text(source_html or content_html, url)
    return second_opinion(text, lambda: fragment_to_text(content_html))


def _inner_html(root: etree._Element) -> str:
    parts = [html.escape(root.text or "", quote=False)]
    parts += [lxml.html.tostring(child, encoding="unicode") for child in root]
    return "".join(parts)
