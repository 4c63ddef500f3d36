"""Lines of a page's extracted text that are site chrome by their shape and place.

The phrase rules of ``chrome`` know the wordings of chrome that recur across sites; what
trafilatura leaves of a page besides them is mostly a site's own promotion, menu entries
and rail titles in its own words. This stage judges each line by features that do not
depend on one site's wording: length and punctuation, capitals, place (before the first or
after the last paragraph of running text, near an edge), repetition in the page, whether
it names the site itself, and how often its words stand in chrome lines of three sites or
more. A logistic model weighs them; weights, threshold and word scores are fitted on
labelled pages (``worker.eval.linefit``) and shipped in ``line_model.json``.

A line of ``repeat_words`` words or more that the page already gave is dropped too: a page
that shows its article twice (print and screen versions) does not make it two stories.

    >>> model = PageLines.from_dict({"features": list(FEATURES), "weights": [0.0] * len(FEATURES),
    ...     "bias": 0.0, "threshold": 0.9, "words": {}, "openers": {}, "repeat_words": 3})
    >>> model.clean("One two three four.\\nShort\\nOne two three four.", None)
    'One two three four.\\nShort'
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from worker.clean.learned import line_key, site_host

MODEL_FILE = Path(__file__).with_name("line_model.json")
FEATURES = (
    "log_words", "sentence", "exclaims", "asks", "colon", "capitals", "digits", "position",
    "head", "tail", "near_edge", "repeated", "item", "row", "prev_words", "next_words",
    "page_words", "word_max", "opener", "names_site", "tail_short", "tail_capitals",
    "edge_short",
)  # fmt: skip
_DIGIT = re.compile(r"\d")
_INITIAL = re.compile(r"(?<!\S)[^\W\d_]")  # the first letter of each word that opens with one
_ENDS = frozenset(".!?…\"”»)]'")  # the last character of a sentence
_BULLETS = "-•·*–"
# A line of running text: this many words, ending like a sentence. The article lies
# between the first and the last such line; chrome gathers before and after.
_PROSE_WORDS = 15
# A line longer than this is never judged by the model (nor fitted on): it is article text
# or a notice the rules know, and most of a page's text is in such lines.
MAX_WORDS = 40
_EDGE_LINES = 3
_SHORT_WORDS = 5
# Suffixes under which a site's name is the label before them (example.co.uk).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu"})

Score = Callable[[str], float | None]


def site_name(url: str | None) -> str:
    """The site's own name as its host spells it, letters and digits only
    (``https://www.five-books.co.uk/x`` gives ``fivebooks``); ``""`` for none."""
    labels = (site_host(url) or "").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        core = labels[-3]
    else:
        core = labels[-2] if len(labels) >= 2 else ""
    return re.sub(r"[\W_]", "", core.lower())


def _names_site(words: list[str], name: str) -> bool:
    """Whether up to five consecutive words spell the site's name ("Five Books")."""
    if len(name) < 4 or name not in "".join(words):
        return False
    for i in range(len(words)):
        joined = ""
        for word in words[i : i + 5]:
            joined += word
            if joined == name:
                return True
            if len(joined) >= len(name):
                break
    return False


def _words(line: str) -> int:
    """Words of a normalised line (single spaces): one more than its spaces."""
    return line.count(" ") + 1 if line else 0


def line_features(
    lines: list[str], name: str, word_score: Score, opener_score: Score
) -> list[list[float] | None]:
    """One row of ``FEATURES`` per line, ``None`` for a line of more than ``MAX_WORDS``
    words (never judged: article text, or chrome the rules know). ``word_score`` /
    ``opener_score``: a word's cross-site chrome score (as any word of a line, as its first
    word), ``None`` for a word too rare to have one."""
    n = len(lines)
    counts = [_words(line) for line in lines]
    prose = [c >= _PROSE_WORDS and ln[-1:] in _ENDS for c, ln in zip(counts, lines, strict=True)]
    first = next((i for i, p in enumerate(prose) if p), n)
    last = max((i for i, p in enumerate(prose) if p), default=-1)
    judged = [c <= MAX_WORDS for c in counts]
    keys = [line_key(ln) if j else "" for ln, j in zip(lines, judged, strict=True)]
    seen = Counter(keys)
    total = sum(counts)
    rows: list[list[float] | None] = []
    for i, line in enumerate(lines):
        if not judged[i]:
            rows.append(None)
            continue
        count = counts[i]
        toks = keys[i].split()  # the key's words: computed once, by the cache strip_chrome shares
        initials = _INITIAL.findall(line)
        capitals = sum(map(str.isupper, initials)) / len(initials) if initials else 0.0
        scores = [s for s in map(word_score, toks) if s is not None]
        opener = (opener_score(toks[0]) if toks else None) or 0.0
        names = float(_names_site(toks, name))
        tail, head = float(i > last), float(i < first)
        short = float(count <= _SHORT_WORDS)
        edge = float(min(i, n - 1 - i) < _EDGE_LINES)
        end = line[-1:]
        rows.append([
            math.log1p(count), float(end in _ENDS), float(end == "!"), float(end == "?"),
            float(end == ":"), capitals, len(_DIGIT.findall(line)) / max(1, len(line)),
            i / max(1, n - 1), head, tail, edge, float(seen[keys[i]] > 1),
            float(line[:1] in _BULLETS), float(line[:1] == "|"),
            math.log1p(counts[i - 1]) if i else 0.0,
            math.log1p(counts[i + 1]) if i + 1 < n else 0.0,
            math.log1p(total), max(scores, default=0.0), opener, names,
            tail * short, tail * capitals, edge * short,
        ])  # fmt: skip
    return rows


def drop_repeats(lines: list[str], min_words: int) -> list[str]:
    """``lines`` without a line of ``min_words`` words or more the text already gave."""
    if min_words <= 0:
        return lines
    seen: set[str] = set()
    kept = []
    for line in lines:
        if _words(line) >= min_words:
            key = line_key(line)
            if key in seen:
                continue
            seen.add(key)
        kept.append(line)
    return kept


@dataclass(frozen=True)
class PageLines:
    """A fitted line model: pure data (``from_dict`` reads the file that
    ``worker.eval.linefit.as_dict`` writes)."""

    weights: tuple[float, ...]
    bias: float
    threshold: float  # a probability: a line scoring this or more is chrome
    words: Mapping[str, float] = field(default_factory=dict)
    openers: Mapping[str, float] = field(default_factory=dict)
    repeat_words: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PageLines:
        """The model a ``line_model.json`` holds; refused if fitted on other features."""
        if tuple(data["features"]) != FEATURES:
            raise ValueError("line model: its features are not this code's")
        return cls(
            tuple(float(w) for w in data["weights"]),
            float(data["bias"]),
            float(data["threshold"]),
            {str(k): float(v) for k, v in data["words"].items()},
            {str(k): float(v) for k, v in data["openers"].items()},
            int(data["repeat_words"]),
        )

    def scores(self, rows: list[list[float] | None]) -> list[float]:
        """The model's log-odds of chrome for each feature row (``-inf`` for none)."""
        w, b = self.weights, self.bias
        return [b + sum(map(operator.mul, row, w)) if row else -math.inf for row in rows]

    def chrome(self, lines: list[str], url: str | None) -> list[bool]:
        """Which of ``lines`` (one page's text) the model takes for chrome."""
        if self.threshold >= 1:  # a model fitted to leave every line alone
            return [False] * len(lines)
        rows = line_features(lines, site_name(url), self.words.get, self.openers.get)
        cut = math.log(self.threshold / (1 - self.threshold))
        return [s >= cut for s in self.scores(rows)]

    def clean(self, text: str, url: str | None) -> str:
        """``text`` without repeated lines and without the lines the model calls chrome."""
        lines = drop_repeats([ln for ln in text.split("\n") if ln.strip()], self.repeat_words)
        if not lines:
            return ""
        return "\n".join(ln for ln, c in zip(lines, self.chrome(lines, url), strict=True) if not c)


@lru_cache(maxsize=1)
def shipped() -> PageLines:
    """The model fitted on all labelled pages (``scripts/train_line_model.py``)."""
    return PageLines.from_dict(json.loads(MODEL_FILE.read_text(encoding="utf-8")))
