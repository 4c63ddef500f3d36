"""``newsdedup eval dedup``: cluster labelled documents with the daemon's own path and score it.

Every document goes through ``newsdedup import``'s store path (extraction, chrome rules,
fingerprint, LSH lookup, verification, story choice) into a temporary SQLite database, in a
fixed pseudo-random order (wire copies do not arrive sorted by story). The stories it ends
in are the prediction.

The ``[dedup]`` and ``[clean]`` settings come from ``--config`` when given (so a user measures
their own settings), else the defaults; ``--set dedup.KEY=VALUE`` overrides one. Per-feed
learned chrome lines are off: the labelled documents carry no feed, and learning across all
of them would learn across sites.

``--path whole-pages|fragments|summaries`` ingests the same documents, in the same order,
through the daemon's poll path instead, served as feeds (``worker.eval.feedpath``), with
chrome learned per feed and per site as the daemon has it; ``--path all`` runs each path in
turn and prints them side by side.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.config import Config, load_config
from worker.errors import ConfigError
from worker.eval.corpus import Document, load_distractors, load_labels
from worker.eval.failures import Failure, failure_report
from worker.eval.feedpath import ingest_as_feeds, stderr_progress
from worker.eval.metrics import Scores, bcubed, pair_agreement, pairwise
from worker.eval.runs import arrival_order, run_database, stored_rows
from worker.eval.shapes import SHAPES
from worker.eval.workers import ingest_with_workers
from worker.metrics import REGISTRY
from worker.pipeline.backfill import BackfillIngestor, Record, make_entry, store_record
from worker.store.db import Database

STAGES = ("clean", "fingerprint", "store", "consolidate")
FEED = "eval"


@dataclass
class DedupEval:
    pairwise: Scores
    bcubed: Scores
    # The same over the labelled documents alone: near copies among the distractors (which
    # are each their own "cluster" above, so merging two of them counts as an error) and
    # the distractors' perfect singleton scores both drop out.
    labelled_pairwise: Scores
    labelled_bcubed: Scores
    documents: int
    labelled: int
    distractors: int
    true_clusters: int
    predicted_clusters: int
    distractor_merges: int
    stage_ms: dict[str, float]
    seconds: float
    false_merges: list[Failure]
    missed_pairs: list[Failure]
    settings: dict[str, Any]
    path: str = "import"
    not_stored: int = 0  # documents the path lost (each scored as a story of its own)
    polls: dict[str, int] = field(default_factory=dict)  # poll outcomes summed (feed paths)
    seed: int = 0
    workers: int | None = None  # worker processes; None: polled in rounds in-process
    # The stories the documents ended in (by document key): for comparing runs.
    assignment: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "seed": self.seed,
            "workers": self.workers,
            "pairwise": self.pairwise.as_dict(),
            "bcubed": self.bcubed.as_dict(),
            "labelled_only": {
                "pairwise": self.labelled_pairwise.as_dict(),
                "bcubed": self.labelled_bcubed.as_dict(),
            },
            "documents": self.documents,
            "labelled": self.labelled,
            "distractors": self.distractors,
            "true_clusters": self.true_clusters,
            "predicted_clusters": self.predicted_clusters,
            "distractor_merges": self.distractor_merges,
            "stage_ms_per_document": self.stage_ms,
            "seconds": self.seconds,
            "settings": self.settings,
            "not_stored": self.not_stored,
            "polls": self.polls,
            "false_merges": [f.as_dict() for f in self.false_merges],
            "missed_pairs": [f.as_dict() for f in self.missed_pairs],
        }


def parse_override(item: str) -> tuple[str, str, Any]:
    """``SECTION.KEY=VALUE`` of a ``--set`` option (a TOML value, else a bare string)."""
    key, sep, raw = item.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or section not in ("dedup", "clean", "events"):
        raise ConfigError(
            f"--set {item!r}: expected dedup.KEY=VALUE, clean.KEY=VALUE or events.KEY=VALUE"
        )
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare string
    return section, name, value


def eval_config(
    base: Config | None, overrides: list[str], database: str, *, learn_lines: bool = False
) -> Config:
    data: dict[str, Any] = {"dedup": {}, "clean": {}, "events": {}}
    if base is not None:
        data["dedup"] = base.dedup.model_dump(mode="json")
        data["clean"] = base.clean.model_dump(mode="json")
        data["events"] = base.events.model_dump(mode="json")
    # The import path has no feed to learn per (see the module docstring); the feed paths
    # learn as the daemon does unless told otherwise (``--set clean.learn_lines=false``).
    data["clean"]["learn_lines"] = learn_lines
    for item in overrides:
        section, name, value = parse_override(item)
        data[section][name] = value
    data["worker"] = {"database": database}
    try:
        return Config.model_validate(data)
    except Exception as exc:  # pydantic's message names the key
        raise ConfigError(f"--set: {exc}") from exc


def _record(doc: Document) -> Record:
    if doc.page is not None:
        entry = make_entry(doc.key, "", doc.title, "", None, None)
        return Record(doc.key, entry, FEED, page=doc.page)
    paragraphs = "".join(f"<p>{_escape(p)}</p>" for p in (doc.text or "").split("\n") if p)
    return Record(doc.key, make_entry(doc.key, "", doc.title, paragraphs, None, None), FEED)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _stage_totals() -> dict[str, float]:
    return {
        s: REGISTRY.get_sample_value("newsdedup_stage_seconds_sum", {"stage": s}) or 0.0
        for s in STAGES
    }


def run_eval(
    docs: list[Document], config: Config, *, order_seed: int = 0, progress: bool = False
) -> DedupEval:
    order = arrival_order(docs, order_seed)
    db = Database(config.worker.database)
    db.ensure_current()
    ingestor = BackfillIngestor(config, db)
    before, started = _stage_totals(), time.perf_counter()
    source = Path(".")
    try:
        for done, doc in enumerate(order, 1):
            store_record(ingestor, _record(doc), FEED, source)
            if progress and done % 200 == 0:
                print(f"  {done}/{len(order)} documents", file=sys.stderr)
    finally:
        ingestor.close()
    seconds = time.perf_counter() - started
    after = _stage_totals()
    rows = stored_rows(db)
    db.dispose()
    stage_ms = {s: 1000 * (after[s] - before[s]) / max(len(docs), 1) for s in STAGES}
    return score(docs, rows, config, seconds=seconds, stage_ms=stage_ms)


@dataclass(frozen=True)
class _Missing:
    """The row of a document the path did not store: its own story, no fingerprint."""

    story_id: int
    signature: None = None
    shingle_count: None = None
    content_hash: None = None
    sig_scheme: None = None
    sig_seed: None = None
    clean_text: str = "(not stored)"


def score(
    docs: list[Document],
    rows: Iterable[Any],
    config: Config,
    *,
    seconds: float,
    stage_ms: dict[str, float],
    path: str = "import",
    polls: dict[str, int] | None = None,
) -> DedupEval:
    """Score the stored ``rows`` (``guid``, ``story_id`` and the fingerprint columns)
    against the labels; a document with no row counts as a story of its own."""
    by_key: dict[str, Any] = {row.guid: row for row in rows}
    missing = [d.key for d in docs if d.key not in by_key]
    for n, key in enumerate(missing, 1):
        by_key[key] = _Missing(-n)
    pred = {d.key: by_key[d.key].story_id for d in docs}
    gold = {d.key: d.cluster for d in docs}
    story_has_label: dict[int, bool] = defaultdict(bool)
    for d in docs:
        story_has_label[pred[d.key]] |= not d.distractor
    merges = sum(1 for d in docs if d.distractor and story_has_label[pred[d.key]])
    false_merges, missed = failure_report(docs, pred, by_key)
    labelled = {d.key for d in docs if not d.distractor}
    pred_labelled = {k: s for k, s in pred.items() if k in labelled}
    gold_labelled = {k: c for k, c in gold.items() if k in labelled}
    return DedupEval(
        pairwise=pairwise(pred, gold),
        bcubed=bcubed(pred, gold),
        labelled_pairwise=pairwise(pred_labelled, gold_labelled),
        labelled_bcubed=bcubed(pred_labelled, gold_labelled),
        documents=len(docs),
        labelled=sum(1 for d in docs if not d.distractor),
        distractors=sum(1 for d in docs if d.distractor),
        true_clusters=len(set(gold.values())),
        predicted_clusters=len(set(pred.values())),
        distractor_merges=merges,
        stage_ms=stage_ms,
        seconds=seconds,
        false_merges=false_merges,
        missed_pairs=missed,
        settings=config.dedup.model_dump(mode="json"),
        path=path,
        not_stored=len(missing),
        polls=polls or {},
        assignment=pred,
    )


def render(result: DedupEval) -> str:
    lines = [
        f"path {result.path}: documents {result.documents} ({result.labelled} labelled, "
        f"{result.distractors} distractors) in {result.seconds:.1f}s"
        + (f"; NOT STORED {result.not_stored}" if result.not_stored else ""),
        f"{'':<10} {'precision':>9} {'recall':>9} {'F1':>9}",
    ]
    for name, s in (("pairwise", result.pairwise), ("B-cubed", result.bcubed)):
        lines.append(f"{name:<10} {s.precision:>9.4f} {s.recall:>9.4f} {s.f1:>9.4f}")
    if result.distractors:
        lines.append("labelled documents only:")
        for name, s in (
            ("pairwise", result.labelled_pairwise),
            ("B-cubed", result.labelled_bcubed),
        ):
            lines.append(f"{name:<10} {s.precision:>9.4f} {s.recall:>9.4f} {s.f1:>9.4f}")
    lines += [
        f"clusters: {result.predicted_clusters} predicted, {result.true_clusters} true",
        f"distractors merged with a labelled document: {result.distractor_merges}",
        "ms per document: " + ", ".join(f"{s} {ms:.1f}" for s, ms in result.stage_ms.items()),
        "settings: " + ", ".join(f"{k}={v}" for k, v in result.settings.items()),
    ]
    for title, failures in (
        ("worst false merges (most similar first)", result.false_merges),
        ("missed pairs (most similar first)", result.missed_pairs),
    ):
        lines.append(f"\n{title}:")
        lines += [f.render() for f in failures] or ["  none"]
    return "\n".join(lines)


def half(docs: list[Document], which: str) -> list[Document]:
    """The labelled documents of every other cluster (``even``: index 0, 2, ... of the
    sorted cluster names), with every distractor."""
    names = sorted({d.cluster for d in docs if not d.distractor})
    keep = set(names[(0 if which == "even" else 1) :: 2])
    return [d for d in docs if d.distractor or d.cluster in keep]


PATHS = ("import", *SHAPES)


def run_path(
    docs: list[Document],
    path: str,
    base: Config | None,
    overrides: list[str],
    *,
    seed: int,
    progress: bool,
    workers: int | None = None,
    database: str | None = None,
) -> DedupEval:
    """One path in a fresh database (``run_database``): ``import``, or a feed shape polled
    in rounds by this process, or with ``workers`` by that many worker processes
    (``worker.eval.workers``)."""
    with run_database(database) as url:
        if path == "import":
            config = eval_config(base, overrides, url)
            result = run_eval(docs, config, order_seed=seed, progress=progress)
        else:
            config = eval_config(base, overrides, url, learn_lines=True)
            order = list(docs)
            random.Random(seed).shuffle(order)
            before, started = _stage_totals(), time.perf_counter()
            if workers is None:
                rows, polls = ingest_as_feeds(
                    order, config, path, progress=stderr_progress if progress else None
                )
            else:
                rows, polls = ingest_with_workers(order, config, path, workers)
            seconds = time.perf_counter() - started
            after = _stage_totals()
            stage_ms = {s: 1000 * (after[s] - before[s]) / max(len(docs), 1) for s in STAGES}
            result = score(
                docs, rows, config, seconds=seconds, stage_ms=stage_ms, path=path, polls=polls
            )
    result.seed, result.workers = seed, workers
    return result


def render_table(results: list[DedupEval]) -> str:
    lines = [
        f"{'path':<12} {'seed':>4} {'wk':>2} {'pw P':>7} {'pw R':>7} {'pw F1':>7} "
        f"{'B3 P':>7} {'B3 R':>7} {'B3 F1':>7} {'stories':>7} {'distr.':>6} {'lost':>5} "
        f"{'secs':>6}"
    ]
    for r in results:
        p, b = r.pairwise, r.bcubed
        lines.append(
            f"{r.path:<12} {r.seed:>4} {r.workers or '-':>2} {p.precision:>7.4f} {p.recall:>7.4f} "
            f"{p.f1:>7.4f} {b.precision:>7.4f} {b.recall:>7.4f} {b.f1:>7.4f} "
            f"{r.predicted_clusters:>7} "
            f"{r.distractor_merges:>6} {r.not_stored:>5} {r.seconds:>6.0f}"
        )
    return "\n".join(lines)


def agreements(results: list[DedupEval]) -> list[tuple[DedupEval, DedupEval, float]]:
    """Each run against the first run of its path: the pair agreement of their partitions
    (1.0: the same stories)."""
    first: dict[str, DedupEval] = {}
    out = []
    for r in results:
        if r.path in first:
            out.append((first[r.path], r, pair_agreement(first[r.path].assignment, r.assignment)))
        else:
            first[r.path] = r
    return out


def _label(r: DedupEval) -> str:
    if r.workers is None:
        return f"{r.path} seed {r.seed}"
    return f"{r.path} seed {r.seed} {r.workers} worker{'s' if r.workers > 1 else ''}"


def main(args: argparse.Namespace) -> int:
    base = load_config(args.config) if args.config else None
    docs = load_labels(Path(args.labels))
    if args.half:
        docs = half(docs, args.half)
    if args.distractors:
        docs += load_distractors(Path(args.distractors))
    paths = list(PATHS) if args.path == "all" else [args.path]
    seeds = args.seed if isinstance(args.seed, list) else [args.seed]
    counts = args.workers if isinstance(args.workers, list) else [args.workers]
    if counts != [None] and "import" in paths:
        raise ConfigError("--workers: only for the feed paths (--path whole-pages|...)")
    results = [
        run_path(
            docs, path, base, args.set or [], seed=seed, progress=not args.json,
            workers=workers, database=args.database,
        )
        for path in paths
        for seed in seeds
        for workers in counts
    ]  # fmt: skip
    compared = agreements(results)
    if args.json:
        if len(results) == 1:
            print(json.dumps(results[0].as_dict(), indent=2))
        else:
            print(
                json.dumps(
                    {
                        "runs": [r.as_dict() for r in results],
                        "pair_agreement": [
                            {"first": _label(a), "other": _label(b), "agreement": v}
                            for a, b, v in compared
                        ],
                    },
                    indent=2,
                )
            )
    else:
        print("\n\n".join(render(r) for r in results))
        if len(results) > 1:
            print("\n" + render_table(results))
        for a, b, v in compared:
            same = "the same stories" if v == 1.0 else "different stories"
            print(f"pair agreement, {_label(a)} / {_label(b)}: {v:.4f} ({same})")
    return 0
