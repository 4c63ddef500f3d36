"""Sanitise HTML that is stored or returned: nothing executable survives.

>>> sanitize_html('<p onclick="x()">Hi<script>alert(1)</script> <a href="javascript:x">y</a></p>')
'<p>Hi <a rel="noopener noreferrer">y</a></p>'
"""

from __future__ import annotations

import nh3

_URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(html: str) -> str:
    """Allow-list clean with nh3 (ammonia): no script/style, no event handlers, no
    ``javascript:``/``data:`` URLs; links get ``rel="noopener noreferrer"``."""
    if not html:
        return ""
    return nh3.clean(html, url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer")
