"""``eval dedup --path SHAPE --workers N``: the labelled documents as whole feeds, polled by
N worker processes (``newsdedup run --once``) started together on one database.

The documents, in the eval's arrival order, are dealt round-robin over feeds of
``FEED_ITEMS`` entries each, every feed whole from the start (as a backlog looks), served
from the loopback sites of ``worker.eval.feedpath``. Each process polls every feed it can
lease, ``fetch.max_concurrency`` at a time, and stores its entries in batches: which
worker stores which batch, and in which order the batches of different feeds reach the
store, is a race between processes and threads. The stored stories are scored as any other
run; poll outcomes come from the poll log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from worker.config import Config
from worker.errors import NewsdedupError
from worker.eval.corpus import Document
from worker.eval.feedpath import feed_body, serve
from worker.eval.runs import stored_rows
from worker.store.db import Database
from worker.store.models import PollLog

FEED_ITEMS = 100
# A worker that has not finished by then has hung: the eval fails rather than wait.
TIMEOUT = 3600.0


def _toml(value: Any) -> str:
    """A scalar or a list of scalars as TOML (JSON's strings, numbers and booleans are)."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def worker_config(config: Config, urls: list[str]) -> str:
    """A config file for the workers: ``config``'s database, ``[dedup]`` and ``[clean]``,
    one feed per URL (article pages fetched, loopback allowed)."""
    lines = [
        "[worker]",
        f"database = {_toml(config.worker.database)}",
        "jitter = 0",
        'log_level = "warning"',
        f"consolidate_interval = {_toml(config.worker.consolidate_interval)}",
    ]
    for section, settings in (("dedup", config.dedup), ("clean", config.clean)):
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml(v)}" for k, v in settings.model_dump(mode="json").items()]
    for n, url in enumerate(urls):
        lines += [
            "[[feeds]]",
            f'name = "eval-{n}"',
            f"url = {_toml(url)}",
            'full_text = "auto"',
            "allow_private_addresses = true",
        ]
    return "\n".join(lines) + "\n"


def ingest_with_workers(
    order: list[Document], config: Config, shape: str, workers: int
) -> tuple[list[Any], dict[str, int]]:
    """Serve ``order`` as whole feeds in ``shape`` and let ``workers`` processes poll them
    together; the stored rows and the poll outcomes summed by kind."""
    feeds = max(1, -(-len(order) // FEED_ITEMS))
    server, items, feed_site = serve(order, shape, feeds)
    urls = [server.url(feed_site, f"/feed{n}.xml") for n in range(feeds)]
    for n in range(feeds):
        server.put(feed_site, f"/feed{n}.xml", feed_body(n, items[n]), "application/xml")
    db = Database(config.worker.database)
    db.ensure_current()  # before the workers start: none of them migrates
    with tempfile.TemporaryDirectory(prefix="newsdedup-workers-") as tmp, server:
        path = Path(tmp) / "workers.toml"
        path.write_text(worker_config(config, urls))
        logs = [Path(tmp) / f"worker-{k}.log" for k in range(workers)]
        procs = []
        for log_path in logs:
            with log_path.open("wb") as log_file:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "worker", "--config", str(path), "run", "--once",
                         "--no-migrate"],
                        stdout=subprocess.DEVNULL,
                        stderr=log_file,
                    )
                )  # fmt: skip
        statuses = [p.wait(timeout=TIMEOUT) for p in procs]
        for log_path, status in zip(logs, statuses, strict=True):
            if status not in (0, 3):  # 3: a feed failed, which the poll counts show
                tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                raise NewsdedupError(
                    f"eval workers: {log_path.stem} exited {status}: " + " | ".join(tail)
                )
    totals: dict[str, int] = {}
    with db.session() as session:
        columns = (
            PollLog.entries_seen, PollLog.articles_new, PollLog.articles_updated,
            PollLog.duplicates_exact, PollLog.duplicates_near, PollLog.entries_rejected,
        )  # fmt: skip
        for row in session.execute(
            select(PollLog.outcome, func.count(), *(func.sum(c) for c in columns)).group_by(
                PollLog.outcome
            )
        ):
            totals[f"outcome_{row[0]}"] = int(row[1])
            for column, value in zip(columns, row[2:], strict=True):
                totals[column.key] = totals.get(column.key, 0) + int(value or 0)
    rows = stored_rows(db)
    db.dispose()
    return rows, totals
