"""Which article of a story downstream tools see as the canonical one, and the one place
it is chosen again after a story's articles change (``refresh_stories``; ``split_story``).

>>> from datetime import datetime, UTC
>>> a = ArticleFacts(1, datetime(2024, 1, 1, tzinfo=UTC), priority=0, text_length=900)
>>> b = ArticleFacts(2, datetime(2024, 1, 2, tzinfo=UTC), priority=5, text_length=1500)
>>> [choose_canonical([a, b], p) for p in ("earliest", "priority", "longest")]
[1, 2, 2]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from worker.dedup.protocol import DedupStore
from worker.dedup.records import StoryState
from worker.limits import plausible_published


@dataclass(frozen=True)
class ArticleFacts:
    article_id: int
    seen: datetime  # published time when the feed gives one, else first fetched
    priority: int
    text_length: int


def seen_time(published: datetime | None, fetched: datetime) -> datetime:
    """When an article counts as first out, for ``earliest``: its published time when it
    is plausible (1990 up to a day after the fetch, ``worker.limits``), else its fetch
    time. A date of 0001-01-01 made an attacker's copy every story's canonical.

    >>> from datetime import UTC
    >>> fetched = datetime(2026, 3, 1, tzinfo=UTC)
    >>> seen_time(datetime(1, 1, 1, tzinfo=UTC), fetched) == fetched
    True
    """
    return plausible_published(published, fetched) or fetched


def _sort_key(facts: ArticleFacts, policy: str) -> tuple[object, ...]:
    earliest = (facts.seen, facts.article_id)
    if policy == "priority":
        return (-facts.priority, *earliest)
    if policy == "longest":
        return (-facts.text_length, *earliest)
    return earliest


def choose_canonical(articles: Sequence[ArticleFacts], policy: str) -> int:
    """Article id of the canonical article under ``policy`` (earliest, priority, longest).

    Deterministic: ties fall back to the earliest, then the lowest id, so every worker
    picks the same canonical from the same members.
    """
    if not articles:
        raise ValueError("a story has at least one article")
    return min(articles, key=lambda f: _sort_key(f, policy)).article_id


def refresh_stories(
    store: DedupStore,
    story_ids: Collection[int],
    canonical_policy: str,
    priorities: Mapping[int, int],
) -> None:
    """Recount each story's variants and choose its canonical article again
    (``canonical_policy``; ``priorities`` by feed id); a story left without articles is
    deleted."""
    members = store.members(story_ids)
    states = []
    for story_id in sorted(members):
        rows = members[story_id]
        facts = [
            ArticleFacts(
                m.article_id,
                # An implausible published time (0001-01-01, 9999) does not count.
                seen_time(m.published_at, m.fetched_at),
                priorities.get(m.feed_id, 0),
                m.text_length,
            )
            for m in rows
        ]
        seen = [m.fetched_at for m in rows]
        canonical = choose_canonical(facts, canonical_policy)
        states.append(StoryState(story_id, canonical, len(rows), min(seen), max(seen)))
    store.refresh(states, [s for s in story_ids if s not in members])


def split_story(
    store: DedupStore,
    story_id: int,
    article_ids: Sequence[int],
    reason: str,
    canonical_policy: str,
    priorities: Mapping[int, int],
) -> int:
    """Move ``article_ids`` out of ``story_id`` into a new story (``DedupStore.split``) and
    choose both stories' canonical articles again; the new story's id."""
    new_story = store.split(story_id, article_ids, reason)
    refresh_stories(store, [story_id, new_story], canonical_policy, priorities)
    return new_story


def merge_stories(
    store: DedupStore,
    survivor: int,
    folded: Sequence[int],
    reason: str,
    canonical_policy: str,
    priorities: Mapping[int, int],
) -> None:
    """Fold ``folded`` into ``survivor`` (``DedupStore.merge``) and choose the survivor's
    canonical article again."""
    store.merge(survivor, folded, reason)
    refresh_stories(store, [survivor], canonical_policy, priorities)
