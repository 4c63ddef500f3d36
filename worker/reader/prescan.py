"""A feed document's entries bounded on its bytes, before feedparser, nh3 or lxml see them.

Those libraries are fast on real feeds and slow on hostile shapes: feedparser is quadratic
in the attributes of one element, nh3 in the nesting depth of a fragment, feedparser
spends 13 to 30 us on each tag and reference, and a 9 MB entry costs hundreds of MB on
its way through them. So each ``<item>``/``<entry>`` is found by a linear scan and
measured (size, number of tags and references, then depth and attribute count of its
markup, real tags and escaped ones alike, since feedparser turns ``&lt;div&gt;`` into
``<div>`` for nh3); one over a bound (``worker.limits``) is cut out of the document and
counted, and entries past ``MAX_FEED_ENTRIES`` are dropped. Character references that name no
character (surrogates, beyond U+10FFFF), which make feedparser raise for the whole
document, become U+FFFD.

    >>> doc = b"<rss><channel><item><title>ok</title></item>"
    >>> doc += b"<item>" + b"&lt;div&gt;" * 300 + b"</item></channel></rss>"
    >>> scan = prescan(doc)
    >>> scan.content, dict(scan.rejected)
    (b'<rss><channel><item><title>ok</title></item></channel></rss>', {'markup_depth': 1})
    >>> fix_char_refs(b"&#xD800; &#1114112; &#x2019; &amp;#55296;")
    b'&#xFFFD; &#xFFFD; &#x2019; &amp;#xFFFD;'
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from worker import limits
from worker.errors import ParseError

_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s>/])", re.I)
_CLOSE = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.I)
# A numeric character reference, also escaped once more inside escaped HTML.
_CHAR_REF = re.compile(rb"(&(?:amp;)?#)([xX][0-9A-Fa-f]+|[0-9]+)")
# Escaped markup reads as markup once feedparser has unescaped it.
_ESCAPED = re.compile(rb"&(?:amp;)?(?:(lt|#0*60|#[xX]0*3[cC])|(gt|#0*62|#[xX]0*3[eE])|quot);")
_TAG = re.compile(rb"<(/?)([A-Za-z][\w:.-]*)([^<>]*)>")
_ATTRIBUTE = re.compile(rb"""[^\s"'=<>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]*))?""")
# Elements that never nest: void ones, and those whose end tag is optional (a new one
# closes the last), so sloppy HTML with a thousand unclosed <p> is not "deep".
_FLAT = frozenset(
    b"area base br col embed hr img input link meta param source track wbr "
    b"p li dt dd option optgroup tr td th thead tbody tfoot colgroup rt rp".split()
)
_GUID = re.compile(rb"<(?:[\w.-]+:)?(?:guid|id|link)\b[^>]*>\s*([^<\s][^<]{0,200})", re.I)


@dataclass
class Prescanned:
    content: bytes  # the document without the rejected entries
    rejected: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # one line per rejected entry
    spans: list[tuple[int, int]] = field(default_factory=list)  # kept entries, in ``content``


def fix_char_refs(content: bytes) -> bytes:
    """Numeric character references to surrogates or past U+10FFFF as ``&#xFFFD;``."""
    if b"&#" not in content and b"&amp;#" not in content:
        return content

    def replace(match: re.Match[bytes]) -> bytes:
        number = match.group(2)
        if number[:1] in b"xX":
            digits, base = number[1:].lstrip(b"0"), 16
        else:
            digits, base = number.lstrip(b"0"), 10
        # More than 8 digits is beyond U+10FFFF in either base (and int() of a
        # hundred-thousand-digit number is itself slow).
        value = int(digits, base) if 0 < len(digits) <= 8 else (0 if not digits else -1)
        if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
            return match.group(0)
        return match.group(1) + b"xFFFD"

    return _CHAR_REF.sub(replace, content)


