"""The dedup engine: which story each entry of a batch joins, decided over a ``DedupStore``.

Identity before similarity. An entry already stored (same feed and GUID, else same
canonical URL) is that article: unchanged, or edited in place in its story. A new entry is
an exact copy of the lowest-id article with its canonical URL or its text; else a verified
near copy (``worker.dedup.decision``) of articles indexed within the retention window, and
when those lie in several stories that turn out to be one, the stories are merged; else it
starts a story. Each touched story's canonical article is chosen again
(``worker.dedup.canonical``).

Batch-first. For a segment of up to ``SEGMENT`` drafts, the exact-match rows and the LSH
hits of all their band keys are read at once; the drafts are then decided in order in
memory, the segment's earlier, not yet written articles included (a later draft matches an
earlier one as if it had been written). Ids are reserved in draft order, so decisions can
point at articles and stories still in memory; the segment is written as one insert per
table and one refresh per touched story. A single entry is a batch of one.

Two steps need the store as it is rather than as the segment read it: an edit, and a copy
whose matches span several stories (its decision reads their members, and a merge
re-points whole stories). The segment so far is written first; such a copy is decided at
the head of a fresh segment, and after an edit or a merge the next draft reads afresh.

    >>> from datetime import timedelta
    >>> from worker.config import FeedConfig
    >>> from worker.dedup.decision import MatchRule
    >>> from worker.dedup.fingerprint import fingerprint
    >>> from worker.dedup.lsh import LshParams
    >>> from worker.store.articles import ArticleStore
    >>> from worker.store.db import Database
    >>> from worker.store.feeds import sync_feeds
    >>> db = Database("sqlite://"); db.upgrade()
    >>> with db.dedup_transaction() as s:
    ...     feed = sync_feeds(s, [FeedConfig(name="wire", url="file:///wire")])["wire"]
    >>> def draft(guid, text):
    ...     return Draft(feed, guid, None, None, guid, None, None, None, None, text,
    ...                  source_hash=str(len(text)), fingerprint=fingerprint(text))
    >>> story = " ".join(f"Sentence {i} of the story of the harbour fire." for i in range(30))
    >>> engine = DedupEngine(DedupPolicy(MatchRule(), LshParams.for_threshold(0.2, 128),
    ...                                  "earliest", timedelta(days=30)))
    >>> with db.dedup_transaction() as s:
    ...     decided = engine.store(ArticleStore(s), [
    ...         draft("a", story), draft("b", story + " Updated at noon."), draft("a", story)])
    >>> [(d.kind, d.story_id) for d in decided]
    [('new', 1), ('near', 1), ('unchanged', 1)]
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from worker.clock import utcnow
from worker.dedup.canonical import refresh_stories
from worker.dedup.decision import (
    MAX_LINK_MEMBERS,
    Candidate,
    Match,
    identity_match_allowed,
    stories_to_merge,
    story_match,
    verified_matches,
)
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import band_keys
from worker.dedup.protocol import DedupStore
from worker.dedup.records import (
    Decision,
    DedupPolicy,
    Draft,
    ExactRow,
    NewArticle,
    NewStory,
    Stored,
)

# The logger merges have always been logged under: filters on it keep working.
log = logging.getLogger("newsdedup.store")

# Drafts read and decided together: bounds the parameters of one statement (28 band keys a
# draft) far below SQLite's and PostgreSQL's limits.
SEGMENT = 64
# Above this many candidates a bucket is a common band (boilerplate); verify the best.
MAX_CANDIDATES = 500

__all__ = ["Decision", "DedupEngine", "DedupPolicy", "Draft", "refresh_stories"]


def window_start(policy: DedupPolicy) -> float:
    """The oldest index time (seconds since the epoch) still in the retention window."""
    return (utcnow() - policy.retention).timestamp()


def shared_bands(keys: Iterable[int], hits: Mapping[int, Sequence[int]]) -> dict[int, int]:
    """How many of ``keys`` each article of ``hits`` shares."""
    shared: dict[int, int] = {}
    for key in set(keys):
        for article_id in hits.get(key, ()):
            shared[article_id] = shared.get(article_id, 0) + 1
    return shared


def top_hits(shared: Mapping[int, int]) -> list[int]:
    """Article ids by shared bands, most first, ties to the lowest id, at most
    ``MAX_CANDIDATES``."""
    return sorted(shared, key=lambda a: (-shared[a], a))[:MAX_CANDIDATES]


@dataclass(frozen=True)
class DedupEngine:
    """Decides drafts over a store; holds no state between calls, so one engine serves
    every thread and transaction."""

    policy: DedupPolicy
    priorities: Mapping[int, int] = field(default_factory=dict)  # by feed id

    def keys(self, fp: Fingerprint) -> list[int]:
        """The band keys ``fp`` is indexed under; none for a text too short to be matched
        by similarity."""
        if fp.shingle_count < self.policy.rule.min_shingles:
            return []
        return band_keys(fp.hashvalues, self.policy.lsh)

    def store(self, store: DedupStore, drafts: Sequence[Draft]) -> list[Decision]:
        """Store ``drafts`` in order; the caller holds the dedup lock and commits."""
        identity = _Identity(store, drafts)
        out: list[Decision] = []
        segment: _Segment | None = None
        for index, draft in enumerate(drafts):
            known = identity.get(draft)
            if known is not None:
                if segment is not None:
                    segment.write()
                    segment = None
                out.append(self._edit(store, draft, known.article_id))
                continue
            if segment is None or not segment.covers(index):
                if segment is not None:
                    segment.write()
                segment = _Segment(self, store, drafts, index)
            decision = segment.decide(index)
            if decision is None:  # a possible merge: it reads the stories as written
                segment.write()
                segment = _Segment(self, store, drafts, index)
                decision = segment.decide(index)
                assert decision is not None, "the head of a segment always decides"
            if segment.stale:
                segment.write()
                segment = None
            identity.add(draft, decision.article_id)
            out.append(decision)
        if segment is not None:
            segment.write()
        return out

    def candidates(self, store: DedupStore, fp: Fingerprint) -> list[Candidate]:
        """Indexed articles sharing a band with ``fp`` (most shared bands first, ties to
        the lowest id, at most ``MAX_CANDIDATES``) within the retention window: what a
        draft with this fingerprint would be verified against."""
        keys = band_keys(fp.hashvalues, self.policy.lsh)
        shared = shared_bands(keys, store.band_hits(set(keys), window_start(self.policy)))
        ranked = top_hits(shared)
        stored = store.signatures(ranked) if ranked else {}
        return [stored[a] for a in ranked if a in stored]

    def refresh(self, store: DedupStore, story_ids: Collection[int]) -> None:
        """``refresh_stories`` under this engine's policy and priorities."""
        refresh_stories(store, story_ids, self.policy.canonical_policy, self.priorities)

    def reindex(
        self, store: DedupStore, articles: Iterable[tuple[int, Fingerprint, datetime]]
    ) -> None:
        """Stored articles' fingerprints recomputed ``(article_id, fingerprint, indexed
        at)``: their columns and index rows replaced. Stories are left as they are."""
        for article_id, fp, indexed_at in articles:
            store.set_fingerprint(article_id, fp)
            store.replace_keys(article_id, indexed_at, self.keys(fp))

    def _edit(self, store: DedupStore, draft: Draft, article_id: int) -> Decision:
        """An entry already stored: unchanged, or an edited re-publication, which stays in
        its story with its new text."""
        story_id, source_hash = store.article(article_id)
        if source_hash == draft.source_hash:
            return Decision(article_id, story_id, "unchanged")
        now = utcnow()
        store.update_article(article_id, draft, now)
        store.replace_keys(article_id, now, self.keys(draft.fingerprint))
        self.refresh(store, [story_id])
        return Decision(article_id, story_id, "updated")


