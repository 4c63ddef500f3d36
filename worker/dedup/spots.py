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

from collections.abc import Sequence

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
    non-stopwords (a spot cut short by the end of the text keeps what it has)."""
    out: set[bytes] = set()
    n = len(words)
    for i, word in enumerate(words):
        if word not in ANTECEDENTS:
            continue
        parts = [word]
        j = i + 1
        while j < n and len(parts) <= chain:
            if words[j] not in STOPWORDS:
                parts.append(words[j])
            j += 1
        if len(parts) > 1:
            out.add(":".join(parts).encode())
    return out
