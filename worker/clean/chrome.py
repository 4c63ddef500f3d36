"""Text-level chrome removal: lines that extraction leaves in but no reader counts as the
article (comment forms, "source site" footers, share counters, photo credits, mastheads,
disclaimers, "You may like" rails).

Rules come in two strengths:

* *hard* lines are chrome wherever they stand ("Leave a Reply", "Photo: ...", "source site",
  a line that is only a share count; pointers such as "READ MORE: ..." and "Next article:
  ...", buttons such as "Sign up" or "Book a demo" alone on a line, newsletter prompts,
  "5 min read", "Written by ..." bylines);
* *soft* lines (short navigation words such as "Latest", a masthead, a date stamp) are chrome
  only inside a run of non-sentence lines at the head or the tail of the text that also holds a
  hard line, so a sub-heading called "Latest" inside an article stays.

    >>> strip_chrome("The Daily Sample\\nNow you can see non-English news...\\n"
    ...              "Rain fell on the city all day.\\n0\\n23\\nLeave a Reply\\n"
    ...              "Your email address will not be published. Required fields are marked *")
    'Rain fell on the city all day.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from worker.clean.learned import line_key
from worker.clean.notices import is_disclosure, is_notice
from worker.clean.prefilter import LineRules

_I = re.IGNORECASE

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"

# Buttons alone on a line: sign-up, log-in, demo and quote calls to action.
_BUTTON_PATTERN = (
    r"(?:sign (?:up|in)|log ?in|register|subscribe|book a demo|get started|apply now"
    r"|request a (?:quote|demo)|get a (?:free )?quote|view on \w+|buy now|shop now|learn more"
    r"|download now|join now)(?: [\w']+){0,4}[.!]?"
)
# Photo credits ("Photo: Jane Doe / Agency", "PHOTO JANE DOE, AGENCY").
_CREDIT_PATTERNS = (
    r"(?:photo|image|picture|foto|credit|photograph|illustration)s?\s*(?::|/|\||©).{0,200}",
    r"(?:photo|image)\s+[A-Z][A-Z .,'\-]{2,120}",  # "PHOTO JANE DOE, AGENCY"
)

# Whole-line patterns (matched with fullmatch against the stripped line).
_HARD_LINE_PATTERNS = [
    # pointers to other pages: "READ MORE: ...", "Related: ...", "Next article: ..."
    r"(?:(?:read|see|watch|listen) (?:more|also|next)|also read|read|related(?: \w+)?"
    r"|don'?t miss|next article|previous article|next post|previous post|up next"
    r"|you (?:may|might) (?:also )?(?:like|enjoy))\s*:.{0,150}",
    r"don'?t miss(?: this)?|table of contents|advertisement|tags?",
    # titles of rails of other pages
    r"(?:most|recently) (?:read|popular|viewed|emailed|e-mailed|commented|shared|watched)"
    r"(?: (?:stories|articles|news|videos|now|today|this week))?"
    r"|(?:related|sponsored|partner|popular|other|recent|featured) (?:news|stories|articles|links"
    r"|videos|headlines|news sources|blogs?|forum topics|content)"
    r"(?: (?:from|around|on) (?:the web|our partners|partners|the network))?"
    r"|(?:more )?(?:from|around) the web|powered by [\w.\- ]{1,40}|breaking news alerts",
    # a wire agency alone on a line, or as a byline
    r"\(?(?:the )?(?:associated press|reuters|agence france-presse|afp|ap|upi)\)?"
    r"(?: (?:staff )?writers?)?",
    r"[-•·]?\s*\d+\s*min(?:ute)?s?\s+read",
    # a dateline alone: "August 08, 2018", "Tuesday, 19 November 2019 10:15"
    r"(?:(?:updated|published|posted)(?: on| at)?:? )?(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri"
    r"|sat(?:ur)?|sun)(?:day)?,? )?(?:\d{1,2}(?:st|nd|rd|th)? " + _MONTH + r"\.? \d{4}"
    r"|" + _MONTH + r"\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4})"
    r"(?:,? (?:at )?\d{1,2}[:.]\d{2}(?: ?[ap]\.?m\.?)?(?: [a-z]{2,4})?)?",
    r"(?:written|posted|published|reviewed|edited) by [\w .,'\-]{2,60}(?: (?:on|at) .{0,40})?",
    r"skip to (?:the )?(?:main )?content|back to (?:top|home|all [\w ]{1,20}|\w+)",
    # calls to action standing alone: sign-up, log-in, demo and quote buttons
    _BUTTON_PATTERN,
    # newsletter and membership prompts
    r"(?:sign up|subscribe|join|get|want)\b.{0,100}\b(?:newsletter|mailing list|inbox"
    r"|sent to your email|updates from)\b.{0,60}",
    # comment forms
    r"leave a (?:reply|comment)|(?:\d+ )?comments?|post (?:a )?comment|add (?:a )?comment",
    r".*your email address will not be published\.?.*",
    # source / provenance footers of aggregators
    r"source site(?:-\d+)?|source ?: ?[\w.\- ]{1,40}|\(?via:? [\w.\- ]{1,40}\)?",
    r"all (?:news |the )?(?:articles|stories|news|posts)(?: published| from)? on \d{4}-\d{2}-\d{2}",
    r"(?:©|\(c\)|copyright\s*(?:©|\(c\)|\d{4})).{0,80}",
    r".{0,40}all rights reserved\.?.{0,40}",
    # share counters; print, reprint, pin and follow buttons
    r"[\d.,]{1,7}[km]?",
    r"print (?:this )?(?:article|story|page)|order reprints|reprints?(?: (?:&|and) permissions)?"
    r"|pin (?:it|this|for later)(?: now)?!?|follow us(?: on [\w ]{1,30})?!?|share your story",
    # photo and image credits / controls
    *_CREDIT_PATTERNS,
    r"enlarge (?:image|photo|picture)|(?:open|view) (?:gallery|image|photo)s?|zoom",
    # "non-English news" / language notices of aggregator mastheads
    r"now you can (?:see|read|follow|get) .{0,60}(?:news|articles|stories|languages?)\b.{0,40}"
    r"|(?:this|the) article is (?:also )?available in \w+.*",
    # disclaimers of republishing sites
    r".*information on this site is from external sources.*",
    r".*inclusion of any links does not necessarily imply a recommendation.*",
    r".*(?:is|are) not under our control\.?",
    # a stray punctuation or bullet line
    r"[\W_]{1,3}",
    # date or time stamp alone on a line: 2022-01-06T21:01:48.220Z, 06.01.2022 21:01
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}"
    r"(?: \d{1,2}:\d{2})?",
    # the site's own channel: "Get the latest news about our events"
    r"(?:get|receive) (?:all )?(?:the )?latest (?:news|updates|articles|stories|insights|posts)"
    r"\b.{0,100}",
]


# Each list as one matcher: the same answer as trying its patterns one by one, with
# shortcuts read off the patterns (worker.clean.prefilter).
_HARD = LineRules(_HARD_LINE_PATTERNS)
# A list item reads like a credit ("- Manicure/pedicure"), a caption ("- Photo editing") or a
# button ("- Get started with maps") as article text does: those rules judge lines only.
_HARD_ITEM = LineRules(
    p for p in _HARD_LINE_PATTERNS if p not in _CREDIT_PATTERNS and p != _BUTTON_PATTERN
)
_BULLETS = "-•·*–"
_BULLET = re.compile(f"^[{_BULLETS}]\\s+")
_HEADER_RULE = re.compile(r"\|(?:\s*:?-+:?\s*\|)+")
_SENTENCE_END = re.compile(r"[.!?…:;\"”»)\]']$")
# A short line without sentence punctuation at an edge of the text (masthead, rail title).
_EDGE_MAX_WORDS = 5
# This many short lines in a row beside a chrome line are a menu wherever they stand.
MENU_RUN_LINES = 8
_MENU_ENTRY = re.compile(r"[^\W\d_][\w&'’.-]*(?: [\w&'’.-]+){0,3}")


@dataclass(frozen=True)
class ChromeRules:
    """Per-feed additions to the built-in rules. Pure data: pass it to ``strip_chrome``."""

    extra_patterns: tuple[str, ...] = ()
    learned_keys: frozenset[str] = frozenset()

    def compiled(self) -> list[re.Pattern[str]]:
        return [re.compile(p, _I) for p in self.extra_patterns]


def _table_cells(line: str) -> list[str] | None:
    """The non-empty cells of a table row as extraction writes it (``| a | b |``)."""
    if not (line.startswith("|") and line.endswith("|") and len(line) > 1):
        return None
    return [c.strip() for c in line[1:-1].replace("\\|", " ").split("|") if c.strip()]


def _is_chrome_line(line: str, rules: LineRules = _HARD) -> bool:
    return rules.matches(line) or is_notice(line) or is_disclosure(line)


def is_hard_chrome(line: str, extra: Iterable[re.Pattern[str]] = ()) -> bool:
    whole = line.strip()
    # A list item is judged by its text: "- Share on Facebook" is a share button.
    stripped = _BULLET.sub("", whole) if whole and whole[0] in _BULLETS else whole
    patterns = _HARD if stripped == whole else _HARD_ITEM
    cells = _table_cells(stripped)
    if cells is not None:
        # A row of a menu, ad or rail table: nothing in it but chrome (or nothing at all);
        # a header rule ("|---|---|") keeps its table readable.
        if not _HEADER_RULE.fullmatch(stripped) and all(_is_chrome_line(c) for c in cells):
            return True
    elif _is_chrome_line(stripped, patterns):
        return True
    return any(p.search(whole) for p in extra)


def _is_soft(line: str) -> bool:
    """A line of a few words that does not end like a sentence: a masthead, a rail title
    ("You may like"), a navigation entry ("Latest"), a date stamp."""
    stripped = line.strip().rstrip(":")
    # (At most this many words: splitting off one more tells.)
    words = stripped.split(None, _EDGE_MAX_WORDS)
    return len(words) <= _EDGE_MAX_WORDS and not _SENTENCE_END.search(stripped)


def _edge_run(lines: list[str], hard: list[bool], indices: Iterable[int]) -> list[int]:
    """Indices of the leading run of chrome-or-soft lines, if the run holds a chrome line."""
    run: list[int] = []
    holds_hard = False
    last_hard = -1
    for i in indices:
        # Softness is only asked of the lines an edge run reaches.
        if not (hard[i] or _is_soft(lines[i])):
            break
        run.append(i)
        if hard[i]:
            holds_hard = True
            last_hard = len(run)
    # Soft lines beyond the last hard one may be the headline or a sub-heading: keep them.
    return run[:last_hard] if holds_hard else []


def _menu_runs(lines: list[str], hard: list[bool]) -> list[int]:
    """Indices of menus inside the text: at least ``MENU_RUN_LINES`` menu entries in a row
    (a few plain words, no list bullet, no figures or code), next to or holding a chrome
    line that has words (a figure between table cells does not count)."""
    found: list[int] = []
    run: list[int] = []
    for i in range(len(lines) + 1):
        if i < len(lines) and _MENU_ENTRY.fullmatch(lines[i]) and _is_soft(lines[i]):
            run.append(i)
            continue
        if len(run) >= MENU_RUN_LINES:
            edges = [j for j in (run[0] - 1, i) if 0 <= j < len(lines)]
            if any(hard[j] and _MENU_ENTRY.match(lines[j]) for j in run + edges):
                found += run
        run = []
    return found


def strip_chrome(text: str, rules: ChromeRules | None = None) -> str:
    """Remove chrome lines from ``text`` (one paragraph per line); article lines stay in order."""
    rules = rules or ChromeRules()
    extra = rules.compiled()
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    learned = rules.learned_keys
    hard = [is_hard_chrome(line, extra) or line_key(line) in learned for line in lines]
    drop = {i for i, chrome in enumerate(hard) if chrome}
    drop.update(_edge_run(lines, hard, range(len(lines))))
    drop.update(_edge_run(lines, hard, range(len(lines) - 1, -1, -1)))
    drop.update(_menu_runs(lines, hard))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


def chrome_lines(text: str, rules: ChromeRules | None = None) -> list[str]:
    """The lines ``strip_chrome`` would remove (for reports and tests)."""
    kept = strip_chrome(text, rules).split("\n")
    remaining = list(kept)
    removed = []
    for line in (ln.strip() for ln in text.split("\n") if ln.strip()):
        if remaining and remaining[0] == line:
            remaining.pop(0)
        else:
            removed.append(line)
    return removed
