"""Fitting the line model of ``worker.clean.pagelines`` on labelled benchmark pages.

Input: each page's extracted text (``page_to_text`` without a line model) with its gold
text and, for WCXB, its must-include and must-exclude snippets. A line is *chrome* when
almost none of its words run in the gold text (four-word runs; a short line: when it is
nowhere in the gold text), *article* when most of them do, and left out of the fit
otherwise (a short line whose words the article also uses). Lines that hold a must-exclude
snippet weigh five times: they are the chrome the benchmark names.

The fit, all deterministic (no sampling, fixed iteration counts):

1. word scores: for each word, the sites (not pages) whose chrome lines use it and the sites
   whose article lines use it; a word in the chrome of three sites or more scores the log
   ratio of the two shares, as a line's opening word too. While fitting, a page's own site is left
   out of its words' counts, so the weights are set on scores a new site would see;
2. a logistic regression (L2, Newton's method) over ``pagelines.FEATURES``;
3. the threshold and the repeat length, each the best on the fitting pages themselves of a
   small grid: must-exclude snippets fixed, minus twice the must-include snippets lost,
   plus a fiftieth of (junk words removed minus twice the gold words removed), each page
   cleaned the way the daemon cleans it (model, then the chrome rules).

``newsdedup eval extract --folds K`` fits one model per fold on the other folds' sites;
``scripts/train_line_model.py`` fits the shipped one on every page.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from worker.clean.chrome import strip_chrome
from worker.clean.learned import line_key
from worker.clean.pagelines import FEATURES, PageLines, line_features, site_name
from worker.eval.text_metrics import snippet_found, token_text, tokens

MIN_SITES = 3
SNIPPET_WEIGHT = 5.0
L2 = 1.0
NEWTON_STEPS = 30
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0)
REPEAT_WORDS = (0, 5, 8, 12, 20)
_GRAM = 4
_ARTICLE_SHARE, _CHROME_SHARE = 0.5, 0.15


@dataclass(frozen=True)
class TrainPage:
    """One labelled page as the fit sees it."""

    site: str
    url: str | None
    text: str  # extracted, before any line model
    truth: str
    must_have: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.text.split("\n") if ln.strip()]


def as_dict(model: PageLines) -> dict[str, Any]:
    """The model as ``line_model.json`` holds it (``PageLines.from_dict`` reads it)."""
    return {
        "features": list(FEATURES),
        "weights": [round(w, 4) for w in model.weights],
        "bias": round(model.bias, 4),
        "threshold": round(model.threshold, 4),
        "repeat_words": model.repeat_words,
        "words": {k: round(v, 3) for k, v in sorted(model.words.items())},
        "openers": {k: round(v, 3) for k, v in sorted(model.openers.items())},
    }


def line_labels(lines: Sequence[str], truth: str) -> list[int]:
    """1 chrome, 0 article, -1 unsure, for each line against the page's gold text."""
    gold = tokens(truth)
    gold_text = f" {token_text(gold)} "
    grams = {tuple(gold[i : i + _GRAM]) for i in range(len(gold) - _GRAM + 1)}
    gold_lines = {token_text(tokens(t)) for t in truth.split("\n")}
    labels = []
    for line in lines:
        words = tokens(line)
        if not words:
            labels.append(-1)
        elif len(words) >= _GRAM:
            covered = [False] * len(words)
            for i in range(len(words) - _GRAM + 1):
                if tuple(words[i : i + _GRAM]) in grams:
                    covered[i : i + _GRAM] = [True] * _GRAM
            share = sum(covered) / len(words)
            labels.append(0 if share >= _ARTICLE_SHARE else 1 if share <= _CHROME_SHARE else -1)
        else:
            text = token_text(words)
            labels.append(0 if text in gold_lines else 1 if f" {text} " not in gold_text else -1)
    return labels


class _Lexicon:
    """Per word, the sites of its chrome and of its article lines."""

    def __init__(self) -> None:
        self.chrome: dict[str, set[str]] = defaultdict(set)
        self.article: dict[str, set[str]] = defaultdict(set)
        self.chrome_sites: set[str] = set()
        self.article_sites: set[str] = set()

    def add(self, site: str, words: set[str], label: int) -> None:
        table = self.chrome if label == 1 else self.article
        for word in words:
            table[word].add(site)
        (self.chrome_sites if label == 1 else self.article_sites).add(site)

    def score(self, word: str, leave_out: str | None = None) -> float | None:
        chrome, article = self.chrome.get(word, set()), self.article.get(word, set())
        c = len(chrome) - (leave_out in chrome)
        if c < MIN_SITES:
            return None
        a = len(article) - (leave_out in article)
        nc, na = len(self.chrome_sites), len(self.article_sites)
        return math.log((c + 1) / (nc + 2)) - math.log((a + 1) / (na + 2))

    def table(self) -> dict[str, float]:
        out = {}
        for word in self.chrome:
            s = self.score(word)
            if s is not None:
                out[word] = s
        return out