def entry_spans(content: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of each ``<item>``/``<entry>`` element, in order: every opening tag
    paired with the first closing tag after it, in one pass over each (a regex from open
    to close would rescan the rest of the document for every unclosed one)."""
    closes = [m.end() for m in _CLOSE.finditer(content)]
    spans: list[tuple[int, int]] = []
    at = 0  # next closing tag to consider
    end = -1
    for match in _OPEN.finditer(content):
        start = match.start()
        if start < end:
            continue  # an <entry> inside an <item> (or the reverse) is part of it
        while at < len(closes) and closes[at] <= start:
            at += 1
        if at == len(closes):
            break
        end = closes[at]
        spans.append((start, end))
        at += 1
    return spans


def markup_shape(chunk: bytes) -> tuple[int, int]:
    """``(deepest nesting, most attributes on one element)`` of the markup in ``chunk``,
    escaped markup included."""
    if b"&" in chunk:
        chunk = _ESCAPED.sub(
            lambda m: b"<" if m.group(1) else (b">" if m.group(2) else b'"'), chunk
        )
    depth = deepest = attributes = 0
    for match in _TAG.finditer(chunk):
        closing, name, rest = match.groups()
        if rest.strip():
            attributes = max(attributes, len(_ATTRIBUTE.findall(rest)))
        if name.lower() in _FLAT:
            continue
        if closing:
            depth = max(0, depth - 1)
        elif not rest.endswith(b"/"):
            depth += 1
            deepest = max(deepest, depth)
    return deepest, attributes


def _note(reason: str, chunk: bytes, detail: str) -> str:
    found = _GUID.search(chunk, 0, 65536)
    name = found.group(1).decode("utf-8", "replace").strip()[:120] if found else "?"
    return f"{reason}: entry {name!r} ({detail})"


def _check(content: bytes, start: int, end: int) -> tuple[str, str, bytes] | None:
    """Why the entry at ``content[start:end]`` must not be parsed, with the bytes a note
    can name it by; ``None`` when it may. The size is checked before anything is copied."""
    if end - start > limits.MAX_ENTRY_BYTES:
        detail = f"{end - start} bytes, limit {limits.MAX_ENTRY_BYTES}"
        return "too_large", detail, content[start : min(end, start + 65536)]
    chunk = content[start:end]
    items = chunk.count(b"<") + chunk.count(b"&")
    if items > limits.MAX_MARKUP_ITEMS:
        detail = f"{items} markup items, limit {limits.MAX_MARKUP_ITEMS}"
        return "markup_items", detail, chunk
    depth, attributes = markup_shape(chunk)
    if depth > limits.MAX_MARKUP_DEPTH:
        detail = f"markup nested {depth} deep, limit {limits.MAX_MARKUP_DEPTH}"
        return "markup_depth", detail, chunk
    if attributes > limits.MAX_ATTRIBUTES:
        detail = f"{attributes} attributes on one element, limit {limits.MAX_ATTRIBUTES}"
        return "attributes", detail, chunk
    return None


def prescan(content: bytes) -> Prescanned:
    """The document with every entry over a bound cut out (``rejected`` counts them by
    reason); ``ParseError`` when the markup outside the entries is itself over a bound
    (there is then nothing to salvage)."""
    content = fix_char_refs(content)
    spans = entry_spans(content)
    out = Prescanned(content)
    if len(spans) > limits.MAX_FEED_ENTRIES:
        dropped = len(spans) - limits.MAX_FEED_ENTRIES
        out.rejected["feed_too_long"] += dropped
        out.notes.append(
            f"feed_too_long: {dropped} entries after the first {limits.MAX_FEED_ENTRIES} dropped"
        )
    keep: list[bool] = []
    for index, (start, end) in enumerate(spans):
        problem = None if index < limits.MAX_FEED_ENTRIES else ("", "", b"")
        if problem is None:
            problem = _check(content, start, end)
            if problem is not None:
                reason, detail, named = problem
                out.rejected[reason] += 1
                out.notes.append(_note(reason, named, detail))
        keep.append(problem is None)
    first, last = (spans[0][0], spans[-1][1]) if spans else (len(content), len(content))
    depth, attributes = markup_shape(content[:first] + content[last:])
    if depth > limits.MAX_MARKUP_DEPTH or attributes > limits.MAX_ATTRIBUTES:
        raise ParseError(
            f"feed markup outside the entries is nested {depth} deep with up to {attributes} "
            f"attributes on one element (limits {limits.MAX_MARKUP_DEPTH} and "
            f"{limits.MAX_ATTRIBUTES})"
        )
    if all(keep):
        out.spans = spans
        return out
    # Cut the rejected entries out: one copy of what stays.
    pieces: list[bytes] = []
    position = length = 0
    for (start, end), kept in zip(spans, keep, strict=True):
        if kept:
            pieces.append(content[position:end])
            length += end - position
            out.spans.append((length - (end - start), length))
        else:
            pieces.append(content[position:start])
            length += start - position
        position = end
    pieces.append(content[position:])
    out.content = b"".join(pieces)
    return out
