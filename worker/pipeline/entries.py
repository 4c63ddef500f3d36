"""Storing the entries of one poll of one feed.

Identity comes first for all of them at once (one query for every GUID and URL of the
poll), so unchanged entries are skipped before any cleaning. The others are cleaned and
fingerprinted outside the dedup lock, then written in batches: each batch is one
transaction under one hold of the lock, its entries decided in order, so a later entry can
match an earlier one of the same batch. A crash loses at most the batch in flight, and it
comes again on the next poll (validators are saved only after a complete poll).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from worker import metrics
from worker.clean import ChromeRules
from worker.clean.learned import learnable_keys, site_host
from worker.clock import utcnow
from worker.config import Config, FeedConfig
from worker.dedup.engine import DedupEngine, DedupPolicy, Draft
from worker.dedup.fingerprint import Fingerprint, fingerprint
from worker.limits import checkpoint, plausible_published
from worker.reader.parser import Entry
from worker.safetext import plain_line, storable, storable_or_none
from worker.store import chrome_lines
from worker.store.articles import ArticleStore, stored_entries
from worker.store.db import Database

# Chrome lives at the edges of a text: only these lines of each article are counted.
_LEARN_HEAD, _LEARN_TAIL = 5, 10


def source_hash(entry: Entry) -> str:
    """Hash of the entry as the feed gave it: unchanged entries are skipped before cleaning."""
    basis = "\x1f".join([entry.title, entry.link, entry.content_html])
    return hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()


def edge_keys(text: str, max_words: int) -> frozenset[str]:
    lines = text.split("\n")
    edges = lines[:_LEARN_HEAD] + lines[max(_LEARN_HEAD, len(lines) - _LEARN_TAIL) :]
    return frozenset(learnable_keys("\n".join(edges), max_words=max_words))


def fingerprint_text(config: Config, text: str) -> Fingerprint:
    """The fingerprint of a clean text under the config's ``[dedup]`` settings."""
    d = config.dedup
    return fingerprint(
        text, shingle_size=d.shingle_size, num_perm=d.num_perm, seed=d.seed, features=d.features
    )


class LearnedLines:
    """A feed's learned chrome lines during one poll: read once, then grown by the counts
    the poll's own new articles add, so every entry is cleaned with the lines a fresh read
    before it would give (a feed is polled by one worker at a time: its lease).

    With ``hosts``, each entry is cleaned with its site's learned lines too, and its lines
    count for its site as well (``SiteLines``).

    >>> stored = {"subscribe now": 3}
    >>> lines = LearnedLines(frozenset(), 4, lambda keys: {k: stored[k] for k in keys & {*stored}})
    >>> lines.count(frozenset({"subscribe now", "a new line"}))
    >>> sorted(lines.keys)
    ['subscribe now']
    """

    def __init__(
        self,
        learned: frozenset[str],
        min_articles: int,
        stored_counts: Callable[[set[str]], dict[str, int]],
        hosts: SiteLines | None = None,
    ) -> None:
        self.keys = learned
        self._min = min_articles
        self._stored_counts = stored_counts
        self._counts: dict[str, int] = {}
        self.hosts = hosts

    def keys_for(self, host: str | None) -> frozenset[str]:
        """The lines learned for the feed and for the site ``host``."""
        if host is None or self.hosts is None:
            return self.keys
        return self.keys | self.hosts.lines(host).keys

    def count(self, keys: frozenset[str], host: str | None = None) -> None:
        """One more article of the feed (of the site ``host``) carried ``keys`` (it is
        being stored)."""
        if host is not None and self.hosts is not None:
            self.hosts.lines(host).count(keys)
        unseen = {k for k in keys if k not in self._counts and k not in self.keys}
        if unseen:
            known = self._stored_counts(unseen)
            self._counts.update((k, known.get(k, 0)) for k in unseen)
        grown = set()
        for key in keys:
            if key in self.keys:
                continue
            self._counts[key] += 1
            if self._counts[key] >= self._min:
                grown.add(key)
        if grown:
            self.keys = self.keys | grown


class SiteLines:
    """Each site's learned lines during one poll, read when the poll meets the site's first
    entry and grown as ``LearnedLines`` grows a feed's. Other feeds that link to the site
    may be polled meanwhile by other workers: their counts reach this poll with its next
    read, as a line needs several articles to be learned anyway."""

    def __init__(self, db: Database, min_articles: int) -> None:
        self._db = db
        self._min = min_articles
        self._sites: dict[str, LearnedLines] = {}

    def lines(self, host: str) -> LearnedLines:
        found = self._sites.get(host)
        if found is None:
            with self._db.engine.connect() as conn:
                learned = chrome_lines.learned_host_keys(conn, host, self._min)

            def stored_counts(keys: set[str]) -> dict[str, int]:
                with self._db.engine.connect() as conn:
                    return chrome_lines.host_line_counts(conn, host, keys)

            found = self._sites[host] = LearnedLines(learned, self._min, stored_counts)
        return found


