"""``newsdedup bench hostile``: what hostile entries cost, entry by entry, and the memory of
four feeds of 9 MB entries polled at once.

The corpus (``CASES``) is every finding of issue 15 as a case plus generated ones: each case
is one feed of two healthy entries and the hostile one(s), so a run shows both that the
hostile entry is stored safely or skipped with a counted reason, and that the healthy ones
of the same feed are stored. ``tests/integration/pipeline/test_hostile_entries.py`` serves
the same corpus over loopback HTTP and checks the outcomes; this command measures them: each
feed is polled through the daemon's own ``Ingestor.poll`` (fetch, parse, every entry, store)
into a temporary SQLite database, and the poll's CPU time (the polling thread's) is an upper
bound of every entry's in it. Reported: per case the poll's CPU, its outcome and skipped
entries, the worst case; then the peak RSS of ``run --once`` (a child process) polling four
feeds that each carry a 9 MB entry, and four that each carry ten entries just under the size
bound.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from worker.bench.measure import peak_rss_bytes
from worker.config import parse_config

_WORDS = (
    "river council bridge harbour budget vote engineers station storm museum rail ferry "
    "minister report school clinic vaccine trial market price farmers harvest court judge "
    "police mayor festival library orchestra season league match coach transfer airport"
).split()
_FUNCTION = "the a said was is of to and in that".split()


def prose(rng: random.Random, words: int = 150) -> str:
    """Invented news-like prose (function words among content words)."""
    out = []
    for i in range(words):
        out.append(rng.choice(_FUNCTION) if i % 3 == 0 else rng.choice(_WORDS))
    return " ".join(out) + "."


def item(
    guid: str | None,
    *,
    title: str = "",
    body: str = "",
    link: str | None = None,
    pub_date: str | None = None,
    attrs: str = "",
    raw: str = "",
) -> str:
    """An RSS item; ``title`` and ``body`` are XML text as written (escapes included)."""
    parts = [f"<item{attrs}>"]
    if guid is not None:
        parts.append(f"<guid isPermaLink='false'>{guid}</guid>")
    if title:
        parts.append(f"<title>{title}</title>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if pub_date:
        parts.append(f"<pubDate>{pub_date}</pubDate>")
    if body:
        parts.append(f"<description>{body}</description>")
    parts.append(raw + "</item>")
    return "".join(parts)


def healthy_items(name: str, seed: int = 0) -> list[str]:
    rng = random.Random(f"{name}:{seed}")
    return [
        item(
            f"{name}-ok-{n}",
            title=f"Healthy entry {n} of {name}",
            body=prose(rng),
            link=f"http://feeds.invalid/{name}/ok-{n}",
        )
        for n in (1, 2)
    ]


def feed_document(name: str, items: list[str], *, healthy: bool = True) -> bytes:
    head = (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>hostile {name}</title><link>http://feeds.invalid/{name}</link>"
    )
    body = "".join((healthy_items(name) if healthy else []) + items)
    return (head + body + "</channel></rss>").encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Case:
    """One hostile feed: its hostile items, and what becomes of them: ``stored`` (safely)
    or the reason they are skipped (``worker.metrics.REJECT_REASONS``); ``None`` for the
    generated ones, which may go either way. ``page``: the article page every entry of the
    feed links to (``PAGE_LINK``, served by the caller), fetched for its full text."""

    name: str
    build: Callable[[], list[str]]
    expect: str | None
    page: Callable[[], bytes] | None = None


# Where a case's entry links to its page: the caller serves it and replaces the base.
PAGE_LINK = "http://127.0.0.1:1/page/"


def _nested(open_tag: str, depth: int, text: str = "deep") -> str:
    close = open_tag.replace("&lt;", "&lt;/", 1) if open_tag.startswith("&lt;") else ""
    return open_tag * depth + text + close * depth


def _attributes(count: int) -> str:
    return "".join(f' a{i}="v"' for i in range(count))


def _escapes() -> str:
    return "&#x1b;]0;owned&#x7;Title &#x1b;[2J&#x1b;]52;c;ZXZpbA==&#x7; &#x9b;31mred &#x1b;[0m"


def _one(**fields: Any) -> Callable[[], list[str]]:
    return lambda: [item("h", **fields)]


_DATE_0001 = "Mon, 01 Jan 0001 00:00:00 GMT"
_DATE_9999 = "Wed, 01 Dec 9999 00:00:00 GMT"


def _findings() -> list[Case]:
    rng = random.Random(15)
    text, short = prose(rng), prose(rng, 20)
    deep = _nested("&lt;div&gt;", 1000)
    link = "http://x.invalid:99999/"
    return [
        # Character references to no character made feedparser raise for the whole feed.
        Case("surrogate-hex", _one(title="Bad &#xD800; ref", body=f"{text} &#xD800;"), "stored"),
        Case("surrogate-dec", _one(title="Bad &#55296;", body=f"{text} &#56320;"), "stored"),
        Case("beyond-unicode-hex", _one(title="&#x110000; far", body=text), "stored"),
        Case("beyond-unicode-dec", _one(title="&#1114112; far", body=text), "stored"),
        Case("huge-number-ref", _one(title="&#" + "9" * 5000 + ";", body=text), "stored"),
        Case("double-escaped-ref", _one(title="t", body=f"{text} &amp;#xD800;"), "stored"),
        # A link urljoin cannot parse made the parser raise.
        Case(
            "broken-ipv6-link",
            lambda: [item(None, title="Link", body=text, link="http://[::1")],
            "stored",
        ),
        Case("bad-port-link", _one(title="Port", body=text, link=link), "stored"),
        # Quadratic or worse in some library, before the bounds.
        Case("stopword-run", _one(title="The", body="the " * 64000), "stored"),
        Case("nested-divs-1mb", _one(title="D", body=_nested("&lt;div&gt;", 100_000)), "too_large"),
        Case("nested-divs", _one(title="Deep", body=deep), "markup_depth"),
        Case(
            "nested-divs-cdata",
            _one(title="Deep", body="<![CDATA[" + "<div>" * 5000 + "x]]>"),
            "markup_depth",
        ),
        Case("nested-xml", _one(title="Deep", raw="<x>" * 5000 + "</x>" * 5000), "markup_depth"),
        Case("unclosed-bold", _one(title="Bold", body="&lt;b&gt;" * 2000 + "x"), "markup_depth"),
        Case("attributes-xml", _one(title="A", body=text, attrs=_attributes(50_000)), "attributes"),
        Case(
            "attributes-html",
            _one(title="A", body=f"&lt;p{_attributes(50_000)}&gt;x"),
            "attributes",
        ),
        Case("huge-entry", _one(title="Huge", body=prose(rng, 1_400_000)), "too_large"),
        # Strings no database, XML document or terminal takes as they are.
        Case("nul", _one(title="A &#0; B", body=f"{text} &#0; end"), "stored"),
        Case("terminal-escapes", _one(title=_escapes(), body=f"{_escapes()} {text}"), "stored"),
        Case(
            "xml-invalid-chars",
            _one(title="a &#xFFFE; b &#xFFFF; c &#x0B; d", body=f"{text} &#xFFFF;"),
            "stored",
        ),
        # Dates that would make an entry every story's earliest (or latest).
        Case("date-0001", _one(title="Old", body=text, pub_date=_DATE_0001), "stored"),
        Case("date-9999", _one(title="New", body=text, pub_date=_DATE_9999), "stored"),
        # Many tags or references: feedparser's cost is per item.
        Case("many-lines", _one(title="Lines", body="x y&lt;br&gt;" * 70_000), "markup_items"),
        Case(
            "many-paragraphs",
            _one(title="P", body="&lt;p&gt;said it&lt;/p&gt;" * 25_000),
            "markup_items",
        ),
        Case("entity-heavy", _one(title="Amp", body="&amp;amp;" * 100_000), "markup_items"),
        # Large but within the bounds: linear work only.
        Case("ad-markup", _one(title="Ad", body="&lt;p&gt;&amp;lt;a" + ' %]"' * 40), "stored"),
        Case("long-word", _one(title="Word", body="a" * 900_000), "stored"),
        Case("large-prose", _one(title="Long", body=prose(rng, 160_000)), "stored"),
        # Just under the bounds: the most work an entry that is kept can cause.
        Case("lines-under-bound", _one(title="L", body="x y&lt;br&gt;" * 5900), "stored"),
        Case(
            "paras-under-bound",
            _one(title="P", body=f"&lt;p&gt;{short}&lt;/p&gt;" * 2900),
            "stored",
        ),
        Case("refs-under-bound", _one(title="R", body="&amp;amp; " * 11_900), "stored"),
        Case("depth-under-bound", _one(title="D", body=_nested("&lt;div&gt;", 250) * 5), "stored"),
        Case(
            "attrs-under-bound",
            _one(title="A", body=f"&lt;p{_attributes(120)}&gt;x " * 90),
            "stored",
        ),
        # Article pages (full text): a hostile page is bounded too.
        Case(
            "page-many-elements",
            _page_entry,
            "stored",
            page=lambda: b"<html><body>" + b"<p>said it was the rail</p>" * 150_000,
        ),
        Case("page-deep", _page_entry, "stored", page=lambda: b"<div>" * 200_000 + b"x"),
        Case("page-too-large", _page_entry, "stored", page=lambda: b"<p>" + b"a " * 3_000_000),
    ]


def _page_entry() -> list[str]:
    return [item("h", title="Teaser", body="A teaser.", link=PAGE_LINK + "p")]


def _unicode_run(rng: random.Random) -> str:
    codes = (rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0x2FFF)]) for _ in range(200))
    return "".join(map(chr, codes)).replace("&", "&amp;").replace("<", "&lt;")


_ODD_REFS = [0xD800, 0xDFFF, 0x110000, 0xFFFE, 0x1B, 0x0, 0x202E]
_BLOCKS: list[Callable[[random.Random], str]] = [
    lambda r: prose(r, r.randint(1, 3000)),
    lambda r: "&lt;div&gt;" * r.randint(1, 600),
    lambda r: "&lt;b&gt;" * r.randint(1, 600),
    lambda r: "the " * r.randint(1, 20000),
    lambda r: f"&#x{r.choice(_ODD_REFS):X};",
    lambda r: "&lt;p" + _attributes(r.randint(1, 300)) + "&gt;",
    _unicode_run,
    lambda r: "&lt;br&gt;" * r.randint(1, 5000),
    lambda r: "<![CDATA[" + "<i>" * r.randint(1, 400) + "]]>",
]
_LINKS = [None, "http://[::1", "javascript:alert(1)", "http://x.invalid/a"]
_DATES = [None, _DATE_0001, "Tue, 01 Dec 2026 08:00:00 GMT", "soon"]


def _generated_case(n: int, seed: int) -> Case:
    """Two to eight random building blocks of the findings, in one entry."""

    def build() -> list[str]:
        rng = random.Random(seed * 1000 + n)
        body = "".join(rng.choice(_BLOCKS)(rng) for _ in range(rng.randint(2, 8)))
        title = rng.choice(_BLOCKS)(rng)[:300]
        link, date = rng.choice(_LINKS), rng.choice(_DATES)
        return [item(f"gen-{n}", title=title, body=body, link=link, pub_date=date)]

    return Case(f"generated-{n:02d}", build, None)


CASES: list[Case] = _findings() + [_generated_case(n, seed=1) for n in range(20)]


def case_feed(case: Case, page_base: str) -> bytes:
    """The feed of ``case``, its page links pointing at ``page_base`` + the case's name."""
    items = [i.replace(PAGE_LINK + "p", page_base + case.name) for i in case.build()]
    return feed_document(case.name, items)


