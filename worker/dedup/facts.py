"""The facts a text states, for telling templated reports apart.

Automated reports (earthquake bulletins, sports results, market closes, weather) share most
of their words with every other report of their kind, so their spot signatures pass the
verification rule; what differs are the facts: numbers, names, places, dates. A *fact* here
is a number, or a capitalised word inside a sentence, together with its *slot*: the two
words before it (numbers in them made ``#``). "A magnitude 5.2 earthquake" fills the slot
``a magnitude`` with ``5.2``.

Two copies of one report fill every slot they share with the same value: a trim drops
slots, a new headline or byline adds slots the other text does not have. Two reports of
different facts fill the same slots with other values. So a pair that passes the rule is
still no copy when they share at least ``MIN_SHARED`` slots and at least ``conflict`` of
those hold no common value (``conflicting``).

A text keeps the facts of its first ``MAX_FACTS`` slots (a trim keeps a prefix of them).

    >>> quake = "A magnitude 5.2 earthquake struck 40 km north of Vostra, the agency said."
    >>> other = "A magnitude 6.1 earthquake struck 12 km north of Ilmani, the agency said."
    >>> copy = quake + " Reporting by Valley Courier staff."
    >>> conflicting(fact_slots(quake), fact_slots(other), 0.5)
    True
    >>> conflicting(fact_slots(quake), fact_slots(copy), 0.5)
    False
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable

import numpy as np

_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|\w+|[.!?;:]")
_BREAK = frozenset(".!?;:")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")  # no fact starts so: skipped at once
# The slots a text keeps, in text order: a templated report has 20 to 40.
MAX_FACTS = 64
# Fewer shared slots than this say nothing either way.
MIN_SHARED = 2


class Facts:
    """A text's facts: each a 64-bit value, the slot's CRC-32 above the value's; ``slots``
    the slots alone. Kept as stored bytes and read into Python sets on first comparison
    (most stored fingerprints a lookup reads are never compared on their facts); a
    comparison is then a few set operations on a few dozen numbers."""

    __slots__ = ("_data", "_digest", "_slots", "_values")

    def __init__(self, data: bytes | None = None) -> None:
        self._data = data or b""
        self._values: frozenset[int] | None = None
        self._slots: frozenset[int] | None = None
        self._digest: int | None = None

    @property
    def digest(self) -> int:
        """A 64-bit digest of the facts: equal facts, equal digests."""
        if self._digest is None:
            self._digest = int.from_bytes(hashlib.blake2b(self._data, digest_size=8).digest())
        return self._digest

    @classmethod
    def of(cls, values: Iterable[int]) -> Facts:
        return cls(np.array(sorted(set(values)), dtype="<u8").tobytes())

    @property
    def values(self) -> frozenset[int]:
        if self._values is None:
            self._values = frozenset(int(v) for v in np.frombuffer(self._data, dtype="<u8"))
        return self._values

    @property
    def slots(self) -> frozenset[int]:
        if self._slots is None:
            self._slots = frozenset(v >> 32 for v in self.values)
        return self._slots

    def __len__(self) -> int:
        return len(self._data) // 8

    def to_bytes(self) -> bytes | None:
        return self._data or None


NO_FACTS = Facts()


def fact_slots(text: str) -> Facts:
    """The text's facts (see the module docstring), at most ``MAX_FACTS`` slots."""
    found: dict[str, set[str]] = {}
    for line in text.split("\n"):
        tokens = _TOKEN.findall(line)
        for i in range(2, len(tokens)):
            token = tokens[i]
            first = token[0]
            # A number, or the first word of a name (the rest of "New York City" would
            # make "new york" a slot of its own). Most tokens are neither: tested first.
            if first in _LOWER:
                continue
            if first.isdigit():
                before = tokens[i - 1]
            elif first.isupper():
                before = tokens[i - 1]
                if before[0].isupper():
                    continue
            else:
                continue
            earlier = tokens[i - 2]
            if before in _BREAK or earlier in _BREAK:
                continue  # a sentence starts in the slot: no slot
            slot = (
                ("#" if earlier[0].isdigit() else earlier.lower())
                + " "
                + ("#" if before[0].isdigit() else before.lower())
            )
            if slot not in found:
                if len(found) == MAX_FACTS:
                    continue
                found[slot] = set()
            found[slot].add(token.lower())
    if not found:
        return NO_FACTS
    return Facts.of(
        (zlib.crc32(slot.encode()) << 32) | zlib.crc32(value.encode())
        for slot, filled in found.items()
        for value in filled
    )


def conflicting(a: Facts, b: Facts, conflict: float) -> bool:
    """Whether two texts state different facts: they share at least ``MIN_SHARED`` slots
    and at least ``conflict`` of them hold no common value. ``conflict`` 0: never.

    Remembered by the two texts' facts (a consolidation compares the pairs of a large
    component again each time it grows); the memory is bounded and forgets all at once."""
    if conflict <= 0 or len(a) < MIN_SHARED or len(b) < MIN_SHARED:
        return False
    key = (a.digest, b.digest, conflict)
    known = _SEEN.get(key)
    if known is None:
        known = _conflicting(a, b, conflict)
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        _SEEN[key] = known
    return known


# Pairs of facts compared lately: ``(digest, digest, conflict)`` to the answer.
_SEEN: dict[tuple[int, int, float], bool] = {}
_SEEN_MAX = 200_000


def _conflicting(a: Facts, b: Facts, conflict: float) -> bool:
    if a.values <= b.values or b.values <= a.values:  # a copy's facts, or a trim's
        return False
    shared = a.slots & b.slots
    if len(shared) < MIN_SHARED:
        return False
    agreeing = {v >> 32 for v in a.values & b.values}
    return len(shared) - len(agreeing) >= conflict * len(shared)
