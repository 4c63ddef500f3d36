"""``newsdedup bench workers``: ingest throughput of 1, 2, 4 ... worker processes on one
database.

Plain-text articles (``--texts DIR``, ``.txt`` with the headline first, e.g. the bbc set)
are served as ``--feeds`` RSS feeds with full text from a loopback server (its own
process), and N real ``newsdedup run --once`` processes share them through the poll leases.
Each N starts from an empty database (``--database``, PostgreSQL for the real question;
default a temporary SQLite file); throughput is stored articles per wall second from the
first worker's start to the last one's exit.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from worker.bench.index import _reset
from worker.errors import NewsdedupError
from worker.eval.corpus import TEXT_SUFFIXES, read_document
from worker.store.db import Database
from worker.store.models import Article


def _feeds(folder: Path, count: int) -> list[bytes]:
    paths = sorted(p for p in folder.rglob("*") if p.name.lower().endswith(TEXT_SUFFIXES))
    if not paths:
        raise NewsdedupError(f"{folder}: no .txt files")
    items: list[list[str]] = [[] for _ in range(count)]
    for i, path in enumerate(paths):
        doc = read_document(path, str(path.relative_to(folder)), "")
        body = "".join(f"<p>{escape(p)}</p>" for p in (doc.text or "").split("\n") if p)
        items[i % count].append(
            f"<item><title>{escape(doc.title)}</title><guid>{escape(doc.key)}</guid>"
            f"<link>http://articles.invalid/{escape(doc.key)}</link>"
            f"<content:encoded>{escape(body)}</content:encoded></item>"
        )
    return [
        (
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>feed {n}</title><link>http://feeds.invalid/{n}</link>"
            f"<description>bench</description>{''.join(entries)}</channel></rss>"
        ).encode()
        for n, entries in enumerate(items)
    ]


def _serve(port_out: Any, bodies: list[bytes]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_GET(self) -> None:
            index = int(self.path.rsplit("/", 1)[-1])
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(bodies[index])))
            self.end_headers()
            self.wfile.write(bodies[index])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def run_workers(
    texts: Path, feeds: int, counts: list[int], database: str | None, workdir: Path
) -> list[dict[str, Any]]:
    bodies = _feeds(texts, feeds)
    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(port_queue, bodies), daemon=True)
    server.start()
    results = []
    try:
        port = port_queue.get(timeout=30)
        for n in counts:
            url = database or f"sqlite:///{workdir / f'workers-{n}.db'}"
            db = Database(url)
            _reset(db)
            cfg = workdir / f"workers-{n}.toml"
            cfg.write_text(
                f'[worker]\ndatabase = "{url}"\njitter = 0\nlog_level = "warning"\n\n'
                + "".join(
                    f'[[feeds]]\nname = "f{i}"\nurl = "http://127.0.0.1:{port}/feed/{i}"\n'
                    'full_text = "never"\n\n'
                    for i in range(feeds)
                )
            )
            # Each worker's stderr goes to a file: a worker that fails must say why, not
            # vanish into a lower throughput figure.
            logs = [workdir / f"workers-{n}-{k}.log" for k in range(n)]
            started = time.perf_counter()
            procs = []
            for log_path in logs:
                with log_path.open("wb") as log_file:
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "worker", "--config", str(cfg), "run", "--once"],
                            stdout=subprocess.DEVNULL,
                            stderr=log_file,
                        )
                    )
            statuses = [p.wait() for p in procs]
            seconds = time.perf_counter() - started
            for log_path, status in zip(logs, statuses, strict=True):
                if status != 0:
                    tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                    print(
                        f"bench workers: {n} workers: {log_path.stem} exited {status}:\n  "
                        + "\n  ".join(tail),
                        file=sys.stderr,
                    )
            with db.session() as session:
                stored = session.scalar(select(func.count()).select_from(Article)) or 0
            db.dispose()
            results.append(
                {
                    "workers": n,
                    "articles": stored,
                    "seconds": seconds,
                    "articles_per_second": stored / seconds if seconds else 0.0,
                    "exit_statuses": statuses,
                }
            )
    finally:
        server.terminate()
        server.join(5)
    return results


def main(args: argparse.Namespace) -> int:
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-") as tmp:
        results = run_workers(Path(args.texts), args.feeds, counts, args.database, Path(tmp))
    failed = any(status != 0 for r in results for status in r["exit_statuses"])
    if args.json:
        print(json.dumps(results, indent=2))
        return 1 if failed else 0
    print(f"{'workers':>7} {'articles':>9} {'seconds':>8} {'articles/s':>11}  exit statuses")
    for r in results:
        print(
            f"{r['workers']:>7} {r['articles']:>9} {r['seconds']:>8.1f} "
            f"{r['articles_per_second']:>11.1f}  {','.join(map(str, r['exit_statuses']))}"
        )
    return 1 if failed else 0
