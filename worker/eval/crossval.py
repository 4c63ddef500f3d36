"""``eval extract --folds K``: the cleaner scored on sites it was not fitted on.

Every page is extracted once (``page_to_text`` without a line model, the part of cleaning
that nothing here fits) and run through trafilatura alone. The pages of both benchmarks
are then split into ``K`` folds by site (``worker.eval.folds``); for each fold, a line
model is fitted (``worker.eval.linefit``: word scores, weights, threshold, repeat length)
on the pages of the other folds, and the fold's pages are cleaned with it and the chrome
rules, as the daemon cleans a page. Each page is thus scored once, by a model that never
saw its site; the CPU time per page is its extraction plus its line model and rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from worker.clean.chrome import strip_chrome
from worker.clean.extract import page_to_text
from worker.clean.pagelines import PageLines
from worker.eval.benchmarks import Benchmark, Page, Score, timed, trafilatura_alone
from worker.eval.folds import assign_folds, site_key
from worker.eval.linefit import TrainPage, fit


@dataclass(frozen=True)
class _Prepared:
    bench: Benchmark
    page: Page
    train: TrainPage
    extract_ms: float


@dataclass
class FoldRun:
    """Scores per benchmark name (``newsdedup``, ``trafilatura``) and each fold's model."""

    scores: dict[str, dict[str, Score]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)


def _prepare(benches: Sequence[Benchmark], run: FoldRun, *, reference: bool) -> list[_Prepared]:
    prepared = []
    for bench in benches:
        ours, ref = Score(), Score()
        run.scores[bench.name] = {"newsdedup": ours, **({"trafilatura": ref} if reference else {})}
        for page in bench.pages():
            text, ms = timed(partial(page_to_text, page.html, page.url, lines=False))
            site = site_key(page.url, f"{bench.name}:{page.id}")
            train = TrainPage(site, page.url, text, page.truth, page.must_have, page.must_not)
            prepared.append(_Prepared(bench, page, train, ms))
            if reference:
                out, ref_ms = timed(partial(trafilatura_alone, page))
                ref.add(page, out, ref_ms, wcxb=bench.wcxb)
    return prepared


def _clean(model: PageLines, page: TrainPage) -> str:
    """What the daemon makes of a page's extracted text: the line model, then the rules."""
    return strip_chrome(model.clean(page.text, page.url))


def run_folds(benches: Sequence[Benchmark], k: int, *, reference: bool = True) -> FoldRun:
    """Fit on ``k - 1`` folds, score the ``k``-th, for every fold."""
    run = FoldRun()
    prepared = _prepare(benches, run, reference=reference)
    folds = assign_folds([p.train.site for p in prepared], k)
    for fold in range(k):
        held = [p for p, f in zip(prepared, folds, strict=True) if f == fold]
        model = fit([p.train for p, f in zip(prepared, folds, strict=True) if f != fold])
        run.models.append(
            {
                "sites": len({p.train.site for p in held}),
                "pages": len(held),
                "threshold": model.threshold,
                "repeat_words": model.repeat_words,
            }
        )
        for p in held:
            out, ms = timed(partial(_clean, model, p.train))
            run.scores[p.bench.name]["newsdedup"].add(
                p.page, out, p.extract_ms + ms, wcxb=p.bench.wcxb
            )
    return run
