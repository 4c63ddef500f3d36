"""Page furniture out of a parsed page before main-text extraction.

trafilatura decides what the article is from the whole tree; navigation, share bars,
"related" lists, newsletter boxes and comment forms that sit *inside* the article's container
leak into its output. This module removes them first, by what the markup says they are
(``nav``, ``aside``, ``form``, ARIA roles, class and id words such as ``share``, ``related``,
``newsletter``), and turns layout tables (a table holding a nested table or a long text cell,
as older news sites are built) into plain blocks so a whole page is not read as one table.

A paragraph that is nothing but a link and not a sentence ("READ MORE: <a>Other story</a>",
a shouted teaser headline) points to another page and goes too.

A *prose guard* keeps any element that holds running text (two sentence-length paragraphs
or one long one, also when they are text lines between ``<br>`` tags): a site that calls its
article column ``sidebar-content`` keeps its article. "widget" is not a furniture word:
page builders and blog engines call every block a widget, the article's too.

    >>> import lxml.html
    >>> page = lxml.html.document_fromstring(
    ...     "<html><body><article><p>" + "Word " * 30 + "</p>"
    ...     "<div class='share-bar'>Share on Facebook</div>"
    ...     "<nav><a href='/'>Home</a></nav></article></body></html>")
    >>> prune_furniture(page)
    2
    >>> "Share" in page.text_content(), "Home" in page.text_content()
    (False, False)
"""

from __future__ import annotations

import re

from lxml import html

# Words in a class or id that mark furniture (matched as whole words of the attribute).
FURNITURE_WORDS = frozenset(
    "share sharing sharer social socials related recommended latest trending popular"
    " newsletter newsletters subscribe subscription signup cookie cookies consent breadcrumb"
    " breadcrumbs promo promotion advert advertisement ad ads sponsored sidebar nav navbar"
    " navigation menu masthead footer popup modal banner comments comment disqus respond tags"
    " tagcloud pagination pager toolbar cta footnotes disclaimer affiliate".split()
)
FURNITURE_TAGS = ("nav", "aside", "form", "footer", "button", "select", "dialog")
INLINE_TAGS = frozenset(
    {"a", "span", "em", "strong", "b", "i", "u", "s", "code", "small", "sup", "sub", "abbr",
     "time", "mark", "cite", "q", "font", "kbd", "var", "samp"}
)  # fmt: skip
FURNITURE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_WORDS = re.compile(r"[a-z]+", re.I)
_SENTENCE_END = re.compile(r"[.!?][\"'’”)]?\s*$")
# A paragraph of running text: this many words, ending like a sentence.
PROSE_WORDS = 25
# An element holding this many prose paragraphs is content, whatever its markup says.
PROSE_PARAGRAPHS = 2
LAYOUT_CELL_WORDS = 80
# One paragraph of running text this long is article text by itself: furniture (share
# bars, newsletter boxes, related lists) carries no paragraph of this length.
LONG_PROSE_WORDS = 50
_NESTED_BLOCKS = ("p", "div", "td", "li")
# Link text this share of an item's characters makes the item a pointer to another page.
LINK_SHARE = 0.8
# A table whose text is this much link text is a menu or a list of other pages.
TABLE_LINK_SHARE = 0.5


def _word_count(text: str) -> int:
    return len(text.split())


def _own_paragraphs(block: html.HtmlElement) -> list[str]:
    """The block's own text, cut at ``<br>`` and at nested blocks (which count for
    themselves), so a post written as text lines between ``<br>`` tags shows its paragraphs."""
    pieces: list[list[str]] = [[block.text or ""]]
    for child in block:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _NESTED_BLOCKS or tag == "br":
            pieces.append([])
        elif tag:
            pieces[-1].append(child.text_content())
        pieces[-1].append(child.tail or "")
    return [" ".join(piece) for piece in pieces]


def _block_scores(block: html.HtmlElement, limit: int) -> tuple[int, ...]:
    """What each of the block's own paragraphs counts for: ``limit`` for a long prose
    paragraph, 1 for a prose paragraph, 0 for anything else."""
    scores = []
    for own in _own_paragraphs(block):
        words = _word_count(own)
        if words >= PROSE_WORDS and _SENTENCE_END.search(own.strip()):
            scores.append(limit if words >= LONG_PROSE_WORDS else 1)
        else:
            scores.append(0)
    return tuple(scores)


def _prose_paragraphs(
    element: html.HtmlElement,
    limit: int,
    cache: dict[html.HtmlElement, tuple[int, ...]] | None = None,
) -> int:
    """Prose paragraphs in ``element``, counted up to ``limit``. ``cache`` keeps each
    block's scores for the next furniture element around it (nested furniture reads the same
    blocks again; the walk never changes a block it has yet to leave)."""
    count = 0
    for block in element.iter(*_NESTED_BLOCKS):
        scores = cache.get(block) if cache is not None else None
        if scores is None:
            scores = _block_scores(block, limit)
            if cache is not None:
                cache[block] = scores
        for score in scores:
            count += score
            if count >= limit:
                return count
    return count


