#!/usr/bin/env python3
"""Digest of what the event level makes of a corpus, to prove a change to it changed no
result: the text path of ``newsdedup bench pipeline`` with ``[events] enabled = true``,
then every placed story (event, sequence number, terms), the events and their counts, the
merges and splits, and the change feed, one line each. Times are left out (they are the
run's clock), except whether a story's event time is its first-seen time.

    python scripts/check_events_identical.py --texts ../shared/data/bbc --out before.tsv
    ... change the code ...
    python scripts/check_events_identical.py --texts ../shared/data/bbc --out after.tsv
    cmp before.tsv after.tsv

Also prints the run's figures (articles per CPU-second, stage medians), with ``--warm``
as the bench's (default 0 here: the digest does not depend on it).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import worker.bench.pipeline as bench
from worker.eval.corpus import TEXT_SUFFIXES

_QUERIES = (
    ("S", "SELECT id, event_id, event_seq, event_at = first_seen_at, event_terms, merged_into"
          " FROM stories WHERE event_id IS NOT NULL OR event_seq IS NOT NULL ORDER BY id"),
    ("E", "SELECT id, story_count, merged_into FROM events ORDER BY id"),
    ("M", "SELECT id, kind, event_id, into_event_id, story_id, stories_moved"
          " FROM event_merges ORDER BY id"),
    ("C", "SELECT seq, kind, story_id, article_id, event_id, other_id, detail"
          " FROM changes ORDER BY seq"),
)  # fmt: skip


def _with_events(validate: Any) -> Any:
    def patched(obj: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return validate({**obj, "events": {"enabled": True}}, *args, **kwargs)

    return patched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--warm", type=int, default=0)
    args = parser.parse_args()
    bench.Config.model_validate = _with_events(bench.Config.model_validate)  # type: ignore[method-assign]
    docs = bench._documents(args.texts, TEXT_SUFFIXES, None)
    with tempfile.TemporaryDirectory(prefix="newsdedup-events-") as tmp:
        result = bench.run_pipeline(docs, warm=args.warm, workdir=Path(tmp))
        db = sqlite3.connect(Path(tmp) / "bench.db")
        with args.out.open("w") as out:
            for tag, sql in _QUERIES:
                for row in db.execute(sql):
                    out.write("\t".join([tag, *map(str, row)]) + "\n")
        db.close()
    stages = {k: round(v["median_ms"], 3) for k, v in result["stages"].items()}
    print(json.dumps({"articles_per_cpu_second": round(result["articles_per_cpu_second"], 1),
                      "median_ms": stages}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
