"""Sanitise HTML that is stored or returned: nothing executable survives.

>>> sanitize_html('<p onclick="x()">Hi<script>alert(1)</script> <a href="javascript:x">y</a></p>')
'<p>Hi <a rel="noopener noreferrer">y</a></p>'
>>> plain_text('Tom &amp; <b>Jerry</b><!-- <script> --><script>x()</script>')
'Tom & Jerry'
"""

from __future__ import annotations

import html

import nh3

_URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(html: str) -> str:
    """Allow-list clean with nh3 (ammonia): no script/style, no event handlers, no
    ``javascript:``/``data:`` URLs; links get ``rel="noopener noreferrer"``."""
    if not html:
        return ""
    return nh3.clean(html, url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer")


def plain_text(value: str) -> str:
    """Text of an HTML fragment on one line: for fields stored as plain text (titles,
    authors), where feedparser may hand back markup, comments or script bodies."""
    if not value:
        return ""
    if "<" not in value and "&" not in value:
        return " ".join(value.split())
    return " ".join(html.unescape(nh3.clean(value, tags=set())).split())
