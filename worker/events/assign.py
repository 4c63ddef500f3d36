"""Online assignment of stories to events: pure, in memory, no database.

A new story is compared with the stories of the window that share one of its heaviest
terms (an inverted index over every story's ``probe`` heaviest terms). It joins the event
with the highest *average* cosine over all the event's stories (a story the lookup did not
find counts 0), and only when the evidence is against several of them:

- links (cosine >= ``link``) to at least ``min(min_links, event size)`` of its stories, and
- a mean cosine to all of them of at least ``mean``.

One link is never enough for an event of two or more stories, so a story that resembles
one odd member of an event does not pull the event towards itself (no chaining), and the
average keeps a story with the event it resembles as a whole, not the one with its single
nearest story.

Online, an event can still grow across two real events of one kind (two quakes, two
arrests of players of one team) while it is small and its term statistics are young. So an
event that has grown is checked for a split (``split_of``, ``worker.events.split``): its
best two-way split, and whether the two parts are far less alike than each is within
itself.

Times are seconds (any epoch) or ``None`` (unknown: no time limit for that story). Two
stories whose times are both known link only within ``window`` seconds of each other.
The stories themselves are packed in arrays (``worker.events.window``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from worker.events.packed import Groups, Ids, Slots
from worker.events.represent import TermStats, term_ids
from worker.events.split import split
from worker.events.window import Floats, Window, unit


@dataclass(frozen=True)
class Rule:
    link: float = 0.16
    min_links: int = 2
    mean: float = 0.06
    window: float = 7 * 86400.0
    split: float = 0.55
    split_min: int = 4
    # Two events a story is admitted to are one when the mean cosine between them reaches
    # ``merge`` x the mean of the means within them (above ``split``, so a merge is not
    # undone by the next split check).
    merge: float = 0.6
    top_terms: int = 80
    probe: int = 12
    # A term carried by more stories than this is not probed: its postings would list a
    # good part of the window, and it says little about any one event.
    max_df_share: float = 0.05
    max_df_floor: int = 100
    max_df: int = 1000
    max_candidates: int = 200
    # Background stories assumed in the term statistics (``TermStats``).
    prior: int = 1000


@dataclass(frozen=True)
class Decision:
    """Where a story goes: ``event_id`` None for a new event; ``links`` the stories of
    that event it links to (story id, cosine), best first; ``score`` its mean cosine."""

    event_id: int | None
    links: tuple[tuple[int, float], ...] = ()
    score: float = 0.0
    # Other events the rule admits the story to, best first: candidates for a merge.
    others: tuple[int, ...] = ()


@dataclass(frozen=True)
class Placed:
    """What placing one story did: its event (new or not), the events merged into it, and
    a split of it (the stories moved to ``split_into``), if it was found to be two."""

    story_id: int
    event_id: int
    new_event: bool
    decision: Decision
    merged: tuple[int, ...] = ()
    split_into: int | None = None
    split_stories: tuple[int, ...] = ()


@dataclass(frozen=True)
class Query:
    """A story being placed: its unit vector (sorted by term) and the terms it probes."""

    term: Ids
    weight: Floats
    probe: Ids


class EventIndex:
    def __init__(self, rule: Rule | None = None) -> None:
        self.rule = rule or Rule()
        self.stats = TermStats(self.rule.prior)
        self.window = Window(self.stats, self.rule.top_terms, self.rule.probe)
        self._events = Groups()
        self.newest: float | None = None
        # Event size at its last split check: checks get rarer as an event grows.
        self._checked: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.window)

    @property
    def event_count(self) -> int:
        return len(self._events)

    def stories_of(self, event_id: int) -> list[int]:
        return self._events.members(event_id)

    def size(self, event_id: int) -> int:
        return self._events.size(event_id)

    # -- deciding ----------------------------------------------------------------------
    def query(self, counts: Mapping[str, int]) -> Query:
        r = self.rule
        ids, n = term_ids(counts)
        ids, _, weight = self.window.heaviest(ids, n)
        limit = min(r.max_df, max(r.max_df_floor, r.max_df_share * self.stats.documents))
        probe = ids[self.stats.df(ids) <= limit][: r.probe]
        term, weight = unit(ids, weight)
        return Query(term, weight, probe)

    def _candidates(self, query: Query, at: float | None) -> tuple[Slots, Floats]:
        window = self.window
        slots = window.postings.lookup(query.probe)
        slots = slots[window.alive[slots]]
        if not len(slots):
            return slots, np.zeros(0, np.float32)
        slots, hits = np.unique(slots, return_counts=True)
        if len(slots) > self.rule.max_candidates:
            slots = slots[np.argsort(-hits, kind="stable")[: self.rule.max_candidates]]
        slots = window.within(slots, at, self.rule.window)
        sims = window.vectors(slots).dot(query.term, query.weight)
        order = np.argsort(-sims, kind="stable")
        return slots[order], sims[order]

    def candidates(self, counts: Mapping[str, int], at: float | None) -> list[tuple[int, float]]:
        """Stories of the window that share a probed term, with their cosine, best first."""
        slots, sims = self._candidates(self.query(counts), at)
        return list(zip(self.window.story[slots].tolist(), sims.tolist(), strict=True))

    def decide(self, counts: Mapping[str, int], at: float | None) -> Decision:
        r = self.rule
        slots, sims = self._candidates(self.query(counts), at)
        linked = sims >= r.link
        # Only an event with a link to one of its stories can be admitted.
        events, inverse = np.unique(self.window.event[slots], return_inverse=True)
        links = np.bincount(inverse, weights=linked, minlength=len(events))
        totals = np.bincount(inverse, weights=sims, minlength=len(events))
        admitted: list[tuple[float, int]] = []
        for k in np.flatnonzero(links > 0).tolist():
            event_id = int(events[k])
            size = self.size(event_id)
            if links[k] < min(r.min_links, size):
                continue
            score = float(totals[k]) / size
            if score >= r.mean:
                admitted.append((-score, event_id))
        if not admitted:
            return Decision(None)
        admitted.sort()
        score, event_id = -admitted[0][0], admitted[0][1]
        mine = linked & (self.window.event[slots] == event_id)
        found = zip(self.window.story[slots[mine]].tolist(), sims[mine].tolist(), strict=True)
        return Decision(event_id, tuple(found), score, tuple(e for _, e in admitted[1:]))

    def place(
        self,
        story_id: int,
        counts: Mapping[str, int],
        at: float | None,
        new_event_id: Callable[[], int],
        decision: Decision | None = None,
    ) -> Placed:
        """Decide a story's event (unless given ``decision``), record it, merge the other
        events it shows to be the same one, and split the event if it has become two;
        ``new_event_id`` gives the id of a new event (the database's, or a counter)."""
        if decision is None:
            decision = self.decide(counts, at)
        new = decision.event_id is None
        event_id = new_event_id() if decision.event_id is None else decision.event_id
        self.add(story_id, event_id, counts, at)
        merged = []
        for other in decision.others:
            if self.size(other) and self._alike(event_id, other):
                survivor, folded = min(event_id, other), max(event_id, other)
                for moved in sorted(self.stories_of(folded)):
                    self.move(moved, survivor)
                merged.append(folded)
                event_id = survivor
        part = self.split_of(event_id) if not new and not merged else None
        if not part:
            return Placed(story_id, event_id, new, decision, tuple(merged))
        into = new_event_id()
        for moved in part:
            self.move(moved, into)
        return Placed(story_id, event_id, new, decision, tuple(merged), into, tuple(part))

    def _slots(self, event_id: int) -> Slots:
        return np.array([self.window.slot_of(s) for s in self.stories_of(event_id)], np.int64)

    def _alike(self, a: int, b: int) -> bool:
        """Whether events ``a`` and ``b`` are as alike between them as within them."""
        sums = []
        within = []
        for event_id in (a, b):
            slots = self._slots(event_id)
            term, weight = self.window.vectors(slots).total()
            sums.append((term, weight))
            n = len(slots)
            if n > 1:
                within.append((float(np.dot(weight, weight)) - n) / (n * (n - 1)))
        (ta, wa), (tb, wb) = sums
        _, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
        between = float(np.dot(wa[ia], wb[ib])) / (self.size(a) * self.size(b))
        bar = sum(within) / len(within) if within else self.rule.mean
        return between >= self.rule.merge * bar

    # -- state -------------------------------------------------------------------------
    def add(
        self, story_id: int, event_id: int, counts: Mapping[str, int], at: float | None
    ) -> None:
        """Record a story in an event (its terms weighed with the statistics before it)."""
        if self.window.slot_of(story_id) >= 0:
            self.forget(story_id)
        ids, n = term_ids(counts)
        self.window.insert(story_id, event_id, at, ids, n)
        self._join(event_id, story_id)
        if at is not None and (self.newest is None or at > self.newest):
            self.newest = at

    def load(self, rows: Iterable[tuple[int, int, Mapping[str, int], float | None]]) -> None:
        """Rebuild from stored stories (story id, event id, terms, time), into an empty
        index: statistics first, then every story weighed with them."""

        def packed() -> Iterable[tuple[int, int, float | None, Ids, np.ndarray]]:
            for story_id, event_id, counts, at in rows:
                self._join(event_id, story_id)
                if at is not None and (self.newest is None or at > self.newest):
                    self.newest = at
                yield (story_id, event_id, at, *term_ids(counts))

        self.window.load(packed())
        for event_id, stories in self._events.larger.items():
            self._checked[event_id] = len(stories)

    def _join(self, event_id: int, story_id: int) -> None:
        self._events.join(event_id, story_id)

    def _leave(self, event_id: int, story_id: int) -> None:
        if self._events.leave(event_id, story_id):
            self._checked.pop(event_id, None)

    def event_of(self, story_id: int) -> int | None:
        slot = self.window.slot_of(story_id)
        return int(self.window.event[slot]) if slot >= 0 else None

    def move(self, story_id: int, event_id: int) -> None:
        slot = self.window.slot_of(story_id)
        if slot < 0 or self.window.event[slot] == event_id:
            return
        self._leave(int(self.window.event[slot]), story_id)
        self.window.event[slot] = event_id
        self._join(event_id, story_id)

    def forget(self, story_id: int) -> None:
        """Drop a story (gone from the database, or out of the window)."""
        slot = self.window.slot_of(story_id)
        if slot < 0:
            return
        self._leave(int(self.window.event[slot]), story_id)
        self.window.remove(slot)

    def expire(self, now: float | None = None) -> int:
        """Forget the stories older than the window before ``now`` (default: the newest
        time seen); returns how many."""
        now = self.newest if now is None else now
        if now is None:
            return 0
        old = self.window.story[self.window.expired(now - self.rule.window)].tolist()
        for story_id in old:
            self.forget(story_id)
        return len(old)

    # -- splits ------------------------------------------------------------------------
    def split_of(self, event_id: int) -> list[int] | None:
        """The stories to move out of the event into a new one, when it is two events.

        Checked when the event has grown by a fifth (at least 3 stories) since its last
        check: the best two-way split (``worker.events.split``), taken when both parts
        have ``split_min`` stories or more and the mean cosine between them is under
        ``split`` x the mean of the means within them."""
        r = self.rule
        ids = sorted(self.stories_of(event_id))
        if r.split <= 0 or len(ids) < 2 * r.split_min:
            return None
        last = self._checked.get(event_id, 0)
        if len(ids) < last + max(3, last // 5):
            return None
        self._checked[event_id] = len(ids)
        slots = np.array([self.window.slot_of(s) for s in ids], np.int64)
        ratio, side = split(self.window.vectors(slots), r.split_min)
        if ratio >= r.split:
            return None
        # The part with the event's oldest story keeps the event's id.
        leaving = [s for s, moves in zip(ids, side.tolist(), strict=True) if moves != side[0]]
        self._checked[event_id] = len(ids) - len(leaving)
        return leaving
