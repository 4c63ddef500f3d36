"""The headline out of a page's main text.

A page's headline is its title, which the feed entry already carries and the store keeps
apart; extraction often repeats it as the text's first line. Republishers rewrite
headlines, so leaving it in the text only adds words that differ between copies of one
story, and the benchmarks' gold texts start after it.

    >>> import lxml.html
    >>> page = lxml.html.document_fromstring(
    ...     "<html><head><title>Storm hits coast | The Gazette</title></head><body></body></html>")
    >>> drop_headline("Storm hits coast\\nRain fell all day.", page_headlines(page))
    'Rain fell all day.'
"""

from __future__ import annotations

import re

from lxml import html

from worker.clean.learned import line_key

# What sites put between the headline and their own name in <title>.
_TITLE_SEPARATOR = re.compile(r"\s+[|\-–—·»]\s+")

# A first line longer than this is a paragraph, whatever the title says.
HEADLINE_MAX_WORDS = 30
# The headline is looked for among this many first lines.
HEADLINE_LINES = 3


def page_headlines(root: html.HtmlElement) -> set[str]:
    """Keys of what the page names as its title: ``og:title``, ``<title>``, the first
    ``h1``, and the parts of each between separators."""
    titles = [
        str(t) for t in root.xpath("//meta[@property='og:title' or @name='twitter:title']/@content")
    ]
    titles += [e.text_content() for e in root.xpath("(//head/title)[1]|(//h1)[1]")]
    parts = [part for t in titles for part in _TITLE_SEPARATOR.split(t)]
    return {key for key in map(line_key, titles + parts) if key}


_URL = re.compile(r"(?:https?://)?(?:www\.)?([^\s?#]+?)/?(?:[?#]\S*)?", re.I)


def _address_key(address: str) -> str:
    match = _URL.fullmatch(address.strip())
    return match.group(1).lower() if match else ""


def page_addresses(root: html.HtmlElement, url: str | None) -> set[str]:
    """Keys of the page's own address: the one it was fetched from, ``og:url`` and the
    canonical link (scheme, ``www.``, query and a trailing slash folded)."""
    found = [str(u) for u in root.xpath("//meta[@property='og:url']/@content")]
    found += [str(u) for u in root.xpath("//link[@rel='canonical']/@href")]
    keys = {_address_key(u) for u in [*found, url or ""]}
    return {k for k in keys if "/" in k}  # a bare host name is no article's address


def drop_own_address(text: str, addresses: set[str]) -> str:
    """``text`` without lines that are nothing but the page's own address (a share or
    print widget writes it out)."""
    if not addresses:
        return text
    lines = text.split("\n")
    return "\n".join(
        line for line in lines if " " in line.strip() or _address_key(line) not in addresses
    )


def drop_headline(text: str, headlines: set[str]) -> str:
    """``text`` without the page's title when one of its first lines is that title, or the
    part of it before or after a separator ("Storm hits coast | The Gazette"); a kicker,
    a dateline or the page's address may stand above it."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:HEADLINE_LINES]):
        key = line_key(line)
        if key and len(key.split()) <= HEADLINE_MAX_WORDS and key in headlines:
            return "\n".join(lines[:i] + lines[i + 1 :])
    return text
