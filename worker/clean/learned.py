"""Lines learned as chrome because they recur across many articles of one source.

A feed's footer ("Follow us on ...", "The Daily Sample - your local news") repeats in every
article; an article sentence does not. The store counts, per feed and per site (the host of
the article's link, ``site_host``), in how many distinct articles each short line occurred
(``learnable_keys`` gives the keys to count), and hands the keys seen in at least
``learn_min_articles`` articles of the feed or of the site back to ``strip_chrome``.

    >>> line_key("  Follow us on  Social!  ") == line_key("follow us on social")
    True
    >>> sorted(learnable_keys("A short footer\\nA long sentence " + "word " * 30, max_words=10))
    ['a short footer']
    >>> site_host("https://WWW.Example.org:8443/news/1"), site_host("mailto:x@y.z")
    ('example.org', None)
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

# Folding replaces each run of non-word characters by one space and strips the ends, which
# leaves the line's word runs joined by single spaces.
_WORD_RUN = re.compile(r"[^\W_]+")
KEY_LENGTH = 200
# Of a long ASCII line only this much is folded first: the key is the first KEY_LENGTH
# characters of the folded line, and the folded head is the start of the folded line (a
# word or a punctuation run cut at the head's end folds to a start of what the whole would).
_KEY_HEAD = 256


@lru_cache(maxsize=4096)  # each line is keyed twice: by strip_chrome, then by edge_keys
def line_key(line: str) -> str:
    """Normalised form of a line: lower case, punctuation and spacing folded."""
    if len(line) > _KEY_HEAD and line.isascii():
        # (Non-ASCII text is folded whole: lower-casing may lengthen it or depend on what
        # follows, as a Greek final sigma does.)
        head = " ".join(_WORD_RUN.findall(line[:_KEY_HEAD].lower()))
        if len(head) > KEY_LENGTH:
            return head[:KEY_LENGTH]
    return " ".join(_WORD_RUN.findall(line.lower()))[:KEY_LENGTH]


def learnable_keys(text: str, *, max_words: int = 20) -> set[str]:
    """Keys of the lines of ``text`` short enough to be chrome (counted once per article)."""
    keys = set()
    for line in text.split("\n"):
        key = line_key(line)
        if key and len(key.split()) <= max_words:
            keys.add(key)
    return keys


# Hosts longer than this are no site anyone runs (the DNS limit is 253).
_MAX_HOST = 253


def site_host(url: str | None) -> str | None:
    """The site an article's link belongs to: its host, lower case, without ``www.``;
    ``None`` for no http(s) link. A site's pages share their chrome whichever feed
    linked them, its section feeds or an aggregator."""
    if not url or not url[:8].lower().startswith(("http://", "https://")):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").removeprefix("www.")
    return host[:_MAX_HOST] or None
