"""Config life: what a SIGHUP changes, and how ``newsdedup reload`` finds the daemon.

The daemon re-reads its config file on SIGHUP. A config that does not load (TOML or
validation error) or that names another database is refused: the error is logged and the
running config stays. Otherwise feeds added, removed or changed take effect at once.

    >>> from worker.config import parse_config
    >>> old = parse_config('[[feeds]]\\nname = "a"\\nurl = "https://a.example/rss"')
    >>> new = parse_config('[[feeds]]\\nname = "b"\\nurl = "https://b.example/rss"')
    >>> feed_changes(old, new)
    FeedChanges(added=['b'], removed=['a'], changed=[])
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from worker.config import Config, load_config
from worker.errors import ConfigError, NewsdedupError
from worker.pipeline.build import dedup_policy, fetcher_for
from worker.pipeline.poll import Ingestor
from worker.reader.fetcher import Fetcher


@dataclass(frozen=True)
class FeedChanges:
    """Names of enabled feeds the new config adds, drops (removed or disabled) or alters."""

    added: list[str]
    removed: list[str]
    changed: list[str]


def feed_changes(old: Config, new: Config) -> FeedChanges:
    before = {f.name: f for f in old.feeds if f.enabled}
    after = {f.name: f for f in new.feeds if f.enabled}
    return FeedChanges(
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
        changed=sorted(n for n in before.keys() & after.keys() if before[n] != after[n]),
    )


def load_replacement(current: Config) -> Config:
    """The config file as it is now; ``ConfigError`` when it cannot replace ``current``."""
    new = load_config(current.source_path)
    if new.worker.database != current.worker.database:
        raise ConfigError(
            f"{new.source_path}: worker.database: switching databases needs a restart",
            path=new.source_path,
        )
    return new


def apply_config(ingestor: Ingestor, new: Config) -> Fetcher | None:
    """Point ``ingestor`` at ``new`` and re-sync the feed rows. Returns the fetcher it
    replaced (fetch settings changed), for the caller to close once polls in flight end."""
    old, old_fetcher = ingestor.config, ingestor.fetcher
    ingestor.config = new
    try:
        ingestor.sync_feeds()
    except Exception:
        ingestor.config = old
        raise
    ingestor.policy = dedup_policy(new)
    if new.fetch != old.fetch:
        ingestor.fetcher = fetcher_for(new)
        return old_fetcher
    return None


# -- pid file --------------------------------------------------------------------------
def pid_file_path(config: Config) -> Path | None:
    if not config.worker.pid_file:
        return None
    return config.base_dir / config.worker.pid_file


def write_pid_file(config: Config) -> Path | None:
    path = pid_file_path(config)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{os.getpid()}\n")
    return path


def remove_pid_file(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def signal_daemon(config: Config, sig: signal.Signals = signal.SIGHUP) -> int:
    """Send ``sig`` to the daemon named by ``worker.pid_file``; returns its pid."""
    path = pid_file_path(config)
    if path is None:
        raise NewsdedupError(
            "worker.pid_file is not set: set it, or under systemd use `systemctl reload newsdedup`"
        )
    try:
        pid = int(path.read_text().strip())
    except FileNotFoundError as exc:
        raise NewsdedupError(f"{path}: no pid file; is the daemon running?") from exc
    except ValueError as exc:
        raise NewsdedupError(f"{path}: not a pid file") from exc
    try:
        os.kill(pid, sig)
    except ProcessLookupError as exc:
        raise NewsdedupError(f"{path}: process {pid} is not running (stale pid file)") from exc
    return pid
