"""An in-memory LSH band index: which articles hold each band key.

A slot is one indexed version of an article; re-adding an article (an edit) or discarding
it leaves its old slot dead, and a lookup skips dead slots and slots older than its
``since``. Keys added lately sit in a dict (key -> slots); every ``MIN_COMPACT`` of them
are sorted into a small array, and the small array into the large one when it reaches a
quarter of its size: both are sorted ``uint64`` arrays, each entry a key's high bits above
its slot number, probed with ``searchsorted``. Packing the slot into the entry is what
makes a re-sort (and a worker's start) one in-place sort instead of an argsort and two
gathers, 10x cheaper; the price is that two keys agreeing on their high bits (64 minus
the slot bits: 44 at a million articles) look the same, so a lookup can return an article
that shares no band: at a million articles (28 million keys), about one lookup of 28
keys in 20,000. The caller verifies every candidate on its signature anyway. Band keys
are hashes, so their high bits are as good as any. Compaction renumbers the live slots,
so memory follows the live articles, not the history: 8 bytes per band key and 24 per
article, plus the dict (under ``MIN_COMPACT`` keys, a few MB).

    >>> import numpy as np
    >>> a, b, c, d, e = (k << 40 for k in (11, 12, 13, 14, 15))  # hash-like keys
    >>> index = BandIndex()
    >>> index.add(7, [a, b, c], added_at=100.0)
    >>> index.add(8, [b, d], added_at=200.0)
    >>> index.hits([b, c, 99 << 40], since=0.0) == {b: [7, 8], c: [7]}
    True
    >>> index.hits([b], since=150.0) == {b: [8]}
    True
    >>> index.add(7, [e], added_at=300.0)   # an edit: only the new keys count
    >>> index.compact()
    >>> index.hits([b, e], since=0.0) == {b: [8], e: [7]}
    True
    >>> index.discard(8); len(index)
    1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# The dict of recent keys is sorted into the small array at this many keys (it costs
# about 100 bytes a key, the arrays 8); the small array into the large one when it holds a
# quarter as many entries (that re-sort is of everything, so the threshold grows with
# the index and the cost per added key stays constant).
MIN_COMPACT = 1 << 16
# Slot numbers take the low bits of each packed entry (more as the index grows).
MIN_SLOT_BITS = 20
_CHUNK = 100_000  # articles whose entries are packed at once (bounds the temporaries)


class BandIndex:
    """Band key -> article ids, for the articles added and not discarded."""

    def __init__(self) -> None:
        self._packed = np.empty(0, dtype=np.uint64)  # sorted: key's high bits | slot
        self._small = np.empty(0, dtype=np.uint64)  # the same, for the keys added lately
        self._slot_bits = MIN_SLOT_BITS
        self._recent: dict[int, list[int]] = {}
        self._recent_count = 0
        self._slot_article = np.empty(0, dtype=np.int64)
        self._slot_added = np.empty(0, dtype=np.float64)
        self._slots = 0
        self._live_slot = np.full(0, -1, dtype=np.int64)  # by article id; -1: not indexed
        self._articles = 0

    def __len__(self) -> int:
        return self._articles

    def add(self, article_id: int, keys: Sequence[int] | np.ndarray, added_at: float) -> None:
        """Index ``keys`` for ``article_id`` (replacing any keys it had), added at
        ``added_at`` (seconds since the epoch)."""
        self.discard(article_id)
        if len(keys) == 0:
            return
        # Scalar code on purpose: this runs for every stored article, and a numpy call
        # costs more than the Python it would replace.
        slot = self._slots
        if slot >= len(self._slot_article):
            self._slot_article = _grown(self._slot_article, slot + 1, 0)
            self._slot_added = _grown(self._slot_added, slot + 1, 0.0)
        self._slot_article[slot] = article_id
        self._slot_added[slot] = added_at
        self._slots = slot + 1
        if article_id >= len(self._live_slot):
            self._live_slot = _grown(self._live_slot, article_id + 1, -1)
        self._live_slot[article_id] = slot
        self._articles += 1
        recent = self._recent
        for key in keys.tolist() if isinstance(keys, np.ndarray) else keys:
            found = recent.get(key)
            if found is None:
                recent[key] = [slot]
            else:
                found.append(slot)
        self._recent_count += len(keys)
        if self._recent_count >= MIN_COMPACT:
            self._sort_recent()

    def add_many(
        self, article_ids: np.ndarray, added_at: np.ndarray, counts: np.ndarray, keys: np.ndarray
    ) -> None:
        """``add`` for many distinct articles at once: article ``i`` has the next
        ``counts[i]`` values of ``keys`` (which this call may overwrite). One sort of
        everything instead of a dict entry per key: how a worker reads the index at start."""
        ids = np.asarray(article_ids, dtype=np.int64)
        if len(ids) == 0:
            return
        known = ids[ids < len(self._live_slot)]
        for article_id in known[self._live_slot[known] >= 0].tolist():
            self.discard(article_id)
        self.compact()  # no dead slots or recent keys left: the new ones go on top
        counts = np.asarray(counts, dtype=np.int64)
        indexed = counts > 0
        ids, counts = ids[indexed], counts[indexed]
        if not len(ids):
            return
        first = self._new_slots(ids, np.asarray(added_at, dtype=np.float64)[indexed])
        self._live_slot[ids] = np.arange(first, first + len(ids))
        self._articles += len(ids)
        bits = self._widen(self._slots)
        entries = np.asarray(keys, dtype=np.int64).view(np.uint64)
        entries &= ~_mask(bits)  # the keys' high bits, the slot's bits clear
        ends = np.cumsum(counts)
        for start in range(0, len(ids), _CHUNK):  # slot numbers in, a chunk at a time
            stop = min(start + _CHUNK, len(ids))
            lo, hi = int(ends[start] - counts[start]), int(ends[stop - 1])
            slots = np.repeat(np.arange(first + start, first + stop, dtype=np.uint64),
                              counts[start:stop])  # fmt: skip
            entries[lo:hi] |= slots
        packed = np.concatenate([self._packed, entries]) if len(self._packed) else entries
        self._packed = np.empty(0, dtype=np.uint64)
        packed.sort()
        self._packed = packed

    def discard(self, article_id: int) -> None:
        """Forget ``article_id`` (its keys stay, dead, until the next compaction)."""
        if article_id < len(self._live_slot) and self._live_slot[article_id] >= 0:
            self._live_slot[article_id] = -1
            self._articles -= 1

    def hits(self, keys: Iterable[int], since: float) -> dict[int, list[int]]:
        """The live articles added at or after ``since`` under each of ``keys`` (keys
        without any left out), each key's articles in ascending id order."""
        wanted = np.unique(np.fromiter(keys, dtype=np.int64))
        slot_parts, key_parts = [], []
        for array in (self._packed, self._small):
            probed = _probe(array, wanted, self._slot_bits)
            if probed is not None:
                slot_parts.append(probed[0])
                key_parts.append(probed[1])
        if self._recent:
            recent = self._recent
            more_slots: list[int] = []
            more_keys: list[int] = []
            for key in wanted.tolist():
                found = recent.get(key)
                if found is not None:
                    more_slots.extend(found)
                    more_keys.extend([key] * len(found))
            if more_slots:
                slot_parts.append(np.array(more_slots, dtype=np.int64))
                key_parts.append(np.array(more_keys, dtype=np.int64))
        if not slot_parts:
            return {}
        slots = np.concatenate(slot_parts)
        owners = np.concatenate(key_parts)
        articles = self._slot_article[slots]
        ok = (self._slot_added[slots] >= since) & (self._live_slot[articles] == slots)
        owners, articles = owners[ok], articles[ok]
        order = np.lexsort((articles, owners))
        owners, articles = owners[order], articles[order]
        cuts = np.flatnonzero(np.diff(owners)) + 1
        return {
            int(group_keys[0]): group.tolist()
            for group_keys, group in zip(
                np.split(owners, cuts), np.split(articles, cuts), strict=True
            )
            if len(group)
        }

    def prune(self, before: float) -> int:
        """Discard the articles added before ``before``; returns how many."""
        slots = self._live_slot[self._live_slot >= 0]
        old = self._slot_article[slots[self._slot_added[slots] < before]]
        self._live_slot[old] = -1
        self._articles -= len(old)
        return len(old)

    def _sort_recent(self) -> None:
        """The dict's keys into the small array (slots kept as they are); the small array
        into the large one once it holds a quarter as many entries."""
        keys = self._drain_recent(self._widen(self._slots), None)
        small = np.concatenate([self._small, keys])
        small.sort()
        self._small = small
        if len(small) >= max(MIN_COMPACT, len(self._packed) // 4):
            self.compact()

    def compact(self) -> None:
        """Merge the recent keys and the small array into the large one, dropping dead
        slots and renumbering the live ones 0..n-1."""
        live = np.flatnonzero(self._live_slot >= 0)  # article ids, ascending
        live_slots = self._live_slot[live]
        renumber: np.ndarray | None = None
        if len(live) < self._slots:  # dead slots: number the live ones by article id
            renumber = np.full(self._slots, -1, dtype=np.int64)
            renumber[live_slots] = np.arange(len(live))
        old_bits = self._slot_bits
        bits = max(old_bits, MIN_SLOT_BITS, len(live).bit_length())
        base = _repacked(self._packed, old_bits, bits, renumber)
        small = _repacked(self._small, old_bits, bits, renumber)
        self._small = np.empty(0, dtype=np.uint64)
        self._slot_bits = bits
        keys = self._drain_recent(bits, renumber)
        self._packed = np.empty(0, dtype=np.uint64)
        packed = np.concatenate([base, small, keys]) if len(keys) or len(small) else base
        del base, small
        packed.sort()  # in place; one plain sort is many times cheaper than an argsort
        self._packed = packed
        if renumber is not None:
            self._slot_article = self._slot_article[live_slots]
            self._slot_added = self._slot_added[live_slots]
            self._slots = len(live)
            self._live_slot[live] = np.arange(len(live))

    def _drain_recent(self, bits: int, renumber: np.ndarray | None) -> np.ndarray:
        """The dict's keys as packed entries (unsorted), with ``bits`` slot bits and
        ``renumber``ed slots (dead ones dropped); the dict is left empty."""
        count = self._recent_count
        recent = self._recent.items()
        keys = np.fromiter((k for k, s in recent for _ in s), np.int64, count).view(np.uint64)
        slots = np.fromiter((x for _, s in recent for x in s), np.int64, count)
        self._recent, self._recent_count = {}, 0
        if renumber is not None:
            slots = renumber[slots]
            keys, slots = keys[slots >= 0], slots[slots >= 0]
        return ((keys >> np.uint64(bits)) << np.uint64(bits)) | slots.astype(np.uint64)

    def memory_bytes(self) -> int:
        """Bytes held by the arrays (the dict of recent keys not counted)."""
        arrays = (
            self._packed, self._small, self._slot_article, self._slot_added, self._live_slot
        )  # fmt: skip
        return sum(a.nbytes for a in arrays)

    def _widen(self, slots: int) -> int:
        """Slot bits for ``slots`` slots (never fewer than before: the arrays keep only the
        keys' high bits, which cannot grow back), repacking both arrays when it grows."""
        bits = max(self._slot_bits, MIN_SLOT_BITS, slots.bit_length())
        if bits != self._slot_bits:
            self._packed = _repacked(self._packed, self._slot_bits, bits, None)
            self._small = _repacked(self._small, self._slot_bits, bits, None)
            self._slot_bits = bits
        return bits

    def _new_slots(self, article_ids: np.ndarray, added_at: np.ndarray) -> int:
        """Slots for ``article_ids`` (not yet live); returns the first."""
        first, n = self._slots, len(article_ids)
        self._slot_article = _grown(self._slot_article, first + n, 0)
        self._slot_added = _grown(self._slot_added, first + n, 0.0)
        self._slot_article[first : first + n] = article_ids
        self._slot_added[first : first + n] = added_at
        self._slots += n
        top = int(article_ids.max())
        if top >= len(self._live_slot):
            self._live_slot = _grown(self._live_slot, top + 1, -1)
        return first


def _probe(
    packed: np.ndarray, wanted: np.ndarray, bits: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The slots of the entries of sorted ``packed`` under each of the sorted keys
    ``wanted``, and the key each was found under; ``None`` for none."""
    if not len(packed) or not len(wanted):
        return None
    shift = np.uint64(bits)
    low = (wanted.view(np.uint64) >> shift) << shift
    lo = np.searchsorted(packed, low, "left")
    counts = np.searchsorted(packed, low | _mask(bits), "right") - lo
    hit = counts > 0
    if not hit.any():
        return None
    lo, counts = lo[hit], counts[hit]
    # Every position of every hit key's run, without a Python loop.
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    entries = packed[starts + np.arange(counts.sum())]
    return (entries & _mask(bits)).astype(np.int64), np.repeat(wanted[hit], counts)


def _mask(bits: int) -> np.uint64:
    return np.uint64((1 << bits) - 1)


def _repacked(
    packed: np.ndarray, old_bits: int, bits: int, renumber: np.ndarray | None
) -> np.ndarray:
    """``packed`` with ``bits`` slot bits and renumbered slots (dead ones dropped), written
    over itself a chunk at a time: at a million articles it is 224 MB."""
    if bits == old_bits and renumber is None:
        return packed
    shift, mask, kept = np.uint64(bits), _mask(old_bits), 0
    for start in range(0, len(packed), _CHUNK * 32):
        chunk = packed[start : start + _CHUNK * 32]
        slots = (chunk & mask).astype(np.int64)
        high = chunk >> np.uint64(old_bits)
        if renumber is not None:
            slots = renumber[slots]
            keep = slots >= 0
            high, slots = high[keep], slots[keep]
        packed[kept : kept + len(high)] = (high >> (shift - np.uint64(old_bits))) << shift | (
            slots.astype(np.uint64)
        )
        kept += len(high)
    return packed[:kept]


def _grown(values: np.ndarray, needed: int, fill: float) -> np.ndarray:
    """``values`` with room for at least ``needed`` items (doubling), new room ``fill``."""
    if len(values) >= needed:
        return values
    size = max(1024, len(values))
    while size < needed:
        size *= 2
    out = np.full(size, fill, dtype=values.dtype)
    out[: len(values)] = values
    return out
