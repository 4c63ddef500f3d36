"""``newsdedup eval events``: group labelled documents into events with the daemon's own
path and score it.

Every document goes through ``newsdedup import``'s store path, copy level and event level
both (``worker.pipeline.events``), into a temporary SQLite database in a fixed
pseudo-random order, one document a batch; the events its stories end in are the
prediction. Documents without dates (ECB+) are all "first seen" within the run, so the
time window never separates them.

Clusters named ``PREFIX_...`` with a shared prefix form a *group* (ECB+: ``t1_ecb`` and
``t1_ecbplus``, two events of one kind); the report says for each group whether its
clusters were kept apart (each cluster's largest event holds no other cluster of the group
as its own largest part), and ``--half`` splits the documents by group, so a setting can
be tuned on one half and checked on the other.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from worker.config import Config, load_config
from worker.eval.corpus import Document, load_labels
from worker.eval.dedup import FEED, _record, eval_config
from worker.eval.metrics import Scores, bcubed, pairwise
from worker.eval.runs import arrival_order
from worker.pipeline.backfill import BackfillIngestor, store_record
from worker.store.db import Database
from worker.store.models import Article, Story


def group_of(cluster: str) -> str:
    return cluster.split("_", 1)[0]


def _natural(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def half(docs: list[Document], which: str) -> list[Document]:
    """The documents of every other group (``even``: index 0, 2, ... in natural order)."""
    groups = sorted({group_of(d.cluster) for d in docs}, key=_natural)
    keep = set(groups[(0 if which == "even" else 1) :: 2])
    return [d for d in docs if group_of(d.cluster) in keep]


@dataclass
class EventsEval:
    pairwise: Scores
    bcubed: Scores
    documents: int
    true_events: int
    predicted_events: int
    stories: int
    groups: dict[str, dict[str, Any]]
    seconds: float
    settings: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        apart = [g for g, v in self.groups.items() if v["kept_apart"]]
        return {
            "pairwise": self.pairwise.as_dict(),
            "bcubed": self.bcubed.as_dict(),
            "documents": self.documents,
            "true_events": self.true_events,
            "predicted_events": self.predicted_events,
            "stories": self.stories,
            "groups_kept_apart": len(apart),
            "groups": self.groups,
            "seconds": self.seconds,
            "settings": self.settings,
        }


def group_report(docs: list[Document], pred: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per group of two or more clusters: each cluster's largest predicted event and its
    share of the cluster, and whether the clusters' largest events are all different."""
    by_cluster: dict[str, Counter[int]] = defaultdict(Counter)
    for d in docs:
        by_cluster[d.cluster][pred[d.key]] += 1
    groups: dict[str, list[str]] = defaultdict(list)
    for cluster in by_cluster:
        groups[group_of(cluster)].append(cluster)
    out = {}
    for group in sorted(groups, key=_natural):
        clusters = sorted(groups[group])
        if len(clusters) < 2:
            continue
        main = {c: by_cluster[c].most_common(1)[0] for c in clusters}
        events = [event for event, _ in main.values()]
        out[group] = {
            "kept_apart": len(set(events)) == len(events),
            "clusters": {
                c: {
                    "documents": sum(by_cluster[c].values()),
                    "events": len(by_cluster[c]),
                    "largest_event_share": round(n / sum(by_cluster[c].values()), 3),
                }
                for c, (_, n) in main.items()
            },
        }
    return out


def run_eval(docs: list[Document], config: Config, *, order_seed: int = 0) -> EventsEval:
    order = arrival_order(docs, order_seed)
    db = Database(config.worker.database)
    db.ensure_current()
    ingestor = BackfillIngestor(config, db)
    started = time.perf_counter()
    try:
        for doc in order:
            store_record(ingestor, _record(doc), FEED, Path("."))
    finally:
        ingestor.close()
    seconds = time.perf_counter() - started
    with db.session() as session:
        rows = session.execute(
            select(Article.guid, Article.story_id, Story.event_id).join(
                Story, Story.id == Article.story_id
            )
        ).all()
    db.dispose()
    by_key = {row.guid: row for row in rows}
    # A story the event level did not place (it is off) is its own event.
    pred = {d.key: by_key[d.key].event_id or -by_key[d.key].story_id for d in docs}
    gold = {d.key: d.cluster for d in docs}
    return EventsEval(
        pairwise=pairwise(pred, gold),
        bcubed=bcubed(pred, gold),
        documents=len(docs),
        true_events=len(set(gold.values())),
        predicted_events=len(set(pred.values())),
        stories=len({by_key[d.key].story_id for d in docs}),
        groups=group_report(docs, pred),
        seconds=seconds,
        settings=config.events.model_dump(mode="json"),
    )


def render(result: EventsEval) -> str:
    lines = [
        f"documents {result.documents} in {result.stories} stories, "
        f"{result.predicted_events} events predicted, {result.true_events} true, "
        f"in {result.seconds:.1f}s",
        f"{'':<10} {'precision':>9} {'recall':>9} {'F1':>9}",
    ]
    for name, s in (("pairwise", result.pairwise), ("B-cubed", result.bcubed)):
        lines.append(f"{name:<10} {s.precision:>9.4f} {s.recall:>9.4f} {s.f1:>9.4f}")
    if result.groups:
        apart = sum(1 for g in result.groups.values() if g["kept_apart"])
        lines.append(f"groups kept apart: {apart} of {len(result.groups)}")
        for name, g in result.groups.items():
            parts = ", ".join(
                f"{c} {v['documents']} docs in {v['events']} events "
                f"(largest {v['largest_event_share']:.0%})"
                for c, v in g["clusters"].items()
            )
            lines.append(f"  {name:<6} {'apart' if g['kept_apart'] else 'MERGED'}: {parts}")
    lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in result.settings.items()))
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    base = load_config(args.config) if args.config else None
    docs = load_labels(Path(args.labels))
    if args.half:
        docs = half(docs, args.half)
    with tempfile.TemporaryDirectory(prefix="newsdedup-eval-") as tmp:
        # The event level is what this measures: on whatever the config says of it.
        sets = ["events.enabled=true", *(args.set or [])]
        config = eval_config(base, sets, f"sqlite:///{Path(tmp) / 'eval.db'}")
        if not args.json:
            print(f"placing {len(docs)} documents ...", file=sys.stderr)
        result = run_eval(docs, config, order_seed=args.seed)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(render(result))
    return 0
