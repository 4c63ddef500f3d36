"""The packed window (worker/events/packed.py, window.py) against plain Python models: after
random adds, removals, block and slot compactions, every story still has its own terms,
the index finds exactly the live stories under each term, and the statistics count
exactly the live stories' terms."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from worker.events.packed import Arena, Groups, IdMap, Postings
from worker.events.represent import TermStats, term_ids
from worker.events.window import Window


@pytest.fixture(autouse=True)
def _small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small blocks and runs, so a few hundred stories go through every rewrite.
    monkeypatch.setattr(Arena, "BLOCK", 256)
    monkeypatch.setattr(Postings, "FLUSH", 16)
    monkeypatch.setattr(Postings, "MAX_RUN", 64)
    monkeypatch.setattr(Window, "DEAD_SLOTS", 50)


def _story(rng: random.Random) -> dict[str, int]:
    return {f"w:t{rng.randrange(60)}": rng.randint(1, 4) for _ in range(rng.randint(1, 12))}


def _check(window: Window, model: dict[int, dict[str, int]], probe: int) -> None:
    assert len(window) == len(model)
    expected_df: Counter[int] = Counter()
    listed: dict[int, set[int]] = {}
    for story_id, counts in model.items():
        slot = window.slot_of(story_id)
        assert slot >= 0 and window.story[slot] == story_id
        ids, n = window.terms(slot)
        want = dict(zip(*(a.tolist() for a in term_ids(counts)), strict=True))
        assert dict(zip(ids.tolist(), n.tolist(), strict=True)) == want
        expected_df.update(ids.tolist())
        for term in ids[:probe].tolist():
            listed.setdefault(term, set()).add(story_id)
    for term, stories in listed.items():
        slots = window.postings.lookup(np.array([term], np.uint32))
        found = {int(window.story[s]) for s in slots if window.alive[s]}
        assert found == stories
    table = window.stats.table
    assert window.stats.documents == len(model)
    for term, df in expected_df.items():
        assert table[term & window.stats.mask] == df
    assert int(table.sum()) == sum(expected_df.values())


def test_random_adds_and_removals_keep_every_structure_true(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rewritten = []
    compact = Arena.compact
    monkeypatch.setattr(Arena, "compact", lambda self, *a: rewritten.append(1) or compact(self, *a))
    rng = random.Random(7)
    window = Window(TermStats(), top_terms=255, probe=3)
    model: dict[int, dict[str, int]] = {}
    next_id = 1
    for step in range(3000):
        if model and rng.random() < 0.45:
            story_id = rng.choice(sorted(model))
            window.remove(window.slot_of(story_id))
            del model[story_id]
            assert window.slot_of(story_id) == -1
        else:
            counts = _story(rng)
            window.insert(next_id, next_id, None, *term_ids(counts))
            model[next_id] = counts
            next_id += 1
        if step % 500 == 0:
            _check(window, model, probe=3)
    _check(window, model, probe=3)
    assert window.used < next_id - 1  # the slot arrays were rewritten
    assert None in window.arena.blocks  # a block was dropped
    assert rewritten  # and others rewritten
    # Old blocks were dropped or rewritten: the arena holds little more than the live terms.
    live_terms = sum(len(c) for c in model.values())
    held = sum(
        f for f, t in zip(window.arena.filled, window.arena.blocks, strict=True) if t is not None
    )
    assert held <= 2 * live_terms + Arena.BLOCK


def test_load_matches_the_stored_terms_and_cuts_to_the_heaviest() -> None:
    rng = random.Random(3)
    rows = {i: _story(rng) for i in range(1, 400)}
    window = Window(TermStats(), top_terms=5, probe=2)
    window.load((i, i, None, *term_ids(c)) for i, c in rows.items())
    assert len(window) == len(rows)
    total = 0
    for story_id, counts in rows.items():
        ids, _ = window.terms(window.slot_of(story_id))
        assert len(ids) == min(5, len(counts))
        assert set(ids.tolist()) <= set(term_ids(counts)[0].tolist())
        total += len(ids)
    # The statistics count the terms kept, as removing a story takes those out.
    assert int(window.stats.table.sum()) == total


def test_id_map_follows_sets_and_discards_across_merges() -> None:
    ids = IdMap()
    model = {}
    rng = random.Random(1)
    for _ in range(20000):
        key = rng.randrange(3000)
        if rng.random() < 0.3:
            ids.discard(key)
            model.pop(key, None)
        else:
            value = rng.randrange(10**6)
            ids.set(key, value)
            model[key] = value
    assert all(ids.get(k) == model.get(k, -1) for k in range(3000))


def test_groups_follow_joins_and_leaves_across_one_and_many_members() -> None:
    groups = Groups()
    model: dict[int, list[int]] = {}
    rng = random.Random(5)
    for member in range(20000):
        if model and rng.random() < 0.4:
            group = rng.choice(sorted(model))
            leaving = rng.choice(model[group])
            model[group].remove(leaving)
            emptied = not model[group]
            if emptied:
                del model[group]
            assert groups.leave(group, leaving) == emptied
        else:
            group = rng.randrange(2000)
            groups.join(group, member)
            model.setdefault(group, []).append(member)
    assert len(groups) == len(model)
    for group in range(2000):
        assert sorted(groups.members(group)) == sorted(model.get(group, []))
        assert groups.size(group) == len(model.get(group, []))
    assert all(len(m) > 1 for m in groups.larger.values())  # ones are kept apart
