"""Feed links announced by an HTML page (``<link rel="alternate" type="application/rss+xml">``).

>>> discover_feed_links(b'''<html><head>
... <link rel="alternate" type="application/rss+xml" href="/rss.xml">
... <link rel="alternate" type="application/atom+xml" href="https://ex.com/atom">
... <link rel="stylesheet" href="/s.css"></head></html>''', "https://ex.com/news/")
['https://ex.com/rss.xml', 'https://ex.com/atom']
"""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.etree
import lxml.html

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/xml",
        "text/xml",
    }
)


def discover_feed_links(html: bytes, base_url: str) -> list[str]:
    """Absolute feed URLs the page links to, in page order, without duplicates; ``[]`` for
    anything that is not parseable HTML."""
    try:
        root = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = root.find(".//base")
    if base is not None and base.get("href"):
        base_url = urljoin(base_url, base.get("href", ""))
    found: dict[str, None] = {}
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            url = urljoin(base_url, href)
            if url.lower().startswith(("http://", "https://")):
                found[url] = None
    return list(found)
