"""The near-duplicate rule: which candidate, if any, a new text is a copy of.

A syndicated copy is either the same text with a new headline and chrome (high Jaccard)
or a trimmed version of a longer original (low Jaccard, high *containment* of the shorter
in the longer). The MinHash Jaccard estimate J and the exact shingle counts |A|, |B| give
the intersection, |A ∩ B| ≈ J(|A|+|B|)/(1+J), hence containment = |A ∩ B| / min(|A|,|B|).

    >>> from worker.dedup.fingerprint import fingerprint
    >>> lines = [f"sentence {i} of the wire story about the harbour fire." for i in range(40)]
    >>> wire, trimmed = " ".join(lines), " ".join(lines[:12])
    >>> s = similarity(fingerprint(wire), fingerprint(trimmed))
    >>> s.jaccard < 0.5 < 0.7 < s.containment
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from worker.dedup.fingerprint import Fingerprint


@dataclass(frozen=True)
class MatchRule:
    jaccard_threshold: float = 0.5
    containment_threshold: float = 0.4
    # Texts with fewer features are matched only exactly: short texts share boilerplate.
    min_shingles: int = 5
    # A new copy nearly identical (this Jaccard or more) to articles of two stories merges
    # them. Containment is no evidence here: a short text is "contained" in many stories.
    merge_jaccard: float = 0.9


@dataclass(frozen=True)
class Similarity:
    jaccard: float
    containment: float

    @property
    def score(self) -> float:
        return max(self.jaccard, self.containment)


@dataclass(frozen=True)
class Candidate:
    article_id: int
    story_id: int
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Match:
    article_id: int
    story_id: int
    similarity: Similarity


def similarity(a: Fingerprint, b: Fingerprint) -> Similarity:
    j = a.jaccard(b)
    smaller = min(a.shingle_count, b.shingle_count)
    if smaller == 0:
        return Similarity(0.0, 0.0)
    intersection = j * (a.shingle_count + b.shingle_count) / (1.0 + j)
    return Similarity(j, min(1.0, intersection / smaller))


def is_copy(sim: Similarity, a: Fingerprint, b: Fingerprint, rule: MatchRule) -> bool:
    if min(a.shingle_count, b.shingle_count) < rule.min_shingles:
        return False
    return sim.jaccard >= rule.jaccard_threshold or sim.containment >= rule.containment_threshold


def verified_matches(
    fp: Fingerprint, candidates: Iterable[Candidate], rule: MatchRule
) -> list[Match]:
    """Every candidate that passes the rule, best first; ties go to the oldest article
    (lowest id), so the order does not depend on the order of the candidates."""
    out = []
    for cand in candidates:
        if not fp.compatible(cand.fingerprint):
            continue
        sim = similarity(fp, cand.fingerprint)
        if is_copy(sim, fp, cand.fingerprint, rule):
            out.append(Match(cand.article_id, cand.story_id, sim))
    out.sort(key=lambda m: (-m.similarity.score, -m.similarity.jaccard, m.article_id))
    return out


def best_match(fp: Fingerprint, candidates: Iterable[Candidate], rule: MatchRule) -> Match | None:
    """The verified candidate most similar to ``fp`` (see ``verified_matches``)."""
    matches = verified_matches(fp, candidates, rule)
    return matches[0] if matches else None
