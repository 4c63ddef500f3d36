"""Consolidating the recent window: the stories that a worker's batches touched, and every
story linked to them, re-decided by the fixed rule of ``worker.dedup.consolidate``, then
merged and split to match it.

The part re-decided is the *closure* of the touched articles: every article of the
retention window linked to one of them (a shared LSH band and a pair that passes the
verification rule on its signatures), and so on, plus every member of a story reached. It
is a union of whole connected components of that link graph, and each component's target
depends on its members alone, so once a component stops growing its partition no longer
depends on the order its articles came in or on which worker stored them.

It runs in a dedup transaction of its own, under the dedup lock, so two workers never
consolidate one component at once. Not after every batch: a large component would be
compared in full once per copy that joins it (about 15 ms of CPU an article on the
spotsigs-dev pages). A worker keeps the articles its batches touched (``Pending``) and
consolidates them together every ``worker.consolidate_interval`` (60 s), when 1,000 are
waiting, and when it stops (``run --once``, a shutdown, the end of an import). The end
state is the same: the last consolidation that touches a component runs after its last
article was stored.

Bounded: a closure of more than ``MAX_COMPONENT`` articles in the window (or that loads more
than ``MAX_LOADED`` signatures on the way) is left as the engine decided it and counted
(``skipped``; logged): the rule compares all pairs of a component (a 650-article component
takes about 0.2 s of CPU), and a component that large is a chain through shared chrome
more often than one story.

Articles outside the window, and texts too short to be compared, are *fixed*: they stay in
the story they are in, which is then never folded away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from worker import metrics
from worker.dedup.canonical import refresh_stories
from worker.dedup.consolidate import (
    Plan,
    node_links,
    pass_links,
    plan,
    target_partition,
    text_nodes,
)
from worker.dedup.decision import Candidate, passing
from worker.dedup.engine import window_start
from worker.dedup.lsh import band_keys
from worker.dedup.protocol import DedupStore
from worker.dedup.records import DedupPolicy
from worker.store.articles import ArticleStore
from worker.store.db import Database

log = logging.getLogger("newsdedup.consolidate")

REASON = "consolidation"
# Live articles one consolidation re-decides at most (see the module docstring).
MAX_COMPONENT = 1000
# Signatures read while finding the closure (its members and the candidates that fail).
MAX_LOADED = 20 * MAX_COMPONENT
# Articles waiting that make a worker consolidate before its interval is up.
MAX_PENDING = 1000


@dataclass
class Consolidation:
    """What one consolidation did."""

    articles: int = 0  # live articles re-decided
    merges: int = 0
    splits: int = 0
    skipped: int = 0  # closures over the bound, left as they were
    stories: set[int] = field(default_factory=set)  # stories changed (new ones included)

    @property
    def changed(self) -> bool:
        return bool(self.merges or self.splits)


@dataclass
class _Closure:
    reached: set[int] = field(default_factory=set)  # every article looked at
    live: dict[int, Candidate] = field(default_factory=dict)
    links: set[tuple[int, int]] = field(default_factory=set)
    members: dict[int, set[int]] = field(default_factory=dict)  # every member, by story


class _TooLarge(Exception):
    def __init__(self, reached: set[int]) -> None:
        super().__init__(f"{len(reached)} articles reached")
        self.reached = reached


def _closure(store: DedupStore, seeds: Collection[int], policy: DedupPolicy) -> _Closure:
    """The articles linked to ``seeds``, transitively, and the stories they are in; one
    signature read and one index lookup per breadth-first level."""
    rule, since = policy.rule, window_start(policy)
    out = _Closure()
    loaded: dict[int, Candidate] = {}
    seen = out.reached
    frontier = set(seeds)
    while frontier:
        seen |= frontier
        missing = frontier - loaded.keys()
        if missing:
            loaded.update(store.signatures(missing))
        keys = {
            a: band_keys(loaded[a].fingerprint.hashvalues, policy.lsh)
            for a in sorted(frontier)
            if a in loaded and loaded[a].fingerprint.shingle_count >= rule.min_shingles
        }
        wanted = {k for ks in keys.values() for k in ks}
        hits = store.band_hits(wanted, since) if wanted else {}
        neighbours: dict[int, set[int]] = {}
        for a, ks in keys.items():
            found = {h for k in ks for h in hits.get(k, ())}
            if a in found:  # indexed within the window: its own keys find it
                out.live[a] = loaded[a]
                neighbours[a] = found - {a}
        if len(out.live) > MAX_COMPONENT:
            raise _TooLarge(seen)
        unread = {h for hs in neighbours.values() for h in hs} - loaded.keys()
        if len(loaded) + len(unread) > MAX_LOADED:
            raise _TooLarge(seen)
        if unread:
            loaded.update(store.signatures(unread))
        following: set[int] = set()
        for a, hs in neighbours.items():
            others = [loaded[h] for h in sorted(hs) if h in loaded]
            # On the signatures alone: facts are compared once, on the component's pairs
            # (``target_of``); a closure a little too wide costs less than comparing the
            # facts of every link twice.
            passed = passing(
                loaded[a].fingerprint, [c.fingerprint for c in others], rule, facts=False
            )
            for other, linked in zip(others, passed, strict=True):
                if linked:
                    b = other.article_id
                    out.links.add((min(a, b), max(a, b)))
                    following.add(b)
        stories = {loaded[a].story_id for a in frontier if a in loaded} - out.members.keys()
        if stories:
            for story_id, rows in store.members(stories).items():
                out.members[story_id] = {m.article_id for m in rows}
                following |= out.members[story_id]
            for story_id in stories - out.members.keys():
                out.members[story_id] = set()
        frontier = following - seen
    return out


def _components(live: Collection[int], links: Collection[tuple[int, int]]) -> list[set[int]]:
    parent = {a: a for a in live}

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in links:
        if a in parent and b in parent:
            parent[root(a)] = root(b)
    groups: dict[int, set[int]] = {}
    for a in live:
        groups.setdefault(root(a), set()).add(a)
    return list(groups.values())


def target_of(closure: _Closure, policy: DedupPolicy) -> list[tuple[int, ...]]:
    """The clusters the rule makes of the closure's live articles."""
    fps = {a: c.fingerprint for a, c in closure.live.items()}
    links = pass_links(fps, _components(fps, closure.links), policy.rule)
    nodes = text_nodes(fps)
    return target_partition(nodes, node_links(nodes, links), policy.rule.merge_link_share)


