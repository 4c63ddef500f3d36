"""The near-duplicate rule: which candidates a new text is a copy of, which story it joins,
and when two stories are one.

A syndicated copy is either the same text with a new headline and chrome (high Jaccard)
or a trimmed version of a longer original (low Jaccard, high *containment* of the shorter
in the longer). The MinHash Jaccard estimate J and the exact shingle counts |A|, |B| give
the intersection, |A ∩ B| ≈ J(|A|+|B|)/(1+J), hence containment = |A ∩ B| / min(|A|,|B|).

The new text joins the story with the most verified matches (``story_match``). Another
story it matches is merged in only on evidence about the two stories themselves
(``stories_to_merge``): average linkage over their members, or a near-identical copy.

    >>> from worker.dedup.fingerprint import fingerprint
    >>> lines = [f"sentence {i} of the wire story about the harbour fire." for i in range(40)]
    >>> wire, trimmed = " ".join(lines), " ".join(lines[:12])
    >>> s = similarity(fingerprint(wire), fingerprint(trimmed))
    >>> s.jaccard < 0.5 < 0.7 < s.containment
    True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from worker.dedup.facts import conflicting
from worker.dedup.fingerprint import Fingerprint

# Members compared per story when deciding a merge: bounds the work for a story with
# thousands of variants (the first ones by id, so every worker compares the same).
MAX_LINK_MEMBERS = 100


@dataclass(frozen=True)
class MatchRule:
    jaccard_threshold: float = 0.5
    containment_threshold: float = 0.4
    # Texts with fewer features are matched only exactly: short texts share boilerplate.
    min_shingles: int = 5
    # A new copy nearly identical (this Jaccard or more) to articles of two stories merges
    # them. Containment is no evidence here: a short text is "contained" in many stories.
    merge_jaccard: float = 0.9
    # Two stories a new article is verified against are one story when at least this share
    # of the pairs between their members passes the rule (average linkage): a single
    # bridge, such as a short text contained in both, never chains two stories.
    merge_link_share: float = 0.3
    # A pair that passes is still no copy when at least this share of the fact slots the
    # two texts share hold different values (``worker.dedup.facts``): templated reports of
    # different earthquakes, matches, market closes. 0: facts are not compared.
    fact_conflict: float = 0.3


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


def _containment(j: Any, count_a: Any, count_b: Any) -> Any:
    """Containment from the Jaccard estimate and the set sizes; scalars or numpy arrays."""
    smaller = np.minimum(count_a, count_b)
    intersection = j * (count_a + count_b) / (1.0 + j)
    return np.minimum(1.0, intersection / np.maximum(smaller, 1))


def _passes(j: Any, containment: Any, smaller: Any, rule: MatchRule) -> Any:
    """The rule itself, on scalars or element-wise on numpy arrays."""
    return (smaller >= rule.min_shingles) & (
        (j >= rule.jaccard_threshold) | (containment >= rule.containment_threshold)
    )


def similarity(a: Fingerprint, b: Fingerprint) -> Similarity:
    j = a.jaccard(b)
    if min(a.shingle_count, b.shingle_count) == 0:
        return Similarity(0.0, 0.0)
    return Similarity(j, float(_containment(j, a.shingle_count, b.shingle_count)))


def is_copy(sim: Similarity, a: Fingerprint, b: Fingerprint, rule: MatchRule) -> bool:
    smaller = min(a.shingle_count, b.shingle_count)
    return bool(_passes(sim.jaccard, sim.containment, smaller, rule)) and not conflicting(
        a.facts, b.facts, rule.fact_conflict
    )


def _without_conflicts(
    passed: np.ndarray, left: Sequence[Fingerprint], right: Sequence[Fingerprint], rule: MatchRule
) -> np.ndarray:
    """``passed`` (a ``len(left) x len(right)`` mask of pairs that pass on their
    signatures) less the pairs whose facts conflict; in place."""
    if rule.fact_conflict <= 0:
        return passed
    for i, j in zip(*np.nonzero(passed), strict=True):
        if conflicting(left[i].facts, right[j].facts, rule.fact_conflict):
            passed[i, j] = False
    return passed


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
    out.sort(key=_rank)
    return out


def story_match(matches: Sequence[Match]) -> Match | None:
    """The match that decides a new article's story: the story with the most verified
    matches (one near-identical copy in a small split-off story does not outvote several
    copies in the main one), ties to the more similar best match, then the older article;
    within it, its best match. ``matches`` ordered best first, as ``verified_matches``."""
    if not matches:
        return None
    votes: dict[int, list[Match]] = defaultdict(list)
    for m in matches:
        votes[m.story_id].append(m)
    story = min(votes, key=lambda s: (-len(votes[s]), _rank(votes[s][0]), s))
    return votes[story][0]


def _rank(m: Match) -> tuple[float, float, int]:
    return (-m.similarity.score, -m.similarity.jaccard, m.article_id)


def similarity_matrix(
    left: Sequence[Fingerprint], right: Sequence[Fingerprint]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(jaccard, containment, smaller set size)`` of every pair, as ``len(left) x
    len(right)`` arrays; pairs of incompatible schemes are all zeros (never a copy)."""
    shape = (len(left), len(right))
    jaccard, containment, smaller = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    groups: dict[tuple[str, int, int], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for side, fps in enumerate((left, right)):
        for i, fp in enumerate(fps):
            groups[(fp.scheme, fp.seed, fp.num_perm)][side].append(i)
    for rows, cols in groups.values():
        if not rows or not cols:
            continue
        a = np.stack([left[i].hashvalues for i in rows])
        b = np.stack([right[i].hashvalues for i in cols])
        count_a = np.array([left[i].shingle_count for i in rows], dtype=float)[:, None]
        count_b = np.array([right[i].shingle_count for i in cols], dtype=float)[None, :]
        j = (a[:, None, :] == b[None, :, :]).mean(axis=2)
        small = np.minimum(count_a, count_b)
        j[small == 0] = 0.0  # an empty set has no similarity, as Fingerprint.jaccard says
        cell = np.ix_(rows, cols)
        jaccard[cell], smaller[cell] = j, small
        containment[cell] = np.where(small > 0, _containment(j, count_a, count_b), 0.0)
    return jaccard, containment, smaller


def link_share(left: Sequence[Fingerprint], right: Sequence[Fingerprint], rule: MatchRule) -> float:
    """The share of pairs (one of ``left``, one of ``right``) that pass the rule; pairs of
    incompatible schemes count as failing. Vectorised: a merge check compares up to
    ``MAX_LINK_MEMBERS`` squared pairs."""
    if not left or not right:
        return 0.0
    jaccard, containment, smaller = similarity_matrix(left, right)
    passed = _without_conflicts(_passes(jaccard, containment, smaller, rule), left, right, rule)
    return float(np.count_nonzero(passed)) / jaccard.size


# Rows of a pass matrix compared at once: bounds the temporary of ``similarity_matrix``
# (rows x columns x num_perm bytes) to a few MB however large the matrix.
_PASS_BLOCK = 64


def pass_matrix(fps: Sequence[Fingerprint], rule: MatchRule, *, facts: bool = True) -> np.ndarray:
    """Which pairs of ``fps`` pass the rule, as a symmetric ``n x n`` boolean array with a
    false diagonal; computed a block of rows at a time. ``facts`` off: on the signatures
    alone (the caller compares the facts of the pairs it needs)."""
    out = np.zeros((len(fps), len(fps)), dtype=bool)
    for start in range(0, len(fps), _PASS_BLOCK):
        block = fps[start : start + _PASS_BLOCK]
        jaccard, containment, smaller = similarity_matrix(block, fps)
        passed = _passes(jaccard, containment, smaller, rule)
        if facts:
            passed = _without_conflicts(passed, block, fps, rule)
        out[start : start + len(block)] = passed
    np.fill_diagonal(out, False)
    return out


def passing(
    fp: Fingerprint, others: Sequence[Fingerprint], rule: MatchRule, *, facts: bool = True
) -> np.ndarray:
    """Which of ``others`` ``fp`` is a copy of, vectorised; ``facts`` off: on the
    signatures alone."""
    if not others:
        return np.zeros(0, dtype=bool)
    jaccard, containment, smaller = similarity_matrix([fp], others)
    passed = _passes(jaccard, containment, smaller, rule)
    return _without_conflicts(passed, [fp], others, rule)[0] if facts else passed[0]


def stories_to_merge(
    near: Match,
    matches: Sequence[Match],
    members: Mapping[int, Sequence[Fingerprint]],
    rule: MatchRule,
) -> set[int]:
    """Stories other than ``near``'s that are the same story: the new article is a
    near-identical copy (``merge_jaccard``) of one of their articles, or the pairs between
    their members and those of ``near``'s story mostly pass the rule (``merge_link_share``).
    ``members``: fingerprints of each story's stored articles (the new one not included)."""
    out = set()
    for story in {m.story_id for m in matches} - {near.story_id}:
        bridged = any(
            m.story_id == story and m.similarity.jaccard >= rule.merge_jaccard for m in matches
        )
        if (
            bridged
            or link_share(members.get(near.story_id, ()), members.get(story, ()), rule)
            >= rule.merge_link_share
        ):
            out.add(story)
    return out


def identity_match_allowed(
    new: Fingerprint,
    new_feed_id: int,
    matched: Fingerprint | None,
    matched_feed_id: int,
    rule: MatchRule,
) -> bool:
    """Whether a URL (or GUID) match makes the new article a copy of ``matched``: always
    within one feed (its own re-publication); across feeds only when the texts agree, by
    content hash or by the near-duplicate rule. A URL is only the entry's word, and any
    subscribed feed can write any: the victim's link with ``?fbclid=`` added (stripped
    by canonicalisation) used to join the victim's story with the attacker's text. When
    this says no, the entry is matched by its text alone (exact, near, or a new story).

    >>> from worker.dedup.fingerprint import fingerprint
    >>> wire = fingerprint("the council said the harbour bridge will close in May " * 5)
    >>> other = fingerprint("a miracle pill was sold to the readers of the site " * 5)
    >>> identity_match_allowed(other, 2, wire, 1, MatchRule())
    False
    >>> identity_match_allowed(other, 1, wire, 1, MatchRule()), identity_match_allowed(
    ...     wire, 2, wire, 1, MatchRule())
    (True, True)
    """
    if new_feed_id == matched_feed_id:
        return True
    if matched is None:
        return False
    if new.content_hash == matched.content_hash:
        return True
    if not new.compatible(matched):
        return False
    return is_copy(similarity(new, matched), new, matched, rule)


def best_match(fp: Fingerprint, candidates: Iterable[Candidate], rule: MatchRule) -> Match | None:
    """The verified candidate most similar to ``fp`` (see ``verified_matches``)."""
    matches = verified_matches(fp, candidates, rule)
    return matches[0] if matches else None
