"""Spot signatures: shingles anchored on common function words.

A *spot* is a frequent function word (the antecedent: "the", "said", "is", ...) followed by
the next ``chain`` tokens that are not function words, e.g. ``the:fire:crews``. News prose is
full of them; site chrome (menus, share bars, headline lists, dates, tickers) has few, so the
spot set of a page is mostly its article even when extraction left some chrome in. This is
the feature of SpotSigs (Theobald, Siddharth and Paepcke, SIGIR 2008), which this project
implements from the paper's description.

    >>> sorted(spots("the harbour fire was put out by crews said the mayor".split(), 2))
    [b'said:mayor', b'the:harbour:fire', b'the:mayor', b'was:put:crews']

Language: the word lists are English. A text with too few spots (another language, or a very
short text) is fingerprinted from word shingles instead (``fingerprint`` decides).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

# Words a spot's walk scans before it looks the rest up (see ``spots``).
_SCAN = 16

# Antecedents: where a spot starts.
ANTECEDENTS = frozenset(
    "a an the is was were are be been has have had said says will would there this that".split()
)
# Words skipped when building a spot's chain (function words carry no story).
STOPWORDS = ANTECEDENTS | frozenset(
    """i me my we our you your he him his she her it its they them their what which who whom
    whose these those am being do does did doing of to in on for with by at from as into
    about over after before under between through during without within up down out off
    and but or nor so yet if then than too very can could should may might must shall not
    no only own same such both each few more most other some any all just also""".split()
)


def spots(words: Sequence[str], chain: int) -> set[bytes]:
    """Distinct spots of a lower-cased token stream: antecedent plus up to ``chain`` following
    non-stopwords (a spot cut short by the end of the text keeps what it has).

    Linear in the text: a walk that meets a long run of function words (``"the " * 32000``
    made every antecedent walk to the end, n^2: 60 s) continues from the positions of the
    content words, found by bisection (and so does every later walk); running prose
    rarely gets there, so its walks stay the plain scan.

    >>> len(spots(["the"] * 100_000 + ["end"], 2))
    1
    """
    out: set[bytes] = set()
    n = len(words)
    content: list[int] | None = None  # positions of non-stopwords, built on first need
    for i, word in enumerate(words):
        if word not in ANTECEDENTS:
            continue
        parts = [word]
        if content is not None:
            start = bisect_right(content, i)
            parts.extend(words[k] for k in content[start : start + chain])
        else:
            j = i + 1
            scan_end = min(n, j + _SCAN)
            while j < scan_end and len(parts) <= chain:
                if words[j] not in STOPWORDS:
                    parts.append(words[j])
                j += 1
            if len(parts) <= chain and j < n:
                content = [k for k, w in enumerate(words) if w not in STOPWORDS]
                start = bisect_left(content, j)
                parts.extend(words[k] for k in content[start : start + chain + 1 - len(parts)])
        if len(parts) > 1:
            out.add(":".join(parts).encode())
    return out
