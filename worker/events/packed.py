"""Storage for the window's stories in numpy arrays: the term arena, the inverted index,
the story id -> slot map. Pure, no database, nothing about events.

Each structure is built from pieces of bounded size (arena blocks of 8M terms, index runs
of 2M postings), so growing, compacting or dropping one never copies the whole: a worker
holding a million stories must not need twice their memory for a moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T", bound=np.generic)

Ids = npt.NDArray[np.uint32]
Counts = npt.NDArray[np.uint8]
Slots = npt.NDArray[np.int64]


def ranges(starts: Slots, lengths: Slots) -> Slots:
    """The positions ``starts[i] .. starts[i] + lengths[i]`` of every i, one after another.

    >>> ranges(np.array([10, 3]), np.array([2, 3])).tolist()
    [10, 11, 3, 4, 5]
    """
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def grown(array: npt.NDArray[T], need: int, fill: object = 0) -> npt.NDArray[T]:
    """``array`` with room for ``need`` items: a quarter more each time, not double."""
    if need <= len(array):
        return array
    out = np.full(max(need, len(array) + len(array) // 4, 1024), fill, array.dtype)
    out[: len(array)] = array
    return out


class Arena:
    """The stories' terms (ids and counts), in blocks of ``BLOCK`` entries. A story's
    terms are one range of one block; a block whose ranges are more than half dead is
    rewritten (``compact``), one that is all dead is dropped."""

    BLOCK = 1 << 23

    def __init__(self) -> None:
        self.terms: list[Ids | None] = []
        self.counts: list[Counts | None] = []
        self.filled: list[int] = []
        self.dead: list[int] = []

    def nbytes(self) -> int:
        """Bytes of the blocks (the open one as allocated)."""
        blocks = zip(self.terms, self.counts, strict=True)
        return sum(t.nbytes + c.nbytes for t, c in blocks if t is not None and c is not None)

    def append(self, ids: Ids, counts: Counts) -> tuple[int, int]:
        """Store a story's terms; where: (block, start)."""
        if not self.terms or self.filled[-1] + len(ids) > self.BLOCK:
            self.terms.append(np.zeros(self.BLOCK, np.uint32))
            self.counts.append(np.zeros(self.BLOCK, np.uint8))
            self.filled.append(0)
            self.dead.append(0)
        block = len(self.terms) - 1
        start = self.filled[block]
        terms, kept = self.terms[block], self.counts[block]
        assert terms is not None and kept is not None
        terms[start : start + len(ids)] = ids
        kept[start : start + len(ids)] = counts
        self.filled[block] = start + len(ids)
        return block, start

    def get(self, block: int, start: int, length: int) -> tuple[Ids, Counts]:
        terms, counts = self.terms[block], self.counts[block]
        assert terms is not None and counts is not None
        return terms[start : start + length], counts[start : start + length]

    def put(self, block: int, start: int, ids: Ids, counts: Counts) -> None:
        """Overwrite a range (a story's terms, shortened, at or before where they were)."""
        terms, kept = self.terms[block], self.counts[block]
        assert terms is not None and kept is not None
        terms[start : start + len(ids)] = ids
        kept[start : start + len(ids)] = counts

    def gather(
        self, blocks: npt.NDArray[np.int32], starts: Slots, lengths: Slots
    ) -> tuple[Slots, Ids, Counts]:
        """The terms of several stories: (row, id, count) per term, ``row`` the story's
        index in the arguments."""
        groups: list[Slots]
        if len(blocks) and blocks.min() == blocks.max():
            groups = [np.arange(len(blocks), dtype=np.int64)]  # the common case: one block
        else:
            order = np.argsort(blocks, kind="stable")
            groups = np.split(order, np.flatnonzero(np.diff(blocks[order])) + 1)
        rows: list[Slots] = []
        ids: list[Ids] = []
        counts: list[Counts] = []
        for group in groups:
            if not len(group):
                continue
            terms, kept = self.terms[int(blocks[group[0]])], self.counts[int(blocks[group[0]])]
            assert terms is not None and kept is not None
            positions = ranges(starts[group], lengths[group])
            rows.append(np.repeat(group, lengths[group]))
            ids.append(terms[positions])
            counts.append(kept[positions])
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.uint32), np.empty(0, np.uint8)
        return np.concatenate(rows), np.concatenate(ids), np.concatenate(counts)

    def release(self, block: int, length: int) -> bool:
        """A story's range is dead; whether its block should now be compacted."""
        self.dead[block] += length
        if self.dead[block] >= self.filled[block] and block < len(self.terms) - 1:
            self.terms[block] = self.counts[block] = None  # all dead: drop it
            return False
        return block < len(self.terms) - 1 and 2 * self.dead[block] > self.filled[block]

    def compact(self, block: int, starts: Slots, lengths: Slots) -> Slots:
        """Rewrite a block with only the given (live) ranges, at its exact size; their new
        starts."""
        terms, counts = self.terms[block], self.counts[block]
        assert terms is not None and counts is not None
        positions = ranges(starts, lengths)
        self.terms[block], self.counts[block] = terms[positions], counts[positions]
        self.filled[block], self.dead[block] = len(positions), 0
        return np.cumsum(lengths) - lengths


