"""The line model of a page's text (worker.clean.pagelines) and its fit (worker.eval.linefit),
on invented pages: features, repeats, the shipped file, and a fit that learns from many
sites a chrome line no rule knows."""

from __future__ import annotations

import json
import math

import pytest

from tests.fixtures.corpus import UNRELATED, WIRE
from worker.clean.extract import page_to_text
from worker.clean.pagelines import (
    FEATURES,
    MAX_WORDS,
    MODEL_FILE,
    PageLines,
    drop_repeats,
    line_features,
    shipped,
    site_name,
)
from worker.eval.folds import assign_folds, site_key
from worker.eval.linefit import TrainPage, as_dict, fit, fit_logistic, line_labels

ARTICLE = [line for text in WIRE.values() for line in text][:6]


def _none(word: str) -> float | None:
    return None


def test_site_name_is_the_label_before_the_suffix() -> None:
    assert site_name("https://www.five-books.co.uk/a") == "fivebooks"
    assert site_name("http://news.example.org/x") == "example"
    assert site_name(None) == "" and site_name("not a url") == ""


def test_features_one_row_per_line_long_lines_unjudged() -> None:
    long_line = " ".join(["word"] * (MAX_WORDS + 1)) + "."
    lines = ["Harbour Gazette", *ARTICLE[:2], long_line, "Subscribe to Harbour Gazette!"]
    rows = line_features(lines, "harbourgazette", _none, _none)
    assert len(rows) == len(lines) and rows[3] is None
    named = {name: i for i, name in enumerate(FEATURES)}
    first, last = rows[0], rows[-1]
    assert (
        first is not None
        and last is not None
        and all(len(r or FEATURES) == len(FEATURES) for r in rows)
    )
    assert first[named["head"]] == 1.0 and first[named["names_site"]] == 1.0
    assert last[named["tail"]] == 1.0 and last[named["exclaims"]] == 1.0
    assert last[named["names_site"]] == 1.0 and last[named["tail_capitals"]] == 0.75


def test_repeats_of_long_lines_go_short_ones_stay() -> None:
    lines = [ARTICLE[0], "Pros", ARTICLE[1], "Pros", ARTICLE[0]]
    assert drop_repeats(lines, 8) == lines[:4]
    assert drop_repeats(lines, 0) == lines


def test_a_model_file_of_other_features_is_refused() -> None:
    data = as_dict(PageLines((0.0,) * len(FEATURES), 0.0, 0.5))
    data["features"] = data["features"][:-1]
    with pytest.raises(ValueError, match="features"):
        PageLines.from_dict(data)


def test_threshold_one_leaves_every_line() -> None:
    model = PageLines((0.0,) * len(FEATURES), 50.0, 1.0)  # scores every line as chrome
    text = "\n".join(["Menu", *ARTICLE])
    assert model.clean(text, None) == text
    assert PageLines((0.0,) * len(FEATURES), 50.0, 0.5).clean(text, None) == ""


def test_shipped_model_reads_and_round_trips() -> None:
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    model = shipped()
    assert as_dict(model) == data  # the file is what as_dict writes, to the digit
    assert 0.5 <= model.threshold <= 1.0 and model.words


def test_shipped_model_keeps_an_article_page() -> None:
    paragraphs = [line for text in UNRELATED.values() for line in text][:8]
    page = (
        "<html><head><title>Fair</title></head><body><article><h1>Fair</h1>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + "</article></body></html>"
    )
    text = page_to_text(page, "https://gazette.example/fair")
    assert text.split("\n") == paragraphs
    assert page_to_text(page, "https://gazette.example/fair", lines=False) == text


def test_line_labels_against_gold() -> None:
    truth = "\n".join([*ARTICLE[:2], "Key facts"])
    labels = line_labels([ARTICLE[0], "Key facts", "Sign in", "the", ARTICLE[2]], truth)
    assert labels == [0, 0, 1, -1, 1]


def test_logistic_fit_separates_and_is_deterministic() -> None:
    import numpy as np

    x = np.array([[0.0], [0.2], [0.4], [1.6], [1.8], [2.0]])
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    w1, b1 = fit_logistic(x, y, np.ones(6))
    w2, b2 = fit_logistic(x, y, np.ones(6))
    assert w1[0] > 0 and (w1 == w2).all() and b1 == b2
    assert 1 / (1 + math.exp(-(w1[0] * 1.0 + b1))) == pytest.approx(0.5, abs=0.1)


def _site_pages(n_sites: int) -> list[TrainPage]:
    """A page per site: an article from the fixtures, the same invented promotion line at
    its tail (chrome the benchmark names), a heading of its own inside (article)."""
    texts = [*WIRE.values(), *UNRELATED.values()]
    pages = []
    for i in range(n_sites):
        article = list(texts[i % len(texts)])
        lines = [*article[:2], f"Section {i}", *article[2:], "Grab the quayside rota app today"]
        truth = "\n".join([*article[:2], f"Section {i}", *article[2:]])
        url = f"https://site{i}.example/story"
        pages.append(
            TrainPage(
                site_key(url, str(i)),
                url,
                "\n".join(lines),
                truth,
                must_have=(article[0][:40],),
                must_not=("Grab the quayside rota app today",),
            )
        )
    return pages


def test_fit_learns_chrome_that_recurs_across_sites() -> None:
    pages = _site_pages(12)
    model = fit(pages)
    assert model.threshold < 1.0  # the model helps, so it is used
    assert "quayside" in model.words and "grab" in model.openers
    unseen = _site_pages(14)[13]  # a site the fit never saw
    kept = model.clean(unseen.text, unseen.url).split("\n")
    assert "Grab the quayside rota app today" not in kept
    assert kept == unseen.truth.split("\n")
    assert fit(pages) == model  # deterministic


def test_folds_keep_a_site_together() -> None:
    sites = [f"s{i % 7}.example" for i in range(40)]
    folds = assign_folds(sites, 3)
    by_site: dict[str, set[int]] = {}
    for site, fold in zip(sites, folds, strict=True):
        by_site.setdefault(site, set()).add(fold)
    assert all(len(f) == 1 for f in by_site.values())
    assert sorted(set(folds)) == [0, 1, 2]
    with pytest.raises(ValueError):
        assign_folds(sites, 1)
