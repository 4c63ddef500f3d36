"""``newsdedup eval dedup``: cluster labelled documents with the daemon's own path and score it.

Every document goes through ``newsdedup import``'s store path (extraction, chrome rules,
fingerprint, LSH lookup, verification, story choice) into a temporary SQLite database, in a
fixed pseudo-random order (wire copies do not arrive sorted by story). The stories it ends
in are the prediction.

The ``[dedup]`` and ``[clean]`` settings come from ``--config`` when given (so a user measures
their own settings), else the defaults; ``--set dedup.KEY=VALUE`` overrides one. Per-feed
learned chrome lines are off: the labelled documents carry no feed, and learning across all
of them would learn across sites.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from worker.config import Config, load_config
from worker.errors import ConfigError, NewsdedupError
from worker.eval.corpus import Document, load_distractors, load_labels
from worker.eval.failures import Failure, failure_report
from worker.eval.metrics import Scores, bcubed, pairwise
from worker.metrics import REGISTRY
from worker.pipeline.backfill import BackfillIngestor, Record, make_entry, store_record
from worker.store.db import Database
from worker.store.models import Article

STAGES = ("clean", "fingerprint", "store")
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

    def as_dict(self) -> dict[str, Any]:
        return {
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
            "false_merges": [f.as_dict() for f in self.false_merges],
            "missed_pairs": [f.as_dict() for f in self.missed_pairs],
        }


def _parse_override(item: str) -> tuple[str, str, Any]:
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


def eval_config(base: Config | None, overrides: list[str], database: str) -> Config:
    data: dict[str, Any] = {"dedup": {}, "clean": {}, "events": {}}
    if base is not None:
        data["dedup"] = base.dedup.model_dump(mode="json")
        data["clean"] = base.clean.model_dump(mode="json")
        data["events"] = base.events.model_dump(mode="json")
    for item in overrides:
        section, name, value = _parse_override(item)
        data[section][name] = value
    data["clean"]["learn_lines"] = False
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
    keys = [d.key for d in docs]
    if len(set(keys)) != len(keys):
        raise NewsdedupError("the labels name one file twice")
    order = list(docs)
    random.Random(order_seed).shuffle(order)
    db = Database(config.worker.database)
    db.ensure_current()
    ingestor = BackfillIngestor(config, db)
    ingestor.pages = {}
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
    with db.session() as session:
        rows = session.execute(
            select(Article.guid, Article.story_id, Article.signature, Article.shingle_count,
                   Article.content_hash, Article.sig_scheme, Article.sig_seed, Article.clean_text)
        ).all()  # fmt: skip
    db.dispose()
    by_key = {row.guid: row for row in rows}
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
        stage_ms={s: 1000 * (after[s] - before[s]) / max(len(docs), 1) for s in STAGES},
        seconds=seconds,
        false_merges=false_merges,
        missed_pairs=missed,
        settings=config.dedup.model_dump(mode="json"),
    )


def render(result: DedupEval) -> str:
    lines = [
        f"documents {result.documents} ({result.labelled} labelled, "
        f"{result.distractors} distractors) in {result.seconds:.1f}s",
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


def main(args: argparse.Namespace) -> int:
    base = load_config(args.config) if args.config else None
    docs = load_labels(Path(args.labels))
    if args.half:
        docs = half(docs, args.half)
    if args.distractors:
        docs += load_distractors(Path(args.distractors))
    with tempfile.TemporaryDirectory(prefix="newsdedup-eval-") as tmp:
        config = eval_config(base, args.set or [], f"sqlite:///{Path(tmp) / 'eval.db'}")
        result = run_eval(docs, config, order_seed=args.seed, progress=not args.json)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(render(result))
    return 0
