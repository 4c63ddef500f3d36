"""Consolidation: the partition a set of articles should end in, decided by a fixed rule in
a fixed order, so it depends on the set alone, not on the order the articles arrived in or
on which worker stored which.

The engine decides each article as it comes (``worker.dedup.engine``): the story with the
most verified matches, and merges on the link share between two stories as they stand. Its
result depends on arrival order: two trims that arrive first start two stories; a chain of
early merges can join two clusters that a later view would keep apart. Consolidation
re-decides a connected part of the recent window after the fact:

- **Links**: the pairs of articles that share an LSH band and pass the verification rule
  (``worker.dedup.decision``). Both are functions of the two signatures only.
- **Texts**: articles with the same text (content hash and signature scheme) are one node
  of weight *k*: they are interchangeable, so nothing below depends on their ids.
- **Rule**: average linkage (UPGMA) over the links. Every node starts as a cluster; the two
  clusters with the highest *link share* (linked article pairs between them over all
  article pairs between them) are merged, again and again, while that share is at least
  ``link_share``. A short text contained in two stories is one link to each: it joins one,
  and the two stand apart unless their own members link. Then each cluster of at most
  ``STRAGGLER`` articles left joins the larger cluster holding most of its links, as the
  engine would have joined it on one match.
- **Order**: nodes are sorted by their text key; equal shares go to the pair that comes
  first in that order. Shares are ratios of integers, computed the same way every time, so
  equal ratios are equal floats.

    >>> a = [TextNode(("a",), (1, 4)), TextNode(("b",), (2,)), TextNode(("c",), (3,))]
    >>> target_partition(a, {(0, 1)}, 0.3)
    [(1, 2, 4), (3,)]
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from worker.dedup.decision import MatchRule, pass_matrix
from worker.dedup.facts import conflicting
from worker.dedup.fingerprint import Fingerprint


@dataclass(frozen=True)
class TextNode:
    """One distinct text of a component: its sort key and the articles that carry it."""

    key: tuple[Hashable, ...]
    article_ids: tuple[int, ...]

    @property
    def weight(self) -> int:
        return len(self.article_ids)


def text_key(fp: Fingerprint) -> tuple[str, str, int, int]:
    """What makes two articles the same text for consolidation: the content hash (of the
    word stream) under one signature scheme."""
    return (fp.content_hash, fp.scheme, fp.seed, fp.num_perm)


def text_nodes(fingerprints: Mapping[int, Fingerprint]) -> list[TextNode]:
    """Articles grouped by text, in text-key order (ids ascending within a node)."""
    groups: dict[tuple[str, str, int, int], list[int]] = defaultdict(list)
    for article_id, fp in fingerprints.items():
        groups[text_key(fp)].append(article_id)
    return [TextNode(key, tuple(sorted(groups[key]))) for key in sorted(groups)]


def node_links(
    nodes: Sequence[TextNode], article_links: Iterable[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Article links as links between node indexes ``(low, high)``; links inside a node
    (the same text twice) are dropped."""
    where = {a: n for n, node in enumerate(nodes) for a in node.article_ids}
    out = set()
    for a, b in article_links:
        u, v = where.get(a), where.get(b)
        if u is not None and v is not None and u != v:
            out.add((min(u, v), max(u, v)))
    return out


def target_partition(
    nodes: Sequence[TextNode], links: Collection[tuple[int, int]], link_share: float
) -> list[tuple[int, ...]]:
    """The clusters average linkage at ``link_share`` makes of ``nodes`` (in text-key
    order) linked by ``links`` (node index pairs): each cluster's article ids ascending,
    clusters by their first node. See the module docstring for the rule.

    Sparse: only linked cluster pairs are ever looked at (a heap of their shares, stale
    entries skipped), so the cost follows the number of links, not the square of the
    nodes."""
    if link_share <= 0:
        raise ValueError("link_share must be above 0: unlinked clusters have share 0")
    weight = [float(node.weight) for node in nodes]
    counts: list[dict[int, float]] = [{} for _ in nodes]
    for u, v in links:
        pairs = weight[u] * weight[v]
        counts[u][v] = counts[v][u] = pairs
    members: dict[int, list[int]] = {n: [n] for n in range(len(nodes))}
    heap: list[tuple[float, int, int]] = []
    for u, row in enumerate(counts):
        for v, count in row.items():
            if u < v:
                heap.append((-count / (weight[u] * weight[v]), u, v))
    heapq.heapify(heap)
    # A cluster is named by its first node; a heap entry is current only while both its
    # clusters are alive and their share is still the one it was pushed with.
    while heap:
        negative, u, v = heapq.heappop(heap)
        if -negative < link_share:
            break
        if u not in members or v not in members:
            continue
        if counts[u].get(v, 0.0) / (weight[u] * weight[v]) != -negative:
            continue
        members[u].extend(members.pop(v))
        weight[u] += weight[v]
        for w, count in counts[v].items():
            if w == u:
                continue
            counts[w].pop(v)
            merged = counts[u].get(w, 0.0) + count
            counts[u][w] = counts[w][u] = merged
        counts[u].pop(v, None)
        counts[v] = {}
        for w, count in counts[u].items():
            low, high = min(u, w), max(u, w)
            heapq.heappush(heap, (-count / (weight[u] * weight[w]), low, high))
    _attach_stragglers(nodes, links, members)
    return [
        tuple(sorted(a for n in members[first] for a in nodes[n].article_ids))
        for first in sorted(members)
    ]


