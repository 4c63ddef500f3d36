"""Chrome lines that are written as sentences: legal notices, disclaimers, promotions.

The line rules of ``chrome`` catch short lines (buttons, labels, counters). What is left
after them is boilerplate that reads like prose, in kinds whose wording recurs across many
sites (``scripts/rule_sites.py`` keeps only such rules):

* legal notices of wire copy and sites ("Copyright 2007 The Agency. All rights reserved.
  This material may not be published, broadcast, rewritten or redistributed.");
* finance and shopping disclosures ("As an Amazon Associate ...", "Member FDIC");
* prompts: "follow us on <social network>", appeals for support, comment and log-in forms,
  "Join our mailing list", "If you enjoyed this post, please share ...", a paragraph that
  ends "Sign up for our newsletters.", sponsorship calls, rating prompts;
* markup that a broken page shows as text (``<A``, ``TARGET="_top"``), and "Story
  continues below" markers left by ad slots.

Each pattern matches a whole line (``fullmatch``) of at most ``NOTICE_MAX_WORDS`` words: an
article paragraph that *quotes* such a phrase is longer than the notice itself. A
*disclosure* (``is_disclosure``) may run longer, up to ``DISCLOSURE_MAX_WORDS``: the
paragraph a regulator makes a site print in its own fixed wording ("X is a registered
investment adviser", "Message and data rates may apply"), found anywhere in the line.

    >>> is_notice("Copyright 2007 The Agency. All rights reserved. This material may not "
    ...           "be published, broadcast, rewritten or redistributed.")
    True
    >>> is_notice("The agency said the material may not be published until Monday, when "
    ...           "the court rules on the request of the family and the newspaper's lawyers "
    ...           "argue that the public has a right to read the letters in full.")
    False
"""

from __future__ import annotations

import re

_I = re.IGNORECASE
# A notice is a sentence or three; a paragraph longer than this is article text.
NOTICE_MAX_WORDS = 60

_SOCIAL = (
    r"(?:facebook|twitter|instagram|pinterest|youtube|tiktok|linkedin|threads|bluesky"
    r"|mastodon|snapchat|social media|x)"
)
_REDISTRIBUTE = r"(?:re)?(?:published|broadcast|rewritten|redistributed|reproduced|distributed)"

# Whole-line patterns (case-insensitive fullmatch of the stripped line).
_NOTICE_PATTERNS = [
    # copyright and redistribution notices, also when a line break cuts them
    r".{0,200}(?:©|\(c\)|\bcopyright\b|\b\d{4}\b).{0,200}\ball rights reserved\b.{0,250}",
    r".{0,200}\ball rights reserved\W*",
    r".{0,200}\b(?:may not|must not|cannot) be "
    + _REDISTRIBUTE
    + r"(?:,? (?:or |and )?"
    + _REDISTRIBUTE
    + r")+\b.{0,200}",
    r"(?:" + _REDISTRIBUTE + r",? ){1,3}(?:or|and) " + _REDISTRIBUTE + r"\b.{0,100}",
    # finance and shopping disclosures
    r".{0,200}\b(?:as an amazon associate|supported by commissions|registered investment"
    r" advis[eo]r|not fdic insured|member fdic|financial compensation)\b.{0,250}",
    # social follow prompts (the line's point, not a clause at the end of a paragraph)
    # and appeals for support
    r".{0,120}\b(?:follow|find|join|like|subscribe to) (?:us|me|[\w'’.&-]+"
    r"(?: [\w'’.&-]+){0,3}) on (?:" + _SOCIAL + r")\b.{0,200}",
    r".{0,200}\b(?:please (?:consider )?(?:subscrib|donat)\w*|please consider (?:lik|shar)\w*"
    r"|support us by|funded by readers|reader-supported|donating a small amount)\b.{0,200}",
    # comment and log-in forms
    r".{0,200}\b(?:create an account|log ?in|sign ?in|sign up|registered (?:member|user))\b"
    r".{0,60}\bto (?:comment|post|leave (?:a )?comments?|read (?:this|the full) (?:story"
    r"|article)|continue reading|reply|join the (?:discussion|conversation))\b.{0,200}",
    r"(?:\W*(?:please|to|you can|you may))? ?(?:post|submit|add|leave) (?:a |your )?"
    r"comments?\b.{0,120}",
    r".{0,100}\bby clicking (?:on )?.{0,40}\byou (?:acknowledge|agree|accept)\b.{0,200}",
    r".{0,100}\b(?:not a (?:member|subscriber|registered user)(?: yet)?\?|already (?:have an "
    r"account|a (?:member|subscriber)|registered)|if you have already created an account)"
    r".{0,200}",
    r".{0,200}\b(?:offensive|inappropriate)(?: or (?:offensive|inappropriate|abusive))? "
    r"(?:comments?|posts?)\b.{0,200}",
    # share and newsletter prompts inside a sentence or two
    r".{0,60}\bshare (?:it|this(?: story| article| post)?) with (?:a friend|your friends"
    r"|friends)\b.{0,100}",
    r".{0,80}\b(?:sign up|subscribe)\b.{0,80}\b(?:newsletter|inbox)\b.{0,100}",
    r".{0,400}[.!?]\s+(?:sign up|subscribe)\b[^.!?]{0,80}\bnewsletters?\W*",
    r"(?:join|subscribe to|sign up for) (?:our|my|the) (?:mailing list|newsletter|email list)"
    r"\b.{0,200}",
    r".{0,200}\bif you (?:liked|enjoyed|like|enjoy|love|loved) (?:this|the|my|our) (?:article"
    r"|post|story|episode|newsletter|podcast|video|piece|issue)\b.{0,80}\b(?:please|consider"
    r"|subscrib\w*|shar\w*|support)\b.{0,300}",
    r".{0,200}\b(?:sponsorship opportunities|advertise with us|advertising with us"
    r"|become a sponsor|sponsor (?:this|our|the) (?:newsletter|podcast|show))\b.{0,200}",
    # rating prompts and ad slots
    r".{0,150}\b(?:leave a (?:star )?rating|rate this (?:recipe|article|story|post))\b.{0,200}",
    r"\(?(?:story|article) continues (?:below|after (?:this )?(?:ad|advertisement))\)?"
    r"|(?:advertisement\W*)?continue reading (?:below|the (?:main )?story)",
]
# What each pattern above cannot match without (lower case): most lines hold none of a
# pattern's words, and a substring test is far cheaper than the backtracking match.
_SOCIAL_WORDS = (
    "facebook", "twitter", "instagram", "pinterest", "youtube", "tiktok", "linkedin",
    "threads", "bluesky", "mastodon", "snapchat", "social media", "on x",
)  # fmt: skip
_NEEDS: list[tuple[str, ...]] = [
    ("all rights reserved",),
    ("all rights reserved",),
    ("may not be", "must not be", "cannot be"),
    ("published", "broadcast", "rewritten", "distributed", "reproduced"),
    ("amazon associate", "by commissions", "investment advis", "fdic", "financial compensation"),
    _SOCIAL_WORDS,
    ("please", "support us by", "funded by readers", "reader-supported", "donating a small"),
    ("to comment", "to post", "to leave", "to read", "to continue", "to reply", "to join"),
    ("comment",),
    ("by clicking",),
    ("not a ", "already"),
    ("offensive", "inappropriate"),
    ("share it", "share this"),
    ("newsletter", "inbox"),
    ("newsletter",),
    ("mailing list", "newsletter", "email list"),
    ("if you ",),
    ("sponsor", "advertis"),
    ("rating", "rate this"),
    ("continue",),
]
_NOTICES = [(needs, re.compile(p, _I)) for needs, p in zip(_NEEDS, _NOTICE_PATTERNS, strict=True)]


