"""``newsdedup eval``: the metric code on hand-made cases, and both commands end to end on
small benchmark folders written here (invented text)."""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import postgres_url
from tests.fixtures.corpus import OUTLETS, UNRELATED, WIRE, outlet_paragraphs
from worker.cli import main
from worker.eval.metrics import bcubed, pairwise
from worker.eval.text_metrics import Tally, shingle_counts, snippet_found, token_text, tokens


def test_pairwise_counts_pairs() -> None:
    gold = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2}
    # Predicted pairs ab cd ce de: 2 right of 4; true pairs ab ac bc de: 2 found of 4.
    pred = {"a": 1, "b": 1, "c": 2, "d": 2, "e": 2}
    s = pairwise(pred, gold)
    assert s.precision == pytest.approx(2 / 4)
    assert s.recall == pytest.approx(2 / 4)
    assert pairwise(gold, gold).f1 == 1.0


def test_pairwise_with_singletons_only() -> None:
    gold = {"a": 1, "b": 2}
    assert pairwise({"a": 1, "b": 1}, gold).precision == 0.0
    assert pairwise({"a": 1, "b": 2}, gold).f1 == 1.0


def test_bcubed_by_hand() -> None:
    gold = {"a": 1, "b": 1, "c": 2}
    pred = {"a": 1, "b": 1, "c": 1}
    s = bcubed(pred, gold)
    # precision: a 2/3, b 2/3, c 1/3 -> 5/9; recall: every document finds its whole cluster.
    assert s.precision == pytest.approx(5 / 9)
    assert s.recall == 1.0
    assert s.f1 == pytest.approx(2 * (5 / 9) / (5 / 9 + 1))


def test_metrics_refuse_mismatched_documents() -> None:
    with pytest.raises(ValueError):
        pairwise({"a": 1}, {"b": 1})


def test_text_metrics_by_hand() -> None:
    assert tokens("Hello, WORLD-wide!") == ["hello", "world", "wide"]
    assert sum(shingle_counts(tokens("a b c d e"), 4).values()) == 2
    assert shingle_counts(tokens("x x x x x"), 4)[("x",) * 4] == 2  # multiplicity kept
    assert shingle_counts(tokens("Hello world"), 4) == Counter([("hello", "world")])
    assert shingle_counts([], 4) == Counter()
    t = Tally()
    t.add(shingle_counts(tokens("a b c d e"), 4), shingle_counts(tokens("a b c d"), 4))
    assert t.pages == [(1, 1, 0)]


def test_aeb_scores_average_pages_and_pooled_scores_sum_them() -> None:
    long_page = " ".join(f"w{i}" for i in range(20))  # 17 shingles, extracted exactly
    t = Tally()
    t.add(shingle_counts(tokens(long_page), 4), shingle_counts(tokens(long_page), 4))
    # 1 true shingle of 5 predicted: precision 0.2, recall 1
    t.add(shingle_counts(tokens("p q r s x y z w"), 4), shingle_counts(tokens("p q r s"), 4))
    assert t.per_page() == (pytest.approx(0.6), 1.0)
    assert t.per_page().f1 == pytest.approx(0.75)
    assert t.pooled() == (pytest.approx(18 / 22), 1.0)


def test_aeb_page_without_output_counts_in_recall_only() -> None:
    t = Tally()
    t.add(Counter({"a": 2}), Counter({"a": 2}))
    t.add(Counter(), Counter({"b": 3}))
    assert t.per_page() == (1.0, 0.5)
    assert t.pooled() == (1.0, 0.4)
    t.add(Counter(), Counter())  # nothing on either side: in neither average
    assert t.per_page() == (1.0, 0.5)


def test_snippets_match_token_runs_cut_inside_words() -> None:
    out = token_text(tokens("It is hard to find a cheap one that doesn't totally suck."))
    assert snippet_found(out, tokens("find a cheap one that does"))  # cut inside "doesn't"
    assert snippet_found(out, tokens("eap one that"))  # cut inside "cheap"
    assert snippet_found(out, tokens("doesn’t TOTALLY"))  # punctuation and case ignored
    assert not snippet_found(out, tokens("a che one"))  # inner tokens are whole words
    assert not snippet_found(out, tokens("one a cheap"))  # order kept
    assert snippet_found(token_text(tokens("Visit our homepage")), tokens("Home"))
    assert not snippet_found(out, [])


