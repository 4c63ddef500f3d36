"""The consolidation rule (average linkage in text order) and its planner, without a database."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from tests.fixtures.corpus import WIRE
from worker.dedup.consolidate import (
    STRAGGLER,
    TextNode,
    node_links,
    pass_links,
    plan,
    target_partition,
    text_nodes,
)
from worker.dedup.decision import MatchRule
from worker.dedup.fingerprint import Fingerprint, fingerprint

RULE = MatchRule()


def _texts() -> dict[str, str]:
    """Two wire stories in copies and trims that overlap little with each other, a third
    story, and a short text contained in both of the first two."""
    bridge, vaccine = WIRE["bridge"], WIRE["vaccine"]
    lede = bridge[0] + " " + vaccine[0]
    return {
        "bridge-full": "\n".join(bridge),
        "bridge-copy": "\n".join(bridge) + "\nUpdated at noon.",
        "bridge-head": "\n".join(bridge[:3]),
        "bridge-tail": "\n".join(bridge[5:]),
        "vaccine-full": "\n".join(vaccine),
        "vaccine-copy": "\n".join(vaccine[:-1]),
        "vaccine-again": "\n".join(vaccine),
        "orchestra": "\n".join(WIRE["orchestra"]),
        "two-ledes": lede,
    }


def _partition(
    ids: dict[int, str], fps: dict[int, Fingerprint], share: float
) -> set[frozenset[str]]:
    links = pass_links(fps, [set(fps)], RULE)
    nodes = text_nodes(fps)
    clusters = target_partition(nodes, node_links(nodes, links), share)
    return {frozenset(ids[a] for a in cluster) for cluster in clusters}


def test_the_partition_depends_on_the_texts_not_on_their_ids() -> None:
    texts = _texts()
    fps = {name: fingerprint(text) for name, text in texts.items()}
    seen = set()
    for seed in range(6):
        names = list(texts)
        random.Random(seed).shuffle(names)
        ids = {n * 7 + 3: name for n, name in enumerate(names)}
        seen.add(
            frozenset(
                _partition(ids, {a: fps[name] for a, name in ids.items()}, RULE.merge_link_share)
            )
        )
    assert len(seen) == 1
    partition = next(iter(seen))
    bridge = next(c for c in partition if "bridge-full" in c)
    # Trims join the full text, even the two that share nothing with each other.
    assert {"bridge-copy", "bridge-head", "bridge-tail"} <= bridge
    vaccine = next(c for c in partition if "vaccine-full" in c)
    assert {"vaccine-copy", "vaccine-again"} <= vaccine
    # The short text contained in both stories does not chain them into one.
    assert bridge != vaccine
    assert frozenset({"orchestra"}) in partition


def test_same_texts_are_one_node_whatever_their_ids() -> None:
    fp = fingerprint("\n".join(WIRE["bridge"]))
    other = fingerprint("\n".join(WIRE["vaccine"]))
    nodes = text_nodes({9: fp, 2: other, 5: fp})
    assert sorted(n.article_ids for n in nodes) == [(2,), (5, 9)]
    assert [n.weight for n in nodes if 5 in n.article_ids] == [2]


def _clique(first: int, size: int) -> set[tuple[int, int]]:
    return {(u, v) for u in range(first, first + size) for v in range(u + 1, first + size)}


def test_link_share_decides_a_bridge() -> None:
    # Two stories of 4 texts and one text linked to all 8: it joins one (share 1); the
    # other then has 4 linked pairs of 20 with it, 0.2.
    nodes = [TextNode((f"{n:02d}",), (n + 1,)) for n in range(9)]
    links = _clique(0, 4) | _clique(4, 4) | {(n, 8) for n in range(8)}
    assert target_partition(nodes, links, 0.3) == [(1, 2, 3, 4, 9), (5, 6, 7, 8)]
    assert target_partition(nodes, links, 0.2) == [tuple(range(1, 10))]
    with pytest.raises(ValueError):
        target_partition(nodes, set(), 0.0)


def test_a_straggler_joins_the_story_it_links_to() -> None:
    # One text linked to one of a story's 8 (share 1/8) stays out of the average linkage
    # and joins the story afterwards, as the engine would have joined it on one match; a
    # group larger than STRAGGLER does not.
    nodes = [TextNode((f"{n:02d}",), (n + 1,)) for n in range(13)]
    links = _clique(0, 8) | {(0, 8)} | _clique(9, STRAGGLER + 1) | {(1, 9)}
    assert target_partition(nodes, links, 0.3) == [tuple(range(1, 10)), (10, 11, 12, 13)]


def test_ties_go_to_the_first_texts() -> None:
    # Every pair links with share 1, but the first pair in text order merges first: the
    # result is one cluster either way, and the same one whatever the ids.
    nodes = [TextNode((k,), (i,)) for k, i in (("a", 30), ("b", 10), ("c", 20))]
    assert target_partition(nodes, {(0, 1), (0, 2), (1, 2)}, 1.0) == [(10, 20, 30)]


def _apply(
    current: dict[int, int], fixed: dict[int, int], target: list[tuple[int, ...]]
) -> dict[int, int]:
    """Carry out a plan on a dict, as ``pipeline.consolidate.apply`` does on a store."""
    p = plan(current, target, fixed)
    stories = dict(current)
    next_story = max(current.values()) + 1
    homes = list(p.homes)
    members: dict[int, set[int]] = defaultdict(set)
    for a, s in current.items():
        members[s].add(a)
    for s, n in fixed.items():
        members[s] |= {-(s * 1000 + k) for k in range(n)}
    for move in p.moves:
        home = homes[move.cluster]
        if move.whole:
            assert home is not None and members[move.source] == set(move.article_ids)
            dest = home
        else:
            assert set(move.article_ids) < members[move.source], "a split keeps one article"
            dest = next_story
            next_story += 1
            if home is None:
                homes[move.cluster] = dest
            else:
                dest = home
        for a in move.article_ids:
            stories[a] = dest
            members[move.source].discard(a)
            members[dest].add(a)
    return stories


@pytest.mark.parametrize("seed", range(40))
def test_a_plan_reaches_the_target(seed: int) -> None:
    rng = random.Random(seed)
    articles = list(range(1, rng.randint(2, 14)))
    current = {a: rng.randint(1, 5) for a in articles}
    fixed = {s: rng.choice((0, 0, 1)) for s in set(current.values())}
    shuffled = articles[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), rng.randint(0, len(shuffled) - 1)))
    target = [
        tuple(sorted(shuffled[i:j]))
        for i, j in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)
    ]
    after = _apply(current, fixed, target)
    clusters: dict[int, set[int]] = defaultdict(set)
    for a in articles:
        clusters[after[a]].add(a)
    assert sorted(map(sorted, clusters.values())) == sorted(map(list, target))
    p = plan(current, target, fixed)
    kept = [h for h in p.homes if h is not None]
    assert len(kept) == len(set(kept)), "a story is kept by one cluster at most"


def test_each_cluster_keeps_the_story_holding_most_of_it() -> None:
    # Story 3 holds most of the first cluster; story 2 loses its only article to it.
    p = plan({1: 3, 2: 3, 3: 2, 4: 5}, [(1, 2, 3), (4,)])
    assert p.homes == (3, 5)
    assert [(m.source, m.article_ids, m.whole) for m in p.moves] == [(2, (3,), True)]
    # A story with a member consolidation does not move is split, never folded away.
    p = plan({1: 3, 2: 3, 3: 2, 4: 5}, [(1, 2, 3), (4,)], fixed={2: 1})
    assert [(m.source, m.whole) for m in p.moves] == [(2, False)]
    # Nothing to do: no moves.
    assert plan({1: 3, 2: 3, 3: 4}, [(1, 2), (3,)]).empty