def _is_furniture(element: html.HtmlElement) -> bool:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in FURNITURE_TAGS:
        return True
    if tag in INLINE_TAGS:
        # A link or styled run inside a paragraph is part of its sentence whatever its
        # class says ("external-popup" links, "hljs-comment" in code).
        return False
    if (element.get("role") or "").lower() in FURNITURE_ROLES:
        return True
    cls, ident = element.get("class"), element.get("id")
    if not cls and not ident:  # most elements: no words to look at
        return False
    names = f"{cls or ''} {ident or ''}".lower()
    return any(word in FURNITURE_WORDS for word in _WORDS.findall(names.replace("_", " ")))


def _link_share(element: html.HtmlElement) -> float:
    """Share of the element's visible characters that are link text."""
    total = len("".join(element.text_content().split()))
    if not total:
        return 0.0
    linked = sum(len("".join(a.text_content().split())) for a in element.iter("a"))
    return linked / total


def _is_link_paragraph(element: html.HtmlElement) -> bool:
    """A paragraph that is nothing but a link ("READ MORE: <a>...</a>" counts too) and does
    not read as a sentence: a teaser for another page. A linked sentence ("The report is
    available from the agency.") stays."""
    if element.tag != "p" or next(element.iter("a"), None) is None:
        return False  # no link: a share of 0
    if _link_share(element) < LINK_SHARE:
        return False
    if element.xpath("parent::li/parent::ol"):
        return False
    return not _SENTENCE_END.search(element.text_content().strip())


def _is_link_table(element: html.HtmlElement) -> bool:
    """A table left after unwrapping that is not data but a strip of links: a menu, a list
    of other stories, sponsored links."""
    if element.tag != "table":
        return False
    links = sum(1 for _ in element.iter("a"))
    return links >= 2 and _link_share(element) >= TABLE_LINK_SHARE


_TABLE_PARTS = frozenset({"tbody", "thead", "tfoot", "tr", "td", "th"})


def unwrap_layout_tables(root: html.HtmlElement) -> int:
    """Turn layout tables into ``div`` blocks; returns how many tables changed."""
    changed = 0
    for table in list(root.iter("table")):
        cells = table.xpath(".//td|.//th")
        layout = bool(table.xpath(".//table")) or any(
            _word_count(cell.text_content()) >= LAYOUT_CELL_WORDS for cell in cells
        )
        if not layout:
            continue
        for element in [table, *_own_table_parts(table)]:
            element.tag = "div"
        changed += 1
    return changed


def _own_table_parts(table: html.HtmlElement) -> list[html.HtmlElement]:
    """The rows, cells and row groups whose nearest table is ``table``: one walk of its
    subtree that does not enter nested tables (they decide for themselves)."""
    own = []
    stack = list(table)
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag == "table":
            continue
        if tag in _TABLE_PARTS:
            own.append(element)
        stack.extend(element)
    return own


# The elements a rule can drop: furniture tags, anything with a role, class or id (the
# furniture words), paragraphs (link paragraphs) and tables (link tables). Any other element
# is kept whatever it holds: the walk only passes through it.
_CANDIDATE_TAGS = frozenset((*FURNITURE_TAGS, "p", "table"))


def prune_furniture(root: html.HtmlElement) -> int:
    """Drop furniture elements (in place) unless they hold prose; returns how many."""
    dropped = 0
    body = root.find("body")
    scores: dict[html.HtmlElement, tuple[int, ...]] = {}
    stack = list(reversed(body if body is not None else root))
    while stack:  # depth first, not entering what was dropped
        element = stack.pop()
        tag = element.tag
        if not isinstance(tag, str):
            continue
        get = element.get
        if not (tag in _CANDIDATE_TAGS or get("class") or get("id") or get("role")):
            stack.extend(reversed(element))
            continue
        if (
            tag not in ("main", "article")
            and _is_furniture(element)
            and _prose_paragraphs(element, PROSE_PARAGRAPHS, scores) < PROSE_PARAGRAPHS
        ):
            element.drop_tree()
            dropped += 1
            continue
        if _is_link_paragraph(element) or _is_link_table(element):
            element.drop_tree()
            dropped += 1
            continue
        stack.extend(reversed(element))
    return dropped


def prepare_page(root: html.HtmlElement) -> html.HtmlElement:
    """The page as extraction should see it: layout tables unwrapped, furniture out."""
    unwrap_layout_tables(root)
    prune_furniture(root)
    return root
