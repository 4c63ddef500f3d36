#!/usr/bin/env python3
"""Fit the shipped line model (``worker/clean/line_model.json``) on every labelled page.

    python scripts/train_line_model.py --aeb ../shared/data/aeb \\
        --wcxb ../shared/data/wcxb-articles [--out worker/clean/line_model.json]

The same fit that ``newsdedup eval extract --folds K`` runs per fold (``worker.eval.linefit``),
here on all pages of both benchmarks. Deterministic: the same data gives the same file.
Measure a new model with the folds, not on the pages it was fitted on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from worker.clean.extract import page_to_text
from worker.clean.pagelines import MODEL_FILE
from worker.eval.benchmarks import Benchmark
from worker.eval.folds import site_key
from worker.eval.linefit import TrainPage, as_dict, fit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--aeb", type=Path, required=True)
    parser.add_argument("--wcxb", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args()
    pages = [
        TrainPage(
            site_key(p.url, f"{bench.name}:{p.id}"),
            p.url,
            page_to_text(p.html, p.url, lines=False),
            p.truth,
            p.must_have,
            p.must_not,
        )
        for bench in (Benchmark("aeb", args.aeb), Benchmark("wcxb", args.wcxb))
        for p in bench.pages()
    ]
    model = fit(pages)
    args.out.write_text(json.dumps(as_dict(model), indent=1, ensure_ascii=False) + "\n")
    print(
        f"{args.out}: {len(pages)} pages, threshold {model.threshold}, repeats of"
        f" {model.repeat_words}+ words, {len(model.words)} word scores"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
