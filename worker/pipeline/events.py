"""The event level in the pipeline: after a batch's stories are decided, in the same
dedup transaction, place the batch's new stories into events.

One ``EventLevel`` per worker process holds the window's event state in memory
(``worker.events.assign.EventIndex``). It is read from the database on first use, and
follows the other workers' placements by ``stories.event_seq``: under the dedup lock, the
placements past the last sequence number it has are everything committed since. When a
transaction it took part in does not commit, the caller calls ``invalidate`` and the next
batch reads the state afresh (the memory may hold what was rolled back).

The interface is one call, ``after_batch(session, story_ids)``, with the ids of the
stories a batch touched: whatever decides the copies, this runs after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from worker import metrics
from worker.clock import utcnow
from worker.config import EventSettings
from worker.events.assign import EventIndex, Placed, Rule
from worker.events.represent import story_terms
from worker.store import events as store

log = logging.getLogger("newsdedup.events")


def rule_for(settings: EventSettings) -> Rule:
    return Rule(
        link=settings.link,
        min_links=settings.min_links,
        mean=settings.mean,
        window=settings.window,
        split=settings.split,
        split_min=settings.split_min,
    )


def _seconds(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class EventLevel:
    def __init__(self, settings: EventSettings) -> None:
        self.settings = settings
        self.rule = rule_for(settings)
        self.index: EventIndex | None = None
        self.seq = 0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the memory: a transaction that placed stories did not commit."""
        with self._lock:
            self.index = None

    def _load(self, session: Session) -> EventIndex:
        started = time.perf_counter()
        newest = store.newest(session)
        since = (newest or utcnow()) - timedelta(seconds=self.rule.window)
        self.seq = store.last_seq(session)  # under the dedup lock: nothing comes between
        index = EventIndex(self.rule)
        index.load(
            (r.story_id, r.event_id, r.terms, _seconds(r.at)) for r in store.window(session, since)
        )
        log.info(
            "events: %d stories of %d events in memory, read in %.1f s",
            len(index), index.event_count, time.perf_counter() - started,
        )  # fmt: skip
        return index

    def _follow(self, session: Session, index: EventIndex) -> None:
        """Take in what other workers placed since this one last looked."""
        for row in store.changes_since(session, self.seq):
            if index.event_of(row.story_id) is None:
                index.add(row.story_id, row.event_id, row.terms, _seconds(row.at))
            else:
                index.move(row.story_id, row.event_id)
            self.seq = max(self.seq, row.seq)

    def after_batch(self, session: Session, story_ids: Collection[int]) -> list[Placed]:
        """Place the stories among ``story_ids`` that have no event yet, in the caller's
        dedup transaction; what was done, in story order."""
        if not self.settings.enabled or not story_ids:
            return []
        with self._lock, metrics.stage("events", len(story_ids)):
            todo = store.unplaced(session, story_ids)
            if not todo:
                return []
            if self.index is None:
                self.index = self._load(session)
            index = self.index
            self._follow(session, index)
            now = utcnow()
            touched: set[int] = set()
            placed = []
            placements = store.Placements(session)
            # Nothing in this transaction deletes or merges stories from here on: one found
            # live stays so, and the batch's own are.
            live = {story.story_id for story in todo}
            for story in todo:
                counts = story_terms(story.title, story.text)
                when = min(story.at, now)  # a date in the future is not news yet
                at = _seconds(when)
                decision = index.decide(counts, at)
                unknown = [s for s, _ in decision.links if s not in live]
                found = store.existing(session, unknown)
                live |= found
                gone = set(unknown) - found
                if gone:  # stories folded into others by a copy-level merge
                    for story_id in gone:
                        index.forget(story_id)
                    decision = index.decide(counts, at)
                result = index.place(
                    story.story_id,
                    counts,
                    at,
                    lambda: store.new_event(session, now),
                    decision,
                )
                self._write(session, placements, result, when, counts, now)
                touched |= {result.event_id, *result.merged}
                if result.split_into is not None:
                    touched.add(result.split_into)
                placed.append(result)
            placements.flush()
            store.refresh_counts(session, touched, now)
            index.expire()  # by the newest time seen, as the rebuild reads the window
            return placed

    def _write(
        self,
        session: Session,
        placements: store.Placements,
        result: Placed,
        at: datetime,
        counts: dict[str, int],
        now: datetime,
    ) -> None:
        self.seq += 1
        placements.add(result.story_id, result.event_id, self.seq, at, counts)
        if result.merged or result.split_into is not None:
            placements.flush()  # a merge or a split moves stories by their event
        for folded in result.merged:
            self.seq += 1
            moved = store.fold(session, folded, result.event_id, self.seq)
            store.record_change(session, "merge", folded, result.event_id, result.story_id,
                                moved, now)  # fmt: skip
        if result.split_into is not None:
            self.seq += 1
            store.move(session, result.split_stories, result.split_into, self.seq)
            store.record_change(session, "split", result.event_id, result.split_into,
                                result.story_id, len(result.split_stories), now)  # fmt: skip
