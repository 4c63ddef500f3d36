"""Lines learned as chrome because they recur across many articles of one source.

A feed's footer ("Follow us on ...", "The Daily Sample - your local news") repeats in every
article; an article sentence does not. The store counts, per feed, in how many distinct
articles each short line occurred (``learnable_keys`` gives the keys to count), and hands
the keys seen in at least ``learn_min_articles`` articles back to ``strip_chrome``.

    >>> line_key("  Follow us on  Social!  ") == line_key("follow us on social")
    True
    >>> sorted(learnable_keys("A short footer\\nA long sentence " + "word " * 30, max_words=10))
    ['a short footer']
"""

from __future__ import annotations

import re
from functools import lru_cache

_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=4096)  # each line is keyed twice: by strip_chrome, then by edge_keys
def line_key(line: str) -> str:
    """Normalised form of a line: lower case, punctuation and spacing folded."""
    return _NON_WORD.sub(" ", line.lower()).strip()[:200]


def learnable_keys(text: str, *, max_words: int = 20) -> set[str]:
    """Keys of the lines of ``text`` short enough to be chrome (counted once per article)."""
    keys = set()
    for line in text.split("\n"):
        key = line_key(line)
        if key and len(key.split()) <= max_words:
            keys.add(key)
    return keys
