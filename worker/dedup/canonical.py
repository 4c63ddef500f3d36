"""Which article of a story downstream tools see as the canonical one.

>>> from datetime import datetime, UTC
>>> a = ArticleFacts(1, datetime(2024, 1, 1, tzinfo=UTC), priority=0, text_length=900)
>>> b = ArticleFacts(2, datetime(2024, 1, 2, tzinfo=UTC), priority=5, text_length=1500)
>>> [choose_canonical([a, b], p) for p in ("earliest", "priority", "longest")]
[1, 2, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
