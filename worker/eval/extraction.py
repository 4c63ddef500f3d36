"""``newsdedup eval extract``: main-text extraction quality on AEB or WCXB.

Each page goes through ``worker.clean.clean_page``, the function the daemon uses on a
fetched article page (furniture pruning, trafilatura, then the chrome rules), and, in the
same run, through ``trafilatura.extract`` alone as the reference, called as the benchmarks'
own runners call it (comments excluded: trafilatura's default keeps them, which costs it
0.007 AEB F1). Scores and CPU time per page are printed for both; the metrics are in
``worker.eval.text_metrics``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trafilatura

from worker.clean import clean_page
from worker.errors import NewsdedupError
from worker.eval.text_metrics import Tally, shingle_counts, snippet_found, token_text, tokens

AEB_SHINGLE = 4
FAILURES_SHOWN = 15


@dataclass(frozen=True)
class Page:
    id: str
    html: bytes
    url: str | None
    truth: str
    must_have: tuple[str, ...] = ()  # WCXB "with"
    must_not: tuple[str, ...] = ()  # WCXB "without"


def _read_html(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _html_path(folder: Path, page_id: str) -> Path:
    for name in (f"{page_id}.html.gz", f"{page_id}.html", f"{page_id}.htm"):
        if (folder / "html" / name).is_file():
            return folder / "html" / name
    raise NewsdedupError(f"{folder / 'html'}: no page for id {page_id!r}")


def load_aeb(folder: Path) -> Iterator[Page]:
    truth_file = folder / "ground-truth.json"
    try:
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NewsdedupError(f"{truth_file}: {exc}") from exc
    for page_id, item in sorted(truth.items()):
        html = _read_html(_html_path(folder, page_id))
        yield Page(page_id, html, item.get("url"), item.get("articleBody") or "")


def load_wcxb(folder: Path) -> Iterator[Page]:
    files = sorted((folder / "ground-truth").glob("*.json"))
    if not files:
        raise NewsdedupError(f"{folder / 'ground-truth'}: no *.json ground truth")
    for path in files:
        try:
            item = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise NewsdedupError(f"{path}: {exc}") from exc
        gt = item.get("ground_truth") or {}
        yield Page(
            path.stem,
            _read_html(_html_path(folder, path.stem)),
            item.get("url"),
            gt.get("main_content") or "",
            tuple(gt.get("with") or ()),
            tuple(gt.get("without") or ()),
        )


@dataclass
class Score:
    """One extractor's totals over a benchmark."""

    tally: Tally = field(default_factory=Tally)
    cpu_ms: list[float] = field(default_factory=list)
    kept: int = 0
    must_have: int = 0
    leaked: int = 0
    must_not: int = 0
    worst: list[tuple[float, str]] = field(default_factory=list)  # (page F1, id)
    leaks: list[tuple[str, str]] = field(default_factory=list)  # (id, "without" snippet found)
    losses: list[tuple[str, str]] = field(default_factory=list)  # (id, "with" snippet missing)

    def add(self, page: Page, output: str, cpu_ms: float, *, wcxb: bool) -> None:
        out_tokens, truth_tokens = tokens(output), tokens(page.truth)
        predicted: Counter[Any]
        truth: Counter[Any]
        if wcxb:
            predicted, truth = Counter(out_tokens), Counter(truth_tokens)
        else:
            predicted = shingle_counts(out_tokens, AEB_SHINGLE)
            truth = shingle_counts(truth_tokens, AEB_SHINGLE)
        page_tally = Tally()
        page_tally.add(predicted, truth)
        self.tally.add(predicted, truth)
        self.worst.append((page_tally.pooled().f1, page.id))
        self.cpu_ms.append(cpu_ms)
        haystack = token_text(out_tokens)
        for snippet in page.must_have:
            if words := tokens(snippet):
                self.must_have += 1
                found = snippet_found(haystack, words)
                self.kept += found
                if not found:
                    self.losses.append((page.id, snippet))
        for snippet in page.must_not:
            if words := tokens(snippet):
                self.must_not += 1
                found = snippet_found(haystack, words)
                self.leaked += found
                if found:
                    self.leaks.append((page.id, snippet))

    def as_dict(self, *, wcxb: bool) -> dict[str, Any]:
        # AEB publishes per-page averages, WCXB pooled word counts; the other is extra.
        main, other = (self.tally.pooled(), self.tally.per_page())
        if not wcxb:
            main, other = other, main
        out: dict[str, Any] = {
            "f1": main.f1,
            "precision": main.precision,
            "recall": main.recall,
            ("per_page_f1" if wcxb else "pooled_f1"): other.f1,
            "cpu_ms_median": statistics.median(self.cpu_ms) if self.cpu_ms else 0.0,
            "cpu_ms_mean": statistics.fmean(self.cpu_ms) if self.cpu_ms else 0.0,
        }
        if wcxb:
            out["leak_rate"] = self.leaked / self.must_not if self.must_not else 0.0
            out["keep_rate"] = self.kept / self.must_have if self.must_have else 1.0
        return out


def _timed(fn: Callable[[], str]) -> tuple[str, float]:
    started = time.process_time()
    out = fn()
    return out, 1000 * (time.process_time() - started)


def _trafilatura_alone(page: Page) -> str:
    try:
        return trafilatura.extract(page.html, include_comments=False) or ""
    except Exception:  # the reference may fail on hostile markup; count it as empty
        return ""


def evaluate(pages: Iterator[Page], *, wcxb: bool, reference: bool = True) -> dict[str, Score]:
    ours, ref = Score(), Score()
    for page in pages:
        out, ms = _timed(lambda p=page: clean_page(p.html, p.url))  # type: ignore[misc]
        ours.add(page, out, ms, wcxb=wcxb)
        if reference:
            out, ms = _timed(lambda p=page: _trafilatura_alone(p))  # type: ignore[misc]
            ref.add(page, out, ms, wcxb=wcxb)
    return {"newsdedup": ours, "trafilatura": ref} if reference else {"newsdedup": ours}


def render(scores: dict[str, Score], *, wcxb: bool, pages: int) -> str:
    other = "page F1" if wcxb else "pooled F1"
    head = f"{'extractor':<12} {'F1':>7} {'prec':>7} {'recall':>7} {other:>9}"
    head += f" {'leak':>7} {'keep':>7}" if wcxb else ""
    metric = "word counts pooled over pages" if wcxb else "4-shingles, averaged over pages"
    lines = [f"{pages} pages ({metric})", head + f" {'ms/page median':>15} {'mean':>7}"]
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


def main(args: argparse.Namespace) -> int:
    wcxb = bool(args.wcxb)
    folder = Path(args.wcxb or args.aeb)
    if not folder.is_dir():
        raise NewsdedupError(f"{folder}: not a folder")
    loader = load_wcxb if wcxb else load_aeb
    scores = evaluate(loader(folder), wcxb=wcxb, reference=not args.no_reference)
    pages = len(scores["newsdedup"].cpu_ms)
    if args.json:
        out = scores["newsdedup"].as_dict(wcxb=wcxb)
        out["pages"] = pages
        if "trafilatura" in scores:
            out["reference"] = scores["trafilatura"].as_dict(wcxb=wcxb)
        print(json.dumps(out, indent=2))
    else:
        print(render(scores, wcxb=wcxb, pages=pages))
    sys.stdout.flush()
    return 0
