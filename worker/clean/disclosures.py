"""Legal disclosures that run longer than a notice: the paragraph a regulator or a
consumer-protection rule makes a site print in its own fixed wording.

``notices`` judges lines of up to 60 words, because an article paragraph that quotes a
notice is longer than the notice. These disclosures are themselves long (an adviser's
registration and risk statement, the consent text under a lead form, a card site's
advertiser disclosure) but each is keyed to a phrase that article prose has no reason to
use: "X is a registered investment adviser", "message and data rates may apply", "this
compensation may impact how and where products appear".

    >>> is_disclosure("Example Wealth, LLC is a Registered Investment Adviser. Advisory "
    ...               "services are only offered to clients where the firm is licensed. " * 3)
    True
    >>> is_disclosure("The fund's manager said message rates had fallen.")
    False
"""

from __future__ import annotations

import re

# A disclosure is a paragraph; a longer line is a page of text run together.
DISCLOSURE_MAX_WORDS = 150

_DISCLOSURES = re.compile(
    r"\b(?:is an? (?:sec[- ])?registered investment advis[eo]r\b"
    r"|message and data rates may apply"
    r"|this compensation may (?:impact|influence|affect) (?:how|which|where)"
    r"|we may be compensated when you click)",
    re.IGNORECASE,
)
# What the pattern cannot match without (lower case): the cheap test for most lines.
_NEEDS = ("registered investment advis", "data rates", "compensat")


def is_disclosure(line: str) -> bool:
    """Whether ``line`` is a regulatory or advertiser disclosure paragraph."""
    low = line.lower()
    if not any(word in low for word in _NEEDS):
        return False
    return len(line.split()) <= DISCLOSURE_MAX_WORDS and _DISCLOSURES.search(line) is not None
