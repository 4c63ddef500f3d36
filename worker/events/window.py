"""The window's stories, packed in numpy arrays: pure, in memory, no database.

A worker holds every story of the event window (a week of news: up to a million stories)
in memory, so each story must cost a few hundred bytes, not the kilobytes of Python
dicts of strings. Here a story is a *slot*: a row of a few arrays (story id, event id,
time, where its terms are). Its terms, at most ``top_terms`` of them, are term ids and
counts in an arena (``worker.events.packed``), heaviest first as weighed when the story
came; its weights are worked out afresh from the counts and the current statistics each
time it is compared, so an early story is never stuck with the weights of a young
window. An inverted index lists, for each story's ``probe`` heaviest terms, the slots
that carry it.

A removed story leaves a dead slot behind; when an eighth of the slots are dead, the slot
arrays are rewritten without them (``compact``), and the index renumbered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from worker.events.packed import Arena, Counts, IdMap, Ids, Postings, Slots, grown
from worker.events.represent import TermStats

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Vectors:
    """Unit TF-IDF vectors of some stories, flat: story ``row[k]`` has weight ``weight[k]``
    on term ``term[k]``."""

    row: Slots
    term: Ids
    weight: Floats
    rows: int

    def dot(self, term: Ids, weight: Floats) -> Floats:
        """Each story's cosine with one vector (``term`` sorted, unique)."""
        if not len(term) or not len(self.term):
            return np.zeros(self.rows, np.float32)
        at = np.minimum(np.searchsorted(term, self.term), len(term) - 1)
        shared = np.where(term[at] == self.term, self.weight * weight[at], 0.0)
        return np.bincount(self.row, weights=shared, minlength=self.rows).astype(np.float32)

    def total(self, rows: Slots | None = None) -> tuple[Ids, Floats]:
        """The sum of the vectors (of ``rows`` only, if given), sorted by term."""
        keep = slice(None) if rows is None else np.isin(self.row, rows)
        term, inverse = np.unique(self.term[keep], return_inverse=True)
        return term, np.bincount(inverse, weights=self.weight[keep]).astype(np.float32)


def unit(term: Ids, weight: Floats) -> tuple[Ids, Floats]:
    """The vector sorted by term and of length 1."""
    order = np.argsort(term)
    norm = float(np.sqrt(np.dot(weight, weight))) or 1.0
    return term[order], (weight[order] / norm).astype(np.float32)


