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

Terms are kept as 32-bit ids (``term_ids``). Weights are TF-IDF with document frequencies
counted over the stories of the window (``TermStats``, online), so a name that every story
of the day carries ("Monday", the outlet's own name) weighs little, and one that only this
event's coverage carries weighs much.

>>> counts = story_terms("Quake hits Chile", "A 6.1 quake struck Northern Chile on "
...     "Monday. Residents of Iquique fled; Northern Chile has 12 shelters.")
>>> sorted(t for t in counts if t.startswith("e:"))
['e:chile', 'e:iquique', 'e:monday', 'e:northern', 'e:northern_chile']
>>> counts["w:6.1"], counts["w:12"], "w:the" in counts
(1, 1, False)
"""

from __future__ import annotations

import functools
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import islice

import numpy as np
import numpy.typing as npt

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


# News repeats its vocabulary from story to story: most words were normalised before.
@functools.lru_cache(maxsize=1 << 16)
def _norm(word: str) -> str:
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return word.strip("'-").lower()


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _first_words(text: str, n: int) -> list[str]:
    """``_words(text)[:n]``, without reading the rest of a long text."""
    return [m.group() for m in islice(_WORD.finditer(text), n)]


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
    # Each distinct word once: a text says many of its words many times over.
    norm = {w: _norm(w) for w in {w for s in sentences for w in s}}
    capitalised = {w for w in norm if _is_capitalised(w)}
    lower = {norm[w] for w in norm if w[:1].islower()}
    inner = {norm[w] for s in sentences for w in s[1:] if w in capitalised}
    out: Counter[str] = Counter()
    for words in sentences:
        previous: str | None = None
        for position, raw in enumerate(words):
            word = norm[raw]
            name = (
                raw in capitalised
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
    body = _words(text) if numbers else _first_words(text, lede_words)
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


# A term's id is the top 28 bits of the CRC-32 of its text: the same in every process and
# run (Python's own string hash is salted per process). With its count (at most 15) in the
# low 4 bits, a term takes 4 bytes in memory where its string took 50 or more.
_DF_BITS = 23
MAX_COUNT = 15
_LOG_TF = np.concatenate([[0.0], 1.0 + np.log(np.arange(1, MAX_COUNT + 1))]).astype(np.float32)


def term_ids(counts: Mapping[str, int]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint8]]:
    """A story's terms as (ids, counts) arrays: ids of 28 bits, counts capped at
    ``MAX_COUNT`` (1 + log 15 against 1 + log 20 moves a weight by 7%, and a term said that
    often is all the story is about anyway); two terms whose ids collide add up.

    >>> ids, n = term_ids({"e:chile": 3, "w:quake": 1, "w:aftershock": 40})
    >>> ids.dtype, int(ids.max()) < 2**28, sorted(n.tolist())
    (dtype('uint32'), True, [1, 3, 15])
    """
    crc = np.fromiter(map(zlib.crc32, map(str.encode, counts)), np.uint32, len(counts))
    ids = crc >> np.uint32(4)
    n = np.fromiter(counts.values(), np.int64, len(counts))
    if len(set(ids.tolist())) < len(ids):
        ids, inverse = np.unique(ids, return_inverse=True)
        n = np.bincount(inverse, weights=n).astype(np.int64)
    return ids, np.minimum(n, MAX_COUNT).astype(np.uint8)


def tf(counts: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """``1 + log(count)`` per term (0 for a count of 0)."""
    return _LOG_TF[counts]


class TermStats:
    """Document frequencies over the stories of the window (each story counts a term once),
    in a fixed table of 2^23 counters indexed by the low bits of the term id: 32 MiB
    however many distinct terms the window holds. Two terms that share a counter each
    read the other's stories too; with a few million distinct terms that makes a rare
    term look a story or two less rare, which moves its weight by a few percent.

    ``prior`` background stories that carry none of the terms are counted as well: with
    few stories seen (a new database, a quiet window), the terms every one of them shares
    are not yet known to be common, and would otherwise weigh nothing next to each story's
    own words. Once the window holds many more stories than ``prior``, it fades out."""

    def __init__(self, prior: int = 0, bits: int = _DF_BITS) -> None:
        # np.zeros maps untouched pages lazily: a small window costs little of the table.
        self.table = np.zeros(1 << bits, np.int32)
        self.mask = np.uint32((1 << bits) - 1)
        self.documents = 0
        self.prior = prior

    def add(self, ids: npt.NDArray[np.uint32]) -> None:
        np.add.at(self.table, ids & self.mask, 1)
        self.documents += 1

    def add_many(self, ids: npt.NDArray[np.uint32], documents: int, sign: int = 1) -> None:
        """Count ``documents`` stories at once, ``ids`` all their terms (each story's once);
        ``sign`` -1 takes them out."""
        counted = np.bincount(ids & self.mask, minlength=len(self.table)).astype(np.int32)
        self.table += sign * counted
        self.documents += sign * documents

    def remove(self, ids: npt.NDArray[np.uint32]) -> None:
        np.subtract.at(self.table, ids & self.mask, 1)
        self.documents -= 1

    def df(self, ids: npt.NDArray[np.uint32]) -> npt.NDArray[np.int32]:
        return self.table[ids & self.mask]

    def idf(self, ids: npt.NDArray[np.uint32]) -> npt.NDArray[np.float32]:
        total = self.documents + self.prior + 1
        return (np.log(total / (self.df(ids) + 1.0)) + 1.0).astype(np.float32)

    def weights(
        self, ids: npt.NDArray[np.uint32], counts: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.float32]:
        """TF-IDF weights of terms (not normalised)."""
        return tf(counts) * self.idf(ids)
