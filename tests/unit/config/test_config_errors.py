"""Every config mistake is ONE line on stderr naming the file and the key, and exit
status 2, from ``check-config`` and from ``run`` alike (before anything else happens)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.cli import main

FEED = "[[feeds]]\nname = 'a'\nurl = 'http://example.com/rss'\n"

MISTAKES = [
    # (config text, key named in the message)
    ("bogus = 1\n" + FEED, "bogus"),
    ("[fetcher]\ntimeout = '3s'\n" + FEED, "fetcher"),
    ("[worker]\ndatabse = 'sqlite:///x.db'\n" + FEED, "worker.databse"),
    (FEED + "colour = 'red'\n", "feeds[0].colour"),
    ("[fetch]\nmax_bytes = 'lots'\n" + FEED, "fetch.max_bytes"),
    ("[fetch]\nmax_bytes = '1000'\n" + FEED, "fetch.max_bytes"),
    ("[fetch]\ntimeout = true\n" + FEED, "fetch.timeout"),
    (FEED + "enabled = 'yes'\n", "feeds[0].enabled"),
    (FEED + "priority = 1.5\n", "feeds[0].priority"),
    ("feeds = 'x'\n", "feeds"),
    ("[[feeds]]\nname = 5\nurl = 'http://example.com/rss'\n", "feeds[0].name"),
    ("[[feeds]]\nname = 'a'\nurl = 'ftp://example.com/rss'\n", "feeds[0].url"),
    ("[[feeds]]\nname = 'a'\nurl = 'http:///rss'\n", "feeds[0].url"),
    ("[[feeds]]\nname = 'a'\nurl = 'http://exa mple.com/rss'\n", "feeds[0].url"),
    ("[[feeds]]\nname = 'a'\n", "feeds[0].url"),
    (FEED + "interval = 'soon'\n", "feeds[0].interval"),
    (FEED + "interval = '-5m'\n", "feeds[0].interval"),
    (FEED + "interval = 0\n", "feeds[0].interval"),
    (FEED + FEED, "feeds[1].name"),
    ("[worker]\ndatabase = 'newsdedup.db'\n" + FEED, "worker.database"),
    ("[dedup]\ncanonical_policy = 'best'\n" + FEED, "dedup.canonical_policy"),
    (FEED + "boilerplate = ['(unclosed']\n", "feeds[0].boilerplate"),
    # Unbounded durations overflowed the scheduler's arithmetic (the feed stopped for good).
    (FEED + "interval = '99999999999d'\n", "feeds[0].interval"),
    (FEED + "interval = inf\n", "feeds[0].interval"),
    (FEED + "interval = nan\n", "feeds[0].interval"),
    ("[dedup]\nretention = '99999d'\n" + FEED, "dedup.retention"),
    # Patterns that backtrack catastrophically on a hostile line.
    (FEED + "boilerplate = ['(a+)+$']\n", "feeds[0].boilerplate"),
    ("[clean]\nextra_patterns = ['^(\\w+\\s?)*$']\n" + FEED, "clean.extra_patterns"),
]


@pytest.mark.parametrize("command", ["check-config", "run"])
@pytest.mark.parametrize(("text", "key"), MISTAKES)
def test_config_mistake_is_one_line_naming_file_and_key(
    text: str, key: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["--config", str(path), command]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {key}: "), lines[0]
    assert not (tmp_path / "newsdedup.db").exists()  # nothing ran


def test_invalid_toml_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[worker\n")
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}: invalid TOML") and "line 1" in err and "\n" not in err


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "run"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith(f"{tmp_path / 'none.toml'}: config file not found")
    )
