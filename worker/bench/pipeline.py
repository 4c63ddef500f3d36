"""``newsdedup bench pipeline``: time per article of each stage of the ingest path.

Pages (``--pages DIR``: ``.htm``, ``.html``, ``.html.gz``) go through the article-page path
(extract, chrome rules, fingerprint, store); plain texts (``--texts DIR``: ``.txt``, first
line the headline) through the feed-body path (the body as ``<p>`` paragraphs, as a feed
carrying full text gives it). Everything is stored into a temporary SQLite database that
already holds a warm index (``--warm``, default 100,000 synthetic articles), through the
daemon's own path: batches of ``worker.store_batch`` entries of one feed, as a poll stores
them (``Ingestor.ingest_entries``). Pages also go through ``trafilatura.extract`` alone, in
the same run, as the reference the issue measures against.

Stage times are CPU milliseconds per article (``time.process_time``), median and p95; a
batch's store time (identity, lookups, writes, commit) is shared evenly by its articles.
End to end is articles per CPU-second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import trafilatura

from worker import metrics
from worker.bench.measure import StageTimes, peak_rss_mib
from worker.bench.warm import warm_index
from worker.config import Config
from worker.errors import NewsdedupError
from worker.eval.corpus import PAGE_SUFFIXES, TEXT_SUFFIXES, Document, read_document
from worker.eval.dedup import parse_override
from worker.pipeline.backfill import BackfillIngestor, Record, make_entry, store_records
from worker.pipeline.build import dedup_policy
from worker.pipeline.entries import fingerprint_text
from worker.store.db import Database

FEED = "bench"


def _documents(folder: Path, suffixes: tuple[str, ...], limit: int | None) -> list[Document]:
    if not folder.is_dir():
        raise NewsdedupError(f"{folder}: not a folder")
    paths = sorted(p for p in folder.rglob("*") if p.name.lower().endswith(suffixes))
    if not paths:
        raise NewsdedupError(f"{folder}: no {' / '.join(suffixes)} files")
    paths = paths[:limit] if limit else paths
    return [read_document(p, str(p.relative_to(folder)), "") for p in paths]


def _record_stage(times: StageTimes, consolidations: list[float]) -> metrics.StageListener:
    """Per article, the CPU time of the clean and fingerprint stages as the daemon's own
    code reports them (``metrics.stage``); each consolidation's, whole."""

    def record(name: str, cpu: float, items: int) -> None:
        if name in ("clean", "fingerprint"):
            times.add(name, 1000 * cpu / items)
        elif name == "consolidate":
            consolidations.append(1000 * cpu)

    return record


def _record(doc: Document) -> Record:
    if doc.page is not None:
        return Record(doc.key, make_entry(doc.key, "", doc.title, "", None, None), FEED, doc.page)
    body = "".join(f"<p>{line}</p>" for line in (doc.text or "").split("\n") if line.strip())
    return Record(doc.key, make_entry(doc.key, "", doc.title, body, None, None), FEED)


