"""Fingerprints of clean text: a feature set (spot signatures, or word shingles), its exact
size, a MinHash signature (datasketch, ``affine32`` scheme) and a content hash for exact copies.

``features="spots"`` (the default) hashes spot signatures (``worker.dedup.spots``) and falls
back to word shingles for a text with fewer than ``min_spots`` of them (another language, a
very short text); ``features="words"`` always uses word shingles. The scheme name records
which, so signatures of different features never compare.

    >>> fp = fingerprint("The quick brown fox jumps over the lazy dog today", features="words")
    >>> fp.shingle_count, fp.num_perm, fp.scheme
    (8, 128, 'w3-crc32-affine32')
    >>> loud = "THE quick brown fox -- jumps over the lazy dog today!"
    >>> other = fingerprint(loud, features="words")
    >>> other.content_hash == fp.content_hash, fp.jaccard(other)
    (True, 1.0)
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from worker.dedup.facts import NO_FACTS, Facts, fact_slots
from worker.dedup.spots import spots

_TOKEN = re.compile(r"\w+")
SCHEME_FAMILY = "crc32-affine32"
_FMIX_M1, _FMIX_M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)  # MurmurHash3's fmix32


def tokens(text: str) -> list[str]:
    """Lower-cased ``\\w+`` runs (Unicode)."""
    return _TOKEN.findall(text.lower())


def shingles(words: list[str], size: int) -> set[bytes]:
    """Distinct word ``size``-grams as UTF-8 bytes; a text shorter than ``size`` is one shingle."""
    if not words:
        return set()
    if len(words) < size:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def scheme_name(shingle_size: int, kind: str = "w") -> str:
    """Identifies how a signature was made (``w``: word shingles, ``s``: spots, with the
    shingle size or spot chain); signatures of different schemes never compare."""
    return f"{kind}{shingle_size}-{SCHEME_FAMILY}"


_EMPTY = np.uint32(0xFFFFFFFF)  # an empty affine32 MinHash's value in every slot


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` of the affine permutations ``h -> a * h + b mod 2**32`` of datasketch's
    ``MinHash(num_perm, seed, scheme="affine32")``, made once per setting. datasketch is
    imported here, at the first signature, not at start: its package imports scipy, half a
    second that a query command or a poll with nothing new does not need."""
    from datasketch import MinHash

    permutations = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    a, b = (np.ascontiguousarray(row, dtype=np.uint32) for row in permutations)
    return a, b


@dataclass(frozen=True)
class Fingerprint:
    hashvalues: np.ndarray  # uint32[num_perm]
    shingle_count: int
    content_hash: str  # sha1 of the token stream: equal for exact copies
    scheme: str
    seed: int
    # The facts the text states (``worker.dedup.facts``): empty when not known.
    facts: Facts = field(default=NO_FACTS, compare=False)

    @property
    def num_perm(self) -> int:
        return int(self.hashvalues.shape[0])

    def to_bytes(self) -> bytes:
        return self.hashvalues.astype("<u4").tobytes()

    @classmethod
    def from_stored(
        cls,
        data: bytes,
        *,
        shingle_count: int,
        content_hash: str,
        scheme: str,
        seed: int,
        facts: bytes | None = None,
    ) -> Fingerprint:
        values = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        return cls(values, shingle_count, content_hash, scheme, seed, Facts(facts))

    def compatible(self, other: Fingerprint) -> bool:
        return (self.scheme, self.seed, self.num_perm) == (other.scheme, other.seed, other.num_perm)

    def jaccard(self, other: Fingerprint) -> float:
        """MinHash estimate of the Jaccard similarity of the two shingle sets."""
        if not self.compatible(other):
            raise ValueError(f"cannot compare signatures of {self.scheme} and {other.scheme}")
        if self.shingle_count == 0 or other.shingle_count == 0:
            return 0.0
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / self.num_perm


def fingerprint(
    text: str,
    *,
    shingle_size: int = 3,
    num_perm: int = 128,
    seed: int = 1,
    features: str = "spots",
    min_spots: int = 5,
) -> Fingerprint:
    """``shingle_size`` is the word-shingle size, or the spot chain length for spots."""
    words = tokens(text)
    content_hash = hashlib.sha1(" ".join(words).encode()).hexdigest()
    kind, grams = "w", set()
    if features == "spots":
        kind, grams = "s", spots(words, max(1, shingle_size - 1))
        if len(grams) < min_spots:
            kind, grams = "w", set()
    elif features != "words":
        raise ValueError(f"features: {features!r} is not 'spots' or 'words'")
    if kind == "w":
        grams = shingles(words, shingle_size)
    return Fingerprint(
        minhash_values(grams, num_perm, seed), len(grams), content_hash,
        scheme_name(shingle_size, kind), seed, fact_slots(text),
    )  # fmt: skip


def fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, element-wise on ``uint32`` (products wrap mod 2**32):
    the pre-mix datasketch's ``affine32`` scheme applies to each hash before permuting it.

    >>> [hex(v) for v in fmix32(np.array([0, 1, 0xFFFFFFFF], dtype=np.uint32))]
    ['0x0', '0x514e28b7', '0x81f16f39']
    """
    hv = hv ^ (hv >> 16)  # a new array: the rest works in place on it
    hv *= _FMIX_M1
    hv ^= hv >> 13
    hv *= _FMIX_M2
    hv ^= hv >> 16
    return hv


def minhash_values(grams: Collection[bytes], num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """``MinHash(num_perm, seed, hashfunc=crc32, scheme="affine32")`` updated with ``grams``:
    its hash values, computed as its ``update_batch`` does (pre-mix, affine permutations,
    column minimum) but on the shared permutations, without building a MinHash per text
    (that cost as much as the hashing); ``tests/unit/dedup/test_dedup.py`` holds it to
    datasketch."""
    if not grams:
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    a, b = _permutations(num_perm, seed)
    hv = np.fromiter(map(zlib.crc32, grams), dtype=np.uint32, count=len(grams)).reshape(-1, 1)
    permuted = fmix32(hv) * a + b
    return permuted.min(axis=0).astype(np.uint32, copy=False)
