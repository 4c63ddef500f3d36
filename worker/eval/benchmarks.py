"""The two extraction benchmarks: their pages with gold text and snippets (``load_aeb``,
``load_wcxb``), and one extractor's scores over them (``Score``), as ``newsdedup eval
extract`` reports them. The metrics are in ``worker.eval.text_metrics``.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trafilatura

from worker.errors import NewsdedupError
from worker.eval.text_metrics import Tally, shingle_counts, snippet_found, token_text, tokens

AEB_SHINGLE = 4


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


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's folder, by name: ``aeb`` or ``wcxb``."""

    name: str
    folder: Path

    @property
    def wcxb(self) -> bool:
        return self.name == "wcxb"

    def pages(self) -> Iterator[Page]:
        return load_wcxb(self.folder) if self.wcxb else load_aeb(self.folder)


def timed(fn: Callable[[], str]) -> tuple[str, float]:
    """``fn()`` and the CPU milliseconds it took."""
    started = time.process_time()
    out = fn()
    return out, 1000 * (time.process_time() - started)


def trafilatura_alone(page: Page) -> str:
    """The reference: trafilatura as the benchmarks' own runners call it."""
    try:
        return trafilatura.extract(page.html, include_comments=False) or ""
    except Exception:  # the reference may fail on hostile markup; count it as empty
        return ""
