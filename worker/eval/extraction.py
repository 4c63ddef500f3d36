"""``newsdedup eval extract``: main-text extraction quality on AEB or WCXB.

Each page goes through ``worker.clean.clean_page``, the function the daemon uses on a
fetched article page (furniture pruning, trafilatura, the line model, then the chrome
rules), and, in the same run, through ``trafilatura.extract`` alone as the reference,
called as the benchmarks' own runners call it (comments excluded: trafilatura's default
keeps them, which costs it 0.007 AEB F1). Scores and CPU time per page are printed for
both; the benchmarks and their metrics are in ``worker.eval.benchmarks``.

With ``--folds K`` the pages (of one benchmark or both) are split by site and every page is
scored by a line model fitted on the other folds only (``worker.eval.crossval``): the
figures of sites the cleaner never saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from worker.clean import clean_page
from worker.errors import NewsdedupError
from worker.eval.benchmarks import Benchmark, Page, Score, timed, trafilatura_alone
from worker.eval.crossval import run_folds

FAILURES_SHOWN = 15


def evaluate(pages: Iterator[Page], *, wcxb: bool, reference: bool = True) -> dict[str, Score]:
    ours, ref = Score(), Score()
    for page in pages:
        out, ms = timed(lambda p=page: clean_page(p.html, p.url))  # type: ignore[misc]
        ours.add(page, out, ms, wcxb=wcxb)
        if reference:
            out, ms = timed(lambda p=page: trafilatura_alone(p))  # type: ignore[misc]
            ref.add(page, out, ms, wcxb=wcxb)
    return {"newsdedup": ours, "trafilatura": ref} if reference else {"newsdedup": ours}


def render(scores: dict[str, Score], *, wcxb: bool, pages: int, title: str = "") -> str:
    other = "page F1" if wcxb else "pooled F1"
    head = f"{'extractor':<12} {'F1':>7} {'prec':>7} {'recall':>7} {other:>9}"
    head += f" {'leak':>7} {'keep':>7}" if wcxb else ""
    metric = "word counts pooled over pages" if wcxb else "4-shingles, averaged over pages"
    lines = [f"{title}{pages} pages ({metric})", head + f" {'ms/page median':>15} {'mean':>7}"]
    for name, score in scores.items():
        d = score.as_dict(wcxb=wcxb)
        row = f"{name:<12} {d['f1']:>7.4f} {d['precision']:>7.4f} {d['recall']:>7.4f}"
        row += f" {d['per_page_f1' if wcxb else 'pooled_f1']:>9.4f}"
        if wcxb:
            row += f" {d['leak_rate']:>7.2%} {d['keep_rate']:>7.2%}"
        lines.append(row + f" {d['cpu_ms_median']:>15.1f} {d['cpu_ms_mean']:>7.1f}")
    ours = scores["newsdedup"]
    worst = sorted(ours.worst)[:8]
    lines.append("worst pages (newsdedup F1): " + ", ".join(f"{i} {f:.2f}" for f, i in worst))
    for title, cases in (("leaked", ours.leaks), ("lost", ours.losses)):
        if cases:
            lines.append(f"{title} snippets (newsdedup, {len(cases)}; first {FAILURES_SHOWN}):")
            lines += [f"  {i}: {_excerpt(text)}" for i, text in cases[:FAILURES_SHOWN]]
    return "\n".join(lines)


def _excerpt(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _report(scores: dict[str, Score], *, wcxb: bool) -> dict[str, Any]:
    out = scores["newsdedup"].as_dict(wcxb=wcxb)
    out["pages"] = len(scores["newsdedup"].cpu_ms)
    if "trafilatura" in scores:
        out["reference"] = scores["trafilatura"].as_dict(wcxb=wcxb)
    return out


def main(args: argparse.Namespace) -> int:
    benches = [
        Benchmark(name, Path(folder))
        for name, folder in (("aeb", args.aeb), ("wcxb", args.wcxb))
        if folder
    ]
    if not benches:
        raise NewsdedupError("eval extract: give --aeb DIR, --wcxb DIR or both")
    for bench in benches:
        if not bench.folder.is_dir():
            raise NewsdedupError(f"{bench.folder}: not a folder")
    reference = not args.no_reference
    if args.folds is not None and args.folds < 2:
        raise NewsdedupError("eval extract: --folds needs 2 or more")
    if args.folds:
        return _main_folds(benches, args.folds, reference=reference, as_json=args.json)
    if len(benches) > 1:
        raise NewsdedupError("eval extract: one benchmark at a time without --folds")
    bench = benches[0]
    scores = evaluate(bench.pages(), wcxb=bench.wcxb, reference=reference)
    if args.json:
        print(json.dumps(_report(scores, wcxb=bench.wcxb), indent=2))
    else:
        print(render(scores, wcxb=bench.wcxb, pages=len(scores["newsdedup"].cpu_ms)))
    sys.stdout.flush()
    return 0


def _main_folds(benches: list[Benchmark], k: int, *, reference: bool, as_json: bool) -> int:
    run = run_folds(benches, k, reference=reference)
    if as_json:
        out: dict[str, Any] = {"folds": k, "fold_models": run.models}
        for bench in benches:
            out[bench.name] = _report(run.scores[bench.name], wcxb=bench.wcxb)
        print(json.dumps(out, indent=2))
    else:
        print(f"{k} folds by site: each page scored by the cleaner fitted on the other folds")
        for i, m in enumerate(run.models):
            print(
                f"  fold {i}: {m['sites']} sites, {m['pages']} pages held out; fitted on the"
                f" rest: threshold {m['threshold']}, repeats of {m['repeat_words']}+ words"
            )
        for bench in benches:
            scores = run.scores[bench.name]
            title = f"{bench.name}, unseen sites: "
            print(
                render(scores, wcxb=bench.wcxb, pages=len(scores["newsdedup"].cpu_ms), title=title)
            )
    sys.stdout.flush()
    return 0
