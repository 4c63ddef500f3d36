"""What a story says about its event, as weighted terms: pure, no database.

Different outlets' write-ups of one event share few phrases but the same names (people,
places, organisations), the same rare words in their headline and first sentences, and the
same numbers (a toll, a magnitude, a year). A story's terms are:

- ``w:`` words of the headline and the lede (the first ``lede_words`` words of the text),
  lower-cased, stop words and short words dropped; the headline counts ``title_weight``
  times;
- ``e:`` capitalised words of the whole text that the text never writes in lower case
  (a name, not a sentence start), and ``e:a_b`` for two such words in a row (a full name);
- numbers of two digits or more, as ``w:`` words.

Weights are TF-IDF with document frequencies counted over the stories seen (``TermStats``,
online), so a name that every story of the day carries ("Monday", the outlet's own name)
weighs little, and one that only this event's coverage carries weighs much.

>>> counts = story_terms("Quake hits Chile", "A 6.1 quake struck Northern Chile on "
...     "Monday. Residents of Iquique fled; Northern Chile has 12 shelters.")
>>> sorted(t for t in counts if t.startswith("e:"))
['e:chile', 'e:iquique', 'e:monday', 'e:northern', 'e:northern_chile']
>>> counts["w:6.1"], counts["w:12"], "w:the" in counts
(1, 1, False)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

# Words too common in news to say anything about an event; kept short on purpose: the
# document frequencies learned online do the rest.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours out over own said same says she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours told according new one two three first last year years week
    people time may us mr mrs ms dr news report reported reports its it's would could
    """.split()
)

_WORD = re.compile(r"[^\W\d_][\w'’-]*|\d[\d,.]*\d|\d")
# A sentence ends at . ! ? (a closing quote or bracket may follow) before a space or a line
# end, or at a line end: "6.1" and "U.S.A" stay inside their sentence.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*(?:\s+|$)|\n+")


def _norm(word: str) -> str:
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return word.strip("'-").lower()


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _content(words: Iterable[str]) -> Iterable[str]:
    for raw in words:
        word = _norm(raw)
        if raw[0].isdigit():
            digits = word.replace(",", "").replace(".", "")
            if len(digits) >= 2:
                yield word.replace(",", "")
        elif len(word) > 2 and word not in STOP_WORDS:
            yield word


def _sentences(text: str) -> list[list[str]]:
    return [_words(s) for s in _SENTENCE_END.split(text)]


def _is_capitalised(raw: str) -> bool:
    return raw[:1].isupper() and raw[:1].isalpha()


def _entities(text: str) -> Counter[str]:
    """Capitalised words the text never writes in lower case, and adjacent pairs of them.
    A sentence's first word counts only when the text capitalises it elsewhere too."""
    sentences = _sentences(text)
    lower = {_norm(w) for s in sentences for w in s if w[:1].islower()}
    inner = {_norm(w) for s in sentences for w in s[1:] if _is_capitalised(w)}
    out: Counter[str] = Counter()
    for words in sentences:
        previous: str | None = None
        for position, raw in enumerate(words):
            word = _norm(raw)
            name = (
                _is_capitalised(raw)
                and len(word) > 1
                and word not in lower
                and word not in STOP_WORDS
                and (position > 0 or word in inner)
            )
            if not name:
                previous = None
                continue
            out["e:" + word] += 1
            if previous is not None:
                out[f"e:{previous}_{word}"] += 1
            previous = word
    return out


def story_terms(
    title: str,
    text: str,
    *,
    lede_words: int = 60,
    title_weight: int = 2,
    entity_cap: int = 3,
    numbers: bool = False,
    names_once: bool = False,
) -> Counter[str]:
    """The raw term counts of a story (its canonical article's headline and text)."""
    body = _words(text)
    counts: Counter[str] = Counter()
    entities = _entities(text)
    names = {t[2:] for t in entities} if names_once else set()
    for word in _content(_words(title)):
        if word not in names:
            counts["w:" + word] += title_weight
        else:
            counts["e:" + word] += title_weight
    for word in _content(body[:lede_words]):
        if word not in names:
            counts["w:" + word] += 1
    for term, n in entities.items():
        counts[term] += min(n, entity_cap)
    if numbers:
        for word in _content(body[lede_words:]):
            if word[0].isdigit():
                counts["w:" + word] += 1
    return counts


class TermStats:
    """Document frequencies over the stories seen (each story counts a term once).

    ``prior`` background stories that carry none of the terms are counted as well: with
    few stories seen (a new database, a quiet window), the terms every one of them shares
    are not yet known to be common, and would otherwise weigh nothing next to each story's
    own words. Once the window holds many more stories than ``prior``, it fades out."""

    def __init__(self, prior: int = 0) -> None:
        self.df: Counter[str] = Counter()
        self.documents = 0
        self.prior = prior

    def add(self, terms: Iterable[str]) -> None:
        self.df.update(set(terms))
        self.documents += 1

    def remove(self, terms: Iterable[str]) -> None:
        for term in set(terms):
            left = self.df[term] - 1
            if left > 0:
                self.df[term] = left
            else:
                del self.df[term]
        self.documents -= 1

    def idf(self, term: str) -> float:
        return math.log((self.documents + self.prior + 1) / (self.df.get(term, 0) + 1)) + 1.0


def weigh(
    counts: Mapping[str, int], stats: TermStats, *, entity_weight: float = 1.0, top: int = 40
) -> dict[str, float]:
    """The unit-length TF-IDF vector of a story's terms, its ``top`` heaviest kept (a long
    tail of light terms costs memory and time and moves a cosine little)."""
    weights = {}
    for term, n in counts.items():
        w = (1.0 + math.log(n)) * stats.idf(term)
        if term.startswith("e:"):
            w *= entity_weight
        weights[term] = w
    if len(weights) > top:
        weights = dict(sorted(weights.items(), key=lambda kv: -kv[1])[:top])
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())
