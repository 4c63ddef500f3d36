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


def feed_table(name: str, url: str, *, interval: str | None = None, comment: str = "") -> str:
    lines = ["[[feeds]]"]
    if comment:
        lines.insert(0, f"# {' '.join(comment.split())}")
    lines += [f"name = {toml_string(name)}", f"url = {toml_string(url)}"]
    if interval:
        lines.append(f"interval = {toml_string(interval)}")
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
