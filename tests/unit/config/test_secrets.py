"""Secrets from the environment, the Docker build context and the unit's documentation
link (issue 19, finding 7)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from tests.project.test_deploy import read_unit
from worker.config import load_config
from worker.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
FILE_URL = 'database = "postgresql://nd:in-the-file@db.example:5432/news"\n'


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newsdedup.toml"
    path.write_text("[worker]\n" + FILE_URL)
    return path


def test_environment_overrides_the_database_url(config: Path, tmp_path: Path) -> None:
    assert load_config(str(config), env={}).worker.database.endswith(
        "in-the-file@db.example:5432/news"
    )
    env = {"NEWSDEDUP_DATABASE_URL": "postgresql://other@pg/news"}
    assert load_config(str(config), env=env).worker.database == "postgresql://other@pg/news"
    url_file = tmp_path / "url"
    url_file.write_text("postgresql://from-file@pg/news\n")
    env = {"NEWSDEDUP_DATABASE_URL_FILE": str(url_file)}
    assert load_config(str(config), env=env).worker.database == "postgresql://from-file@pg/news"


def test_password_from_a_secret_file_joins_the_url(config: Path, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("p@ss word\n")
    env = {"NEWSDEDUP_DATABASE_PASSWORD_FILE": str(secret)}
    assert load_config(str(config), env=env).worker.database == (
        "postgresql://nd:p%40ss%20word@db.example:5432/news"
    )
    env["NEWSDEDUP_DATABASE_URL"] = "postgresql://app@pg:5433/x"
    assert (
        load_config(str(config), env=env).worker.database
        == "postgresql://app:p%40ss%20word@pg:5433/x"
    )


def test_conflicting_or_unreadable_secrets_are_config_errors(config: Path, tmp_path: Path) -> None:
    both = {"NEWSDEDUP_DATABASE_URL": "postgresql://a@b/c", "NEWSDEDUP_DATABASE_URL_FILE": "/x"}
    with pytest.raises(ConfigError, match="both set"):
        load_config(str(config), env=both)
    with pytest.raises(ConfigError, match="NEWSDEDUP_DATABASE_PASSWORD_FILE: cannot read"):
        load_config(str(config), env={"NEWSDEDUP_DATABASE_PASSWORD_FILE": str(tmp_path / "none")})


def test_relative_sqlite_path_from_the_environment_is_the_config_folders(config: Path) -> None:
    env = {"NEWSDEDUP_DATABASE_URL": "sqlite:///state/n.db"}
    assert (
        load_config(str(config), env=env).worker.database == f"sqlite:///{config.parent}/state/n.db"
    )


def dockerignore_excludes(path: str) -> bool:
    """Whether the root .dockerignore keeps ``path`` out of the build context (the last
    matching rule wins, as Docker applies them)."""
    excluded = False
    for rule in (ROOT / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", ""))
            for p in prefixes
        ):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_the_context_to_what_the_image_copies() -> None:
    copied = [
        src
        for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for src in line.split()[1:-1]
    ]
    assert copied == ["pyproject.toml", "README.md", "worker", "schema"]
    for path in [
        "pyproject.toml",
        "README.md",
        "worker/cli/app.py",
        "schema/versions/0001_initial.py",
    ]:
        assert not dockerignore_excludes(path), path
    for path in [
        ".git/config",
        "tests/test_ops.py",
        ".venv/bin/python",
        "deploy/db_password",
        "news.db",
        "worker/__pycache__/x.pyc",
    ]:
        assert dockerignore_excludes(path), path


def test_systemd_unit_documentation_points_at_something_that_exists() -> None:
    unit = (ROOT / "deploy" / "newsdedup.service").read_text()
    links = read_unit(ROOT / "deploy" / "newsdedup.service")["Unit"]["Documentation"].split()
    assert links
    installed = re.search(r"install -D -m 0644 -t (\S+) (.*)", unit)
    for link in links:
        if link.startswith("file:"):
            # pip installs no documentation: the unit's install steps must copy it there.
            assert installed, "the unit installs no documentation"
            folder, sources = installed.group(1), installed.group(2).split()
            path = Path(link.removeprefix("file:"))
            assert str(path.parent) == folder, link
            assert any(fnmatch.fnmatch(f"docs/{path.name}", s) for s in sources), link
            assert (ROOT / "docs" / path.name).is_file(), link
            continue
        match = re.fullmatch(r"https://github\.com/newsdedup/newsdedup/blob/main/(.+)", link)
        assert match, link
        assert (ROOT / match.group(1)).is_file(), link
