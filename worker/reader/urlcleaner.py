"""Canonical URLs: the form used as identity, so one article reached through tracking
links, default ports or fragments is still one article.

    >>> canonical_url("HTTPS://Example.COM:443/a/./b?utm_source=rss&id=3&fbclid=x#comments")
    'https://example.com/a/b?id=3'
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from courlan import normalize_url

# courlan already strips utm_*, fbclid, gclid, mc_*, ref, source...; these are the
# parameters news sites add for share/RSS attribution that it keeps.
_EXTRA_TRACKERS = re.compile(
    r"^(?:at_[a-z_]+|cmpid|ocid|ncid|icid|smid|share|s_cid|spm|sr_share|taid|__twitter_impression"
    r"|rss|feed|amp|output|from|via|_hsenc|_hsmi|hsctatracking|mbid|cid|intcmp|wt\.[a-z_]+)$",
    re.IGNORECASE,
)


def _drop_trackers(query: str) -> str:
    if not query:
        return ""
    kept = []
    for pair in query.split("&"):
        key = pair.split("=", 1)[0]
        if key and not _EXTRA_TRACKERS.match(key):
            kept.append(pair)
    return "&".join(kept)


def canonical_url(url: str, base: str | None = None) -> str:
    """Normalise ``url`` (resolved against ``base``) for use as an identity key.

    Lower-cases scheme and host, drops default ports, dot segments, fragments (except
    ``#!`` routes) and tracking parameters, and sorts the remaining query. Returns ``""``
    for something that is not an http(s) URL.
    """
    url = (url or "").strip()
    if not url:
        return ""
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    path = parts.path or "/"
    normal_path = posixpath.normpath(path)
    if path.endswith("/") and not normal_path.endswith("/"):
        normal_path += "/"
    if normal_path.startswith("//"):
        normal_path = "/" + normal_path.lstrip("/")
    url = urlunsplit((parts.scheme, parts.netloc, normal_path, parts.query, ""))
    try:
        url = normalize_url(url, strict=False)
    except (ValueError, AttributeError):  # courlan rejects some malformed hosts
        return ""
    parts = urlsplit(url)
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path, _drop_trackers(parts.query), fragment)
    )


def host_of(url: str) -> str:
    """Lower-cased host name of ``url`` without ``www.``; ``""`` when there is none."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")
