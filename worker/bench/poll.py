"""``newsdedup bench poll``: one poll round of many feeds against a loopback server.

A server in its own process (so its CPU is not counted as the worker's) serves ``--feeds``
small RSS feeds, each with an ETag. The worker polls them all once to learn the validators
(the *first* round: every feed answers 200 with no entries yet), then ``--changed`` of them
get a new entry, and the *timed* round polls every feed again with the daemon's own
``Ingestor.poll_all``: bounded concurrency (``fetch.max_concurrency``), conditional GET,
a 304 costs no parsing.

Reported per round: wall time, the worker's CPU time and (separately: the two share the
machine's cores) the server's, outcomes, the per-feed latency (p50/p95/max: no feed may
wait unboundedly behind the others), and from the poll log how many feeds were polled in
the round and how often: every feed exactly once, or some feed was starved.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from worker.bench.measure import StageTimes, peak_rss_mib
from worker.clean.extract import fragment_to_text
from worker.clock import utcnow
from worker.config import Config
from worker.pipeline.poll import Ingestor
from worker.store.db import Database
from worker.store.models import PollLog

_CPU_PATH = "/_cpu"  # the server's own CPU seconds so far, as text


def _feed_xml(index: int, generation: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {index} item {g}</title><link>http://feeds.invalid/{index}/{g}</link>"
        f"<guid>feed-{index}-item-{g}</guid><description>Item {g} of invented feed {index}: "
        f"a short summary written for the benchmark, number {index * 1000 + g}.</description>"
        "</item>"
        for g in range(max(1, generation - 2), generation + 1)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
        f"<link>http://feeds.invalid/{index}</link><description>bench</description>"
        f"{items}</channel></rss>"
    ).encode()


def _serve(port_out: Any, generations: Any, feeds: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == _CPU_PATH:
                body = repr(time.process_time()).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            try:
                index = int(self.path.rsplit("/", 1)[-1])
            except ValueError:
                index = -1
            if not 0 <= index < feeds:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = f'"{index}-{generations[index]}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = _feed_xml(index, generations[index])
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def _server_cpu(port: int) -> float:
    return float(httpx.get(f"http://127.0.0.1:{port}{_CPU_PATH}", timeout=30).text)


def _polls_per_feed(db: Database, since: Any) -> dict[int, int]:
    """How often each feed was polled since ``since``, from the poll log."""
    with db.session() as session:
        rows = session.execute(
            select(PollLog.feed_id, func.count())
            .where(PollLog.started_at >= since)
            .group_by(PollLog.feed_id)
        ).all()
    return {feed_id: count for feed_id, count in rows}


def _round(ingestor: Ingestor, port: int) -> dict[str, Any]:
    latency = StageTimes()
    original = ingestor.poll

    def timed_poll(name: str, *, scheduled: bool = False) -> Any:
        t0 = time.perf_counter()
        try:
            return original(name, scheduled=scheduled)
        finally:
            latency.add("feed", 1000 * (time.perf_counter() - t0))

    ingestor.poll = timed_poll  # type: ignore[method-assign]
    since, server_cpu0 = utcnow(), _server_cpu(port)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        results = ingestor.poll_all()
    finally:
        del ingestor.poll  # the class's method again
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    server_cpu = _server_cpu(port) - server_cpu0
    outcomes: dict[str, int] = {}
    for r in results.values():
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    polls = _polls_per_feed(ingestor.db, since)
    configured = len(ingestor.config.feeds)
    t = latency.table()["feed"]
    return {
        "feeds": len(results),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "cpu_ms_per_feed": 1000 * cpu / max(1, len(results)),
        "server_cpu_seconds": server_cpu,
        "outcomes": outcomes,
        "feed_ms_p50": t["median_ms"],
        "feed_ms_p95": t["p95_ms"],
        "feed_ms_max": latency.quantile("feed", 1.0),
        # From the poll log: a feed starved in the round has no row in it.
        "feeds_polled": len(polls),
        "feeds_starved": configured - len(polls),
        "feeds_polled_twice": sum(1 for n in polls.values() if n > 1),
    }


def run_poll(feeds: int, changed: float, concurrency: int, workdir: Path) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    generations = ctx.Array("i", [0] * feeds, lock=False)
    port_queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(port_queue, generations, feeds), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        config = Config.model_validate(
            {
                "worker": {"database": f"sqlite:///{workdir / 'poll.db'}", "jitter": 0},
                # One loopback host stands for thousands of sites here, so the per-host
                # limit is lifted to the global one.
                "fetch": {
                    "max_concurrency": concurrency,
                    "per_host_concurrency": concurrency,
                },
                "feeds": [
                    {"name": f"f{i}", "url": f"http://127.0.0.1:{port}/feed/{i}",
                     "interval": "15m", "full_text": "never"}
                    for i in range(feeds)
                ],
            }
        )  # fmt: skip
        db = Database(config.worker.database)
        db.ensure_current()
        ingestor = Ingestor(config, db)
        ingestor.sync_feeds()
        first = _round(ingestor, port)
        step = max(1, round(1 / changed)) if changed > 0 else 0
        bumped = range(0, feeds, step) if step else range(0)
        for i in bumped:
            generations[i] += 1
        # trafilatura builds its stoplists on first use, in every poll thread that gets
        # there before the first is done (~2 s CPU with 16 threads): a cost once per
        # process, not per round, so it is paid here rather than in the timed round.
        fragment_to_text("<p>Warming up the extractor before the timed round.</p>")
        second = _round(ingestor, port)
        ingestor.close()
        db.dispose()
    finally:
        server.terminate()
        server.join(5)
    return {
        "feeds": feeds,
        "changed": len(bumped),
        "max_concurrency": concurrency,
        "first_round": first,
        "timed_round": second,
        "peak_rss_mib": peak_rss_mib(),
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['feeds']} feeds on a loopback server, {result['changed']} changed before the "
        f"timed round, max_concurrency {result['max_concurrency']}",
        f"{'round':<12} {'wall s':>7} {'CPU s':>7} {'ms/feed':>7} {'server':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'polled':>7} {'starved':>7}  outcomes",
    ]
    for name in ("first_round", "timed_round"):
        r = result[name]
        lines.append(
            f"{name.replace('_', ' '):<12} {r['wall_seconds']:>7.1f} {r['cpu_seconds']:>7.1f} "
            f"{r['cpu_ms_per_feed']:>7.2f} {r['server_cpu_seconds']:>7.1f} "
            f"{r['feed_ms_p50']:>7.1f} {r['feed_ms_p95']:>7.1f} {r['feed_ms_max']:>7.1f} "
            f"{r['feeds_polled']:>7} {r['feeds_starved']:>7}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
        )
    lines.append(
        "CPU s: the worker's (this process); server: the loopback server's, in its own process"
    )
    lines.append(f"peak RSS {result['peak_rss_mib']:.0f} MiB")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-") as tmp:
        result = run_poll(args.feeds, args.changed, args.concurrency, Path(tmp))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
