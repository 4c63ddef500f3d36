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

import difflib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

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
from worker.limits import MAX_DURATION_SECONDS
from worker.regexguard import check_pattern

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
    if math.isnan(seconds):
        raise ValueError(f"{value!r} is not a duration; use e.g. '90s', '15m', '2h', '1d'")
    if seconds > MAX_DURATION_SECONDS:
        # An unbounded one (99999999999d) passed here, then overflowed the scheduler's
        # date arithmetic: the feed was never polled again.
        raise ValueError(f"{value!r} is longer than the longest duration allowed, 3660d")
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
    """``host:port`` (IPv6 in brackets) to ``(host, port)``. The host is required: a bare
    ``:9464`` would serve metrics on every interface, which must be asked for by name.

    >>> parse_listen("127.0.0.1:9464"), parse_listen("[::1]:9464"), parse_listen("0.0.0.0:9464")
    (('127.0.0.1', 9464), ('::1', 9464), ('0.0.0.0', 9464))
    """
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port, e.g. '127.0.0.1:9464'")
    if not host:
        raise ValueError(
            f"{value!r} has no host: use '127.0.0.1{value.strip()}' (this machine only) "
            f"or '0.0.0.0{value.strip()}' (every interface)"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: put an IPv6 address in brackets, e.g. '[::1]:9464'")
    return host, int(port)


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
    # A pair is no copy when this share of the fact slots both fill differ (templated
    # reports of different facts); 0: facts are not compared.
    fact_conflict: float = Field(default=0.3, ge=0.0, le=1.0)
    canonical_policy: CanonicalPolicy = CanonicalPolicy.EARLIEST
    retention: Duration = 30 * 86400.0


class RetentionSettings(_Strict):
    """How long stored data is kept (``dedup.retention`` is another thing: how long an
    article stays a match candidate)."""

    # Articles fetched longer ago are deleted, with their text and index row; a story
    # whose articles are all gone goes too. 0: keep for ever. A feed's `retention` wins.
    articles: OptionalDuration = 0.0
    poll_log: OptionalDuration = 90 * 86400.0
    # Articles (or poll records) deleted per transaction: short locks, bounded memory.
    batch: StrictInt = Field(default=500, ge=1, le=10_000)


class EventSettings(_Strict):
    """The event level above the stories (``docs/events.md``): which stories report one
    real-world event. Defaults measured on ECB+ (``docs/decisions/events.md``)."""

    enabled: StrictBool = True
    # Two stories whose times (published, else first seen) are known link only this close.
    window: Duration = 7 * 86400.0
    # A cosine of at least ``link`` between two stories is a link; a story joins an event
    # with links to min(min_links, size) of its stories and a mean cosine of ``mean`` to
    # all of them.
    link: float = Field(default=0.10, gt=0.0, le=1.0)
    min_links: StrictInt = Field(default=2, ge=1)
    mean: float = Field(default=0.04, gt=0.0, le=1.0)
    # An event whose best two-way split has parts of ``split_min`` stories or more and a
    # mean cosine between them under ``split`` x the mean of the means within them is
    # split; 0: never.
    split: float = Field(default=0.55, ge=0.0, lt=1.0)
    split_min: StrictInt = Field(default=4, ge=2)


class WorkerSettings(_Strict):
    database: str = "sqlite:///newsdedup.db"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    listen: str | None = None  # "127.0.0.1:9464": serve /metrics and /healthz
    pid_file: str | None = None  # written by `run`, read by `newsdedup reload`
    jitter: OptionalDuration = 30.0
    # No feed may be polled more often: a typo such as "1s" would hammer a publisher.
    min_interval: Duration = 60.0
    max_backoff: Duration = 6 * 3600.0
    # A feed failing this many polls in a row is parked: no longer polled until a person
    # revives it (`newsdedup feeds enable NAME`) or its URL changes. 0: never park.
    park_after: StrictInt = Field(default=30, ge=0)
    # Several workers on one database: a worker that stops renewing its poll lease this
    # long (it died) loses the feed to the others.
    lease_timeout: Duration = 60.0
    # Entries of one poll stored per transaction: fewer commits and lock holds; a crash
    # loses at most this many (they come again on the next poll).
    store_batch: StrictInt = Field(default=32, ge=1, le=1000)
    # The stories the worker's batches touched are consolidated together this often
    # (docs/dedup.md#consolidation), and when it stops; 0: after every batch.
    consolidate_interval: OptionalDuration = 60.0
    # Processes extracting article pages (trafilatura and the furniture pre-pass), so the
    # poll threads only fetch and decide: 0 = one per core, at most 4; 1 = in the poll thread
    # itself. The pool by default: on an idle 2-core machine the threads paid 2.2x
    # trafilatura's CPU (taking turns on the interpreter lock), the pool 1.3x
    # (docs/decisions/extraction-pool.md); each process costs about 90 MiB.
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


class ApiSettings(_Strict):
    """The read-only HTTP API and web page, served on ``worker.listen`` by the daemon and by
    ``newsdedup serve`` (``docs/api.md``)."""

    enabled: StrictBool = True
    # Required to answer on a non-loopback address: ``Authorization: Bearer TOKEN`` (or
    # HTTP Basic with TOKEN as the password, for a browser). $NEWSDEDUP_API_TOKEN(_FILE)
    # beats both keys.
    token: str | None = Field(default=None, min_length=16)
    token_file: str | None = None  # relative: to the config's folder
    # /metrics answers only clients on this machine, whatever address it listens on.
    metrics_loopback_only: StrictBool = False

    @model_validator(mode="after")
    def _one_token(self) -> ApiSettings:
        if self.token is not None and self.token_file is not None:
            raise ValueError("api: set token or token_file, not both")
        return self


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
    # This feed's articles are kept this long (0: for ever); unset: [retention] articles.
    retention: OptionalDuration | None = None
    # Folder in feed readers (OPML), nested with "/", and the site's home page (htmlUrl).
    category: str | None = Field(default=None, min_length=1, max_length=500)
    site_url: str | None = None

    @field_validator("site_url")
    @classmethod
    def _site_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s?#]+\S*$", value, re.I):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value

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
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    feeds: list[FeedConfig] = Field(default_factory=list)
    # Where the file was read from; relative file: URLs resolve against its folder.
    source_path: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _intervals(self) -> Config:
        floor = self.worker.min_interval
        for index, feed in enumerate(self.feeds):
            if feed.interval < floor:
                raise ValueError(
                    f"feeds[{index}].interval: {feed.interval:g}s is below worker.min_interval "
                    f"({floor:g}s); poll less often, or lower worker.min_interval"
                )
        return self

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
        check_pattern(pattern)  # also refuses catastrophic backtracking: worker.regexguard
    return patterns


def _format_location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    """``; did you mean 'interval'?`` for a key close to one the section knows."""
    sections: dict[str, type[BaseModel]] = {
        "worker": WorkerSettings,
        "fetch": FetchSettings,
        "clean": CleanSettings,
        "dedup": DedupSettings,
        "retention": RetentionSettings,
        "events": EventSettings,
        "api": ApiSettings,
        "feeds": FeedConfig,
    }
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return ""
    model = sections.get(keys[0], Config) if len(keys) > 1 else Config
    known = [name for name in model.model_fields if name != "source_path"]
    close = difflib.get_close_matches(keys[-1], known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _format_validation_error(exc: ValidationError, path: str) -> str:
    lines = []
    for err in exc.errors():
        loc = _format_location(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(tuple(err["loc"]))
        if msg.startswith("feeds[") and ":" in msg:  # model-level message carries its own key
            loc, msg = msg.split(": ", 1)
        lines.append(f"{path}: {loc}: {msg}")
    return "\n".join(lines)


_SQLITE_URL = re.compile(r"^(sqlite(?:\+\w+)?:///)([^?]*)(\?.*)?$")


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (``None``: not SQLite, or in memory).

    >>> sqlite_path("sqlite:////var/lib/n.db"), sqlite_path("sqlite://"), sqlite_path("postgresql://h/d")
    (PosixPath('/var/lib/n.db'), None, None)
    """
    match = _SQLITE_URL.match(url)
    if not match or match.group(2) in ("", ":memory:") or match.group(2).startswith("file:"):
        return None
    return Path(match.group(2))


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """A relative SQLite path resolved against ``base_dir`` (the config's folder, as for
    ``pid_file`` and ``file:`` feeds), so a command run from another directory opens the
    same database instead of creating a new one there.

    >>> resolve_sqlite_url("sqlite:///state/n.db?timeout=5", Path("/etc/nd"))
    'sqlite:////etc/nd/state/n.db?timeout=5'
    """
    match = _SQLITE_URL.match(url)
    found = sqlite_path(url)
    if match is None or found is None or found.is_absolute():
        return url
    return f"{match.group(1)}{base_dir / found}{match.group(3) or ''}"


def parse_config(
    text: str,
    *,
    path: str = DEFAULT_CONFIG_PATH,
    database: str | None = None,
    api_token: str | None = None,
) -> Config:
    """Validate TOML text; raises ``ConfigError`` naming ``path`` and the key.
    ``database`` replaces ``worker.database`` and ``api_token`` the API's token (overrides
    from the environment)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", path=path) from exc
    if not data:
        # An empty file (a failed templating step, a truncated copy) would otherwise run
        # with every default: a database in the config's folder and no feeds.
        raise ConfigError(
            f"{path}: the config is empty; it needs at least [worker] database or [[feeds]]",
            path=path,
        )
    if database is not None:
        worker = data.get("worker")
        data["worker"] = {**(worker if isinstance(worker, dict) else {}), "database": database}
    if api_token is not None:
        api = data.get("api")
        data["api"] = {
            **(api if isinstance(api, dict) else {}),
            "token": api_token,
            "token_file": None,
        }
    worker = data.get("worker")
    if isinstance(worker, dict) and isinstance(worker.get("database"), str):
        base_dir = Path(path).resolve().parent
        data["worker"] = {**worker, "database": resolve_sqlite_url(worker["database"], base_dir)}
    try:
        return Config.model_validate({**data, "source_path": path})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, path), path=path) from exc


