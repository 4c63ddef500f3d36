"""Configuration: one TOML file, validated with pydantic; errors name the file and the key.

Example (the minimum)::

    >>> cfg = parse_config('''
    ... [worker]
    ... database = "sqlite:///newsdedup.db"
    ... [[feeds]]
    ... name = "example-wire"
    ... url = "https://example.com/rss.xml"
    ... interval = "15m"
    ... ''', path="newsdedup.toml")
    >>> cfg.feeds[0].interval_seconds
    900.0
"""

from __future__ import annotations

import os
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from worker.errors import ConfigError

DEFAULT_CONFIG_PATH = "newsdedup.toml"
CONFIG_ENV = "NEWSDEDUP_CONFIG"
DEFAULT_USER_AGENT = "newsdedup/0.1 (+https://github.com/newsdedup/newsdedup)"

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"250ms"`` or a bare number.

    >>> parse_duration("15m"), parse_duration(30), parse_duration("1.5h")
    (900.0, 30.0, 5400.0)
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '15m', got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration; use e.g. '90s', '15m', '2h', '1d'")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"expected a duration such as '15m', got {type(value).__name__}")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def _parse_optional_duration(value: Any) -> float:
    if value in (0, "0", 0.0):
        return 0.0
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(parse_duration)]
# Zero allowed: "no jitter".
OptionalDuration = Annotated[float, BeforeValidator(_parse_optional_duration)]


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets; empty host = all interfaces) to ``(host, port)``.

    >>> parse_listen("127.0.0.1:9464"), parse_listen("[::1]:9464"), parse_listen(":9464")
    (('127.0.0.1', 9464), ('::1', 9464), ('0.0.0.0', 9464))
    """
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port, e.g. '127.0.0.1:9464'")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: put an IPv6 address in brackets, e.g. '[::1]:9464'")
    return host or "0.0.0.0", int(port)


class FullTextMode(StrEnum):
    """When to fetch the article page linked from an entry."""

    AUTO = "auto"  # only when the feed carries a summary, not the article
    ALWAYS = "always"
    NEVER = "never"


class CanonicalPolicy(StrEnum):
    """Which article of a story downstream tools see as *the* article."""

    EARLIEST = "earliest"
    PRIORITY = "priority"  # highest feed priority, then earliest
    LONGEST = "longest"  # longest clean text, then earliest


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchSettings(_Strict):
    timeout: Duration = 30.0
    connect_timeout: Duration = 10.0
    max_bytes: StrictInt = Field(default=10 * 1024 * 1024, gt=0)
    max_redirects: StrictInt = Field(default=5, ge=0, le=30)
    user_agent: str = DEFAULT_USER_AGENT
    max_concurrency: StrictInt = Field(default=16, ge=1, le=512)
    per_host_concurrency: StrictInt = Field(default=2, ge=1, le=64)


class CleanSettings(_Strict):
    """Text-level boilerplate removal applied after HTML extraction."""

    extra_patterns: list[str] = Field(default_factory=list)
    learn_lines: StrictBool = True
    # A line recurring in this many distinct articles of one feed is that feed's chrome.
    learn_min_articles: StrictInt = Field(default=4, ge=2)
    learn_max_words: StrictInt = Field(default=20, ge=1)

    @field_validator("extra_patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)


class DedupSettings(_Strict):
    """Everything that decides identity or similarity; see docs/dedup.md."""

    num_perm: StrictInt = Field(default=128, ge=16, le=1024)
    seed: StrictInt = 1
    # spots: spot signatures (function word + following content words), word shingles as
    # the fallback for texts with few spots; words: word shingles only.
    features: Literal["spots", "words"] = "spots"
    shingle_size: StrictInt = Field(default=3, ge=1, le=10)
    lsh_threshold: float = Field(default=0.2, gt=0.0, lt=1.0)
    jaccard_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    containment_threshold: float = Field(default=0.4, gt=0.0, le=1.0)
    min_shingles: StrictInt = Field(default=5, ge=1)
    # A copy this similar (estimated Jaccard) to articles of two stories merges them.
    merge_jaccard: float = Field(default=0.9, gt=0.0, le=1.0)
    # ... or when this share of the pairs between the two stories' members are copies.
    merge_link_share: float = Field(default=0.3, gt=0.0, le=1.0)
    canonical_policy: CanonicalPolicy = CanonicalPolicy.EARLIEST
    retention: Duration = 30 * 86400.0


class WorkerSettings(_Strict):
    database: str = "sqlite:///newsdedup.db"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    listen: str | None = None  # "127.0.0.1:9464": serve /metrics and /healthz
    pid_file: str | None = None  # written by `run`, read by `newsdedup reload`
    jitter: OptionalDuration = 30.0
    max_backoff: Duration = 6 * 3600.0
    # Several workers on one database: a worker that stops renewing its poll lease this
    # long (it died) loses the feed to the others.
    lease_timeout: Duration = 60.0
    # Entries of one poll stored per transaction: fewer commits and lock holds; a crash
    # loses at most this many (they come again on the next poll).
    store_batch: StrictInt = Field(default=32, ge=1, le=1000)
    # Processes extracting article pages (trafilatura and the furniture pre-pass), so the
    # poll threads only fetch and decide: 0 = one per core; 1 = in the poll thread itself.
    extract_processes: StrictInt = Field(default=0, ge=0, le=256)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"{value!r} is not an SQLAlchemy URL such as 'sqlite:///newsdedup.db'")
        return value


class FeedConfig(_Strict):
    name: str = Field(min_length=1, max_length=200)
    url: str
    enabled: StrictBool = True
    interval: Duration = 900.0
    user_agent: str | None = None
    full_text: FullTextMode = FullTextMode.AUTO
    boilerplate: list[str] = Field(default_factory=list)
    priority: StrictInt = 0
    language: str | None = None
    # Article links from this feed may point at private/loopback addresses (intranet feeds).
    allow_private_addresses: StrictBool = False

    @property
    def interval_seconds(self) -> float:
        return self.interval

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        lowered = value.lower()
        if any(c.isspace() for c in value):
            raise ValueError(f"{value!r} contains whitespace")
        if lowered.startswith(("http://", "https://")):
            if not re.match(r"^https?://[^/\s?#]+", value):
                raise ValueError(f"{value!r} has no host")
            return value
        if lowered.startswith("file:"):
            return value
        raise ValueError(f"{value!r} is not an http(s):// or file: URL")

    @field_validator("boilerplate")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)


class Config(_Strict):
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    feeds: list[FeedConfig] = Field(default_factory=list)
    # Where the file was read from; relative file: URLs resolve against its folder.
    source_path: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: dict[str, int] = {}
        for index, feed in enumerate(self.feeds):
            if feed.name in seen:
                raise ValueError(
                    f"feeds[{index}].name: duplicate feed name {feed.name!r} "
                    f"(first used by feeds[{seen[feed.name]}])"
                )
            seen[feed.name] = index
        return self

    # name -> feed, built on first use (and again if ``feeds`` was replaced, as
    # ``model_copy(update=...)`` does): a poll round looks every feed up by name, and a linear
    # scan of thousands of feeds per poll adds up.
    _by_name: tuple[list[FeedConfig], dict[str, FeedConfig]] | None = PrivateAttr(default=None)

    def feed(self, name: str) -> FeedConfig:
        if self._by_name is None or self._by_name[0] is not self.feeds:
            self._by_name = (self.feeds, {feed.name: feed for feed in self.feeds})
        return self._by_name[1][name]

    @property
    def base_dir(self) -> Path:
        return Path(self.source_path).resolve().parent if self.source_path else Path.cwd()


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


def _format_location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _format_validation_error(exc: ValidationError, path: str) -> str:
    lines = []
    for err in exc.errors():
        loc = _format_location(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        if msg.startswith("feeds[") and ":" in msg:  # model-level message carries its own key
            loc, msg = msg.split(": ", 1)
        lines.append(f"{path}: {loc}: {msg}")
    return "\n".join(lines)


def parse_config(text: str, *, path: str = DEFAULT_CONFIG_PATH) -> Config:
    """Validate TOML text; raises ``ConfigError`` naming ``path`` and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", path=path) from exc
    try:
        return Config.model_validate({**data, "source_path": path})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, path), path=path) from exc


def resolve_config_path(explicit: str | None = None) -> str:
    """``--config`` beats ``$NEWSDEDUP_CONFIG`` beats ``./newsdedup.toml``."""
    return explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


def load_config(path: str | None = None) -> Config:
    path = resolve_config_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: config file not found (use --config FILE or ${CONFIG_ENV})", path=path
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}", path=path) from exc
    return parse_config(text, path=path)
