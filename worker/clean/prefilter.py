"""Fast, exact "does any of these patterns match the whole line" for the line rules.

A line rule list is a few dozen case-insensitive whole-line patterns, and almost every
line of article prose matches none of them. Running each pattern costs a Python call per
pattern per line, and the patterns that start with ``.{0,200}`` or ``.*`` scan and
backtrack over the whole line before they fail. ``LineRules`` gives the same answer as
``any(re.fullmatch(p, line, re.I) for p in patterns)`` with three shortcuts, all derived
from the patterns themselves (so a rule added to a list is covered without more work):

* *width*: a line longer than a pattern's widest match cannot match it;
* *required words*: a set of strings at least one of which every match contains
  (``required_factors``: "affiliate link" or "qualifying purchases" or ...), read off the
  parsed pattern; a line holding none of them cannot match, and a substring test is far
  cheaper than the backtracking match;
* *one alternation*: the other patterns run as one compiled ``(?:p1)|(?:p2)|...``, which
  fully matches a line exactly when one of its alternatives does (patterns with group
  references or flags of their own stay apart).

The required-word test compares lower-cased text; it is exact for every line but those
holding one of the four characters that ``re.IGNORECASE`` matches to an ASCII letter
without being one (``CASE_SPECIALS``: dotted and dotless i, long s, Kelvin sign), which
skip that test (``folded``).

The patterns are read with CPython's regex parser, ``re._parser``: a private module whose
tree may change in any Python release. At import, ``_reader_works`` reads a few probe
patterns and compares with the answers written here; if the module is missing or reads
differently, ``SHORTCUTS`` is false and every ``LineRules`` runs the plain patterns one by
one: the same answers, without the speed.

    >>> rules = LineRules([r"leave a (?:reply|comment)", r".{0,200}\\ball rights reserved\\b.*"])
    >>> rules.matches("Leave a Reply"), rules.matches("2020 Example. All rights reserved.")
    (True, True)
    >>> rules.matches("The editor said all rights were reserved for the family.")
    False
    >>> sorted(required_factors(r".{0,20}\\b(?:affiliate links?|earn commissions?)\\b.*") or ())
    ['affiliate link', 'earn commission']
"""

from __future__ import annotations

import bisect
import importlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any


