"""When to poll a feed next: its interval, lower-bounded by what the server asks for
(Retry-After, Cache-Control max-age, RSS <ttl>), and capped exponential backoff with jitter
after failures. Pure; the scheduler and the store call it.

    >>> import random
    >>> next_delay(900, failures=0, rng=random.Random(1), jitter=0)
    900.0
    >>> next_delay(900, failures=3, rng=random.Random(1), jitter=0, max_backoff=3600)
    3600.0
    >>> next_delay(60, failures=0, retry_after=600, rng=random.Random(1), jitter=0)
    600.0
"""

from __future__ import annotations

import random
import re

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.I)
# A server may ask us to slow down, but not to stop: this caps any asked-for delay.
MAX_ASKED_DELAY = 24 * 3600.0


def cache_max_age(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def next_delay(
    interval: float,
    *,
    failures: int = 0,
    retry_after: float | None = None,
    ttl: float | None = None,
    max_age: float | None = None,
    max_backoff: float = 6 * 3600.0,
    jitter: float = 30.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll."""
    rng = rng or random.Random()
    delay = interval
    if failures > 0:
        # Capped exponential backoff; at the cap the feed keeps being retried, never dropped.
        delay = min(max(interval, max_backoff), interval * (2 ** min(failures, 20)))
        delay = max(interval, min(delay, max_backoff))
    for asked in (retry_after, ttl, max_age):
        if asked is not None:
            delay = max(delay, min(asked, MAX_ASKED_DELAY))
    if jitter > 0:
        delay += rng.uniform(0, min(jitter, delay / 4))
    return float(delay)
