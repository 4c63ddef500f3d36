"""The failure report of ``eval dedup``: which wrong merges and which missed pairs cost most.

A *false merge* is two gold clusters sharing a predicted story; a *missed pair* is one gold
cluster split over two predicted stories. Each costs ``|A| x |B|`` document pairs; the report
lists the costliest, each with its most similar document pair (estimated Jaccard and
containment from the stored signatures) and an excerpt of both sides.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol

import numpy as np

from worker.dedup.decision import Similarity, similarity_matrix
from worker.dedup.fingerprint import Fingerprint
from worker.eval.corpus import Document

# Documents compared per side when looking for a group's closest pair: bounds the work
# (vectorised: 200 x 200 pairs take a few milliseconds), high enough to cover a whole
# cluster of the labelled sets, so the pair shown is the one that links the groups.
MAX_SIDE = 200


class StoredRow(Protocol):
    signature: bytes | None
    shingle_count: int | None
    content_hash: str | None
    sig_scheme: str | None
    sig_seed: int | None
    clean_text: str | None


@dataclass(frozen=True)
class Failure:
    left_group: str
    right_group: str
    pairs: int  # document pairs this failure costs
    left: str  # the closest pair's documents
    right: str
    similarity: Similarity
    left_excerpt: str
    right_excerpt: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": [self.left_group, self.right_group],
            "pairs": self.pairs,
            "documents": [self.left, self.right],
            "jaccard": round(self.similarity.jaccard, 4),
            "containment": round(self.similarity.containment, 4),
            "excerpts": [self.left_excerpt, self.right_excerpt],
        }

    def render(self) -> str:
        s = self.similarity
        return (
            f"  {self.left_group} ~ {self.right_group}: {self.pairs} pairs; closest "
            f"J={s.jaccard:.2f} C={s.containment:.2f}\n"
            f"    {self.left}: {self.left_excerpt}\n    {self.right}: {self.right_excerpt}"
        )


def _fingerprint(row: StoredRow) -> Fingerprint | None:
    if row.signature is None or row.sig_scheme is None:
        return None
    return Fingerprint.from_stored(
        row.signature,
        shingle_count=row.shingle_count or 0,
        content_hash=row.content_hash or "",
        scheme=row.sig_scheme,
        seed=row.sig_seed or 0,
    )


def _excerpt(row: StoredRow) -> str:
    text = " ".join((row.clean_text or "").split())
    return textwrap.shorten(text, width=110, placeholder=" ...") or "(no text)"


def _closest(
    left: Sequence[str], right: Sequence[str], fps: Mapping[str, Fingerprint | None]
) -> tuple[str, str, Similarity]:
    lside = [(k, fp) for k in left[:MAX_SIDE] if (fp := fps[k]) is not None]
    rside = [(k, fp) for k in right[:MAX_SIDE] if (fp := fps[k]) is not None]
    if not lside or not rside:
        return left[0], right[0], Similarity(0.0, 0.0)
    jaccard, containment, _ = similarity_matrix([f for _, f in lside], [f for _, f in rside])
    score = np.maximum(jaccard, containment)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return lside[i][0], rside[j][0], Similarity(float(jaccard[i, j]), float(containment[i, j]))


def _failures(
    split: Mapping[Hashable, Mapping[Hashable, list[str]]],
    rows: Mapping[str, StoredRow],
    fps: Mapping[str, Fingerprint | None],
    limit: int,
) -> list[Failure]:
    """For every outer group split into several inner groups, one failure per inner pair."""
    costs = []
    for groups in split.values():
        for (ga, da), (gb, db) in combinations(sorted(groups.items(), key=str), 2):
            costs.append((len(da) * len(db), str(ga), str(gb), da, db))
    costs.sort(key=lambda c: (-c[0], c[1], c[2]))
    out = []
    for cost, ga, gb, da, db in costs[:limit]:
        a, b, sim = _closest(da, db, fps)
        out.append(Failure(ga, gb, cost, a, b, sim, _excerpt(rows[a]), _excerpt(rows[b])))
    return out


def failure_report(
    docs: Sequence[Document],
    pred: Mapping[str, Hashable],
    rows: Mapping[str, StoredRow],
    limit: int = 8,
) -> tuple[list[Failure], list[Failure]]:
    """``(false merges, missed pairs)``, the costliest ``limit`` of each."""
    fps = {d.key: _fingerprint(rows[d.key]) for d in docs}
    by_story: dict[Hashable, dict[Hashable, list[str]]] = defaultdict(lambda: defaultdict(list))
    by_cluster: dict[Hashable, dict[Hashable, list[str]]] = defaultdict(lambda: defaultdict(list))
    for d in docs:
        by_story[pred[d.key]][d.cluster].append(d.key)
        by_cluster[d.cluster][f"{d.cluster} in story {pred[d.key]}"].append(d.key)
    false_merges = _failures(by_story, rows, fps, limit)
    return false_merges, _failures(by_cluster, rows, fps, limit)