def apply(store: DedupStore, changes: Plan, result: Consolidation) -> None:
    """Carry out ``changes`` with the store's recorded merges and splits."""
    homes = list(changes.homes)
    for move in changes.moves:
        home = homes[move.cluster]
        if move.whole:
            assert home is not None, "a story goes whole only into a kept story"
            store.merge(home, [move.source], REASON)
            result.merges += 1
            result.stories |= {home, move.source}
            continue
        new_story = store.split(move.source, move.article_ids, REASON)
        result.splits += 1
        result.stories |= {move.source, new_story}
        if home is None:
            homes[move.cluster] = new_story
        else:
            store.merge(home, [new_story], REASON)
            result.merges += 1
            result.stories.add(home)


def consolidate(
    store: DedupStore,
    article_ids: Collection[int],
    policy: DedupPolicy,
    priorities: Mapping[int, int],
) -> Consolidation:
    """Re-decide the closure of each of ``article_ids`` (see the module docstring) in the
    caller's dedup transaction; what changed. Changed stories are refreshed (canonical,
    counts)."""
    result = Consolidation()
    if not article_ids:
        return result
    with metrics.stage("consolidate", len(article_ids)):
        covered: set[int] = set()
        for seed in sorted(article_ids):
            if seed in covered:
                continue
            try:
                closure = _closure(store, {seed}, policy)
            except _TooLarge as exc:
                covered |= exc.reached
                result.skipped += 1
                log.info(
                    "consolidation skipped: article %d links more than %d articles",
                    seed, MAX_COMPONENT,
                )  # fmt: skip
                continue
            covered |= closure.reached
            result.articles += len(closure.live)
            if len(closure.live) < 2:
                continue
            current = {a: c.story_id for a, c in closure.live.items()}
            fixed = {s: len(ids - closure.live.keys()) for s, ids in closure.members.items()}
            changes = plan(current, target_of(closure, policy), fixed)
            if not changes.empty:
                apply(store, changes, result)
        if result.changed:
            refresh_stories(store, sorted(result.stories), policy.canonical_policy, priorities)
            log.info(
                "consolidation: %d articles re-decided, %d merges, %d splits (stories %s)",
                result.articles, result.merges, result.splits,
                ", ".join(map(str, sorted(result.stories)[:10])),
            )  # fmt: skip
    return result


class Pending:
    """The articles a worker's batches touched and no consolidation has covered yet, and
    when to consolidate them (see the module docstring). Thread-safe: the poll threads of a
    worker share it."""

    def __init__(
        self,
        db: Database,
        policy: DedupPolicy,
        priorities: Callable[[], Mapping[int, int]],
        interval: float,
        after: Callable[[Consolidation, Session], object] | None = None,
    ) -> None:
        self.db, self.policy, self.priorities, self.interval = db, policy, priorities, interval
        # Called in the consolidation's transaction (``after(result, session)``): the
        # event level places the stories it changed.
        self.after = after
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def due(self) -> bool:
        """Whether articles wait and it is time (or enough wait) to consolidate them."""
        with self._lock:
            return bool(self._ids) and (
                len(self._ids) >= MAX_PENDING or time.monotonic() - self._last >= self.interval
            )

    def add(self, article_ids: Collection[int]) -> None:
        """A committed batch's touched articles; consolidates them all if it is time."""
        with self._lock:
            self._ids.update(article_ids)
        if self.due():
            self.flush()

    def flush(self) -> Consolidation:
        """Consolidate every article waiting, in one dedup transaction. A database that
        fails keeps them waiting for the next time; nothing is raised."""
        with self._lock:
            ids, self._ids = self._ids, set()
            self._last = time.monotonic()
        if not ids:
            return Consolidation()
        try:
            with self.db.dedup_transaction() as session:
                done = consolidate(ArticleStore(session), ids, self.policy, self.priorities())
                if self.after is not None:
                    self.after(done, session)
            return done
        except SQLAlchemyError as exc:
            log.warning("consolidation of %d articles postponed: %s", len(ids), exc)
            with self._lock:
                self._ids |= ids
            return Consolidation()
        except Exception:
            # A bug here must not fail the poll whose batch is already stored: the stories
            # stay as the engine decided them.
            log.exception("consolidation of %d articles failed", len(ids))
            return Consolidation()
