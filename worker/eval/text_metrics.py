"""Extraction metrics: how much of the true main text an extractor returns, and what else.

Tokens are ``\\w+`` runs, lower-cased (Unicode). Each page gives true positives, false
positives and false negatives over counted units (``Tally.add``); the two benchmarks
aggregate them differently, as their published figures do:

* AEB (article extraction benchmark): the units are 4-token shingles counted with
  multiplicity (a text of 1 to 3 tokens is one short shingle). Precision and recall are
  computed per page and *averaged over pages* (``Tally.per_page``), as the benchmark's own
  ``evaluate.py`` does, so a long page weighs no more than a short one; a page with an
  empty output has no precision and a recall of 0.
* WCXB: the units are single tokens counted with multiplicity, summed over all pages
  before dividing (``Tally.pooled``). A snippet counts as *found* when its tokens, joined
  by spaces, occur in the output's tokens joined by spaces (``snippet_found``): the gold
  snippets are often cut inside a word ("...a cheap one that does" for "doesn't"), so its
  first token may end an output token and its last one may begin one.

    >>> counts = shingle_counts(tokens("the cat sat on the mat"), 4)
    >>> sorted(counts.items())[:1]
    [(('cat', 'sat', 'on', 'the'), 1)]
    >>> t = Tally()
    >>> t.add(Counter("a b c".split()), Counter("a b d d".split()))
    >>> t.pooled().precision, t.pooled().recall
    (0.6666666666666666, 0.5)
    >>> snippet_found(token_text(tokens("Leave a comment below")), tokens("leave a COMM"))
    True
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def shingle_counts(words: Sequence[str], size: int) -> Counter[tuple[str, ...]]:
    """Runs of ``size`` tokens with multiplicity; a shorter, non-empty text is one shingle."""
    if 0 < len(words) < size:
        return Counter([tuple(words)])
    return Counter(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


class Scores(NamedTuple):
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _page_precision(tp: int, fp: int, fn: int) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fp)


def _page_recall(tp: int, fp: int, fn: int) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fn)


@dataclass
class Tally:
    """True/false positive and false negative counts of every page added so far."""

    pages: list[tuple[int, int, int]] = field(default_factory=list)

    def add(self, predicted: Counter[Any], truth: Counter[Any]) -> None:
        tp = sum((predicted & truth).values())
        self.pages.append((tp, sum(predicted.values()) - tp, sum(truth.values()) - tp))

    def pooled(self) -> Scores:
        """Micro scores: counts summed over all pages, then divided."""
        tp, fp, fn = (
            (sum(column) for column in zip(*self.pages, strict=True)) if self.pages else (0, 0, 0)
        )
        return Scores(tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)

    def per_page(self) -> Scores:
        """AEB's scores: precision averaged over the pages with output, recall over the
        pages with truth."""
        precisions = [_page_precision(*p) for p in self.pages if p[0] + p[1]]
        recalls = [_page_recall(*p) for p in self.pages if p[0] + p[2]]
        return Scores(
            statistics.fmean(precisions) if precisions else 1.0,
            statistics.fmean(recalls) if recalls else 1.0,
        )


def token_text(words: Sequence[str]) -> str:
    """The haystack ``snippet_found`` searches: tokens joined by single spaces."""
    return " ".join(words)


def snippet_found(haystack: str, snippet: Sequence[str]) -> bool:
    """Whether ``snippet``'s tokens occur in ``haystack`` (a ``token_text``), its first and
    last token allowed to be the end and the start of a longer word."""
    return bool(snippet) and " ".join(snippet) in haystack
