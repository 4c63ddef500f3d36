"""Splits of benchmark pages by site, so a cleaner is scored on sites it never saw.

Splitting pages by id puts pages of one site, and pages of one kind, on both sides; what a
cleaner learned from a site's chrome then looks like generalisation. Here every page of a
site (its host, without ``www.``) falls in the same fold: the folds are the sites sorted by
a hash of their name and dealt round-robin, so they are fixed, balanced in sites and the
same on every machine.

    >>> site_key("https://WWW.Example.org/a/b", "aeb:1"), site_key(None, "aeb:1")
    ('example.org', 'aeb:1')
    >>> assign_folds(["a.com", "b.org", "a.com", "c.net"], 2)
    [0, 1, 0, 0]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import urlsplit


def site_key(url: str | None, fallback: str) -> str:
    """The site a page belongs to: its host, lower case, without ``www.``; ``fallback``
    when the benchmark gives no address (a site of its own)."""
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        host = ""
    return host.removeprefix("www.") or fallback


def assign_folds(sites: Sequence[str], k: int) -> list[int]:
    """The fold (``0 .. k-1``) of each page, given each page's site."""
    if k < 2:
        raise ValueError("folds: at least 2")
    order = sorted(set(sites), key=lambda s: (hashlib.sha256(s.encode()).hexdigest(), s))
    fold = {site: i % k for i, site in enumerate(order)}
    return [fold[s] for s in sites]
