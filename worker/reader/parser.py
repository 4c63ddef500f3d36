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
import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from worker.errors import ParseError
from worker.limits import plausible_published
from worker.reader.discovery import discover_feed_links
from worker.reader.prescan import Prescanned, prescan
from worker.reader.sanitizer import plain_text, sanitize_html
from worker.reader.urlcleaner import canonical_url
from worker.safetext import plain_line, storable, xml_text

log = logging.getLogger("newsdedup.parser")

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
    # A whole article page that came with the entry (an import of saved pages): extracted
    # as a fetched article page would be, with no fetch. ``None`` for feed entries.
    page: bytes | None = field(default=None, compare=False, repr=False)


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    ttl_seconds: float | None = None
    warnings: list[str] = field(default_factory=list)
    # Entries skipped, by reason (``worker.limits``; ``unparseable``), with a line each.
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_notes: list[str] = field(default_factory=list)


def _text_length(html: str) -> int:
    return len(_TAG.sub("", html).strip())


def _to_datetime(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _best_body(raw: Mapping[str, Any]) -> tuple[str, bool]:
    """``(body as given, full)``: the fullest of the entry's contents and its summary.
    Feeds are parsed without feedparser's sanitiser, so a body that is a whole page keeps
    the structure its extraction reads (``Entry.source_html``); what is stored goes
    through nh3 (``sanitize_html``)."""
    contents = [c.get("value", "") for c in raw.get("content", []) or [] if c.get("value")]
    summary = raw.get("summary", "") or ""
    body = max(contents, key=_text_length) if contents else ""
    if _text_length(summary) > _text_length(body):
        body = summary
    full = bool(contents) or _text_length(body) >= FULL_CONTENT_MIN_CHARS
    return body, full and _text_length(body) > 0


def _guid(raw: Mapping[str, Any], url: str, title: str) -> str:
    guid = storable(str(raw.get("id") or "")).strip()  # exactly as before, NUL aside
    if guid:
        return guid[:1000]
    if url:
        return url
    # No id and no link: the entry's identity is its title and its own published time
    # (not its text, nor its updated time: an edit changes those, and an edited entry
    # is the same entry); the text only when there is no title.
    published = raw.get("published_parsed")
    stamp = calendar.timegm(published) if published else ""
    basis = "\x1f".join([title, str(stamp)]) if title else str(raw.get("summary", ""))
    return "sha1:" + hashlib.sha1(basis.encode("utf-8", "replace")).hexdigest()


def _link(raw: Mapping[str, Any], base: str) -> str:
    """The entry's link, resolved against the feed's URL; ``""`` when it is not an
    http(s) URL that can be parsed (``http://[::1`` made ``urljoin`` raise)."""
    link = plain_line(str(raw.get("link") or ""))
    try:
        if link and base:
            link = urljoin(base, link)
        if not link.lower().startswith(("http://", "https://")):
            return ""  # javascript:, data:, mailto:... are nothing to fetch or show
        canonical_url(link)
    except ValueError:
        return ""
    return link


def _one_line(value: Any) -> str:
    """A title or author as plain text on one line (``storable`` first: nh3 cannot take a
    lone surrogate)."""
    return plain_line(plain_text(storable(str(value or ""))))


def _entry(raw: Mapping[str, Any], url: str, now: datetime) -> Entry | None:
    """One feedparser entry as an ``Entry`` (``None``: nothing in it to store)."""
    link = _link(raw, url)
    canonical = canonical_url(link, base=url or None) if link else ""
    title = _one_line(raw.get("title"))
    published = plausible_published(
        _to_datetime(raw.get("published_parsed") or raw.get("updated_parsed")), now
    )
    body, full = _best_body(raw)
    if not (title or body or canonical):
        return None
    author = _one_line(raw.get("author"))
    return Entry(
        guid=_guid(raw, canonical, title),
        url=canonical,
        link=link,
        title=title,
        author=author or None,
        published=published,
        content_html=xml_text(sanitize_html(storable(body))),
        has_full_content=full,
        source_html=storable(body),
    )


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
    content: bytes,
    *,
    url: str = "",
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse ``content``; raises ``ParseError`` for something that is not a feed.

    One bad entry never costs the others: entries over a bound are cut out before parsing
    (``worker.reader.prescan``), a document feedparser cannot parse whole is parsed one
    entry at a time, and an entry that cannot be read is skipped; each is counted in
    ``rejected``. ``now``: when the feed was fetched (dates after it are not believed).
    """
    now = now or datetime.now(UTC)
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
    try:
        scan = prescan(defuse_dtd(utf8))
    except ParseError as exc:
        raise ParseError(f"{url}: {exc}") from exc
    del content, utf8  # a 10 MB body is not kept twice through the parse
    rejected, notes = scan.rejected, scan.notes
    try:
        parsed = feedparser.parse(
            scan.content, response_headers=response_headers, sanitize_html=False
        )
        raws = list(parsed.entries)
    except Exception as exc:  # feedparser raises on some hostile input: entry by entry
        log.info(
            "%s: feedparser failed on the whole document (%s), parsing entry by entry", url, exc
        )
        parsed, raws = _parse_each(scan, response_headers, url)
    warnings = []
    if parsed.get("bozo"):
        warnings.append(f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}")
    if not parsed.get("version") and not raws and not rejected:
        reason = warnings[0] if warnings else "no RSS, Atom or RDF root element"
        raise ParseError(f"{url}: not a feed: {reason}")

    entries: list[Entry] = []
    for raw in raws:
        try:
            entry = _entry(raw, url, now)
        except Exception as exc:  # one entry feedparser let through that we cannot read
            rejected["unparseable"] += 1
            notes.append(f"unparseable: entry {str(raw.get('id', '?'))[:120]!r} ({exc!r})")
            continue
        if entry is not None:
            entries.append(entry)
        else:  # nothing to store once its markup is gone: counted, not silent
            rejected["empty"] += 1
            notes.append(f"empty: entry {str(raw.get('id', '?'))[:120]!r} (no title, text or link)")
    if raws and not entries and set(rejected) <= {"empty"}:
        # Not silent: a feed whose every entry is unusable is a problem worth showing.
        raise ParseError(f"{url}: {len(raws)} entries, none with a title, text or http(s) link")
    ttl = None
    ttl_raw = str(parsed.feed.get("ttl", "") or "").strip()
    if ttl_raw.isdigit() and len(ttl_raw) < 9:
        ttl = float(ttl_raw) * 60.0
    return ParsedFeed(
        title=_one_line(parsed.feed.get("title")),
        entries=entries,
        ttl_seconds=ttl,
        warnings=warnings,
        rejected=rejected,
        rejected_notes=notes,
    )


def _parse_each(scan: Prescanned, headers: Mapping[str, str], url: str) -> tuple[Any, list[Any]]:
    """Each entry parsed in a document of its own (the feed's head, the entry, its tail),
    so an entry feedparser raises on is skipped, counted as ``unparseable``."""
    content, spans = scan.content, scan.spans
    if not spans:
        raise ParseError(f"{url}: feedparser cannot read the document")
    head, tail = content[: spans[0][0]], content[spans[-1][1] :]
    try:
        feed = feedparser.parse(head + tail, response_headers=headers, sanitize_html=False)
    except Exception as exc:
        raise ParseError(f"{url}: feedparser cannot read the feed's own elements: {exc!r}") from exc
    raws: list[Any] = []
    for start, end in spans:
        try:
            one = feedparser.parse(
                head + content[start:end] + tail, response_headers=headers, sanitize_html=False
            )
            raws.extend(one.entries)
        except Exception as exc:
            scan.rejected["unparseable"] += 1
            scan.notes.append(f"unparseable: entry at byte {start} ({exc!r})")
    return feed, raws
