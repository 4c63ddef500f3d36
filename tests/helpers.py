"""Test helpers: configs for feeds served by a local HTTP server."""

from __future__ import annotations

from pathlib import Path

from worker.config import Config, parse_config


def make_config(
    db_url: str, feeds: dict[str, str], tmp_path: Path, extra: str = "", feed_extra: str = ""
) -> Config:
    """A config with one feed per ``{name: url}``; everything else default."""
    lines = ["[worker]", f'database = "{db_url}"', "jitter = 0", extra, ""]
    for name, url in feeds.items():
        lines += [
            "[[feeds]]",
            f'name = "{name}"',
            f'url = "{url}"',
            'interval = "15m"',
            'full_text = "never"',
            feed_extra,
            "",
        ]
    path = tmp_path / "newsdedup.toml"
    path.write_text("\n".join(lines))
    return parse_config(path.read_text(), path=str(path))
