"""deploy/ stays correct without Docker or a booted systemd: every command the Dockerfile,
the compose file and the systemd unit run must parse with the real CLI parser, every file
they copy or mount must exist, the configs they ship must validate, and the unit must pass
`systemd-analyze verify` (skipped, with the reason, where systemd-analyze is missing)."""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from worker.cli import build_parser
from worker.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

yaml = pytest.importorskip("yaml", reason="PyYAML (test extra) parses compose.yaml")


def assert_cli_accepts(argv: list[str], where: str) -> None:
    """``argv`` (without the program name) is a valid ``newsdedup`` command line."""
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(
            f"{where}: `newsdedup {shlex.join(argv)}` is not a valid command"
        ) from exc


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            keyword, _, args = pending.strip().partition(" ")
            out.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return out


def exec_form(args: str, where: str) -> list[str]:
    try:
        argv = json.loads(args)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f'{where}: use the exec form ["..."] (signals reach the worker)'
        ) from exc
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), where
    return argv


def test_dockerfile_is_slim_non_root_healthchecked_and_runs_real_commands() -> None:
    steps = dockerfile_instructions(DEPLOY / "Dockerfile")
    keywords = [k for k, _ in steps]
    bases = [a.split()[0] for k, a in steps if k == "FROM"]
    assert bases and all("slim" in b for b in bases), bases
    user = [a for k, a in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0"), "the final stage must not run as root"
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    for keyword, args in steps:
        if keyword == "COPY" and "--from=" not in args:
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
    entrypoint = exec_form(dict(steps)["ENTRYPOINT"], "ENTRYPOINT")
    assert entrypoint == ["newsdedup"]
    assert_cli_accepts(exec_form(dict(steps)["CMD"], "CMD"), "Dockerfile CMD")
    health = dict(steps)["HEALTHCHECK"]
    argv = exec_form(health.split(" CMD ", 1)[1], "HEALTHCHECK")
    assert argv[0] == "newsdedup"
    assert_cli_accepts(argv[1:], "HEALTHCHECK")
    # The package the image installs provides the entry point it runs.
    assert 'newsdedup = "worker.cli:main"' in (ROOT / "pyproject.toml").read_text()


def test_compose_runs_worker_with_postgres_after_migrations(tmp_path: Path) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert "healthcheck" in services["db"]
    migrate, worker = services["migrate"], services["worker"]
    build = migrate["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert worker["image"] == migrate["image"] and worker["build"] == build  # one local image
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["command"][:2] == ["db", "upgrade"]
    for name in ("migrate", "worker"):
        assert_cli_accepts(services[name]["command"], f"compose service {name}")
    # The mounted config validates, points at the db service, and listens where the
    # published port and the image's healthcheck expect; the password is the db service's
    # secret, read from the file compose mounts (no password in any file of the stack).
    secret = compose["secrets"]["db_password"]["file"]
    assert secret == "./db_password" and "deploy/db_password" in (ROOT / ".gitignore").read_text()
    env = services["db"]["environment"]
    assert env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "POSTGRES_PASSWORD" not in env and "db_password" in services["db"]["secrets"]
    password_file = tmp_path / "db_password"
    password_file.write_text("s3cret/pw\n")
    for name in ("migrate", "worker"):
        mounts = {m["target"]: m["source"] for m in services[name]["configs"]}
        source = compose["configs"][mounts["/etc/newsdedup/newsdedup.toml"]]["file"]
        assert "db_password" in services[name]["secrets"]
        worker_env = services[name]["environment"]
        assert worker_env["NEWSDEDUP_DATABASE_PASSWORD_FILE"] == "/run/secrets/db_password"
        config = load_config(
            str(DEPLOY / source), env={"NEWSDEDUP_DATABASE_PASSWORD_FILE": str(password_file)}
        )
        assert config.worker.database == (
            f"postgresql://{env['POSTGRES_USER']}:s3cret%2Fpw@db:5432/{env['POSTGRES_DB']}"
        )
        assert config.worker.listen is not None
        port = config.worker.listen.rsplit(":", 1)[1]
    assert any(p.endswith(f":{port}") for p in worker["ports"])


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(path.read_text())
    return unit


def test_systemd_unit_keys() -> None:
    service = read_unit(DEPLOY / "newsdedup.service")["Service"]
    assert service["Type"] == "notify"
    assert service["WatchdogSec"] and service["Restart"] == "on-failure"
    assert service["DynamicUser"] == "yes" and service["StateDirectory"] == "newsdedup"
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "SystemCallFilter": "~@privileged @resources",  # the last of the two lines
    }.items():
        assert service[key] == value, key
    assert "AF_UNIX" in service["RestrictAddressFamilies"]  # $NOTIFY_SOCKET is AF_UNIX
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    config = load_config(str(DEPLOY / "newsdedup.toml"))
    pid_dir = Path(config.worker.pid_file or "").parent
    assert pid_dir == Path("/run") / service["RuntimeDirectory"]
    for key in ("ExecStartPre", "ExecStart"):
        argv = shlex.split(service[key])
        assert argv[0].endswith("/newsdedup")
        assert_cli_accepts(argv[1:], key)


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    # verify checks that ExecStart's program exists: point it at this environment's script.
    script = Path(sys.executable).parent / "newsdedup"
    if not script.exists():
        pytest.skip(f"{script} not installed (pip install -e .)")
    text = (DEPLOY / "newsdedup.service").read_text()
    unit = tmp_path / "newsdedup.service"
    unit.write_text(text.replace("/opt/newsdedup/bin/newsdedup", str(script)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if "newsdedup.service" in line]
    assert result.returncode == 0 and not problems, result.stderr
