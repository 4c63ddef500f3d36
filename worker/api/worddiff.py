"""What a copy changed against its story's canonical text, word by word (difflib), with
long unchanged runs folded so a page shows the changes, not the whole text twice.

    >>> [(op, text) for op, text in word_diff("the dam opened on monday", "the dam shut on monday")]
    [('same', 'the dam'), ('del', 'opened'), ('ins', 'shut'), ('same', 'on monday')]
"""

from __future__ import annotations

import difflib

MAX_WORDS = 3000  # of each text: the matcher's time grows with the product of the lengths
CONTEXT = 12  # unchanged words kept on each side of a change


def _same(words: list[str], first: bool, last: bool) -> list[tuple[str, str]]:
    keep_head = 0 if first else CONTEXT
    keep_tail = 0 if last else CONTEXT
    if len(words) <= keep_head + keep_tail + 3:
        return [("same", " ".join(words))]
    out = []
    if keep_head:
        out.append(("same", " ".join(words[:keep_head])))
    out.append(("fold", f"{len(words) - keep_head - keep_tail} words the same"))
    if keep_tail:
        out.append(("same", " ".join(words[-keep_tail:])))
    return out


def word_diff(canonical: str, variant: str) -> list[tuple[str, str]]:
    """``(op, text)`` pairs: ``same``, ``del`` (only in the canonical), ``ins`` (only in the
    variant), ``fold`` (a count of unchanged words left out), ``cut`` (text past
    ``MAX_WORDS`` not compared)."""
    a, b = canonical.split(), variant.split()
    cut = len(a) > MAX_WORDS or len(b) > MAX_WORDS
    a, b = a[:MAX_WORDS], b[:MAX_WORDS]
    codes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    out: list[tuple[str, str]] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(codes):
        if tag == "equal":
            if len(codes) == 1:
                return [("same", " ".join(a))] + ([("cut", "")] if cut else [])
            out += _same(a[i1:i2], index == 0, index == len(codes) - 1)
            continue
        if i2 > i1:
            out.append(("del", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", " ".join(b[j1:j2])))
    if cut:
        out.append(("cut", f"compared the first {MAX_WORDS} words"))
    return out
