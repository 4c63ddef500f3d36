"""LSH banding of MinHash signatures into keys a database can index.

The signature is cut into ``bands`` bands of ``rows`` values; two signatures that agree on
all values of any band become candidates. ``bands``/``rows`` come from datasketch's own
optimiser for the Jaccard threshold, so recall at the threshold matches ``MinHashLSH``.
Band keys are signed 64-bit integers, ready for a ``BIGINT`` column.

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
from datasketch.lsh import _optimal_param


@dataclass(frozen=True)
class LshParams:
    bands: int
    rows: int

    @classmethod
    def for_threshold(cls, threshold: float, num_perm: int) -> LshParams:
        return _params(round(threshold, 4), num_perm)


@lru_cache(maxsize=32)
def _params(threshold: float, num_perm: int) -> LshParams:
    bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return LshParams(int(bands), int(rows))


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