# Markup of an ad slot shown as text (a broken ``document.write`` or comment): link and
# image tags and their attributes, nothing else. Code samples in articles show other tags
# and attributes ("<div className=...>", "type=\"text\""), which stay.
_AD_TAGS = r"(?:a|img|iframe|embed|object|param|script|noscript|ilayer|layer)"
_AD_ATTRS = r"(?:href|src|target|border|alt|width|height|hspace|vspace|align)"
# One token at a time, each tried where the last one ended (``re.sub``): a single pattern
# repeating optional tokens, as this was, backtracked exponentially on a long run of ad
# markup ("<a" and 12 '%]"' took 33 s; a 1,670-character table cell of link markup never
# ended), so one hostile feed body could stall a worker. An attribute's value is quoted
# only when it holds a space or ">" (else it runs to the next space or ">", quotes and all,
# as an unquoted value does): the same answer as the old pattern on all 485,587 lines with
# markup characters in the AEB, WCXB and spotsigs pages.
_AD_TOKEN = re.compile(
    r"</?" + _AD_TAGS + r"\b"
    r"|/?>"
    r"|\b" + _AD_ATTRS + r"=(?:\"[^\"]*[\s>][^\"]*\"?|'[^']*[\s>][^']*'?|[^\s>]+)"
    r"|[%\]\"]+",
    _I,
)


def is_markup(line: str) -> bool:
    """Whether ``line`` is nothing but ad-slot markup (``<A``, ``BORDER=0></A>``).

    >>> is_markup('<A HREF="http://ads.example/c" TARGET="_blank"><IMG SRC="x.gif" BORDER=0></A>')
    True
    >>> is_markup('<div className="card">')
    False
    """
    return ("<" in line or ">" in line or "=" in line) and not _AD_TOKEN.sub("", line).strip()


def _too_long(stripped: str) -> bool:
    """More than ``NOTICE_MAX_WORDS`` words (a line this short cannot hold that many)."""
    if len(stripped) <= 2 * NOTICE_MAX_WORDS:
        return False
    return len(stripped.split(None, NOTICE_MAX_WORDS)) > NOTICE_MAX_WORDS


def is_notice(line: str) -> bool:
    """Whether ``line`` is a legal notice, disclaimer, promotion or stray markup."""
    stripped = line.strip()
    if _too_long(stripped):
        return False
    if is_markup(stripped):
        return True
    low = stripped.lower()
    for needs, pattern in _NOTICES:
        for word in needs:
            if word in low:
                if pattern.fullmatch(stripped):
                    return True
                break
    return False


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
_DISCLOSURE_NEEDS = ("registered investment advis", "data rates", "compensat")


def is_disclosure(line: str) -> bool:
    """Whether ``line`` is a regulatory or advertiser disclosure paragraph."""
    low = line.lower()
    if not any(word in low for word in _DISCLOSURE_NEEDS):
        return False
    return len(line.split()) <= DISCLOSURE_MAX_WORDS and _DISCLOSURES.search(line) is not None