def feed_options(case: Case) -> str:
    """The case's feed settings (TOML lines): pages only for the cases that have one."""
    if case.page is None:
        return 'full_text = "never"'
    return 'full_text = "always"\nallow_private_addresses = true'


def _config_text(db_url: str, feeds: dict[str, str], options: dict[str, str] | None = None) -> str:
    lines = ["[worker]", f'database = "{db_url}"', "jitter = 0", "[fetch]"]
    lines.append(f"max_concurrency = {min(16, max(1, len(feeds)))}")
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"']
        lines.append((options or {}).get(name, 'full_text = "never"'))
    return "\n".join(lines) + "\n"


class PageServer(ThreadingHTTPServer):
    """Serves ``pages[name]`` at ``/page/<name>`` on loopback, in a thread."""

    daemon_threads = True

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = pages.get(self.path.rsplit("/", 1)[-1], b"")
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/page/"


def measure_cases(folder: Path) -> list[dict[str, Any]]:
    """Poll each case's feed once, in this thread; its CPU and what became of it."""
    from worker.pipeline.poll import Ingestor
    from worker.store.db import Database

    server = PageServer({c.name: c.page() for c in CASES if c.page is not None})
    (folder / "feeds").mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES:
        paths[case.name] = folder / "feeds" / f"{case.name}.xml"
        paths[case.name].write_bytes(case_feed(case, server.base))
    db_url = f"sqlite:///{folder / 'bench.db'}"
    options = {c.name: feed_options(c) for c in CASES}
    config = parse_config(
        _config_text(db_url, {n: p.as_uri() for n, p in paths.items()}, options),
        path=str(folder / "bench.toml"),
    )
    db = Database(db_url)
    db.upgrade()
    ingestor = Ingestor(config, db)
    ingestor.sync_feeds()
    rows = []
    try:
        for case in CASES:
            cpu, wall = time.thread_time(), time.perf_counter()
            outcome = ingestor.poll(case.name)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            rows.append(
                {
                    "case": case.name,
                    "expect": case.expect,
                    "bytes": paths[case.name].stat().st_size,
                    "cpu_s": round(cpu, 4),
                    "wall_s": round(wall, 4),
                    "outcome": outcome.outcome,
                    "stored": outcome.articles_new
                    + outcome.duplicates_exact
                    + outcome.duplicates_near,
                    "rejected": dict(outcome.rejected),
                }
            )
    finally:
        ingestor.close()
        db.dispose()
        server.shutdown()
    return rows


