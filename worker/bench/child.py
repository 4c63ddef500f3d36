"""The two processes ``bench daemon`` measures, each started fresh so its rusage is its own.

``python -m worker.bench.child run CONFIG OUT.json``: ``newsdedup --config CONFIG run --once``
through the command line's own ``main``, then the stage metrics it recorded, as JSON.

``python -m worker.bench.child loop LIST OUT.json``: ``trafilatura.extract(html,
include_comments=False)`` over the pages named in LIST (one path a line), the reference.

Only the standard library is imported here before the measured work starts.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def run(config: str, out: str) -> int:
    from worker.cli import main

    status = main(["--config", config, "run", "--once"])
    from worker import metrics

    stages: dict[str, dict[str, float]] = {}
    stored: dict[str, float] = {}
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == "newsdedup_stage_seconds_sum":
                stages.setdefault(sample.labels["stage"], {})["seconds"] = sample.value
            elif sample.name == "newsdedup_stage_seconds_count":
                stages.setdefault(sample.labels["stage"], {})["count"] = sample.value
            elif sample.name == "newsdedup_articles_stored_total":
                stored[sample.labels["kind"]] = sample.value
    Path(out).write_text(json.dumps({"status": status, "stages": stages, "stored": stored}))
    return status


def loop(listing: str, out: str) -> int:
    import trafilatura

    pages = [Path(p).read_bytes() for p in Path(listing).read_text().splitlines() if p]
    cpu, wall = time.process_time(), time.perf_counter()
    found = sum(1 for html in pages if trafilatura.extract(html, include_comments=False))
    Path(out).write_text(
        json.dumps(
            {
                "pages": len(pages),
                "extracted": found,
                "loop_cpu_seconds": time.process_time() - cpu,
                "loop_wall_seconds": time.perf_counter() - wall,
            }
        )
    )
    return 0


if __name__ == "__main__":
    what, source, target = sys.argv[1:4]
    raise SystemExit(run(source, target) if what == "run" else loop(source, target))