def resolve_config_path(explicit: str | None = None) -> str:
    """``--config`` beats ``$NEWSDEDUP_CONFIG`` beats ``./newsdedup.toml``."""
    return explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


DATABASE_URL_ENV = "NEWSDEDUP_DATABASE_URL"
DATABASE_PASSWORD_ENV = "NEWSDEDUP_DATABASE_PASSWORD"
API_TOKEN_ENV = "NEWSDEDUP_API_TOKEN"


def _secret(name: str, env: Mapping[str, str], path: str) -> str | None:
    """``$NAME``, or the content of the file ``$NAME_FILE`` names (a Docker or systemd
    credential; one trailing newline dropped); both set is an error."""
    direct, file_name = env.get(name), env.get(f"{name}_FILE")
    if direct is not None and file_name is not None:
        raise ConfigError(f"${name} and ${name}_FILE are both set; set one", path=path)
    if file_name is None:
        return direct
    try:
        value = Path(file_name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"${name}_FILE: cannot read {file_name}: {exc}", path=path) from exc
    return value.removesuffix("\n").removesuffix("\r")


def with_password(url: str, password: str) -> str:
    """``url`` with its password replaced (quoted for a URL).

    >>> with_password("postgresql://nd@db:5432/nd", "p@ss:w/rd")
    'postgresql://nd:p%40ss%3Aw%2Frd@db:5432/nd'
    """
    parts = urlsplit(url)
    if not parts.netloc:
        raise ValueError("the database URL has no host to give a password to")
    user_info, at, host = parts.netloc.rpartition("@")
    user = user_info.split(":", 1)[0] if at else ""
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _env_overrides(text: str, env: Mapping[str, str], path: str) -> str | None:
    """The database URL as the environment makes it (``None``: as the file says).
    Secrets stay out of the config file: ``$NEWSDEDUP_DATABASE_URL`` replaces
    ``worker.database``, then ``$NEWSDEDUP_DATABASE_PASSWORD`` sets its password (each
    also as ``..._FILE``)."""
    url = _secret(DATABASE_URL_ENV, env, path)
    password = _secret(DATABASE_PASSWORD_ENV, env, path)
    if password is None:
        return url
    if url is None:
        try:
            url = tomllib.loads(text).get("worker", {}).get("database")
        except tomllib.TOMLDecodeError:
            return None  # parse_config reports it
        url = url if isinstance(url, str) else WorkerSettings().database
    try:
        return with_password(url, password)
    except ValueError as exc:
        raise ConfigError(f"${DATABASE_PASSWORD_ENV}: {exc}", path=path) from exc


def load_config(path: str | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """The config file at ``path`` (``resolve_config_path``) with the environment's
    overrides of secret-bearing keys applied (``env``: ``os.environ``)."""
    path = resolve_config_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: config file not found (use --config FILE or ${CONFIG_ENV})", path=path
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}", path=path) from exc
    env = os.environ if env is None else env
    database = _env_overrides(text, env, path)
    return parse_config(
        text, path=path, database=database, api_token=_secret(API_TOKEN_ENV, env, path)
    )
