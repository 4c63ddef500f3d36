"""Strings from feeds made safe for where they go: the database, XML, JSON, a terminal.

A feed chooses every character of a title, and each medium breaks on different ones:
PostgreSQL refuses NUL, XML 1.0 forbids most C0 controls and U+FFFE/U+FFFF (an Atom
export with one of them is not XML), a lone surrogate cannot be encoded at all, and a
terminal obeys escape sequences (``ESC]52;`` writes the clipboard, ``ESC[2J`` clears the
screen).

    >>> storable("a\\x00b\\ud800c")
    'ab\\ufffdc'
    >>> xml_text("ok\\x0b\\ufffe\\x00!")
    'ok!'
    >>> terminal_line("\\x1b]0;pwned\\x07Title\\x1b[2J\\nnext")
    'Title next'
    >>> json_safe('{"t": "\\x9b31m"}')
    '{"t": "\\\\u009b31m"}'
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters XML 1.0 does not allow (its Char production), surrogates included.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Escape sequences as terminals read them: CSI (ESC [ or the 8-bit U+009B), OSC, DCS, APC,
# PM and SOS strings up to their terminator (BEL or ST), then any other ESC + one char.
_ESCAPES = re.compile(
    "(?:\x1b\\[|\x9b)[0-?]*[ -/]*[@-~]?"
    "|(?:\x1b[\\]P_^X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
    "|\x1b[ -~]?"
)
# What is left of the controls after the sequences are gone: C0 but tab and newline, DEL,
# C1; and the bidirectional overrides and isolates, which reorder what follows them on
# the line (a title could make a URL or a feed name read backwards).
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
# Characters json.dumps(ensure_ascii=False) leaves raw that a terminal or a JavaScript
# reader trips on: DEL and C1 controls, the line separators, lone surrogates.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def storable(text: str) -> str:
    """Without NUL (PostgreSQL refuses it in text; SQLite keeps it and every reader then
    cuts the string there), lone surrogates as U+FFFD (no database can encode them)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text)


def storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)


def plain_line(text: str) -> str:
    """A one-line field (title, author, GUID) as stored: ``storable``, control characters
    (C0, DEL, C1) as spaces, runs of space as one."""
    return " ".join(_LINE_CONTROLS.sub(" ", storable(text)).split())


def xml_text(text: str) -> str:
    """Only the characters XML 1.0 allows, for element text and attribute values alike."""
    return _NOT_XML.sub("", text)


def terminal_text(text: str) -> str:
    """Printable on a terminal: escape sequences and control characters removed, tabs and
    line breaks kept (a story's text keeps its paragraphs)."""
    return _TERMINAL_CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))


def terminal_line(text: str) -> str:
    """``terminal_text`` on one line: line breaks and runs of space become one space."""
    return " ".join(terminal_text(text).split())


def json_safe(document: str) -> str:
    """A JSON document (from ``json.dumps(..., ensure_ascii=False)``) with the characters
    that are valid JSON but unsafe to print or to embed written as ``\\uXXXX`` escapes;
    they can occur only inside strings, so the document means the same."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
