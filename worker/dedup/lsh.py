"""LSH banding of MinHash signatures into keys a database can index.

The signature is cut into ``bands`` bands of ``rows`` values; two signatures that agree on
all values of any band become candidates. ``bands``/``rows`` are the optimum datasketch's
``MinHashLSH`` picks for the Jaccard threshold (``optimal_bands``, computed here: stored band
keys depend on it, so a dependency upgrade must not move it). Band keys are signed 64-bit
integers, ready for a ``BIGINT`` column.

    >>> import numpy as np
    >>> params = LshParams.for_threshold(0.3, 128)
    >>> params.bands * params.rows <= 128
    True
    >>> keys = band_keys(np.arange(128, dtype=np.uint32), params)
    >>> len(keys) == params.bands, keys == band_keys(np.arange(128, dtype=np.uint32), params)
    (True, True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class LshParams:
    bands: int
    rows: int

    @classmethod
    def for_threshold(cls, threshold: float, num_perm: int) -> LshParams:
        return _params(round(threshold, 4), num_perm)


@lru_cache(maxsize=32)
def _params(threshold: float, num_perm: int) -> LshParams:
    bands, rows = optimal_bands(threshold, num_perm)
    return LshParams(bands, rows)


def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """The ``(bands, rows)``, ``bands * rows <= num_perm``, that minimise the false-positive
    plus the false-negative area: with ``P(s) = 1 - (1 - s**rows)**bands`` the chance that
    signatures of Jaccard ``s`` share a band, ``∫₀ᵗ P(s) ds + ∫ₜ¹ (1 - P(s)) ds``; ties go to
    the fewest bands, then rows (datasketch's ``MinHashLSH`` with its default weights).

    ``P`` is a polynomial of degree ``bands * rows <= num_perm``, so Gauss-Legendre
    quadrature with ``num_perm // 2 + 1`` nodes integrates it exactly, for every pair at once.

    >>> optimal_bands(0.2, 128), optimal_bands(0.5, 128)
    ((28, 2), (25, 5))
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([b for b, _r in pairs], dtype=np.float64)[:, None]
    rows = np.array([r for _b, r in pairs], dtype=np.float64)[:, None]
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def area(low: float, high: float, hit: bool) -> np.ndarray:
        """``∫ P(s) ds`` (``hit``) or ``∫ 1 - P(s) ds`` over [low, high], one per pair."""
        s = (high - low) / 2 * nodes + (high + low) / 2
        miss = (1 - s**rows) ** bands
        return ((1 - miss if hit else miss) @ weights) * (high - low) / 2

    false_positive = area(0.0, threshold, hit=True)
    false_negative = area(threshold, 1.0, hit=False)
    # argmin keeps the first of equal errors, as the strict ``<`` of datasketch's loop does.
    return pairs[int(np.argmin(0.5 * false_positive + 0.5 * false_negative))]


@lru_cache(maxsize=8)
def _persons(bands: int) -> tuple[bytes, ...]:
    """blake2b's personalisation of each band: the band number mixed into its key."""
    return tuple(band.to_bytes(2, "little") for band in range(bands))


def band_keys(hashvalues: np.ndarray, params: LshParams) -> list[int]:
    """One signed 64-bit key per band; the band number is mixed in, so keys of different
    bands never collide by construction."""
    data = np.ascontiguousarray(hashvalues[: params.bands * params.rows], dtype="<u4").tobytes()
    width = 4 * params.rows
    blake2b, from_bytes, person = hashlib.blake2b, int.from_bytes, _persons(params.bands)
    return [
        from_bytes(
            blake2b(data[b * width : (b + 1) * width], digest_size=8, person=person[b]).digest(),
            "little",
            signed=True,
        )
        for b in range(params.bands)
    ]