class KnownEntries:
    """Which entries of a poll are already stored, with the hash of the entry they were
    made of: from one query, plus the entries this poll has prepared since."""

    def __init__(self, by_guid: dict[str, str], by_url: dict[str, str]) -> None:
        self._by_guid, self._by_url = by_guid, by_url

    @classmethod
    def load(cls, session: Session, feed_id: int, entries: Iterable[Entry]) -> KnownEntries:
        entries = list(entries)
        by_guid, by_url = stored_entries(
            session, feed_id, (e.guid for e in entries), (e.url for e in entries if e.url)
        )
        return cls(
            {k: v.source_hash for k, v in by_guid.items()},
            {k: v.source_hash for k, v in by_url.items()},
        )

    def source_hash(self, entry: Entry) -> str | None:
        """The stored (or prepared) hash of this entry; ``None`` for a new entry."""
        digest = self._by_guid.get(entry.guid)
        if digest is None and entry.url:
            digest = self._by_url.get(entry.url)
        return digest

    def add(self, entry: Entry, digest: str) -> None:
        """``entry`` is prepared: a later copy in the same poll is the same entry."""
        if entry.guid in self._by_guid:
            self._by_guid[entry.guid] = digest
        elif entry.url and entry.url in self._by_url:
            self._by_url[entry.url] = digest
        else:
            self._by_guid[entry.guid] = digest
            if entry.url:
                self._by_url.setdefault(entry.url, digest)


def poll_state(
    db: Database, config: Config, feed_id: int, entries: list[Entry]
) -> tuple[KnownEntries, LearnedLines]:
    """What a poll reads once before its entries: which of them are stored (one query for
    all), and the feed's learned chrome lines."""
    clean = config.clean
    with db.session() as session:
        known = KnownEntries.load(session, feed_id, entries)
        learned = (
            chrome_lines.learned_keys(session, feed_id, clean.learn_min_articles)
            if clean.learn_lines
            else frozenset()
        )

    def stored_counts(keys: set[str]) -> dict[str, int]:
        with db.engine.connect() as conn:  # no session: asked once per new article
            return chrome_lines.line_counts(conn, feed_id, keys)

    hosts = SiteLines(db, clean.learn_min_articles) if clean.learn_lines else None
    return known, LearnedLines(learned, clean.learn_min_articles, stored_counts, hosts)


@dataclass(frozen=True)
class Prepared:
    """An entry cleaned and fingerprinted, ready to be stored."""

    draft: Draft
    # Its head/tail line keys, counted for the feed (and for its site, ``host``) when it
    # is stored as a new article.
    edge_keys: frozenset[str]
    host: str | None = None


def prepare(
    config: Config,
    cfg: FeedConfig,
    feed_id: int,
    entry: Entry,
    known: KnownEntries,
    learned: LearnedLines,
    clean: Callable[[FeedConfig, Entry, ChromeRules], tuple[str, str]],
) -> Prepared | None:
    """Clean (``clean``: extracted and clean text) and fingerprint an entry; ``None`` when
    it is stored unchanged."""
    digest = source_hash(entry)
    stored_hash = known.source_hash(entry)
    if stored_hash == digest:
        return None
    checkpoint("cleaning")
    host = site_host(entry.link) if config.clean.learn_lines else None
    rules = ChromeRules(
        tuple(config.clean.extra_patterns) + tuple(cfg.boilerplate), learned.keys_for(host)
    )
    with metrics.stage("clean"):
        extracted, clean_text = clean(cfg, entry, rules)
    # Before the fingerprint, so it is the fingerprint of the text as stored.
    clean_text = storable(clean_text)
    checkpoint("the fingerprint")
    with metrics.stage("fingerprint"):
        fp = fingerprint_text(config, clean_text)
    keys: frozenset[str] = frozenset()
    if config.clean.learn_lines:
        keys = edge_keys(extracted, config.clean.learn_max_words)
        if stored_hash is None:  # a new article: its lines count for the next entries
            learned.count(keys, host)
    known.add(entry, digest)
    # Every string as both databases store it (NUL out: PostgreSQL refuses it), and a
    # published time only when it is plausible (the parser checks it too; imports do not
    # pass through the parser).
    draft = Draft(
        feed_id=feed_id,
        guid=storable(entry.guid),
        url=storable(entry.link) or None,
        canonical_url=storable(entry.url) or None,
        title=plain_line(entry.title),
        author=storable_or_none(entry.author),
        published_at=plausible_published(entry.published, utcnow()),
        language=cfg.language,
        content_html=storable_or_none(entry.content_html),
        clean_text=clean_text,
        source_hash=digest,
        fingerprint=fp,
    )
    return Prepared(draft, keys, host)


def write_batch(
    session: Session,
    feed_id: int,
    batch: Sequence[Prepared],
    policy: DedupPolicy,
    priorities: dict[int, int],
    *,
    learn_lines: bool,
    touched: set[int] | None = None,
) -> list[str]:
    """Store ``batch`` in order through the dedup engine, in the caller's dedup
    transaction; how each was matched. Identity is read again there, under the lock:
    another worker may have stored one of the entries since they were prepared. The new
    articles' edge lines are counted for the feed and for each one's site. ``touched``
    gets the ids of the articles that joined a story or were edited: what consolidation
    starts from (an article that started a story of its own matched nothing in the window,
    so there is nothing to re-decide until a later article links to it)."""
    engine = DedupEngine(policy, priorities)
    decisions = engine.store(ArticleStore(session), [p.draft for p in batch])
    if touched is not None:
        touched.update(d.article_id for d in decisions if d.kind not in ("unchanged", "new"))
    lines: Counter[str] = Counter()
    site_lines: dict[str, Counter[str]] = {}
    if learn_lines:
        for prepared, decision in zip(batch, decisions, strict=True):
            if decision.kind not in ("updated", "unchanged"):
                lines.update(prepared.edge_keys)
                if prepared.host is not None:
                    site_lines.setdefault(prepared.host, Counter()).update(prepared.edge_keys)
    if lines:
        chrome_lines.count_lines(session, feed_id, lines)
    for host in sorted(site_lines):  # one order for every writer: no deadlock between them
        chrome_lines.count_host_lines(session, host, site_lines[host])
    return [d.kind for d in decisions]
