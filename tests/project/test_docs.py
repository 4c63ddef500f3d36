"""The documentation stays true to the code: the README's commands table names every command
and option the CLI has (and nothing it lacks), its set-up commands are the ones CI runs, its
config example validates, docs/configuration.md lists every config key with its real
default, and every relative link in the docs reaches a file and heading that exist."""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from worker.cli import build_parser
from worker.config import (
    ApiSettings,
    CleanSettings,
    DedupSettings,
    EventSettings,
    FeedConfig,
    FetchSettings,
    RetentionSettings,
    WorkerSettings,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def command_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub-)command of the CLI with its parser, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from command_paths(sub, (*path, name))


def options(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    """The options of one parser (``--help`` aside), each with its aliases (``-o``,
    ``--output``)."""
    return [
        tuple(action.option_strings)
        for action in parser._actions
        # --config is accepted by every command; the README says so once, above the table.
        if action.option_strings
        and "--help" not in action.option_strings
        and "--config" not in action.option_strings
    ]


def mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def command_rows() -> list[str]:
    """The code of the first cell of each row of the README's commands table."""
    rows = re.findall(r"^\| `(newsdedup [^`]*)` \|", README.read_text(), flags=re.M)
    assert rows, "README.md has no commands table"
    return [row.replace("\\|", "|") for row in rows]


def names_path(row: str, path: tuple[str, ...]) -> bool:
    """Whether a table row is about ``path``: its first word after ``newsdedup`` is the
    command, and the sub-command words follow as words of the row."""
    words = re.findall(r"[\w-]+", row)[1:]
    return bool(words) and words[0] == path[0] and all(w in words[1:] for w in path[1:])


def test_readme_commands_table_covers_every_command_and_option() -> None:
    rows = command_rows()
    paths = dict(command_paths(build_parser()))
    for path, parser in paths.items():
        about = [row for row in rows if names_path(row, path)]
        assert about, f"`newsdedup {' '.join(path)}` is missing from README.md's commands table"
        text = " ".join(about)
        for aliases in options(parser):
            assert any(mentions(text, a) for a in aliases), (
                f"`newsdedup {' '.join(path)} {aliases[-1]}` is not in README.md"
            )
    for row in rows:
        command = re.findall(r"[\w-]+", row)[1]
        assert (command,) in paths, f"README.md names `newsdedup {command}`, which does not exist"


def test_readme_set_up_commands_are_the_ones_ci_runs() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    demo = (
        "pip install -e . && newsdedup --config config/demo.toml run --once"
        " && newsdedup --config config/demo.toml stories"
    )
    tests = 'pip install -e ".[test]" && python -m pytest'
    for command in (demo, tests, 'python -m pytest -m "not slow"'):
        assert command in text, command
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.replace("pip install -e", "pip install -q -e") in ci


def test_readme_config_example_validates() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no config example"
    for block in blocks:
        parse_config(block, path="README.md")


SECTIONS: dict[str, type[BaseModel]] = {
    "[worker]": WorkerSettings,
    "[fetch]": FetchSettings,
    "[clean]": CleanSettings,
    "[dedup]": DedupSettings,
    "[retention]": RetentionSettings,
    "[events]": EventSettings,
    "[api]": ApiSettings,
    "[[feeds]]": FeedConfig,
}


def documented_keys() -> dict[str, dict[str, str]]:
    """``{section: {key: default cell}}`` from the tables of docs/configuration.md."""
    out: dict[str, dict[str, str]] = {}
    section = None
    for line in (DOCS / "configuration.md").read_text().splitlines():
        heading = re.fullmatch(r"## `(.+)`", line)
        if heading:
            section = heading.group(1)
            out[section] = {}
        row = re.match(r"\| `(\w+)` \| (.+?) \|", line)
        if row and section is not None:
            out[section][row.group(1)] = row.group(2).strip()
    return out


def default_of(model: type[BaseModel], key: str, cell: str) -> tuple[Any, Any]:
    """(documented default, real default) of ``key``, both as the model holds them."""
    base = {"name": "f", "url": "https://a.example/"} if model is FeedConfig else {}
    real = getattr(model.model_validate(base), key)
    if cell == "unset":
        return None, real
    value = tomllib.loads(f"v = {cell.strip('`')}")["v"]
    return getattr(model.model_validate({**base, key: value}), key), real


@pytest.mark.parametrize("section", list(SECTIONS))
def test_configuration_doc_lists_every_key_with_its_default(section: str) -> None:
    model = SECTIONS[section]
    documented = documented_keys().get(section, {})
    fields = {name for name in model.model_fields if name != "source_path"}
    assert set(documented) == fields, f"docs/configuration.md, {section}"
    for key, cell in documented.items():
        if cell == "required":
            assert model.model_fields[key].is_required(), f"{section} {key} has a default"
            continue
        said, real = default_of(model, key, cell)
        assert said == real, f"docs/configuration.md: {section} {key} = {cell}, the code: {real!r}"


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's) gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def markdown_files() -> list[Path]:
    return [README, ROOT / "schema" / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_reach_files_and_headings(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        assert path.exists(), f"{page.relative_to(ROOT)}: link to missing {target}"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)
            assert anchor in {slug(h) for h in headings}, (
                f"{page.relative_to(ROOT)}: no heading #{anchor} in {file or page.name}"
            )