def _rows(
    page: TrainPage, lines: list[str], words: _Lexicon, openers: _Lexicon, *, leave_out: bool
) -> list[list[float] | None]:
    out = page.site if leave_out else None
    return line_features(
        lines,
        site_name(page.url),
        lambda w: words.score(w, out),
        lambda w: openers.score(w, out),
    )


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias on the raw features: an L2-penalised logistic regression fitted by
    Newton's method on standardised features, then mapped back."""
    mean, spread = x.mean(0), x.std(0)
    spread[spread == 0] = 1.0
    z = np.hstack([(x - mean) / spread, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = L2 * np.eye(len(beta))
    penalty[-1, -1] = 0.0
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        grad = z.T @ (w * (p - y)) + penalty @ beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + penalty
        beta -= np.linalg.solve(hess, grad)
    weights = beta[:-1] / spread
    return weights, float(beta[-1] - weights @ mean)


def _gain(page: TrainPage, base: str, ours: str) -> float:
    """Snippets fixed minus twice those lost, plus a fiftieth of the net junk words
    removed, by ``ours`` against ``base`` (both cleaned by the chrome rules)."""
    if base == ours:
        return 0.0
    before, after = token_text(tokens(base)), token_text(tokens(ours))
    fixed = sum(
        snippet_found(before, w) and not snippet_found(after, w) for w in map(tokens, page.must_not)
    )
    lost = sum(
        snippet_found(before, w) and not snippet_found(after, w)
        for w in map(tokens, page.must_have)
    )
    truth = Counter(tokens(page.truth))
    b, o = Counter(tokens(base)), Counter(tokens(ours))
    gold = sum((b & truth).values()) - sum((o & truth).values())
    junk = sum(b.values()) - sum(o.values()) - gold
    return fixed - 2 * lost + (junk - 2 * gold) / 50


def _lexicons(pages: Sequence[TrainPage]) -> tuple[_Lexicon, _Lexicon, list[list[int]]]:
    words, openers = _Lexicon(), _Lexicon()
    all_labels = []
    for page in pages:
        labels = line_labels(page.lines, page.truth)
        for line, label in zip(page.lines, labels, strict=True):
            toks = line_key(line).split()  # as line_features reads a line's words
            if label >= 0 and toks:
                words.add(page.site, set(toks), label)
                openers.add(page.site, {toks[0]}, label)
        all_labels.append(labels)
    return words, openers, all_labels


def fit(pages: Sequence[TrainPage]) -> PageLines:
    """The line model fitted on ``pages``."""
    words, openers, all_labels = _lexicons(pages)
    xs, ys, ws = [], [], []
    for page, labels in zip(pages, all_labels, strict=True):
        snippets = [token_text(tokens(s)) for s in page.must_not]
        rows = _rows(page, page.lines, words, openers, leave_out=True)
        for row, line, label in zip(rows, page.lines, labels, strict=True):
            if label < 0 or row is None:
                continue
            text = token_text(tokens(line))
            named = label == 1 and any(s and (s in text or text in s) for s in snippets)
            xs.append(row)
            ys.append(float(label))
            ws.append(SNIPPET_WEIGHT if named else 1.0)
    weights, bias = fit_logistic(np.array(xs), np.array(ys), np.array(ws))
    model = PageLines(tuple(float(v) for v in weights), bias, 1.0, words.table(), openers.table())
    bases = [strip_chrome(page.text) for page in pages]
    # Each page's scores once, its own site left out of the word tables as for the fit;
    # each threshold then keeps the lines that score below it.
    scored = [model.scores(_rows(p, p.lines, words, openers, leave_out=True)) for p in pages]

    def at(threshold: float) -> float:
        if threshold >= 1:
            return 0.0
        cut = math.log(threshold / (1 - threshold))
        total = 0.0
        for page, base, scores in zip(pages, bases, scored, strict=True):
            kept = "\n".join(ln for ln, s in zip(page.lines, scores, strict=True) if s < cut)
            total += _gain(page, base, strip_chrome(kept))
        return total

    # 1.0 leaves every line alone: a model that does not help is not used.
    threshold = max(THRESHOLDS, key=lambda t: (at(t), t))

    def tuned(repeat_words: int) -> PageLines:
        return PageLines(
            model.weights, model.bias, threshold, model.words, model.openers, repeat_words
        )

    def repeats(repeat_words: int) -> float:
        lines = tuned(repeat_words)
        return sum(
            _gain(page, base, strip_chrome(lines.clean(page.text, page.url)))
            for page, base in zip(pages, bases, strict=True)
        )

    return tuned(max(REPEAT_WORDS, key=lambda r: (repeats(r), -r)))
