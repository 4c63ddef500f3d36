"""The in-memory band index answers as a plain dict of sets would, through edits,
discards, prunes and compactions. Keys are drawn as band keys are, uniform over 64 bits
(the index keeps only their high bits once compacted)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from worker.dedup import bandindex
from worker.dedup.bandindex import BandIndex


def _keys(rng: random.Random, n: int) -> list[int]:
    return [rng.getrandbits(64) - 2**63 for _ in range(n)]


class _Reference:
    """What ``BandIndex`` must answer, written the obvious way."""

    def __init__(self) -> None:
        self.articles: dict[int, tuple[list[int], float]] = {}

    def add(self, article_id: int, keys: list[int], added_at: float) -> None:
        if keys:
            self.articles[article_id] = (keys, added_at)
        else:
            self.articles.pop(article_id, None)

    def hits(self, keys: list[int], since: float) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for key in set(keys):
            ids = sorted(a for a, (ks, t) in self.articles.items() if key in ks and t >= since)
            if ids:
                out[key] = ids
        return out


@pytest.mark.parametrize("slot_bits", [20, 2], ids=["default", "widening"])
def test_random_operations_match_the_reference(
    monkeypatch: pytest.MonkeyPatch, slot_bits: int
) -> None:
    # A small compaction threshold, so the run crosses many compactions; with 2 slot bits
    # to start, the packed entries are widened (repacked) again and again.
    monkeypatch.setattr(bandindex, "MIN_COMPACT", 64)
    monkeypatch.setattr(bandindex, "MIN_SLOT_BITS", slot_bits)
    rng = random.Random(5)
    index, ref = BandIndex(), _Reference()
    key_space = _keys(rng, 600)  # few keys: many articles share each
    for step in range(3000):
        op = rng.random()
        article = rng.randrange(1, 400)
        if op < 0.6:
            keys = rng.sample(key_space, rng.randrange(0, 6))
            index.add(article, keys, float(step))
            ref.add(article, keys, float(step))
        elif op < 0.7:
            index.discard(article)
            ref.add(article, [], 0.0)
        elif op < 0.72:
            before = float(step - rng.randrange(0, 500))
            index.prune(before)
            ref.articles = {a: v for a, v in ref.articles.items() if v[1] >= before}
        else:
            query = rng.sample(key_space, 20)
            since = float(step - rng.randrange(0, 2000))
            assert index.hits(query, since) == ref.hits(query, since), step
        assert len(index) == len(ref.articles)
    index.compact()
    assert index.hits(key_space, -1.0) == ref.hits(key_space, -1.0)


def test_compaction_drops_dead_slots() -> None:
    index = BandIndex()
    keys = _keys(random.Random(3), 101)
    for version in range(50):  # one article edited fifty times
        index.add(1, [keys[version], keys[version + 50]], float(version))
    index.add(2, [keys[100]], 0.0)
    index.discard(2)
    index.compact()
    assert len(index._packed) == 2  # only the live version's keys are left
    assert index.hits([keys[49], keys[99], keys[100], keys[0]], since=0.0) == {
        keys[49]: [1],
        keys[99]: [1],
    }


def test_keys_as_numpy_arrays_and_large_ids() -> None:
    index = BandIndex()
    keys = np.array([-(2**63), 2**63 - 1, 0], dtype="<i8")
    index.add(10**7, keys, 1.0)
    assert index.hits([2**63 - 1, -(2**63)], since=0.0) == {
        2**63 - 1: [10**7],
        -(2**63): [10**7],
    }


@pytest.mark.parametrize("slot_bits", [20, 2], ids=["default", "widening"])
def test_add_many_is_add_in_order(monkeypatch: pytest.MonkeyPatch, slot_bits: int) -> None:
    """Articles without keys (tombstones), and an index that already holds some of the
    ids."""
    monkeypatch.setattr(bandindex, "MIN_SLOT_BITS", slot_bits)
    rng = random.Random(9)
    every = _keys(rng, 100)
    ids = rng.sample(range(1, 400), 300)  # distinct, as a read of the table gives them
    rows = [(a, rng.sample(every, rng.choice([0, 3, 4])), float(t)) for t, a in enumerate(ids)]
    one, many = BandIndex(), BandIndex()
    for index in (one, many):
        index.add(ids[0], every[:3], -1.0)  # already indexed: replaced
        index.add(999, every[1:2], -1.0)
    for article_id, keys, added in rows:
        one.add(article_id, keys, added)
    many.add_many(
        np.array([r[0] for r in rows]),
        np.array([r[2] for r in rows]),
        np.array([len(r[1]) for r in rows]),
        np.array([k for r in rows for k in r[1]], dtype=np.int64),
    )
    assert len(one) == len(many)
    assert one.hits(every, -5.0) == many.hits(every, -5.0)
    assert one.hits(every, 150.0) == many.hits(every, 150.0)
