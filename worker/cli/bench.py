"""``bench daemon``, ``pipeline``, ``poll``, ``index`` and more: speed and memory, measured.

The benchmarks live in ``worker.bench``; imported when the command runs.
"""

from __future__ import annotations

import argparse

from worker.cli.evaluate import _run


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks: pipeline stages, poll rounds, the index")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT")
    bench_sub.required = True

    pipeline = bench_sub.add_parser("pipeline", help="per-stage CPU time per article")
    src = pipeline.add_mutually_exclusive_group(required=True)
    src.add_argument("--pages", metavar="DIR", help="HTML pages (.htm, .html, .html.gz)")
    src.add_argument("--texts", metavar="DIR", help="plain-text articles (.txt)")
    pipeline.add_argument(
        "--warm", type=int, default=100_000, help="synthetic articles indexed first (100000)"
    )
    pipeline.add_argument("--limit", type=int, metavar="N", help="only the first N files")
    pipeline.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=V",
        help="another setting than the default (dedup., clean. or events.; repeatable), "
        "e.g. events.enabled=false",
    )
    pipeline.add_argument("--json", action="store_true")
    pipeline.set_defaults(handler=_run("worker.bench.pipeline"))

    poll = bench_sub.add_parser("poll", help="one poll round of many feeds on a loopback server")
    poll.add_argument("--feeds", type=int, default=5000)
    poll.add_argument(
        "--changed", type=float, default=0.05, help="share of feeds changed before the round"
    )
    poll.add_argument(
        "--concurrency", type=int, default=16, help="fetch.max_concurrency (default 16)"
    )
    poll.add_argument("--json", action="store_true")
    poll.set_defaults(handler=_run("worker.bench.poll"))

    index = bench_sub.add_parser("index", help="LSH index: insert rate, lookup latency, size")
    index.add_argument("--articles", type=int, default=100_000)
    index.add_argument("--database", metavar="URL", help="SQLAlchemy URL (default: temp SQLite)")
    index.add_argument(
        "--reuse", action="store_true", help="measure the index an earlier run left in --database"
    )
    index.add_argument("--json", action="store_true")
    index.set_defaults(handler=_run("worker.bench.index"))

    api = bench_sub.add_parser(
        "api", help="the read API's latency (p50, p99) at size while a worker writes"
    )
    api.add_argument("--articles", type=int, default=100_000)
    api.add_argument("--database", metavar="URL", help="SQLAlchemy URL (default: temp SQLite)")
    api.add_argument("--json", action="store_true")
    api.set_defaults(handler=_run("worker.bench.api"))

    redis_index = bench_sub.add_parser(
        "redis-index", help="datasketch's Redis-backed LSH, measured like bench index"
    )
    redis_index.add_argument("--articles", type=int, default=100_000)
    redis_index.add_argument("--redis", default="127.0.0.1:6379", metavar="HOST:PORT")
    redis_index.add_argument("--db", type=int, default=15, help="Redis database (flushed)")
    redis_index.add_argument("--json", action="store_true")
    redis_index.set_defaults(handler=_run("worker.bench.redis_index"))

    daemon = bench_sub.add_parser(
        "daemon", help="`run --once` over loopback feeds of pages vs trafilatura alone"
    )
    daemon.add_argument(
        "--pages",
        default="../shared/data/spotsigs-dev/pages",
        metavar="DIR",
        help="HTML pages the items link to (default: %(default)s; skipped when absent)",
    )
    daemon.add_argument("--feeds", type=int, default=20)
    daemon.add_argument("--items", type=int, default=50, help="items per feed (50)")
    daemon.add_argument("--repeat", type=int, default=3, help="rounds, order rotated (3)")
    daemon.add_argument("--database", metavar="URL", help="emptied before each round")
    daemon.add_argument(
        "--concurrency", type=int, default=16, help="fetch.max_concurrency (default 16)"
    )
    daemon.add_argument(
        "--extract-processes",
        type=int,
        metavar="N",
        help="worker.extract_processes (default: the config's default)",
    )
    daemon.add_argument("--json", action="store_true")
    daemon.set_defaults(handler=_run("worker.bench.daemon"))

    hostile = bench_sub.add_parser(
        "hostile", help="CPU of each hostile entry of the test corpus; RSS of big entries"
    )
    hostile.add_argument("--no-rss", action="store_true", help="skip the memory runs")
    hostile.add_argument("--json", action="store_true")
    hostile.set_defaults(handler=_run("worker.bench.hostile"))

    events = bench_sub.add_parser("events", help="event assignment: CPU per story, memory")
    events.add_argument("--window", type=int, default=100_000, help="stories in the window")
    events.add_argument("--stories", type=int, default=2000, help="stories placed and timed")
    events.add_argument("--json", action="store_true")
    events.set_defaults(handler=_run("worker.bench.events"))

    workers = bench_sub.add_parser(
        "workers", help="ingest throughput of several worker processes on one database"
    )
    workers.add_argument("--texts", required=True, metavar="DIR", help=".txt articles to serve")
    workers.add_argument("--feeds", type=int, default=40)
    workers.add_argument("--counts", default="1,2,4", help="worker counts to run (1,2,4)")
    workers.add_argument("--database", metavar="URL", help="emptied before each count")
    workers.add_argument("--json", action="store_true")
    workers.set_defaults(handler=_run("worker.bench.workers"))
