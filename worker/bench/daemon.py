"""``newsdedup bench daemon``: the whole daemon path as users run it, against trafilatura
alone on the same pages, in the same run.

A loopback server (its own process: its CPU is not the worker's) serves ``--feeds`` RSS feeds
of ``--items`` items each; an item is a one-sentence summary and a link to one page of
``--pages`` (served as the bytes on disk). ``newsdedup run --once`` with ``full_text = "auto"``
then runs in a fresh process (``worker.bench.child``): start-up, schema check, index load,
polls, page fetches, extraction, cleaning, fingerprints, dedup and store. Its CPU is the
child's rusage (with every process it started and waited for: extraction workers), its wall
time from start to exit, its memory the peak of the process tree's summed RSS (sampled) and
the largest single process's peak. The reference is a fresh process running
``trafilatura.extract(html, include_comments=False)`` over the same pages, measured the
same way.

Each of ``--repeat`` rounds runs both, the order rotated from round to round (the machine's
other load drifts); the report gives medians, and the CPU and wall ratios of each round
(both measured under the same load), then their medians. Per-stage shares come from the
run's own metrics (``newsdedup_stage_seconds``: wall seconds summed over the poll threads).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from worker.bench.measure import peak_rss_mib

DEFAULT_PAGES = "../shared/data/spotsigs-dev/pages"
_PAGE_SUFFIXES = (".htm", ".html")


def _pages(folder: Path, count: int) -> list[Path]:
    paths = sorted(p for p in folder.rglob("*") if p.name.lower().endswith(_PAGE_SUFFIXES))
    return paths[:count]


def _feed_xml(port: int, feed: int, pages: list[tuple[int, Path]]) -> bytes:
    items = "".join(
        f"<item><title>{escape(path.stem)}</title>"
        f"<link>http://127.0.0.1:{port}/page/{index}</link><guid>page-{index}</guid>"
        f"<description>Page {index} of feed {feed}, a summary of one sentence written for "
        "the benchmark.</description></item>"
        for index, path in pages
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        f"<link>http://127.0.0.1:{port}/</link><description>bench daemon</description>"
        f"{items}</channel></rss>"
    ).encode()


def _serve(port_out: Any, paths: list[str], feeds: int, items: int) -> None:
    pages = [Path(p).read_bytes() for p in paths]
    bodies: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_GET(self) -> None:
            found = bodies.get(self.path)
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            kind, body = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    for i, page in enumerate(pages):
        bodies[f"/page/{i}"] = ("text/html", page)
    for f in range(feeds):
        chunk = [(i, Path(paths[i])) for i in range(f * items, min(len(paths), (f + 1) * items))]
        bodies[f"/feed/{f}"] = ("application/rss+xml", _feed_xml(port, f, chunk))
    port_out.put(port)
    server.serve_forever()


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and its descendants now (0 when it is gone)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree)


def _measure(argv: list[str], cwd: Path, log: Path) -> dict[str, Any]:
    """Run ``argv``; its CPU (rusage, with its waited-for children), wall, RSS peaks."""
    peak = [0]
    done = threading.Event()
    wall = time.perf_counter()
    with log.open("wb") as log_file:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log_file)

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - wall
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        done.set()
        sampler.join()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-8:]
        raise RuntimeError(f"{argv[3]} exited {proc.returncode}:\n  " + "\n  ".join(tail))
    return {
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "user_seconds": usage.ru_utime,
        "system_seconds": usage.ru_stime,
        "wall_seconds": wall,
        # ru_maxrss of a waited-for child: the largest single process in its tree.
        "max_process_rss_mib": usage.ru_maxrss / 1024,
        "tree_rss_mib": peak[0] / 2**20,
    }


def _config(
    path: Path, url: str, port: int, feeds: int, concurrency: int, processes: int | None
) -> None:
    worker = f'[worker]\ndatabase = "{url}"\njitter = 0\nlog_level = "warning"\n'
    if processes is not None:
        worker += f"extract_processes = {processes}\n"
    path.write_text(
        worker
        # One loopback host stands for every site here, so the per-host limit is the global.
        + f"\n[fetch]\nmax_concurrency = {concurrency}\nper_host_concurrency = {concurrency}\n\n"
        + "".join(
            f'[[feeds]]\nname = "f{i}"\nurl = "http://127.0.0.1:{port}/feed/{i}"\n'
            'full_text = "auto"\nallow_private_addresses = true\n\n'
            for i in range(feeds)
        )
    )


def _fresh_database(url: str) -> None:
    """An empty database at the current schema (the migration is not what is measured)."""
    from worker.bench.index import _reset
    from worker.store.db import Database

    db = Database(url)
    _reset(db)
    db.dispose()


def _run_daemon(
    workdir: Path, round_no: int, database: str | None, port: int, args: argparse.Namespace
) -> dict[str, Any]:
    url = database or f"sqlite:///{workdir / f'daemon-{round_no}.db'}"
    _fresh_database(url)
    cfg, out = workdir / f"daemon-{round_no}.toml", workdir / f"daemon-{round_no}.json"
    _config(cfg, url, port, args.feeds, args.concurrency, args.extract_processes)
    argv = [sys.executable, "-m", "worker.bench.child", "run", str(cfg), str(out)]
    result = _measure(argv, workdir, workdir / f"daemon-{round_no}.log")
    result.update(json.loads(out.read_text()))
    result["articles"] = int(sum(result["stored"].values()))
    return result


def _run_loop(workdir: Path, round_no: int, listing: Path) -> dict[str, Any]:
    out = workdir / f"loop-{round_no}.json"
    argv = [sys.executable, "-m", "worker.bench.child", "loop", str(listing), str(out)]
    result = _measure(argv, workdir, workdir / f"loop-{round_no}.log")
    result.update(json.loads(out.read_text()))
    return result


def _median(rounds: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def run_bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any] | None:
    folder = Path(args.pages)
    if not folder.is_dir():
        return None
    paths = _pages(folder, args.feeds * args.items)
    if not paths:
        return None
    listing = workdir / "pages.txt"
    listing.write_text("".join(f"{p.resolve()}\n" for p in paths))
    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    server = ctx.Process(
        target=_serve,
        args=(port_queue, [str(p.resolve()) for p in paths], args.feeds, args.items),
        daemon=True,
    )
    server.start()
    env_root = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [env_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )  # the children run this very code, also from a checkout that is not installed
    daemon: list[dict[str, Any]] = []
    loop: list[dict[str, Any]] = []
    try:
        port = port_queue.get(timeout=60)
        for r in range(args.repeat):
            order = ["loop", "daemon"] if r % 2 == 0 else ["daemon", "loop"]
            for what in order:
                if what == "loop":
                    loop.append(_run_loop(workdir, r, listing))
                else:
                    daemon.append(_run_daemon(workdir, r, args.database, port, args))
    finally:
        server.terminate()
        server.join(5)
    pages = len(paths)
    stage_names = sorted({s for d in daemon for s in d["stages"]})
    stage_seconds = {
        s: statistics.median(d["stages"].get(s, {}).get("seconds", 0.0) for d in daemon)
        for s in stage_names
    }
    stage_total = sum(stage_seconds.values()) or 1.0
    daemon_keys: tuple[str, ...] = ("cpu_seconds", "user_seconds", "system_seconds")
    daemon_keys += ("wall_seconds", "max_process_rss_mib", "tree_rss_mib")
    loop_keys = ("cpu_seconds", "wall_seconds", "max_process_rss_mib", "loop_cpu_seconds")
    rounds = [
        {
            "daemon_cpu": d["cpu_seconds"],
            "loop_cpu": lo["cpu_seconds"],
            "daemon_wall": d["wall_seconds"],
            "loop_wall": lo["wall_seconds"],
        }
        for d, lo in zip(daemon, loop, strict=True)
    ]
    return {
        "pages": pages,
        "feeds": args.feeds,
        "items": args.items,
        "repeat": args.repeat,
        "database": "postgresql" if args.database else "sqlite",
        "max_concurrency": args.concurrency,
        "extract_processes": args.extract_processes,
        "cores": os.cpu_count(),
        "articles_stored": [d["articles"] for d in daemon],
        "loop": {k: _median(loop, k) for k in loop_keys}
        | {"cpu_ms_per_page": 1000 * _median(loop, "cpu_seconds") / pages},
        "daemon": {k: _median(daemon, k) for k in daemon_keys}
        | {"cpu_ms_per_page": 1000 * _median(daemon, "cpu_seconds") / pages},
        # Ratios within a round (one load), then their median.
        "cpu_ratio": statistics.median(r["daemon_cpu"] / r["loop_cpu"] for r in rounds),
        "wall_ratio": statistics.median(r["daemon_wall"] / r["loop_wall"] for r in rounds),
        "rounds": rounds,
        "stage_seconds": stage_seconds,
        "stage_shares": {s: v / stage_total for s, v in stage_seconds.items()},
        "bench_peak_rss_mib": peak_rss_mib(),
    }


def render(r: dict[str, Any]) -> str:
    lo, d = r["loop"], r["daemon"]
    lines = [
        f"{r['feeds']} feeds x {r['items']} items, {r['pages']} pages, {r['database']}, "
        f"max_concurrency {r['max_concurrency']}, extract_processes "
        f"{'default' if r['extract_processes'] is None else r['extract_processes']}, "
        f"{r['cores']} cores; medians of {r['repeat']}",
        f"{'':<20} {'CPU s':>7} {'ms/page':>8} {'wall s':>7} {'RSS MiB':>8} {'tree MiB':>9}",
        f"{'trafilatura loop':<20} {lo['cpu_seconds']:>7.1f} {lo['cpu_ms_per_page']:>8.1f} "
        f"{lo['wall_seconds']:>7.1f} {lo['max_process_rss_mib']:>8.0f} {'':>9}",
        f"{'newsdedup run':<20} {d['cpu_seconds']:>7.1f} {d['cpu_ms_per_page']:>8.1f} "
        f"{d['wall_seconds']:>7.1f} {d['max_process_rss_mib']:>8.0f} {d['tree_rss_mib']:>9.0f}",
        f"CPU ratio {r['cpu_ratio']:.2f}, wall ratio {r['wall_ratio']:.2f} (newsdedup / loop, "
        "median of the rounds' ratios)",
        f"newsdedup system CPU {d['system_seconds']:.1f} s; articles stored per round: "
        + ", ".join(map(str, r["articles_stored"])),
        "stage wall seconds summed over threads (share): "
        + ", ".join(
            f"{s} {r['stage_seconds'][s]:.1f} ({100 * r['stage_shares'][s]:.0f}%)"
            for s in r["stage_seconds"]
        ),
    ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-") as tmp:
        try:
            result = run_bench(args, Path(tmp))
        except RuntimeError as exc:
            print(f"bench daemon: {exc}", file=sys.stderr)
            return 1
    if result is None:
        print(f"bench daemon: no pages in {args.pages}; skipped", file=sys.stderr)
        return 0
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
