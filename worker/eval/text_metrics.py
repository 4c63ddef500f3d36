"""Extraction metrics: how much of the true main text an extractor returns, and what else.

Tokens are ``\\w+`` runs, lower-cased (Unicode). Scores are *micro*: true positives, false
positives and false negatives are summed over all pages before dividing.

* AEB (article extraction benchmark): the units are 4-token shingles counted with
  multiplicity.
* WCXB: the units are single tokens counted with multiplicity; a snippet counts as *found*
  when its token sequence occurs in the output's token sequence.

    >>> counts = shingle_counts(tokens("the cat sat on the mat"), 4)
    >>> sorted(counts.items())[:1]
    [(('cat', 'sat', 'on', 'the'), 1)]
    >>> t = Tally()
    >>> t.add(Counter("a b c".split()), Counter("a b d d".split()))
    >>> t.precision, t.recall
    (0.6666666666666666, 0.5)
    >>> contains_run(tokens("Leave a comment below"), tokens("leave a COMMENT"))
    True
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def shingle_counts(words: Sequence[str], size: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


@dataclass
class Tally:
    """Micro-averaged precision/recall/F1 over pages added one at a time."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: Counter[Any], truth: Counter[Any]) -> None:
        tp = sum((predicted & truth).values())
        self.tp += tp
        self.fp += sum(predicted.values()) - tp
        self.fn += sum(truth.values()) - tp

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether ``needle`` occurs as a contiguous run in ``haystack``."""
    n = len(needle)
    if n == 0:
        return False
    first = needle[0]
    return any(
        haystack[i] == first and list(haystack[i : i + n]) == list(needle)
        for i in range(len(haystack) - n + 1)
    )
