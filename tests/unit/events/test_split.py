"""The split check (worker/events/split.py) on synthetic vectors: two groups of stories
with their own terms and some shared ones are found and parted, one group with no such
structure is left whole, and an event larger than the sample is parted the same way."""

from __future__ import annotations

import random

import numpy as np
import pytest

from worker.events import split as split_module
from worker.events.split import split
from worker.events.window import Vectors


def _vectors(groups: list[int], seed: int = 0) -> Vectors:
    """One row per story: 3 of its group's 6 own terms, 3 of 12 terms all share."""
    rng = random.Random(seed)
    rows, terms, weights = [], [], []
    for row, group in enumerate(groups):
        chosen = rng.sample(range(100 * group, 100 * group + 6), 3) + rng.sample(
            range(10_000, 10_012), 3
        )
        for term in chosen:
            rows.append(row)
            terms.append(term)
            weights.append(1 / np.sqrt(6))
    order = np.lexsort((np.array(terms), np.array(rows)))
    return Vectors(
        np.array(rows, np.int64)[order],
        np.array(terms, np.uint32)[order],
        np.array(weights, np.float32)[order],
        len(groups),
    )


def _parted(labels: list[int], side: np.ndarray) -> bool:
    first = {bool(side[i]) for i, g in enumerate(labels) if g == 1}
    second = {bool(side[i]) for i, g in enumerate(labels) if g == 2}
    return len(first) == 1 and len(second) == 1 and first != second


def test_two_groups_are_parted_and_one_is_left_whole() -> None:
    labels = [1, 2] * 8
    ratio, side = split(_vectors(labels), 4)
    assert ratio < 0.55 and _parted(labels, side)
    whole, _ = split(_vectors([1] * 16), 4)
    assert whole > 0.55


def test_parts_smaller_than_the_minimum_are_no_split() -> None:
    labels = [1] * 12 + [2] * 2
    ratio, _ = split(_vectors(labels), 4)
    assert ratio > 0.55 or ratio == float("inf")


def test_an_event_larger_than_the_sample_is_parted_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(split_module, "SAMPLE", 20)
    labels = [1, 1, 2] * 30
    ratio, side = split(_vectors(labels, seed=3), 4)
    assert len(side) == len(labels)
    assert ratio < 0.55 and _parted(labels, side)
