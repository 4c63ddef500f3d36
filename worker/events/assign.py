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
event that has grown is checked for a split (``split_of``): its best two-way split, and
whether the two parts are far less alike than each is within itself.

Times are seconds (any epoch) or ``None`` (unknown: no time limit for that story). Two
stories whose times are both known link only within ``window`` seconds of each other.
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from worker.events.represent import TermStats, weigh

Vector = dict[str, float]


@dataclass(frozen=True)
class Rule:
    link: float = 0.13
    min_links: int = 2
    mean: float = 0.08
    window: float = 7 * 86400.0
    split: float = 0.7
    split_min: int = 4
    # Two events a story is admitted to are one when the mean cosine between them reaches
    # ``merge`` x the lower mean within them (above ``split``, so a merge is not undone by
    # the next split check).
    merge: float = 0.9
    top_terms: int = 80
    probe: int = 12
    # A term carried by more stories than this is not probed: its postings would list a
    # good part of the window, and it says little about any one event.
    max_df_share: float = 0.05
    max_df_floor: int = 100
    max_df: int = 1000
    max_candidates: int = 200
    # A story's vector is weighed again once the statistics count this many times more
    # stories than when it was weighed: early stories were weighed with little to go on.
    reweigh: float = 1.5
    # Background stories assumed in the term statistics (``TermStats``).
    prior: int = 1000


@dataclass
class Member:
    story_id: int
    event_id: int
    at: float | None
    terms: Counter[str]
    vector: Vector
    weighed_at: int  # how many stories the statistics counted when it was weighed


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