def _private(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# Private, so only ever read through the checks of _reader_works.
_parser: Any = _private("re._parser")
sre: Any = _private("re._constants")

# Non-ASCII characters that re.IGNORECASE matches to an ASCII character (tests/
# test_prefilter.py checks this against every code point).
CASE_SPECIALS = "\u0130\u0131\u017f\u212a"
_SPECIAL = re.compile(f"[{CASE_SPECIALS}]")

# Bounds of the finite languages enumerated while reading a pattern.
_MAX_STRINGS = 32
_MAX_REPEAT_ENUMERATED = 3
# A required-word set is used when its shortest word has this many characters and it has
# at most this many words (more substring tests cost more than the match they spare).
_MIN_FACTOR = 3
_MAX_FACTORS = 16
# A pattern that opens with a run of any character this long is costly to fail.
_SCAN_LENGTH = 20
# Lines up to this long try every pattern of the alternation (see LineRules).
_SHORT_LINE = 64


def folded(line: str) -> str | None:
    """``line`` lower-cased for the required-word test; ``None`` when the test cannot be
    exact for it (it holds one of ``CASE_SPECIALS``)."""
    if line.isascii() or _SPECIAL.search(line) is None:
        return line.lower()
    return None


@dataclass(frozen=True)
class _Info:
    """What a piece of a pattern can match: ``exact`` is every string it can match (lower
    case, when that language is small and known), ``need`` a set of strings one of which
    every match contains (``None``: nothing known)."""

    exact: frozenset[str] | None
    need: frozenset[str] | None


_UNKNOWN = _Info(None, None)
_EMPTY = _Info(frozenset({""}), None)


def _useful(strings: frozenset[str] | None) -> bool:
    return strings is not None and bool(strings) and "" not in strings


def _minimal(strings: frozenset[str]) -> frozenset[str]:
    """The same requirement with fewer words: a word holding another word of the set is
    present only where that one is."""
    return frozenset(s for s in strings if not any(t != s and t in s for t in strings))


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The stronger of two required-word sets: longer shortest word, then fewer words."""
    a = _minimal(a) if a is not None and _useful(a) else None
    b = _minimal(b) if b is not None and _useful(b) else None
    if a is None or b is None:
        return a if b is None else b
    score_a, score_b = (min(map(len, a)), -len(a)), (min(map(len, b)), -len(b))
    return a if score_a >= score_b else b


def _product(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
    if len(a) * len(b) > _MAX_STRINGS:
        return None
    return frozenset(x + y for x in a for y in b)


def _sequence(items: Iterable[tuple[Any, Any]]) -> _Info:
    run: frozenset[str] = frozenset({""})  # the language of the current run of exact items
    whole_exact = True
    need: frozenset[str] | None = None
    for op, av in items:
        info = _node(op, av)
        need = _better(need, info.need)
        joined = _product(run, info.exact) if info.exact is not None else None
        if joined is not None:
            run = joined
            continue
        # The run so far is one contiguous part of every match: its words are required.
        need = _better(need, run)
        whole_exact = False
        run = info.exact if info.exact is not None else frozenset({""})
    need = _better(need, run)
    return _Info(run if whole_exact else None, need)


def _node(op: Any, av: Any) -> _Info:
    if op is sre.LITERAL:
        char = chr(av)
        return _Info(frozenset({char.lower()}), None) if char.isascii() else _UNKNOWN
    if op is sre.IN:
        if all(o is sre.LITERAL and chr(a).isascii() for o, a in av) and len(av) <= 8:
            return _Info(frozenset(chr(a).lower() for _o, a in av), None)
        return _UNKNOWN
    if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
        return _EMPTY  # zero width: adds nothing to the matched text
    if op is sre.SUBPATTERN:
        return _sequence(av[3])
    if op is sre.ATOMIC_GROUP:
        return _sequence(av)
    if op is sre.BRANCH:
        return _branch([_sequence(alt) for alt in av[1]])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        return _repeat(int(av[0]), int(av[1]), _sequence(av[2]))
    return _UNKNOWN


def _branch(alternatives: Sequence[_Info]) -> _Info:
    exact: frozenset[str] | None = None
    if all(a.exact is not None for a in alternatives):
        union = frozenset().union(*(a.exact for a in alternatives if a.exact is not None))
        exact = union if len(union) <= _MAX_STRINGS else None
    needs = [_better(a.need, a.exact) for a in alternatives]
    need = None
    if all(n is not None for n in needs):
        need = frozenset().union(*(n for n in needs if n is not None))
    return _Info(exact, _better(need, exact))


def _repeat(low: int, high: int, body: _Info) -> _Info:
    exact: frozenset[str] | None = None
    if body.exact is not None and high <= _MAX_REPEAT_ENUMERATED:
        found: set[str] = set()
        power: frozenset[str] | None = frozenset({""})  # the body repeated ``count`` times
        for count in range(high + 1):
            assert power is not None
            if count >= low:
                found |= power
            if count < high:
                power = _product(power, body.exact)
                if power is None:
                    break
        else:
            exact = frozenset(found) if len(found) <= _MAX_STRINGS else None
    need = _better(body.need, body.exact) if low >= 1 else None
    return _Info(exact, _better(need, exact))


def required_factors(pattern: str, flags: int = re.IGNORECASE) -> frozenset[str] | None:
    """Lower-case strings one of which every match of ``pattern`` contains (compare with
    ``folded(line)``); ``None`` when no useful set is known."""
    try:
        need = _sequence(_parser.parse(pattern, flags)).need
    except Exception:  # a private module: without it, no shortcut
        return None
    if need is None or min(map(len, need)) < _MIN_FACTOR or len(need) > _MAX_FACTORS:
        return None
    return need


def max_width(pattern: str, flags: int = re.IGNORECASE) -> int:
    """The widest match of ``pattern`` (``sys.maxsize`` when unbounded or unknown)."""
    try:
        width = int(_parser.parse(pattern, flags).getwidth()[1])
    except Exception:
        return sys.maxsize
    return width if width < int(sre.MAXREPEAT) else sys.maxsize


def _scans(pattern: str, flags: int) -> bool:
    """Whether a failing match of ``pattern`` is costly: it opens with a long run of any
    character (``.{0,200}``, ``.*``, ``[\\w ]{2,60}``), which it tries at every length
    before it fails. Patterns that open with a word fail on a line's first characters."""
    try:
        items = [item for item in _parser.parse(pattern, flags) if item[0] is not sre.AT]
    except Exception:
        return True
    if not items or items[0][0] not in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        return False
    _low, high, body = items[0][1]
    return high >= _SCAN_LENGTH and not all(op is sre.LITERAL for op, _av in body)


_GLOBAL_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def _self_contained(pattern: str, flags: int) -> bool:
    """Whether ``pattern`` means the same as one alternative among others: no group
    references (numbers shift), no named groups (names may clash), no inline flags."""
    if _GLOBAL_FLAGS.match(pattern):
        return False  # allowed only at the start of the whole expression, even if no-ops
    try:
        parsed = _parser.parse(pattern, flags)
        if parsed.state.groupdict or parsed.state.flags != _parser.parse("", flags).state.flags:
            return False
        leaves = (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.AT, sre.CATEGORY)

        def clean(items: Iterable[tuple[Any, Any]]) -> bool:
            # Only what is known to hold no group reference passes: a node of a later
            # Python's making fails, rather than hide one.
            for op, av in items:
                if op in leaves:
                    continue
                if op is sre.SUBPATTERN:
                    if av[1] or av[2] or not clean(av[3]):
                        return False
                elif op is sre.ATOMIC_GROUP:
                    if not clean(av):
                        return False
                elif op in (sre.ASSERT, sre.ASSERT_NOT):
                    if not clean(av[1]):
                        return False
                elif op is sre.BRANCH:
                    if not all(clean(alt) for alt in av[1]):
                        return False
                elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
                    if not clean(av[2]):
                        return False
                else:
                    return False
            return True

        return clean(parsed)
    except Exception:
        return False


# Patterns that take every path of the reader, with what it must make of them:
# (pattern, required factors, widest match, costly to fail, self-contained).
_PROBES: tuple[tuple[str, frozenset[str] | None, int, bool, bool], ...] = (
    (r".{0,200}\ball rights reserved\b.*", frozenset({"all rights reserved"}), sys.maxsize,
     True, True),
    (r"(?:sign|log) (?:up|in) now", frozenset({"sign up now", "sign in now", "log up now",
     "log in now"}), 11, False, True),
    (r"photos? by [^|]{0,30}", frozenset({"photo by ", "photos by "}), 40, False, True),
    (r"(\w+) said \1", frozenset({" said "}), sys.maxsize, False, False),
    (r"(?P<who>staff)+? writer", frozenset({" writer"}), sys.maxsize, True, False),
    (r"(?i:read) more[.!]?", frozenset({"read more"}), 10, False, False),
    (r"(?>share)(?=\W)[ ]{2,40}+(?!x)this", frozenset({"share"}), 49, False, True),
    (r"[\w ]{2,60} newsletter", frozenset({" newsletter"}), 71, True, True),
    (r"(a)?(?(1)bcd|efg)", None, 4, False, False),
    (r"(?:x|yz)*\d", None, sys.maxsize, True, True),
)  # fmt: skip


def _reader_works() -> bool:
    """Whether the regex parser is here and reads the probes as this module expects."""
    try:
        for pattern, factors, width, scans, contained in _PROBES:
            read = (
                required_factors(pattern), max_width(pattern, re.IGNORECASE),
                _scans(pattern, re.IGNORECASE), _self_contained(pattern, re.IGNORECASE),
            )  # fmt: skip
            if read != (factors, width, scans, contained):
                return False
    except Exception:
        return False
    return True


SHORTCUTS = _reader_works()


@dataclass(frozen=True)
class _Gated:
    width: int
    factors: tuple[str, ...]
    regex: re.Pattern[str]


class LineRules:
    """``matches(line)`` is ``any(re.fullmatch(p, line, flags) for p in patterns)``;
    ``plain`` (or no working parser, ``SHORTCUTS``) runs exactly that."""

    def __init__(
        self, patterns: Iterable[str], flags: int = re.IGNORECASE, *, plain: bool = False
    ) -> None:
        self.patterns = tuple(patterns)
        self._flags = flags
        self._gated: list[_Gated] = []
        self._apart: list[tuple[int, re.Pattern[str]]] = []
        together: list[tuple[int, str]] = []
        read = SHORTCUTS and not plain  # otherwise nothing is known: each pattern runs apart
        for pattern in self.patterns:
            width, factors, joinable = sys.maxsize, None, False
            if read:
                width, factors = max_width(pattern, flags), required_factors(pattern, flags)
                joinable = _self_contained(pattern, flags)
            # Required words pay where a failing match is costly, or where the pattern
            # runs on its own anyway; elsewhere one alternation is cheaper.
            if factors is not None and (_scans(pattern, flags) or not joinable):
                regex = re.compile(pattern, flags)
                self._gated.append(_Gated(width, tuple(sorted(factors)), regex))
            elif joinable:
                together.append((width, pattern))
            else:
                self._apart.append((width, re.compile(pattern, flags)))
        # Widest first: a line longer than one is longer than all after it.
        self._gated.sort(key=lambda g: -g.width)
        # The alternation for a line of length n needs the patterns at least n wide; it
        # may hold more (they fail). A few length classes keep the compiled alternations
        # few: all patterns, those wider than short lines, the unbounded ones.
        self._together = together
        finite = [w for w, _p in together if w < sys.maxsize]
        cuts = {0, _SHORT_LINE + 1} | ({max(finite) + 1} if finite else set())
        self._cuts = sorted(cuts)
        self._joined: dict[int, re.Pattern[str] | None] = {}

    def _alternation(self, length: int) -> re.Pattern[str] | None:
        """The alternation of the ungated patterns that a line of ``length`` may match."""
        cut = bisect.bisect_right(self._cuts, length) - 1
        key = self._cuts[max(cut, 0)]
        if key not in self._joined:
            parts = [p for w, p in self._together if w >= key]
            self._joined[key] = (
                re.compile("|".join(f"(?:{p})" for p in parts), self._flags) if parts else None
            )
        return self._joined[key]

    def matches(self, line: str, low: str | None = None, *, lowered: bool = False) -> bool:
        """``low``: ``folded(line)``, when the caller has it (``lowered=True``)."""
        if not lowered:
            low = folded(line)
        length = len(line)
        for gated in self._gated:
            if length > gated.width:
                break
            if low is not None:
                for factor in gated.factors:
                    if factor in low:
                        break
                else:
                    continue
            if gated.regex.fullmatch(line) is not None:
                return True
        for width, regex in self._apart:
            if length <= width and regex.fullmatch(line) is not None:
                return True
        joined = self._alternation(length)
        return joined is not None and joined.fullmatch(line) is not None