class _Identity:
    """Which drafts are stored articles: one read per feed of the batch, then the batch's
    own new articles as they are decided (a later copy of an entry is that entry)."""

    def __init__(self, store: DedupStore, drafts: Sequence[Draft]) -> None:
        self._found: dict[int, tuple[dict[str, Stored], dict[str, Stored]]] = {}
        for feed_id in sorted({d.feed_id for d in drafts}):
            mine = [d for d in drafts if d.feed_id == feed_id]
            self._found[feed_id] = store.entries(
                feed_id,
                (d.guid for d in mine),
                (d.canonical_url for d in mine if d.canonical_url),
            )

    def get(self, draft: Draft) -> Stored | None:
        by_guid, by_url = self._found[draft.feed_id]
        known = by_guid.get(draft.guid)
        if known is None and draft.canonical_url:
            known = by_url.get(draft.canonical_url)
        return known

    def add(self, draft: Draft, article_id: int) -> None:
        by_guid, by_url = self._found[draft.feed_id]
        stored = Stored(article_id, draft.source_hash)
        by_guid[draft.guid] = stored
        if draft.canonical_url:
            by_url.setdefault(draft.canonical_url, stored)


class _Segment:
    """New drafts decided together; see the module docstring."""

    def __init__(
        self, engine: DedupEngine, store: DedupStore, drafts: Sequence[Draft], start: int
    ) -> None:
        self.engine, self.store, self.start = engine, store, start
        self.drafts = drafts[start : start + SEGMENT]
        self.pending: list[NewArticle] = []
        self.new_stories: list[NewStory] = []
        self.stale = False  # a merge re-pointed stories this segment read
        urls = {d.canonical_url for d in self.drafts if d.canonical_url}
        hashes = {
            d.fingerprint.content_hash for d in self.drafts if d.fingerprint.shingle_count > 0
        }
        self._by_url: dict[str, ExactRow] = {}
        self._by_hash: dict[str, ExactRow] = {}
        if urls or hashes:
            for row in sorted(store.exact(urls, hashes), key=lambda r: r.article_id):
                if row.canonical_url in urls:
                    self._by_url.setdefault(row.canonical_url, row)
                if row.content_hash in hashes:
                    self._by_hash.setdefault(row.content_hash, row)
        self._keys = [engine.keys(d.fingerprint) for d in self.drafts]
        wanted = {k for keys in self._keys for k in keys}
        hits = store.band_hits(wanted, window_start(engine.policy)) if wanted else {}
        self._shared = [shared_bands(keys, hits) if keys else {} for keys in self._keys]
        # Beyond the best MAX_CANDIDATES stored hits, pending ones cannot lift a stored one.
        tops = {a for shared in self._shared for a in top_hits(shared)}
        self._stored = store.signatures(tops) if tops else {}
        self._article_ids = iter(store.reserve_ids("articles", len(self.drafts)))
        self._story_ids = iter(store.reserve_ids("stories", len(self.drafts)))
        self._pending_url: dict[str, NewArticle] = {}
        self._pending_hash: dict[str, NewArticle] = {}

    def covers(self, index: int) -> bool:
        return index - self.start < len(self.drafts)

    def decide(self, index: int) -> Decision | None:
        """Decide ``drafts[index]`` after the segment's earlier ones; ``None`` when its
        matches span several stories and the segment holds unwritten articles."""
        offset = index - self.start
        draft, keys = self.drafts[offset], self._keys[offset]
        fp, rule = draft.fingerprint, self.engine.policy.rule
        merged: tuple[int, ...] = ()
        similarity: float | None
        exact = self._exact(draft)
        if exact is not None:
            story_id, matched_id, similarity = exact.story_id, exact.article_id, 1.0
            by_url = draft.canonical_url and exact.canonical_url == draft.canonical_url
            kind = "url" if by_url else "content"
        else:
            matches = (
                verified_matches(fp, self._candidates(offset), rule)
                if fp.shingle_count >= rule.min_shingles
                else []
            )
            near = story_match(matches)
            if near is not None and any(m.story_id != near.story_id for m in matches):
                if self.pending:
                    return None
                near, merged = self._merge(near, matches)
                self.stale = bool(merged)
            if near is not None:
                story_id, matched_id = near.story_id, near.article_id
                similarity, kind = near.similarity.score, "near"
            else:
                story_id, matched_id, similarity, kind = next(self._story_ids), None, None, "new"
        now = utcnow()
        article = NewArticle(
            next(self._article_ids), story_id, draft, now, kind, matched_id, similarity, keys
        )
        if kind == "new":
            self.new_stories.append(NewStory(story_id, now))
        self.pending.append(article)
        if draft.canonical_url:
            self._pending_url.setdefault(draft.canonical_url, article)
        self._pending_hash.setdefault(fp.content_hash, article)
        return Decision(article.article_id, story_id, kind, similarity, merged)

    def _exact(self, draft: Draft) -> ExactRow | None:
        """The lowest-id article with the draft's canonical URL or content hash: stored
        rows first (lower ids), then the segment's own. A URL match with another feed's
        article whose text does not agree is no match (``identity_match_allowed``): any
        feed can write any URL, so the text decides."""
        found: list[ExactRow] = []
        fp = draft.fingerprint
        for stored, pending, key in (
            (self._by_url, self._pending_url, draft.canonical_url),
            (self._by_hash, self._pending_hash, fp.content_hash if fp.shingle_count > 0 else None),
        ):
            if not key:
                continue
            row = stored.get(key)
            if row is None and key in pending:
                p = pending[key]
                row = ExactRow(
                    p.article_id,
                    p.story_id,
                    p.draft.canonical_url,
                    p.draft.fingerprint.content_hash,
                    p.draft.feed_id,
                    p.draft.fingerprint,
                )
            if (
                row is not None
                and stored is self._by_url
                and not identity_match_allowed(
                    fp, draft.feed_id, row.fingerprint, row.feed_id, self.engine.policy.rule
                )
            ):
                continue
            if row is not None:
                found.append(row)
        return min(found, key=lambda r: r.article_id) if found else None

    def _candidates(self, offset: int) -> list[Candidate]:
        """The candidates of ``drafts[offset]`` as the index would give them with the
        segment's earlier articles written."""
        shared = dict(self._shared[offset])
        mine = set(self._keys[offset])
        extra: dict[int, Candidate] = {}
        for p in self.pending:
            if p.keys:
                count = len(mine.intersection(p.keys))
                if count:
                    shared[p.article_id] = count
                    extra[p.article_id] = Candidate(p.article_id, p.story_id, p.draft.fingerprint)
        out = []
        for article_id in top_hits(shared):
            cand = extra.get(article_id) or self._stored.get(article_id)
            if cand is not None:
                out.append(cand)
        return out

    def _merge(self, near: Match, matches: Sequence[Match]) -> tuple[Match, tuple[int, ...]]:
        """The copy matches articles of several stories: those that are the same story
        (``stories_to_merge``) fold into the oldest (lowest id), whichever worker sees the
        bridge first. Returns the match in the surviving story and the folded stories."""
        rule = self.engine.policy.rule
        members = self.store.story_signatures({m.story_id for m in matches}, MAX_LINK_MEMBERS)
        bridged = stories_to_merge(near, matches, members, rule)
        if not bridged:
            return near, ()
        stories = bridged | {near.story_id}
        survivor = min(stories)
        folded = tuple(sorted(stories - {survivor}))
        self.store.merge(survivor, folded)
        log.info("stories %s merged into story %d", ", ".join(map(str, folded)), survivor)
        return Match(near.article_id, survivor, near.similarity), folded

    def write(self) -> None:
        """Write the segment's articles, their new stories and index rows, then refresh
        every touched story once (its final state: what per-article refreshes ended in)."""
        if not self.pending:
            return
        self.store.insert(self.new_stories, self.pending)
        self.engine.refresh(self.store, {p.story_id for p in self.pending})
        self.pending, self.new_stories = [], []
