"""Cleaning: HTML to main text (``extract``), then chrome lines out (``chrome``), with
lines learned per source (``learned``). Pure functions: text in, text out.

    >>> clean_fragment("<p>Storm hits the coast.</p><p>Leave a Reply</p>")
    'Storm hits the coast.'
"""

from __future__ import annotations

from worker.clean.chrome import ChromeRules, strip_chrome
from worker.clean.extract import fragment_to_text, page_to_text

__all__ = ["ChromeRules", "clean_fragment", "clean_page", "strip_chrome"]


def clean_fragment(html: str, rules: ChromeRules | None = None) -> str:
    """Clean text of an article body that a feed carries as HTML."""
    return strip_chrome(fragment_to_text(html), rules)


def clean_page(html: str | bytes, url: str | None = None, rules: ChromeRules | None = None) -> str:
    """Clean text of a whole article web page."""
    return strip_chrome(page_to_text(html, url), rules)