def run_pipeline(
    docs: list[Document], *, warm: int, workdir: Path, overrides: list[str] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"worker": {"database": f"sqlite:///{workdir / 'bench.db'}"}}
    overridden = [parse_override(item) for item in overrides or []]
    for section, name, value in overridden:
        data.setdefault(section, {})[name] = value
    config = Config.model_validate(data)
    # The settings that differ from the defaults, as the config took them.
    settings = {f"{s}.{n}": getattr(getattr(config, s), n) for s, n, _ in overridden}
    db = Database(config.worker.database)
    db.ensure_current()
    policy = dedup_policy(config)
    started = time.perf_counter()
    warm_index(db, warm, params=policy.lsh, num_perm=config.dedup.num_perm)
    warm_seconds = time.perf_counter() - started
    # The MinHash permutations are made (and datasketch imported) at a process's first
    # signature: a start-up cost, not an article's.
    fingerprint_text(config, "one sentence to draw the permutations before the clock starts")

    times = StageTimes()
    ingestor = BackfillIngestor(config, db)
    size = config.worker.store_batch
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    consolidations: list[float] = []
    with metrics.on_stage(_record_stage(times, consolidations)):
        for start in range(0, len(docs), size):
            batch = docs[start : start + size]
            done = len(times.samples["clean"])
            t0 = time.process_time()
            store_records(ingestor, [_record(d) for d in batch], FEED, workdir)
            batch_ms = 1000 * (time.process_time() - t0)
            # What is neither cleaning nor fingerprinting (identity, lookups, verification,
            # writes, consolidation, commit), shared by the batch's articles.
            clean = times.samples["clean"][done:]
            fp = times.samples["fingerprint"][done:]
            store_ms = (batch_ms - sum(clean) - sum(fp)) / len(batch)
            for c, f in zip(clean, fp, strict=True):
                times.add("store", store_ms)
                times.add("total", c + f + store_ms)
        # What the worker's batches touched since its last consolidation (the daemon does
        # this every worker.consolidate_interval, and when it stops).
        ingestor.consolidate_pending()
    cpu = time.process_time() - cpu_started
    wall = time.perf_counter() - wall_started
    ingestor.close()
    db.dispose()

    result: dict[str, Any] = {
        "articles": len(docs),
        "settings": settings,
        "warm_index": warm,
        "warm_seconds": warm_seconds,
        "stages": times.table(),
        # Consolidation's share of the run's CPU (every consolidation the worker made).
        "consolidations": len(consolidations),
        "consolidate_cpu_ms": sum(consolidations),
        "consolidate_share": sum(consolidations) / (1000 * cpu) if cpu else 0.0,
        "articles_per_cpu_second": len(docs) / cpu if cpu else 0.0,
        "articles_per_second": len(docs) / wall if wall else 0.0,
        "peak_rss_mib": peak_rss_mib(),
    }
    if docs and docs[0].page is not None:
        ref = StageTimes()
        for doc in docs:
            t0 = time.process_time()
            with contextlib.suppress(Exception):  # the reference may fail on hostile markup
                trafilatura.extract(doc.page)
            ref.add("trafilatura.extract", 1000 * (time.process_time() - t0))
        result["reference"] = ref.table()["trafilatura.extract"]
        result["ratio_to_reference"] = (
            times.total("total") / ref.total("trafilatura.extract")
            if ref.total("trafilatura.extract")
            else 0.0
        )
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['articles']} articles into SQLite with a warm index of "
        f"{result['warm_index']:,} articles (built in {result['warm_seconds']:.0f}s)",
        f"{'stage':<22} {'median ms':>10} {'p95 ms':>10} {'mean ms':>10}",
    ]
    rows = dict(result["stages"])
    if "reference" in result:
        rows["trafilatura.extract"] = result["reference"]
    for stage in ("clean", "fingerprint", "store", "total", "trafilatura.extract"):
        if stage in rows:
            r = rows[stage]
            lines.append(
                f"{stage:<22} {r['median_ms']:>10.2f} {r['p95_ms']:>10.2f} {r['mean_ms']:>10.2f}"
            )
    lines.append(
        f"consolidation: {result['consolidations']} runs, {result['consolidate_cpu_ms']:.0f} ms "
        f"of CPU, {100 * result['consolidate_share']:.1f}% of the run's"
    )
    lines.append(
        f"end to end: {result['articles_per_cpu_second']:.1f} articles per CPU-second, "
        f"{result['articles_per_second']:.1f} per second; peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    if "ratio_to_reference" in result:
        lines.append(
            f"pipeline CPU / trafilatura.extract alone: {result['ratio_to_reference']:.2f}x"
        )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.pages:
        docs = _documents(Path(args.pages), PAGE_SUFFIXES, args.limit)
    else:
        docs = _documents(Path(args.texts), TEXT_SUFFIXES, args.limit)
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-") as tmp:
        result = run_pipeline(docs, warm=args.warm, workdir=Path(tmp), overrides=args.set)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