# Clusters of at most this many articles left after average linkage join the cluster that
# holds most of their links (see ``_attach_stragglers``).
STRAGGLER = 3


def _attach_stragglers(
    nodes: Sequence[TextNode], links: Collection[tuple[int, int]], members: dict[int, list[int]]
) -> None:
    """In place: each cluster of at most ``STRAGGLER`` articles, smallest first (ties in
    text order), joins the cluster holding most of its linked article pairs (ties to the
    first in text order) when that one is larger. The engine joins a copy to a story on one
    match; average linkage asks a share of a large story's members, which a copy wrapped in
    more chrome than the others does not reach. Only small clusters move, so two stories
    are never chained through one."""
    neighbours: dict[int, list[int]] = defaultdict(list)
    for u, v in links:
        neighbours[u].append(v)
        neighbours[v].append(u)
    cluster = {n: first for first, ns in members.items() for n in ns}
    size = {first: sum(nodes[n].weight for n in ns) for first, ns in members.items()}
    for first in sorted((f for f in members if size[f] <= STRAGGLER), key=lambda f: (size[f], f)):
        linked: dict[int, int] = defaultdict(int)
        for n in members[first]:
            for m in neighbours[n]:
                if cluster[m] != first:
                    linked[cluster[m]] += nodes[n].weight * nodes[m].weight
        if not linked:
            continue
        best = min(linked, key=lambda f: (-linked[f], f))
        if size[best] <= size[first]:
            continue
        for n in members[first]:
            cluster[n] = best
        members[best].extend(members.pop(first))
        size[best] += size.pop(first)


def pass_links(
    fingerprints: Mapping[int, Fingerprint],
    groups: Iterable[Collection[int]],
    rule: MatchRule,
) -> set[tuple[int, int]]:
    """Every pair of articles within each of ``groups`` that passes the verification rule,
    as ``(low id, high id)``: all pairs, not only those LSH offered, so the links of a
    component depend on its members alone."""
    out: set[tuple[int, int]] = set()
    for group in groups:
        ids = sorted(group)
        if len(ids) < 2:
            continue
        fps = [fingerprints[a] for a in ids]
        passed = pass_matrix(fps, rule, facts=False)
        for x, y in zip(*np.nonzero(np.triu(passed, 1)), strict=True):
            if not conflicting(fps[x].facts, fps[y].facts, rule.fact_conflict):
                out.add((ids[x], ids[y]))
    return out


@dataclass(frozen=True)
class Move:
    """Articles of story ``source`` that go to target cluster ``cluster``: the whole story
    folded into the cluster's story (``whole``), or split off and then folded in."""

    source: int
    article_ids: tuple[int, ...]
    cluster: int
    whole: bool


@dataclass(frozen=True)
class Plan:
    """How to turn the current stories into the target clusters: ``homes[c]`` is the story
    cluster ``c`` keeps (``None``: a new one, made by its first move's split), then the
    moves in order."""

    homes: tuple[int | None, ...]
    moves: tuple[Move, ...]

    @property
    def empty(self) -> bool:
        return not self.moves


def plan(
    current: Mapping[int, int],
    target: Sequence[Sequence[int]],
    fixed: Mapping[int, int] | None = None,
) -> Plan:
    """The merges and splits that turn ``current`` (article id -> story id, for the
    articles consolidation may move) into the ``target`` clusters, keeping story ids
    stable: each cluster keeps the story holding most of its articles (ties to the lowest
    story id, then the first cluster), each story kept by at most one cluster. ``fixed``:
    how many members each story has that consolidation does not move (out of the window,
    too short to compare); such a story is never folded away.

    >>> p = plan({1: 10, 2: 10, 3: 11, 4: 12}, [(1, 2, 3), (4,)])
    >>> p.homes, [(m.source, m.article_ids, m.cluster, m.whole) for m in p.moves]
    ((10, 12), [(11, (3,), 0, True)])
    >>> p = plan({1: 10, 2: 10, 3: 10}, [(1, 2), (3,)])
    >>> p.homes, [(m.source, m.article_ids, m.cluster, m.whole) for m in p.moves]
    ((10, None), [(10, (3,), 1, False)])
    """
    fixed = fixed or {}
    overlap: dict[tuple[int, int], int] = defaultdict(int)
    for c, cluster in enumerate(target):
        for a in cluster:
            overlap[(c, current[a])] += 1
    homes: list[int | None] = [None] * len(target)
    kept: set[int] = set()
    for (c, story), _count in sorted(overlap.items(), key=lambda i: (-i[1], i[0][1], i[0][0])):
        if homes[c] is None and story not in kept:
            homes[c] = story
            kept.add(story)
    left: dict[int, int] = defaultdict(int)  # movable members each story still holds
    for story in current.values():
        left[story] += 1
    moves = []
    for c, cluster in enumerate(target):
        leaving: dict[int, list[int]] = defaultdict(list)
        for a in cluster:
            if current[a] != homes[c]:
                leaving[current[a]].append(a)
        for source in sorted(leaving):
            ids = tuple(sorted(leaving[source]))
            left[source] -= len(ids)
            # A story kept by no cluster goes whole into the last cluster that takes from
            # it, when nothing (no fixed member) stays behind; a new home is never "whole".
            whole = (
                source not in kept
                and left[source] == 0
                and not fixed.get(source)
                and homes[c] is not None
            )
            moves.append(Move(source, ids, c, whole))
    return Plan(tuple(homes), tuple(moves))
