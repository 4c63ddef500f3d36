"""Adding feeds to the config file without disturbing it: new ``[[feeds]]`` tables are
appended as text, so comments and layout stay; the result is validated before it is
written, and written atomically, so a bad entry never reaches the file.

    >>> print(feed_table("wire", "https://ex.com/rss", interval="15m"), end="")
    [[feeds]]
    name = "wire"
    url = "https://ex.com/rss"
    interval = "15m"
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from worker.config import Config, parse_config
from worker.errors import FeedError, NewsdedupError
from worker.files import write_atomically
from worker.reader.discovery import discover_feed_links
from worker.reader.fetcher import Fetcher, url_host
from worker.reader.parser import ParsedFeed, parse_feed


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def feed_table(
    name: str,
    url: str,
    *,
    interval: str | None = None,
    comment: str = "",
    category: str | None = None,
    site_url: str | None = None,
) -> str:
    lines = ["[[feeds]]"]
    if comment:
        lines.insert(0, f"# {' '.join(comment.split())}")
    lines += [f"name = {toml_string(name)}", f"url = {toml_string(url)}"]
    if interval:
        lines.append(f"interval = {toml_string(interval)}")
    if category:
        lines.append(f"category = {toml_string(category)}")
    if site_url:
        lines.append(f"site_url = {toml_string(site_url)}")
    return "\n".join(lines) + "\n"


def slug(text: str) -> str:
    """``"The Calder Courier — World"`` -> ``"the-calder-courier-world"``."""
    words = re.findall(r"\w+", text.lower())
    return "-".join(words)[:60].strip("-") or "feed"


def unique_name(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def append_feeds(path: Path, tables: list[str]) -> Config:
    """Append ``tables`` to the config at ``path``; raises ``ConfigError`` (and leaves the
    file alone) when the result would not be a valid config."""
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    new_text = text + "".join("\n" + table for table in tables)
    config = parse_config(new_text, path=str(path))
    write_atomically(path, new_text.encode("utf-8"), path.stat().st_mode & 0o7777)
    return config


# -- editing one feed in place ---------------------------------------------------------
_HEADER = re.compile(r"^\s*\[")  # any table header: [worker], [[feeds]], ...
_FEEDS_HEADER = re.compile(r"^\s*\[\[\s*feeds\s*\]\]\s*(#.*)?$")
_ENABLED = re.compile(r"^(\s*enabled\s*=\s*)(true|false)(\s*(#.*)?)$")
_NAME = re.compile(r"^\s*name\s*=")


def _feed_block(lines: list[str], name: str, path: Path) -> tuple[int, int, int]:
    """``(first comment line, header line, end)`` of the ``[[feeds]]`` table named
    ``name``: its lines are ``lines[header:end]``, the comment lines right above it (no
    blank line between) belong to it."""
    import tomllib

    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)] + [len(lines)]
    for start, end in itertools.pairwise(headers):
        if not _FEEDS_HEADER.match(lines[start]):
            continue
        try:
            table = tomllib.loads("".join(lines[start:end]))["feeds"][0]
        except (tomllib.TOMLDecodeError, KeyError, IndexError):
            continue
        if table.get("name") == name:
            first = start
            while first > 0 and lines[first - 1].lstrip().startswith("#"):
                first -= 1
            # Comment lines right above the next table are that table's.
            while end < len(lines) and end - 1 > start and lines[end - 1].lstrip().startswith("#"):
                end -= 1
            return first, start, end
    raise NewsdedupError(
        f"{path}: no [[feeds]] table named {name!r} (a feed written another way, e.g. as an "
        "inline table, must be edited by hand)"
    )


def _rewrite(path: Path, text: str) -> Config:
    config = parse_config(text, path=str(path))
    write_atomically(path, text.encode("utf-8"), path.stat().st_mode & 0o7777)
    return config


def set_feed_enabled(path: Path, name: str, enabled: bool) -> bool:
    """Set ``enabled`` of one feed, editing only that line (or adding it under ``name``);
    whether the file changed."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    _first, start, end = _feed_block(lines, name, path)
    value = "true" if enabled else "false"
    for i in range(start + 1, end):
        match = _ENABLED.match(lines[i].rstrip("\r\n"))
        if match:
            if match.group(2) == value:
                return False
            newline = lines[i][len(lines[i].rstrip("\r\n")) :]
            lines[i] = f"{match.group(1)}{value}{match.group(3)}{newline}"
            break
    else:
        if enabled:
            return False  # enabled is the default
        at = next((i + 1 for i in range(start + 1, end) if _NAME.match(lines[i])), start + 1)
        if not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        lines.insert(at, "enabled = false\n")
    _rewrite(path, "".join(lines))
    return True


def remove_feed(path: Path, name: str) -> None:
    """Delete one feed's ``[[feeds]]`` table and the comment right above it."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first, _start, end = _feed_block(lines, name, path)
    del lines[first:end]
    if 0 < first < len(lines) and not lines[first - 1].strip() and not lines[first].strip():
        del lines[first]  # one blank line between the neighbours, not two
    _rewrite(path, "".join(lines))


def find_feed(url: str, fetcher: Fetcher, base_dir: Path | None = None) -> tuple[str, ParsedFeed]:
    """The feed at ``url``, or the first feed an HTML page at ``url`` announces with
    ``<link rel="alternate">``: ``(feed URL, parsed feed)``.

    The operator chose ``url``'s host, and only it: a redirect or an announced feed on
    another host is the page's choice and goes through the address guard (a page could
    otherwise have ``feeds add`` fetch a loopback address and write it into the config)."""
    result = fetcher.fetch(url, base_dir=base_dir)
    try:
        return result.url, parse_feed(result.content, url=result.url, headers=result.headers)
    except FeedError as not_a_feed:
        candidates = discover_feed_links(result.content, result.url)
        if not candidates:
            raise NewsdedupError(
                f"{url}: not a feed, and the page announces none: {not_a_feed}"
            ) from not_a_feed
    errors = []
    for candidate in candidates:
        try:
            found = fetcher.fetch(candidate, trusted=url_host(candidate) == url_host(url))
            return found.url, parse_feed(found.content, url=found.url, headers=found.headers)
        except FeedError as exc:
            errors.append(f"{candidate}: {exc}")
    raise NewsdedupError(f"{url}: no announced feed could be read: {'; '.join(errors)}")
