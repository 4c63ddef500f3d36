"""Storage for the window's stories in numpy arrays: the term arena, the inverted index,
the story id -> slot map. Pure, no database, nothing about events.

Each structure is built from pieces of bounded size (arena blocks of 8M terms, index runs
of 2M postings), so growing, compacting or dropping one never copies the whole: a worker
holding a million stories must not need twice their memory for a moment.
"""

from __future__ import annotations

from array import array
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
    """The stories' terms in blocks of ``BLOCK`` entries, each entry a term's 28-bit id
    and its count in 4 bits (``worker.events.represent.term_ids``). A story's terms are
    one range of one block; a block whose ranges are more than half dead is rewritten
    (``compact``), one that is all dead is dropped."""

    BLOCK = 1 << 23

    def __init__(self) -> None:
        self.blocks: list[Ids | None] = []
        self.filled: list[int] = []
        self.dead: list[int] = []

    def nbytes(self) -> int:
        """Bytes of the blocks (the open one as allocated)."""
        return sum(b.nbytes for b in self.blocks if b is not None)

    def _block(self, block: int) -> Ids:
        entries = self.blocks[block]
        assert entries is not None  # a live story's block is never dropped
        return entries

    def append(self, ids: Ids, counts: Counts) -> tuple[int, int]:
        """Store a story's terms; where: (block, start)."""
        if not self.blocks or self.filled[-1] + len(ids) > self.BLOCK:
            self.blocks.append(np.zeros(self.BLOCK, np.uint32))
            self.filled.append(0)
            self.dead.append(0)
        block = len(self.blocks) - 1
        start = self.filled[block]
        self.put(block, start, ids, counts)
        self.filled[block] = start + len(ids)
        return block, start

    def get(self, block: int, start: int, length: int) -> tuple[Ids, Counts]:
        return _unpacked(self._block(block)[start : start + length])

    def put(self, block: int, start: int, ids: Ids, counts: Counts) -> None:
        """Write a story's terms at ``start`` (a new range, or its own range shortened)."""
        self._block(block)[start : start + len(ids)] = (ids << 4) | counts

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
        entries: list[Ids] = []
        for group in groups:
            if len(group):
                rows.append(np.repeat(group, lengths[group]))
                positions = ranges(starts[group], lengths[group])
                entries.append(self._block(int(blocks[group[0]]))[positions])
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.uint32), np.empty(0, np.uint8)
        return (np.concatenate(rows), *_unpacked(np.concatenate(entries)))

    def release(self, block: int, length: int) -> bool:
        """A story's range is dead; whether its block should now be compacted."""
        self.dead[block] += length
        if self.dead[block] >= self.filled[block] and block < len(self.blocks) - 1:
            self.blocks[block] = None  # all dead: drop it
            return False
        return block < len(self.blocks) - 1 and 2 * self.dead[block] > self.filled[block]

    def compact(self, block: int, starts: Slots, lengths: Slots) -> Slots:
        """Rewrite a block with only the given (live) ranges, at its exact size; their new
        starts."""
        positions = ranges(starts, lengths)
        self.blocks[block] = self._block(block)[positions]
        self.filled[block], self.dead[block] = len(positions), 0
        return np.cumsum(lengths) - lengths


def _unpacked(entries: Ids) -> tuple[Ids, Counts]:
    return entries >> np.uint32(4), (entries & np.uint32(15)).astype(np.uint8)


class IdMap:
    """Int -> int (story id -> slot, event id -> its one story): sorted arrays, and a dict
    of the keys set since they were last sorted (merged in when it holds an eighth as
    many). 16 bytes an entry where a dict takes about 100."""

    def __init__(self) -> None:
        self.keys = np.empty(0, np.int64)
        self.values = np.empty(0, np.int64)
        self.recent: dict[int, int] = {}

    def __len__(self) -> int:
        """Entries (a key is never set twice without a discard between)."""
        return int((self.values >= 0).sum()) + len(self.recent)

    def get(self, key: int) -> int:
        """The value of ``key``, -1 if none (values are never negative)."""
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


class Groups:
    """Group id -> member ids (event id -> story ids). Most events of a window are one
    story: those are kept in an ``IdMap``, only the larger in a dict of arrays."""

    def __init__(self) -> None:
        self.single = IdMap()
        self.larger: dict[int, array[int]] = {}

    def __len__(self) -> int:
        return len(self.single) + len(self.larger)

    def members(self, group: int) -> list[int]:
        larger = self.larger.get(group)
        if larger is not None:
            return list(larger)
        one = self.single.get(group)
        return [one] if one >= 0 else []

    def size(self, group: int) -> int:
        larger = self.larger.get(group)
        if larger is not None:
            return len(larger)
        return 1 if self.single.get(group) >= 0 else 0

    def join(self, group: int, member: int) -> None:
        larger = self.larger.get(group)
        if larger is not None:
            larger.append(member)
            return
        one = self.single.get(group)
        if one < 0:
            self.single.set(group, member)
        else:
            self.single.discard(group)
            self.larger[group] = array("q", (one, member))

    def leave(self, group: int, member: int) -> bool:
        """Take a member out; whether the group is now empty."""
        larger = self.larger.get(group)
        if larger is None:
            if self.single.get(group) != member:
                return False
            self.single.discard(group)
            return True
        if member in larger:
            larger.remove(member)
            if len(larger) == 1:
                del self.larger[group]
                self.single.set(group, larger[0])
        return False