class IdMap:
    """Story id -> slot: sorted arrays, and a dict of the ids set since they were last
    sorted (merged in when it holds an eighth as many)."""

    def __init__(self) -> None:
        self.keys = np.empty(0, np.int64)
        self.values = np.empty(0, np.int64)
        self.recent: dict[int, int] = {}

    def get(self, key: int) -> int:
        """The slot of ``key``, -1 if none."""
        value = self.recent.get(key)
        if value is not None:
            return value
        i = int(np.searchsorted(self.keys, key))
        if i < len(self.keys) and self.keys[i] == key:
            return int(self.values[i])
        return -1

    def set(self, key: int, value: int) -> None:
        self.recent[key] = value
        if len(self.recent) > max(4096, len(self.keys) // 8):
            self._merge()

    def discard(self, key: int) -> None:
        self.recent.pop(key, None)
        i = int(np.searchsorted(self.keys, key))
        if i < len(self.keys) and self.keys[i] == key:
            self.values[i] = -1

    def rebuild(self, keys: Slots, values: Slots) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys, self.values, self.recent = keys[order], values[order], {}

    def _merge(self) -> None:
        recent = np.fromiter(self.recent, np.int64, len(self.recent))
        keys = np.concatenate([self.keys, recent])
        values = np.concatenate([self.values, np.fromiter(self.recent.values(), np.int64)])
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        # A key set again since the sort: the later value (from the dict) wins.
        last = np.append(keys[1:] != keys[:-1], True) & (values >= 0)
        self.keys, self.values, self.recent = keys[last], values[last], {}


Run = tuple[Ids, npt.NDArray[np.int32]]


class Postings:
    """Term id -> slots: sorted runs of (term, slot) pairs, oldest first, and a dict of the
    pairs added since the last run was written. The newest runs are merged while they are
    of like size and under ``MAX_RUN`` together, so a lookup is a binary search in a few
    dozen runs at most, and no merge copies more than ``MAX_RUN`` pairs."""

    FLUSH = 8192
    MAX_RUN = 1 << 21

    def __init__(self) -> None:
        self.recent: dict[int, list[int]] = {}
        self.pending = 0
        self.runs: list[Run] = []

    def __len__(self) -> int:
        return self.pending + sum(len(t) for t, _ in self.runs)

    def nbytes(self) -> int:
        return sum(t.nbytes + s.nbytes for t, s in self.runs)

    def add(self, slot: int, terms: Iterable[int], alive: npt.NDArray[np.bool_]) -> None:
        for term in terms:
            self.recent.setdefault(term, []).append(slot)
            self.pending += 1
        if self.pending >= self.FLUSH:
            self._flush(alive)

    def lookup(self, terms: Ids) -> Slots:
        """Every slot listed under any of ``terms`` (dead ones too), a slot once per term."""
        found: list[npt.NDArray[np.integer]] = [
            np.asarray(self.recent[t], np.int64) for t in terms.tolist() if t in self.recent
        ]
        for keys, slots in self.runs:
            lo = np.searchsorted(keys, terms, "left")
            hi = np.searchsorted(keys, terms, "right")
            if (hi > lo).any():
                found.append(slots[ranges(lo.astype(np.int64), (hi - lo).astype(np.int64))])
        return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)

    def append_run(self, terms: Ids, slots: Slots) -> None:
        """Add pairs as a run of their own (filling an index at once)."""
        order = np.argsort(terms, kind="stable")
        self.runs.append((terms[order], slots[order].astype(np.int32)))

    def renumber(self, renumbered: Slots) -> None:
        """Slots renumbered (``renumbered[old]``, -1 for a dead one): the runs stay sorted;
        neighbours left small are merged."""
        runs: list[Run] = []
        for terms, slots in self.runs:
            new = renumbered[slots]
            keep = new >= 0
            run = (terms[keep], new[keep].astype(np.int32))
            if runs and len(runs[-1][0]) + len(run[0]) <= self.MAX_RUN // 2:
                run = _merged(runs.pop(), run)
            if len(run[0]):
                runs.append(run)
        self.runs = runs
        recent: dict[int, list[int]] = {}
        for term, listed in self.recent.items():
            kept = [int(renumbered[s]) for s in listed if renumbered[s] >= 0]
            if kept:
                recent[term] = kept
        self.recent, self.pending = recent, sum(len(v) for v in recent.values())

    def _flush(self, alive: npt.NDArray[np.bool_]) -> None:
        terms = np.fromiter(
            (t for t, slots in self.recent.items() for _ in slots), np.uint32, self.pending
        )
        slots = np.fromiter(
            (s for slots in self.recent.values() for s in slots), np.int64, self.pending
        )
        self.recent, self.pending = {}, 0
        keep = alive[slots]
        self.append_run(terms[keep], slots[keep])
        while len(self.runs) >= 2:
            (older, _), (newer, _) = self.runs[-2], self.runs[-1]
            if 2 * len(newer) < len(older) or len(older) + len(newer) > self.MAX_RUN:
                break
            newest = self.runs.pop()
            self.runs.append(_merged(self.runs.pop(), newest))


def _merged(a: Run, b: Run) -> Run:
    terms = np.concatenate([a[0], b[0]])
    slots = np.concatenate([a[1], b[1]])
    order = np.argsort(terms, kind="stable")
    return terms[order], slots[order]
