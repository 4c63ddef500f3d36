"""`newsdedup reload` signals only the newsdedup daemon that holds its pid file's lock
(issue 19, finding 3): a stale pid file naming an unrelated process is refused, the
process lives on, and a second daemon of one config refuses to start."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.daemon.test_ops import DEMO, RunningDaemon, feed_block, wait_for
from worker.cli import main

pytestmark = pytest.mark.slow  # real daemons


def config_with_pid_file(tmp_path: Path) -> Path:
    config = tmp_path / "newsdedup.toml"
    config.write_text(
        f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\npid_file = "run/daemon.pid"\n'
    )
    (tmp_path / "run").mkdir()
    return config


def test_reload_refuses_a_pid_file_naming_an_unrelated_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_pid_file(tmp_path)
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        (tmp_path / "run" / "daemon.pid").write_text(f"{sleeper.pid}\n")
        assert main(["--config", str(config), "reload"]) == 1
        assert "stale pid file" in capsys.readouterr().err
        # The pid of the caller itself (the shell that ran `reload`, once).
        (tmp_path / "run" / "daemon.pid").write_text(f"{os.getpid()}\n")
        assert main(["--config", str(config), "reload"]) == 1
        assert sleeper.poll() is None  # not signalled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_reload_refuses_a_locked_pid_file_of_another_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even a process holding the lock is not signalled unless it is newsdedup's `run`."""
    config = config_with_pid_file(tmp_path)
    pid_path = tmp_path / "run" / "daemon.pid"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(pid_path)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, f'{os.getpid()}\\n'.encode())\n"
            "print('locked', flush=True)\n"
            "time.sleep(300)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert main(["--config", str(config), "reload"]) == 1
        assert "is not the newsdedup daemon" in capsys.readouterr().err
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()


def test_the_daemon_locks_its_pid_file_and_a_second_one_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    shutil.copytree(DEMO, tmp_path / "demo")
    daemon = RunningDaemon(tmp_path, f"sqlite:///{tmp_path / 'n.db'}", feed_block("metro-daily"))
    pid_path = tmp_path / "run" / "newsdedup.pid"
    try:
        wait_for(lambda: daemon.notified("READY=1"), "READY=1")
        fd = os.open(pid_path, os.O_RDONLY)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        os.close(fd)
        second = subprocess.run(
            [sys.executable, "-m", "worker", "--config", str(daemon.config), "run"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"already running (pid {daemon.proc.pid})" in second.stderr
        assert main(["--config", str(daemon.config), "reload"]) == 0
        wait_for(lambda: "config reloaded" in daemon.log, "the reload")
        assert daemon.stop() == 0
        assert not pid_path.exists()
    finally:
        daemon.close()
