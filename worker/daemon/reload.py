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
import fcntl
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
# The daemon holds an exclusive flock on its pid file for as long as it runs. A pid file
# outlives SIGKILL and the OOM killer, and its number may since belong to any process:
# `reload` signals only a process that holds the lock and whose command line is
# newsdedup's, so a stale file can never make it kill an unrelated process.


@dataclass
class PidFile:
    path: Path
    fd: int


def pid_file_path(config: Config) -> Path | None:
    if not config.worker.pid_file:
        return None
    return config.base_dir / config.worker.pid_file


def write_pid_file(config: Config) -> PidFile | None:
    """Lock and write the pid file; ``NewsdedupError`` when a daemon of this config
    already holds it (two daemons would both poll and both answer SIGHUP)."""
    path = pid_file_path(config)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise NewsdedupError(
            f"{path}: a newsdedup daemon of this config is already running (pid {holder})"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return PidFile(path, fd)


def remove_pid_file(pid_file: PidFile | None) -> None:
    if pid_file is not None:
        # Unlinked while still locked: no moment where the file names a dead process.
        with contextlib.suppress(FileNotFoundError):
            pid_file.path.unlink()
        os.close(pid_file.fd)


def _locked(path: Path) -> bool:
    """Whether some process holds the daemon's lock on ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock if we got it
    return False


def _lock_holder_matches(path: Path, pid: int) -> bool:
    """``/proc/locks`` (Linux) says ``pid`` holds the flock on ``path``; ``True`` where
    it cannot be read (the lock and the command line still had to match)."""
    try:
        table = Path("/proc/locks").read_text()
    except OSError:
        return True
    inode = os.stat(path).st_ino
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:131 0 EOF"
        if (
            len(fields) >= 6
            and fields[1:2] + fields[3:5] == ["FLOCK", "WRITE", str(pid)]
            and fields[5].rsplit(":", 1)[-1] == str(inode)
        ):
            return True
    return False


def _is_newsdedup_daemon(pid: int) -> bool:
    """``/proc/PID/cmdline`` is ``newsdedup ... run`` or ``python -m worker ... run``;
    ``True`` where ``/proc`` is not available (the lock is then the only proof)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True  # hidden from us (hidepid): trust the lock
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    ours = any(Path(a).name in ("newsdedup", "worker") for a in args) or "worker" in args
    return ours and "run" in args


def daemon_pid(config: Config) -> int:
    """The pid of the running daemon of ``config``; ``NewsdedupError`` saying why when the
    pid file does not name one."""
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
    if not _locked(path):
        raise NewsdedupError(
            f"{path}: stale pid file (no daemon holds its lock); not signalling process {pid}"
        )
    if not _lock_holder_matches(path, pid) or not _is_newsdedup_daemon(pid):
        raise NewsdedupError(
            f"{path}: process {pid} is not the newsdedup daemon holding this pid file; "
            "not signalling it"
        )
    return pid


def signal_daemon(config: Config, sig: signal.Signals = signal.SIGHUP) -> int:
    """Send ``sig`` to the daemon named by ``worker.pid_file``; returns its pid."""
    pid = daemon_pid(config)
    try:
        os.kill(pid, sig)
    except ProcessLookupError as exc:
        raise NewsdedupError(f"process {pid} is not running (stale pid file)") from exc
    return pid