class Window:
    """The packed stories of the window (see the module's docstring)."""

    # Dead slots tolerated before the slot arrays are rewritten (and an eighth of the live).
    DEAD_SLOTS = 1024

    def __init__(self, stats: TermStats, top_terms: int = 80, probe: int = 12) -> None:
        if not 0 < top_terms <= 255:
            raise ValueError("top_terms must be 1..255")
        self.stats = stats
        self.top_terms = top_terms
        self.probe = probe
        self.story: npt.NDArray[np.int64] = np.zeros(0, np.int64)
        self.event: npt.NDArray[np.int64] = np.zeros(0, np.int64)
        self.at: npt.NDArray[np.float64] = np.zeros(0, np.float64)  # NaN: unknown
        self.block: npt.NDArray[np.int32] = np.zeros(0, np.int32)
        self.start: Slots = np.zeros(0, np.int64)
        self.length: npt.NDArray[np.uint8] = np.zeros(0, np.uint8)
        self.alive: npt.NDArray[np.bool_] = np.zeros(0, np.bool_)
        self.used = 0  # slots used, dead ones included
        self.live = 0
        self.arena = Arena()
        self.slots = IdMap()
        self.postings = Postings()

    def __len__(self) -> int:
        return self.live

    def slot_of(self, story_id: int) -> int:
        return self.slots.get(story_id)

    def nbytes(self) -> int:
        """Bytes of the arrays (not of the dicts of the latest ids and postings)."""
        arrays = (self.story, self.event, self.at, self.block, self.start, self.length,
                  self.alive, self.slots.keys, self.slots.values, self.stats.table)  # fmt: skip
        return sum(a.nbytes for a in arrays) + self.arena.nbytes() + self.postings.nbytes()

    # -- adding and removing --------------------------------------------------------------
    def heaviest(self, ids: Ids, counts: Counts) -> tuple[Ids, Counts, Floats]:
        """A story's ``top_terms`` heaviest terms (by the statistics now), heaviest first,
        with their (not normalised) weights."""
        weight = self.stats.weights(ids, counts)
        order = np.argsort(-weight, kind="stable")[: self.top_terms]
        return ids[order], counts[order], weight[order]

    def insert(
        self, story_id: int, event_id: int, at: float | None, ids: Ids, counts: Counts
    ) -> int:
        """Add a story (weighed with the statistics before it, then counted in them)."""
        ids, counts, _ = self.heaviest(ids, counts)
        slot = self._append(story_id, event_id, at, ids, counts)
        self.stats.add(ids)
        self.postings.add(slot, ids[: self.probe].tolist(), self.alive)
        return slot

    def _append(
        self, story_id: int, event_id: int, at: float | None, ids: Ids, counts: Counts
    ) -> int:
        slot = self.used
        if slot >= len(self.story):
            need = slot + 1
            self.story = grown(self.story, need)
            self.event = grown(self.event, need)
            self.at = grown(self.at, need, np.nan)
            self.block = grown(self.block, need)
            self.start = grown(self.start, need)
            self.length = grown(self.length, need)
            self.alive = grown(self.alive, need, False)
        block, start = self.arena.append(ids, counts)
        self.story[slot], self.event[slot] = story_id, event_id
        self.at[slot] = np.nan if at is None else at
        self.block[slot], self.start[slot], self.length[slot] = block, start, len(ids)
        self.alive[slot] = True
        self.used = slot + 1
        self.live += 1
        self.slots.set(story_id, slot)
        return slot

    def terms(self, slot: int) -> tuple[Ids, Counts]:
        return self.arena.get(int(self.block[slot]), int(self.start[slot]), int(self.length[slot]))

    def remove(self, slot: int) -> None:
        if not self.alive[slot]:
            return
        self.alive[slot] = False
        self.live -= 1
        self.stats.remove(self.terms(slot)[0])
        self.slots.discard(int(self.story[slot]))
        block = int(self.block[slot])
        if self.arena.release(block, int(self.length[slot])):
            mine = np.flatnonzero((self.block[: self.used] == block) & self.alive[: self.used])
            lengths = self.length[mine].astype(np.int64)
            self.start[mine] = self.arena.compact(block, self.start[mine], lengths)
        if self.used - self.live > max(self.DEAD_SLOTS, self.live // 8):
            self.compact()

    def load(self, rows: Iterable[tuple[int, int, float | None, Ids, Counts]]) -> None:
        """Fill an empty window from stored stories at once: every story's terms counted
        first, then every story weighed with those statistics (as ``insert`` would have, had
        they all been there before it) and cut to its heaviest terms."""
        for story_id, event_id, at, ids, counts in rows:
            self._append(story_id, event_id, at, ids, counts)
        for block, filled in enumerate(self.arena.filled):
            ids, _ = self.arena.get(block, 0, filled)
            self.stats.add_many(ids, 0)
        self.stats.documents += self.live
        ends = [0] * len(self.arena.filled)  # where each block is rewritten up to
        dropped = []
        for slot in range(self.used):
            ids, counts = self.terms(slot)
            ids, counts = ids.copy(), counts.copy()
            kept, kept_counts, _ = self.heaviest(ids, counts)
            if len(kept) < len(ids):
                dropped.append(ids[~np.isin(ids, kept)])
            block = int(self.block[slot])
            self.arena.put(block, ends[block], kept, kept_counts)
            self.start[slot], self.length[slot] = ends[block], len(kept)
            ends[block] += len(kept)
        self.arena.filled = ends
        if dropped:  # counted above, no longer held
            self.stats.add_many(np.concatenate(dropped), 0, sign=-1)
        self._index_all()

    def compact(self) -> None:
        """Rewrite the slot arrays without the dead slots, and renumber the index."""
        keep = np.flatnonzero(self.alive[: self.used])
        renumbered = np.full(self.used, -1, np.int64)
        renumbered[keep] = np.arange(len(keep))
        for name in ("story", "event", "at", "block", "start", "length"):
            setattr(self, name, getattr(self, name)[keep])
        self.alive = np.ones(len(keep), np.bool_)
        self.used = self.live = len(keep)
        self.slots.rebuild(self.story.copy(), np.arange(self.used, dtype=np.int64))
        self.postings.renumber(renumbered)

    def _index_all(self) -> None:
        slots = np.arange(self.used, dtype=np.int64)
        self.slots.rebuild(self.story[: self.used].copy(), slots)
        step = max(1, Postings.MAX_RUN // max(1, self.probe))
        for first in range(0, self.used, step):
            chunk = slots[first : first + step]
            heads = np.minimum(self.length[chunk], self.probe).astype(np.int64)
            _, ids, _ = self.arena.gather(self.block[chunk], self.start[chunk], heads)
            self.postings.append_run(ids, np.repeat(chunk, heads))

    # -- comparing ------------------------------------------------------------------------
    def vectors(self, slots: Slots) -> Vectors:
        """The stories' unit vectors, weighed with the statistics now."""
        lengths = self.length[slots].astype(np.int64)
        row, term, count = self.arena.gather(self.block[slots], self.start[slots], lengths)
        weight = self.stats.weights(term, count)
        norm = np.sqrt(np.bincount(row, weights=weight * weight, minlength=len(slots)))
        unit_weight = weight / np.maximum(norm, 1e-12)[row]
        return Vectors(row, term, unit_weight.astype(np.float32), len(slots))

    def within(self, slots: Slots, at: float | None, window: float) -> Slots:
        """Those of the (live) slots whose time is unknown or within ``window`` of ``at``."""
        if at is None:
            return slots
        times = self.at[slots]
        return slots[np.isnan(times) | (np.abs(times - at) <= window)]

    def expired(self, cutoff: float) -> Slots:
        """Live slots with a time before ``cutoff``."""
        used = self.at[: self.used]
        return np.flatnonzero(self.alive[: self.used] & (used < cutoff))
