"""Parse feed bytes (RSS 0.9x/1.0/2.0, RDF, Atom) into ``Entry`` records with feedparser.

>>> feed = parse_feed(b'''<rss version="2.0"><channel><title>T</title>
... <item><title>Hello</title><link>http://ex.com/a?utm_source=rss</link>
... <description>Hi there</description></item></channel></rss>''', url="http://ex.com/rss")
>>> entry = feed.entries[0]
>>> entry.title, entry.url, entry.guid
('Hello', 'http://ex.com/a', 'http://ex.com/a')
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.sanitizer import _sanitize_html

from worker.errors import ParseError
from worker.reader.discovery import discover_feed_links
from worker.reader.sanitizer import plain_text, sanitize_html
from worker.reader.urlcleaner import canonical_url

_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html)", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DOCTYPE_SUBSET = re.compile(rb"(<!DOCTYPE\s[^\[>]*)\[(.*?)\]\s*>", re.I | re.S)
_CHAR_ENTITY = re.compile(rb'<!ENTITY\s+\w+\s+"&#\w+;"\s*>')
_XML_DECL_ENCODING = re.compile(rb"""^(<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""")
# Feeds that carry the whole article tend to exceed this many characters of text; a
# "summary" shorter than this is a teaser (full_text = "auto" then fetches the page).
FULL_CONTENT_MIN_CHARS = 600


@dataclass(frozen=True)
class Entry:
    guid: str
    url: str  # canonical; "" when the entry has no usable link
    link: str  # as given by the feed (resolved), for fetching
    title: str
    author: str | None
    published: datetime | None
    content_html: str  # sanitised; the fullest body the feed carries (content or summary)
    has_full_content: bool
    # The same body as the feed gave it, before any sanitising: read by extraction only
    # (a whole page keeps its <html>, its class names and its scripts' text, which tell the
    # extractor what is chrome), never stored or shown. "" when the entry was not parsed
    # from a feed; extraction then reads ``content_html``.
    source_html: str = field(default="", compare=False, repr=False)


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    ttl_seconds: float | None = None
    warnings: list[str] = field(default_factory=list)


def _text_length(html: str) -> int:
    return len(_TAG.sub("", html).strip())


def _to_datetime(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")


def _sanitized(value: str, detail: Mapping[str, Any] | None) -> str:
    """``value`` as feedparser's own ``sanitize_html`` hands it back: markup of an HTML
    type through its sanitiser, anything else unchanged. Feeds are parsed without it so
    the body as given stays at hand (``Entry.source_html``); this gives the stored body
    the very bytes it had before."""
    kind = str((detail or {}).get("type") or "text/html").lower()
    if not value or kind not in _HTML_TYPES:
        return value
    return str(_sanitize_html(value, "utf-8", kind))


def _summary_detail(raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
    # A summary feedparser made from the content has no detail of its own: the content's.
    return raw.get("summary_detail") or next(iter(raw.get("content") or []), None)


def _best_body(raw: Mapping[str, Any]) -> tuple[str, str, bool]:
    """``(sanitised body, body as given, full)``: the fullest of the entry's contents and
    its summary."""
    contents = [
        (_sanitized(c.get("value", ""), c), c.get("value", ""))
        for c in raw.get("content", []) or []
        if c.get("value")
    ]
    summary = raw.get("summary", "") or ""
    best = max(contents, key=lambda c: _text_length(c[0])) if contents else ("", "")
    clean_summary = _sanitized(summary, _summary_detail(raw))
    if _text_length(clean_summary) > _text_length(best[0]):
        best = (clean_summary, summary)
    full = bool(contents) or _text_length(best[0]) >= FULL_CONTENT_MIN_CHARS
    return best[0], best[1], full and _text_length(best[0]) > 0


def _guid(raw: Mapping[str, Any], url: str, title: str, published: datetime | None) -> str:
    guid = str(raw.get("id") or "").strip()
    if guid:
        return guid[:1000]
    if url:
        return url
    # No id and no link: the entry's own text is its identity.
    # (The summary as feedparser's sanitiser gives it: identities made before the feeds
    # were parsed without it stay the same.)
    summary = _sanitized(raw.get("summary", "") or "", _summary_detail(raw))
    basis = "\x1f".join([title, published.isoformat() if published else "", summary])
    return "sha1:" + hashlib.sha1(basis.encode("utf-8", "replace")).hexdigest()


def _wide_codec(content: bytes) -> str | None:
    for bom, codec in _WIDE_BOMS:
        if content.startswith(bom):
            return codec
    if b"\x00" in content[:64]:  # no BOM, but "<\x00?\x00x\x00..." is UTF-16 all the same
        return "utf-16-le" if content[1:2] == b"\x00" else "utf-16-be"
    return None


def _as_utf8(content: bytes) -> bytes:
    """UTF-16/32 documents as UTF-8, so the DTD check below sees their markup; anything
    else unchanged (the very same object)."""
    codec = _wide_codec(content)
    if codec is None:
        return content
    try:
        text = content.decode(codec)
    except UnicodeDecodeError:
        return content
    return _XML_DECL_ENCODING.sub(rb'\1"utf-8"', text.encode("utf-8"), count=1)


def defuse_dtd(content: bytes) -> bytes:
    """Drop the document's internal DTD subset except single-character entities (run on
    UTF-8 or ASCII-compatible bytes: ``_as_utf8`` first).

    Entity declarations are how XML bombs (nested or quadratic expansion) and external
    entities (``SYSTEM "file:///..."``) work; feedparser filters them only when each
    declaration starts a line, and expat's own amplification limit still lets a 10 MB
    document expand to a gigabyte. Character entities (``&#169;``) cannot amplify.

    >>> defuse_dtd(b'<!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY c "&#169;">]><rss/>')
    b'<!DOCTYPE rss [<!ENTITY c "&#169;">]><rss/>'
    """
    match = _DOCTYPE_SUBSET.search(content, 0, 65536)
    if not match:
        return content
    keep = b"".join(_CHAR_ENTITY.findall(match.group(2)))
    return content[: match.start()] + match.group(1) + b"[" + keep + b"]>" + content[match.end() :]


def parse_feed(
    content: bytes, *, url: str = "", headers: Mapping[str, str] | None = None
) -> ParsedFeed:
    """Parse ``content``; raises ``ParseError`` for something that is not a feed."""
    if not content.strip():
        raise ParseError(f"{url}: empty response body")
    if _HTML_START.match(content[:2048]):
        links = discover_feed_links(content, url)
        hint = f"; the page links to {', '.join(links[:3])}" if links else ""
        raise ParseError(f"{url}: got an HTML page, not a feed (check the feed URL){hint}")
    # No content-location: feedparser would "resolve" relative GUIDs into URLs, changing
    # identities; links are resolved below instead.
    response_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-location"}
    utf8 = _as_utf8(content)
    if utf8 is not content:  # transcoded: whatever charset the server declared is now wrong
        ctype = response_headers.pop("content-type", response_headers.pop("Content-Type", ""))
        response_headers["content-type"] = ctype.split(";")[0] + "; charset=utf-8"
    content = defuse_dtd(utf8)
    parsed = feedparser.parse(content, response_headers=response_headers, sanitize_html=False)
    warnings = []
    if parsed.get("bozo"):
        warnings.append(f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}")
    if not parsed.get("version") and not parsed.entries:
        reason = warnings[0] if warnings else "no RSS, Atom or RDF root element"
        raise ParseError(f"{url}: not a feed: {reason}")

    entries: list[Entry] = []
    for raw in parsed.entries:
        link = str(raw.get("link") or "").strip()
        if link and url:
            link = urljoin(url, link)
        if not link.lower().startswith(("http://", "https://")):
            link = ""  # javascript:, data:, mailto:... are nothing to fetch or show
        canonical = canonical_url(link, base=url or None)
        title = plain_text(_sanitized(str(raw.get("title") or ""), raw.get("title_detail")))
        published = _to_datetime(raw.get("published_parsed") or raw.get("updated_parsed"))
        body, source, full = _best_body(raw)
        if not (title or body or canonical):
            continue
        entries.append(
            Entry(
                guid=_guid(raw, canonical, title, published),
                url=canonical,
                link=link,
                title=title,
                author=plain_text(str(raw.get("author"))) or None if raw.get("author") else None,
                published=published,
                content_html=sanitize_html(body),
                has_full_content=full,
                source_html=source,
            )
        )
    if parsed.entries and not entries:
        # Not silent: a feed whose every entry is unusable is a problem worth showing.
        raise ParseError(
            f"{url}: {len(parsed.entries)} entries, none with a title, text or http(s) link"
        )
    ttl = None
    ttl_raw = str(parsed.feed.get("ttl", "") or "").strip()
    if ttl_raw.isdigit():
        ttl = float(ttl_raw) * 60.0
    return ParsedFeed(
        title=str(parsed.feed.get("title") or ""),
        entries=entries,
        ttl_seconds=ttl,
        warnings=warnings,
    )