def _page(title: str, paragraphs: list[str], *, chrome: bool = True) -> str:
    nav = "<nav><a href='/'>Home</a> <a href='/w'>World</a> <a href='/s'>Sport</a></nav>"
    share = "<div class='share-tools'>Share this story on every network</div>"
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body>{nav if chrome else ''}"
        f"<article><h1>{title}</h1>{body}{share if chrome else ''}</article></body></html>"
    )


@pytest.fixture
def dedup_bench(tmp_path: Path) -> Path:
    """Wire stories as outlet pages (clusters), unrelated texts as distractors."""
    root = tmp_path / "bench"
    (root / "pages").mkdir(parents=True)
    rows = ["path\tcluster"]
    for story in ("bridge", "vaccine", "orchestra", "harvest"):
        for i, outlet in enumerate(OUTLETS):
            name = f"pages/{story}-{i}.html" + (".gz" if i == 1 else "")
            html = _page(f"{story} {outlet.name}", outlet_paragraphs(story, outlet))
            data = html.encode("cp1252")
            (root / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
            rows.append(f"{name}\t{story}")
    (root / "labels.tsv").write_text("\n".join(rows) + "\n")
    distractors = tmp_path / "distractors" / "misc"
    distractors.mkdir(parents=True)
    for name, paragraphs in UNRELATED.items():
        (distractors / f"{name}.txt").write_text(f"{name} headline\n" + "\n".join(paragraphs))
    return root


def test_eval_dedup_json(dedup_bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "dedup", "--labels", str(dedup_bench / "labels.tsv")]
    args += ["--distractors", str(dedup_bench.parent / "distractors"), "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"pairwise", "bcubed", "distractor_merges"}
    assert out["labelled"] == 16 and out["distractors"] == len(UNRELATED)
    assert out["true_clusters"] == 4 + len(UNRELATED)
    # Four outlets' copies of four wire stories, trims and chrome included: all found,
    # nothing merged wrongly.
    assert out["pairwise"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert out["bcubed"]["f1"] == 1.0
    assert out["labelled_only"]["pairwise"]["f1"] == out["labelled_only"]["bcubed"]["f1"] == 1.0
    assert out["distractor_merges"] == 0
    assert out["predicted_clusters"] == out["true_clusters"]


def test_eval_dedup_halves_split_the_clusters(
    dedup_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "dedup", "--labels", str(dedup_bench / "labels.tsv")]
    args += ["--distractors", str(dedup_bench.parent / "distractors"), "--json"]
    outs = []
    for which in ("even", "odd"):
        assert main([*args, "--half", which]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    # bridge, harvest, orchestra, vaccine: two clusters of 4 pages each; distractors in both.
    assert [o["labelled"] for o in outs] == [8, 8]
    assert [o["distractors"] for o in outs] == [len(UNRELATED)] * 2
    assert all(o["true_clusters"] == 2 + len(UNRELATED) for o in outs)


def test_eval_dedup_scores_labelled_documents_alone(
    dedup_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two distractors that are copies of each other fold into one story, which the
    all-documents scores count as a false merge; the labelled-only scores do not."""
    folder = dedup_bench.parent / "distractors"
    name, paragraphs = next(iter(UNRELATED.items()))
    copy = f"{name} retitled\n" + "\n".join(paragraphs) + "\nUpdated this evening."
    (folder / "misc" / f"{name}-copy.txt").write_text(copy)
    args = ["eval", "dedup", "--labels", str(dedup_bench / "labels.tsv")]
    assert main([*args, "--distractors", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pairwise"]["precision"] < 1.0 and out["bcubed"]["precision"] < 1.0
    assert out["labelled_only"]["pairwise"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert out["labelled_only"]["bcubed"]["f1"] == 1.0
    assert out["distractor_merges"] == 0
    assert main([*args, "--distractors", str(folder)]) == 0
    assert "labelled documents only:" in capsys.readouterr().out


def test_eval_dedup_reports_failures(dedup_bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Label two different stories as one cluster: the split shows up as a missed pair.
    labels = dedup_bench / "labels.tsv"
    labels.write_text(labels.read_text().replace("\tvaccine", "\tbridge"))
    assert main(["eval", "dedup", "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "pairwise" in out and "B-cubed" in out
    missed = out.split("missed pairs")[1]
    assert "bridge in story" in missed and "vaccine-" in missed and "bridge-" in missed


def test_eval_dedup_settings_override(
    dedup_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Word shingles with an impossible threshold: only exact copies fold, recall drops.
    args = ["eval", "dedup", "--labels", str(dedup_bench / "labels.tsv"), "--json"]
    args += ["--set", "dedup.features=words", "--set", "dedup.jaccard_threshold=1.0"]
    args += ["--set", "dedup.containment_threshold=1.0"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["features"] == "words"
    assert out["pairwise"]["recall"] < 1.0
    assert main([*args[:-6], "--set", "dedup.nonsense=1"]) == 2


def test_eval_dedup_bad_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.tsv"
    labels.write_text("path\tcluster\nmissing.html\tx\n")
    assert main(["eval", "dedup", "--labels", str(labels)]) == 1
    assert f"{labels}:2: missing.html: no such file" in capsys.readouterr().err


def test_eval_extract_aeb_and_wcxb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    article = WIRE["bridge"]
    aeb = tmp_path / "aeb"
    (aeb / "html").mkdir(parents=True)
    (aeb / "html" / "p1.html.gz").write_bytes(gzip.compress(_page("Bridge", article).encode()))
    truth = {"p1": {"articleBody": "\n".join(article), "url": "https://x.example/p1"}}
    (aeb / "ground-truth.json").write_text(json.dumps(truth))
    assert main(["eval", "extract", "--aeb", str(aeb), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pages"] == 1 and out["recall"] > 0.95 and out["precision"] > 0.9
    assert {"f1", "precision", "recall"} <= set(out) and "leak_rate" not in out

    wcxb = tmp_path / "wcxb"
    (wcxb / "html").mkdir(parents=True)
    (wcxb / "ground-truth").mkdir()
    (wcxb / "html" / "0001.html.gz").write_bytes(gzip.compress(_page("Bridge", article).encode()))
    gt = {
        "main_content": "\n".join(article),
        "with": [article[1][:60], "a sentence that is nowhere on the page"],
        "without": ["Share this story on every network", "Home World Sport"],
    }
    (wcxb / "ground-truth" / "0001.json").write_text(json.dumps({"ground_truth": gt}))
    assert main(["eval", "extract", "--wcxb", str(wcxb), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["keep_rate"] == 0.5  # one of the two must-have snippets exists
    assert out["leak_rate"] == 0.0  # navigation and share bar pruned
    assert math.isclose(out["reference"]["keep_rate"], 0.5)
    assert main(["eval", "extract", "--wcxb", str(wcxb), "--no-reference"]) == 0
    report = capsys.readouterr().out
    assert "lost snippets (newsdedup, 1;" in report
    assert "0001: a sentence that is nowhere on the page" in report
    assert "leaked snippets" not in report
    assert main(["eval", "extract", "--wcxb", str(tmp_path / "nowhere")]) == 1


def test_eval_extract_folds_by_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both benchmarks split into folds by site: every page scored once, by a model fitted
    on the other folds, beside trafilatura alone."""
    aeb, wcxb = tmp_path / "aeb", tmp_path / "wcxb"
    for folder in (aeb / "html", wcxb / "html", wcxb / "ground-truth"):
        folder.mkdir(parents=True)
    truth = {}
    for i, (name, paragraphs) in enumerate([*WIRE.items(), *UNRELATED.items()]):
        page = gzip.compress(_page(name, paragraphs).encode())
        body = "\n".join(paragraphs)
        if i % 2:
            (aeb / "html" / f"p{i}.html.gz").write_bytes(page)
            truth[f"p{i}"] = {"articleBody": body, "url": f"https://site{i}.example/p"}
        else:
            (wcxb / "html" / f"{i:04d}.html.gz").write_bytes(page)
            gt = {"main_content": body, "with": [paragraphs[0][:50]], "without": ["Home World"]}
            item = {"url": f"https://site{i}.example/p", "ground_truth": gt}
            (wcxb / "ground-truth" / f"{i:04d}.json").write_text(json.dumps(item))
    (aeb / "ground-truth.json").write_text(json.dumps(truth))
    args = ["eval", "extract", "--aeb", str(aeb), "--wcxb", str(wcxb), "--folds", "2"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["folds"] == 2 and len(out["fold_models"]) == 2
    assert sum(m["pages"] for m in out["fold_models"]) == out["aeb"]["pages"] + out["wcxb"]["pages"]
    assert out["wcxb"]["keep_rate"] == 1.0 and out["wcxb"]["leak_rate"] == 0.0
    assert out["aeb"]["f1"] > 0.9 and "reference" in out["aeb"]
    assert main(args) == 0
    report = capsys.readouterr().out
    assert "aeb, unseen sites:" in report and "wcxb, unseen sites:" in report
    assert main(["eval", "extract", "--aeb", str(aeb), "--wcxb", str(wcxb)]) == 1
    assert main(["eval", "extract"]) == 1
    assert main([*args[:-1], "1"]) == 1


def test_eval_on_shared_data(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real benchmark, opt-in (NEWSDEDUP_EVAL_DATA=1): minutes of CPU."""
    import os

    if not os.environ.get("NEWSDEDUP_EVAL_DATA"):
        pytest.skip("set NEWSDEDUP_EVAL_DATA=1 to score ../shared/data (several minutes)")
    data = shared_dir / "data"
    assert main(["eval", "extract", "--aeb", str(data / "aeb"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["f1"] >= out["reference"]["f1"]


@pytest.mark.slow
def test_eval_dedup_feed_paths(dedup_bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every feed shape, polled over loopback by the daemon's path, finds the same stories
    as the import path on pages whose chrome a fragment reading would keep."""
    args = ["eval", "dedup", "--labels", str(dedup_bench / "labels.tsv")]
    args += ["--distractors", str(dedup_bench.parent / "distractors"), "--json", "--path", "all"]
    assert main(args) == 0
    out = {run["path"]: run for run in json.loads(capsys.readouterr().out)["runs"]}
    assert list(out) == ["import", "whole-pages", "fragments", "summaries"]
    for path, result in out.items():
        assert result["path"] == path
        assert result["not_stored"] == 0, path
        assert result["pairwise"]["f1"] == 1.0, path
        assert result["bcubed"]["f1"] == 1.0, path
        assert result["distractor_merges"] == 0, path
    feeds = out["summaries"]["polls"]
    assert (
        feeds["articles_new"] + feeds["duplicates_near"] + feeds["duplicates_exact"]
        == (out["summaries"]["documents"])
    )
    assert feeds.get("outcome_error", 0) == 0
    assert main([*args[:-3], "--path", "whole-pages"]) == 0
    assert capsys.readouterr().out.startswith("path whole-pages: documents")


def test_eval_dedup_seeds_compare_their_stories(
    dedup_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "dedup", "--labels", str(dedup_bench / "labels.tsv"), "--seed", "0,1,2"]
    args += ["--distractors", str(dedup_bench.parent / "distractors"), "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in out["runs"]] == [0, 1, 2]
    assert [(a["first"], a["other"]) for a in out["pair_agreement"]] == [
        ("import seed 0", "import seed 1"),
        ("import seed 0", "import seed 2"),
    ]
    assert all(a["agreement"] == 1.0 for a in out["pair_agreement"])
    assert main([*args[:-1]]) == 0
    assert "pair agreement, import seed 0 / import seed 2: 1.0000 (the same stories)" in (
        capsys.readouterr().out
    )
    assert main([*args, "--workers", "3"]) == 2  # workers poll feeds: not the import path


@pytest.mark.slow
def test_eval_dedup_several_workers(dedup_bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three workers polling the same feeds race for every batch and end in the stories one
    worker ends in."""
    args = ["eval", "dedup", "--labels", str(dedup_bench / "labels.tsv"), "--json"]
    args += ["--distractors", str(dedup_bench.parent / "distractors")]
    args += ["--path", "fragments", "--workers", "1,3"]
    if postgres_url():
        args += ["--database", postgres_url() or ""]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["workers"] for r in out["runs"]] == [1, 3]
    for run in out["runs"]:
        assert run["not_stored"] == 0 and run["pairwise"]["f1"] == 1.0
        assert run["polls"].get("outcome_error", 0) == 0
    assert out["pair_agreement"][0]["agreement"] == 1.0


def test_eval_templated_has_no_false_merges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "templated", "--reports", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reports"] == 24 and out["documents"] > 24
    assert out["false_merge_pairs"] == 0
    assert out["copy_pairs_joined"] > 0
    assert main(["eval", "templated", "--reports", "6", "--set", "dedup.fact_conflict=0"]) == 0
    text = capsys.readouterr().out
    assert "false merges (pairs of different reports in one story): 0" not in text
