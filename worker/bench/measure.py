"""Small measuring tools for the benchmarks: per-stage timings, quantiles, peak memory.

>>> t = StageTimes()
>>> for ms in (1.0, 2.0, 3.0, 10.0):
...     t.add("clean", ms)
>>> t.median("clean"), t.quantile("clean", 0.95)
(2.5, 10.0)
"""

from __future__ import annotations

import math
import resource
import statistics
import sys
from collections import defaultdict
from pathlib import Path


class StageTimes:
    """Milliseconds per item, per stage name."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    def add(self, stage: str, ms: float) -> None:
        self.samples[stage].append(ms)

    def median(self, stage: str) -> float:
        values = self.samples.get(stage)
        return statistics.median(values) if values else 0.0

    def quantile(self, stage: str, q: float) -> float:
        """The nearest-rank quantile (``q`` in 0..1)."""
        values = sorted(self.samples.get(stage, ()))
        if not values:
            return 0.0
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    def total(self, stage: str) -> float:
        return sum(self.samples.get(stage, ()))

    def table(self) -> dict[str, dict[str, float]]:
        return {
            stage: {
                "median_ms": self.median(stage),
                "p95_ms": self.quantile(stage, 0.95),
                "mean_ms": self.total(stage) / len(values) if values else 0.0,
            }
            for stage, values in self.samples.items()
        }


def peak_rss_mib() -> float:
    """This process's peak resident memory so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def peak_rss_bytes(pid: int) -> int:
    """Peak resident bytes of a running process (Linux ``/proc``); 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