def run_once_rss(folder: Path, feeds: dict[str, bytes]) -> tuple[int, float, int]:
    """``run --once`` as a child over ``feeds`` (file: URLs, all polled at once): its exit
    status, wall seconds and peak resident bytes (VmHWM, sampled)."""
    folder.mkdir(parents=True, exist_ok=True)
    urls = {}
    for name, body in feeds.items():
        path = folder / f"{name}.xml"
        path.write_bytes(body)
        urls[name] = path.as_uri()
    config = folder / "rss.toml"
    config.write_text(_config_text(f"sqlite:///{folder / 'rss.db'}", urls))
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--config", str(config), "run", "--once"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, peak_rss_bytes(proc.pid))
        time.sleep(0.02)
    return proc.returncode, time.perf_counter() - started, peak


def big_entry_feeds(count: int = 4) -> dict[str, bytes]:
    """``count`` feeds, each two healthy entries and one 9 MB entry."""
    rng = random.Random(9)
    big = item("big", title="Nine megabytes", body=prose(rng, 1_350_000))
    return {f"big-{n}": feed_document(f"big-{n}", [big]) for n in range(count)}


def near_bound_feeds(count: int = 4, entries: int = 10) -> dict[str, bytes]:
    """``count`` feeds of ``entries`` entries just under the entry size bound (9 MB each)."""
    out = {}
    for n in range(count):
        rng = random.Random(n)
        items = [
            item(f"e{k}", title=f"Entry {k}", body=prose(rng, 140_000)) for k in range(entries)
        ]
        out[f"bound-{n}"] = feed_document(f"bound-{n}", items)
    return out


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="newsdedup-hostile-") as tmp:
        rows = measure_cases(Path(tmp))
        worst = max(rows, key=lambda r: r["cpu_s"])
        memory: dict[str, Any] = {}
        if not args.no_rss:
            for label, feeds in (
                ("four 9 MB entries", big_entry_feeds()),
                ("four feeds of ten ~0.9 MB entries", near_bound_feeds()),
            ):
                status, wall, peak = run_once_rss(Path(tmp) / label.replace(" ", "-"), feeds)
                memory[label] = {
                    "exit": status,
                    "wall_s": round(wall, 2),
                    "peak_rss_mib": peak / 2**20,
                }
    report = {"cases": rows, "worst": worst, "memory": memory}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'case':<22} {'bytes':>9} {'cpu s':>7} {'wall s':>7}  outcome  stored  skipped")
    for r in rows:
        skipped = ", ".join(f"{k}={v}" for k, v in r["rejected"].items()) or "-"
        print(
            f"{r['case']:<22} {r['bytes']:>9} {r['cpu_s']:>7.3f} {r['wall_s']:>7.3f}  "
            f"{r['outcome']:<7}  {r['stored']:>6}  {skipped}"
        )
    print(
        f"worst poll: {worst['case']} {worst['cpu_s']:.3f} s CPU for its "
        f"{worst['stored'] + sum(worst['rejected'].values())} entries (an upper bound of each)"
    )
    for label, m in memory.items():
        print(
            f"run --once, {label}: peak RSS {m['peak_rss_mib']:.0f} MiB, "
            f"{m['wall_s']:.1f} s, exit {m['exit']}"
        )
    return 0
