"""Clustering quality: pairwise and B-cubed precision, recall and F1.

Both compare a predicted assignment (document -> story) with a gold one (document ->
cluster). Pairwise scores count same-cluster *pairs*, so big clusters dominate; B-cubed
scores average over *documents*, so every document weighs the same.

    >>> gold = {"a": 1, "b": 1, "c": 1, "d": 2}
    >>> pred = {"a": "x", "b": "x", "c": "y", "d": "y"}
    >>> s = pairwise(pred, gold)  # predicted pairs ab, cd; true pairs ab, ac, bc
    >>> s.precision, round(s.recall, 4), round(s.f1, 4)
    (0.5, 0.3333, 0.4)
    >>> round(bcubed(pred, gold).precision, 4), round(bcubed(pred, gold).recall, 4)
    (0.75, 0.6667)
    >>> pair_agreement(pred, {"a": 1, "b": 1, "c": 2, "d": 2}), pair_agreement(pred, pred)
    (1.0, 1.0)
    >>> pair_agreement(pred, {"a": 1, "b": 1, "c": 1, "d": 2})
    0.25
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, precision: float, recall: float) -> Scores:
        total = precision + recall
        return cls(precision, recall, 2 * precision * recall / total if total else 0.0)

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _check(pred: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> None:
    if pred.keys() != gold.keys():
        missing = sorted(gold.keys() - pred.keys())[:3] + sorted(pred.keys() - gold.keys())[:3]
        raise ValueError(f"predicted and gold assignments cover different documents: {missing}")


def pairwise(pred: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> Scores:
    """Precision and recall over unordered same-cluster document pairs; a side with no
    pairs at all scores 1.0 (nothing claimed, nothing wrong)."""
    _check(pred, gold)
    both = sum(_pairs(n) for n in Counter((pred[d], gold[d]) for d in gold).values())
    predicted = sum(_pairs(n) for n in Counter(pred.values()).values())
    true = sum(_pairs(n) for n in Counter(gold.values()).values())
    return Scores.of(both / predicted if predicted else 1.0, both / true if true else 1.0)


def bcubed(pred: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> Scores:
    """Per document: the share of its predicted cluster that is in its gold cluster
    (precision) and the share of its gold cluster found in its predicted cluster (recall),
    averaged over documents."""
    _check(pred, gold)
    if not gold:
        return Scores.of(1.0, 1.0)
    cell = Counter((pred[d], gold[d]) for d in gold)
    pred_size, gold_size = Counter(pred.values()), Counter(gold.values())
    precision = sum(cell[pred[d], gold[d]] / pred_size[pred[d]] for d in gold) / len(gold)
    recall = sum(cell[pred[d], gold[d]] / gold_size[gold[d]] for d in gold) / len(gold)
    return Scores.of(precision, recall)


def pair_agreement(a: Mapping[str, Hashable], b: Mapping[str, Hashable]) -> float:
    """How alike two partitions of the same documents are: of the document pairs together
    in either, the share together in both (1.0: the same partition; two partitions of
    singletons only also score 1.0)."""
    _check(a, b)
    both = sum(_pairs(n) for n in Counter((a[d], b[d]) for d in a).values())
    either = (
        sum(_pairs(n) for n in Counter(a.values()).values())
        + sum(_pairs(n) for n in Counter(b.values()).values())
        - both
    )
    return both / either if either else 1.0