@dataclass
class EventIndex:
    rule: Rule = field(default_factory=Rule)

    def __post_init__(self) -> None:
        self.stats = TermStats(self.rule.prior)
        self.members: dict[int, Member] = {}
        self.events: dict[int, set[int]] = {}
        self.postings: dict[str, array[int]] = {}
        self.newest: float | None = None
        self._stale_postings = 0
        # Event size at its last split check: checks get rarer as an event grows.
        self._checked: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.members)

    # -- deciding ----------------------------------------------------------------------
    def vector(self, counts: Mapping[str, int]) -> Vector:
        return weigh(counts, self.stats, top=self.rule.top_terms)

    def _probe_terms(self, vector: Mapping[str, float]) -> list[str]:
        r = self.rule
        limit = min(r.max_df, max(r.max_df_floor, r.max_df_share * self.stats.documents))
        heavy = sorted(vector, key=lambda t: -vector[t])
        df = self.stats.df
        return [t for t in heavy if df.get(t, 0) <= limit][: r.probe]

    def _fresh(self, member: Member) -> Member:
        if self.stats.documents > self.rule.reweigh * member.weighed_at + 10:
            member.vector = self.vector(member.terms)
            member.weighed_at = self.stats.documents
        return member

    def candidates(self, vector: Mapping[str, float], at: float | None) -> list[tuple[int, float]]:
        """Stories of the window that share a probed term, with their cosine, best first."""
        hits: Counter[int] = Counter()
        for term in self._probe_terms(vector):
            posting = self.postings.get(term)
            if posting is not None:
                hits.update(posting)
        window = self.rule.window
        out = []
        for story_id, _ in hits.most_common(self.rule.max_candidates):
            member = self.members.get(story_id)
            if member is None:
                continue
            if at is not None and member.at is not None and abs(at - member.at) > window:
                continue
            out.append((story_id, _dot(vector, self._fresh(member).vector)))
        out.sort(key=lambda x: -x[1])
        return out

    def decide(self, counts: Mapping[str, int], at: float | None) -> Decision:
        r = self.rule
        vector = self.vector(counts)
        by_event: dict[int, list[tuple[int, float]]] = {}
        for story_id, sim in self.candidates(vector, at):
            by_event.setdefault(self.members[story_id].event_id, []).append((story_id, sim))
        admitted: list[tuple[float, int]] = []
        for event_id, sims in by_event.items():
            size = len(self.events[event_id])
            links = sum(1 for _, sim in sims if sim >= r.link)
            if links < min(r.min_links, size):
                continue
            score = sum(sim for _, sim in sims) / size
            if score >= r.mean:
                admitted.append((-score, event_id))
        if not admitted:
            return Decision(None)
        admitted.sort()
        score, event_id = -admitted[0][0], admitted[0][1]
        linked = tuple((s, sim) for s, sim in by_event[event_id] if sim >= r.link)
        return Decision(event_id, linked, score, tuple(e for _, e in admitted[1:]))

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
            if other in self.events and self._alike(event_id, other):
                survivor, folded = min(event_id, other), max(event_id, other)
                for moved in sorted(self.events[folded]):
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

    def _alike(self, a: int, b: int) -> bool:
        """Whether events ``a`` and ``b`` are as alike between them as within them."""
        ia, ib = sorted(self.events[a]), sorted(self.events[b])
        sa = _sum(self._fresh(self.members[i]).vector for i in ia)
        sb = _sum(self._fresh(self.members[i]).vector for i in ib)
        within = [_mean_within(t, len(i)) for t, i in ((sa, ia), (sb, ib)) if len(i) > 1]
        between = _dot(sa, sb) / (len(ia) * len(ib))
        return between >= self.rule.merge * min(within, default=self.rule.mean)

    # -- state -------------------------------------------------------------------------
    def add(
        self, story_id: int, event_id: int, counts: Mapping[str, int], at: float | None
    ) -> None:
        """Record a story in an event (its vector weighed with the statistics before it)."""
        if story_id in self.members:
            self.forget(story_id)
        terms = _interned(counts)
        vector = self.vector(terms)
        self.stats.add(terms)
        self._insert(Member(story_id, event_id, at, terms, vector, self.stats.documents))

    def load(self, rows: Iterable[tuple[int, int, Mapping[str, int], float | None]]) -> None:
        """Rebuild from stored stories (story id, event id, terms, time): statistics first,
        then every vector weighed with them."""
        rows = list(rows)
        for _, _, counts, _ in rows:
            self.stats.add(counts)
        for story_id, event_id, counts, at in rows:
            terms = _interned(counts)
            member = Member(story_id, event_id, at, terms, self.vector(terms), 0)
            member.weighed_at = self.stats.documents
            self._insert(member)
        for event_id, stories in self.events.items():
            self._checked[event_id] = len(stories)

    def _insert(self, member: Member) -> None:
        self.members[member.story_id] = member
        self.events.setdefault(member.event_id, set()).add(member.story_id)
        vector = member.vector
        for term in sorted(vector, key=lambda t: -vector[t])[: self.rule.probe]:
            self.postings.setdefault(term, array("q")).append(member.story_id)
        if member.at is not None and (self.newest is None or member.at > self.newest):
            self.newest = member.at

    def event_of(self, story_id: int) -> int | None:
        member = self.members.get(story_id)
        return member.event_id if member else None

    def move(self, story_id: int, event_id: int) -> None:
        member = self.members.get(story_id)
        if member is None or member.event_id == event_id:
            return
        self._leave(member)
        member.event_id = event_id
        self.events.setdefault(event_id, set()).add(story_id)

    def _leave(self, member: Member) -> None:
        stories = self.events.get(member.event_id)
        if stories is not None:
            stories.discard(member.story_id)
            if not stories:
                del self.events[member.event_id]
                self._checked.pop(member.event_id, None)

    def forget(self, story_id: int) -> None:
        """Drop a story (gone from the database, or out of the window). Its postings stay
        behind, skipped, until enough have piled up to compact them away."""
        member = self.members.pop(story_id, None)
        if member is None:
            return
        self._leave(member)
        self.stats.remove(member.terms)
        self._stale_postings += 1
        if self._stale_postings > max(1000, len(self.members) // 4):
            self._compact()

    def expire(self, now: float | None = None) -> int:
        """Forget the stories older than the window before ``now`` (default: the newest
        time seen); returns how many."""
        now = self.newest if now is None else now
        if now is None:
            return 0
        cutoff = now - self.rule.window
        old = [m.story_id for m in self.members.values() if m.at is not None and m.at < cutoff]
        for story_id in old:
            self.forget(story_id)
        return len(old)

    def _compact(self) -> None:
        members = self.members
        for term in list(self.postings):
            kept = array("q", (s for s in self.postings[term] if s in members))
            if kept:
                self.postings[term] = kept
            else:
                del self.postings[term]
        self._stale_postings = 0

    # -- splits ------------------------------------------------------------------------
    def split_of(self, event_id: int) -> list[int] | None:
        """The stories to move out of the event into a new one, when it is two events.

        Checked when the event has grown by a fifth (at least 3 stories) since its last
        check. Spherical 2-means from the two least alike stories; the means within and
        between the parts come from sums of unit vectors, so a check costs a few passes
        over the stories, not all their pairs."""
        r = self.rule
        ids = sorted(self.events.get(event_id, ()))
        if r.split <= 0 or len(ids) < 2 * r.split_min:
            return None
        last = self._checked.get(event_id, 0)
        if len(ids) < last + max(3, last // 5):
            return None
        self._checked[event_id] = len(ids)
        vectors = {i: self._fresh(self.members[i]).vector for i in ids}
        a = min(ids, key=lambda i: _dot(vectors[ids[0]], vectors[i]))
        b = min(ids, key=lambda i: _dot(vectors[a], vectors[i]))
        centres = [dict(vectors[a]), dict(vectors[b])]
        parts: list[list[int]] = [[], []]
        for _ in range(6):
            parts = [[], []]
            for i in ids:
                side = 0 if _dot(vectors[i], centres[0]) >= _dot(vectors[i], centres[1]) else 1
                parts[side].append(i)
            if min(len(p) for p in parts) < r.split_min:
                return None
            centres = [_sum(vectors[i] for i in p) for p in parts]
        within = min(_mean_within(c, len(p)) for c, p in zip(centres, parts, strict=True))
        between = _dot(centres[0], centres[1]) / (len(parts[0]) * len(parts[1]))
        if within <= 0 or between >= r.split * within:
            return None
        # The part with the event's oldest story keeps the event's id.
        leaving = parts[1] if ids[0] in parts[0] else parts[0]
        self._checked[event_id] = len(ids) - len(leaving)
        return leaving


def _interned(counts: Mapping[str, int]) -> Counter[str]:
    """The terms with one string object per distinct term: the window's stories share
    their words, and each story's vector, terms and postings point at the same strings."""
    return Counter({sys.intern(t): n for t, n in counts.items()})


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def _sum(vectors: Iterable[Mapping[str, float]]) -> Vector:
    out: Vector = {}
    for v in vectors:
        for t, w in v.items():
            out[t] = out.get(t, 0.0) + w
    return out


def _mean_within(total: Mapping[str, float], n: int) -> float:
    """Mean cosine over the pairs of ``n`` unit vectors that sum to ``total``."""
    if n < 2:
        return 0.0
    return (_dot(total, total) - n) / (n * (n - 1))
