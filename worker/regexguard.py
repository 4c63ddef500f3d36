"""Refuse regular expressions that can backtrack catastrophically, before they run on feed
text: Python's ``re`` cannot be interrupted, so one boilerplate rule like ``(a+)+$`` and a
line of thirty ``a`` followed by ``!`` hold a poll thread for minutes (2^30 ways to split
the run), and the next line as long again for ever.

Two shapes cause exponential backtracking, and both are refused:

* a repeat inside a repeat whose iterations can be cut more than one way: the inner
  repeat's characters can also start what follows it (``(a+)+``, ``(\\w+\\s?)*``,
  ``(x+x+)+``); ``([a-z]+ )+`` passes, a space ends each iteration;
* a repeat over alternatives that can begin with the same character: ``(a|aa)*``,
  ``(\\w|\\d)+``.

Possessive repeats (``a*+``) and atomic groups (``(?>...)``) do not backtrack and pass.
The check is static and errs on the side of refusing: a part it does not analyse
(backreferences, lookarounds inside a repeat) counts as ambiguous.

    >>> backtracking_risk(r"(a+)+$")
    'a repeat inside a repeat'
    >>> backtracking_risk(r"(a|aa)*c")
    'a repeat inside a repeat'
    >>> backtracking_risk(r"^Read more at .*$") is None, backtracking_risk(r"^(?:Share|Tweet)+$")
    (True, None)
"""

from __future__ import annotations

import re
from re import _constants as c  # type: ignore[attr-defined]  # the parser re itself uses
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

_REPEATS = {c.MAX_REPEAT, c.MIN_REPEAT}
# Characters tried when asking whether two parts can start alike: ASCII, Latin-1 and a
# few letters, digits and spaces of other scripts.
_PROBES = [chr(i) for i in range(256)] + list("ĀΩЖשء一あ٣\u2003\u3000")
_CATEGORIES = {
    c.CATEGORY_DIGIT: str.isdecimal,
    c.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdecimal(),
    c.CATEGORY_SPACE: str.isspace,
    c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    c.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    c.CATEGORY_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
}

Chars = set[str] | None  # None: not analysed, overlaps anything


def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack catastrophically, or ``None``. ``re.error`` when it
    is not a regular expression."""
    return _walk(sre_parse.parse(pattern))


def check_pattern(pattern: str) -> None:
    """``ValueError`` naming the problem when ``pattern`` is not a regular expression or
    may backtrack catastrophically (for a config error)."""
    try:
        re.compile(pattern)
        risk = backtracking_risk(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    if risk:
        raise ValueError(
            f"regular expression {pattern!r} may backtrack catastrophically ({risk}): a "
            "hostile line could hold a poll for minutes; write it without the nesting"
        )


def _walk(items: Any) -> str | None:
    for op, arg in items:
        found: str | None = None
        if op in _REPEATS:
            _low, high, body = arg
            if high > 1 and _ambiguous_iterations(_flat(body)):
                return "a repeat inside a repeat"
            if high > 1 and _alternatives_overlap(body):
                return "a repeat over alternatives that can start alike"
            found = _walk(body)
        elif op == c.SUBPATTERN:
            found = _walk(arg[-1])
        elif op == c.BRANCH:
            found = next((r for b in arg[1] if (r := _walk(b))), None)
        elif op in (c.ASSERT, c.ASSERT_NOT):
            found = _walk(arg[1])
        # literals and classes; ATOMIC_GROUP and POSSESSIVE_REPEAT do not backtrack
        if found:
            return found
    return None


def _flat(items: Any) -> list[Any]:
    """``items`` with groups opened: ``((a+)b)`` is the sequence ``a+ b``."""
    out: list[Any] = []
    for op, arg in items:
        if op == c.SUBPATTERN:
            out.extend(_flat(arg[-1]))
        else:
            out.append((op, arg))
    return out


def _ambiguous_iterations(body: list[Any]) -> bool:
    """Whether a repeated ``body`` holds a variable-length part (a repeat, alternatives)
    whose characters can also start what follows it, in this iteration or the next: then
    a run can be cut into iterations in exponentially many ways."""
    whole = _starts(body)[0]
    for index, (op, arg) in enumerate(body):
        consumed: Chars
        if op in _REPEATS and arg[0] != arg[1]:
            consumed = _starts(_flat(arg[2]))[0]
        elif op == c.BRANCH:
            if _alternatives_overlap([(op, arg)]):
                return True
            consumed = _variable_chars(arg[1])
            starts = [_starts(alternative) for alternative in arg[1]]
            if consumed is not None and any(empty for _first, empty in starts):
                # "or nothing": taking the other alternative or not is a choice when
                # what follows starts alike (``a(?:|a)``, which is how ``a|aa`` parses)
                for first, _empty in starts:
                    consumed = None if first is None or consumed is None else consumed | first
            if consumed is not None and not consumed:
                continue  # fixed alternatives that start apart: one way through
        else:
            continue
        follow, nullable = _starts(body[index + 1 :])
        if follow is not None and nullable:
            follow = None if whole is None else follow | whole
        if consumed is None or follow is None or consumed & follow:
            return True
    return False


def _variable_chars(alternatives: Any) -> Chars:
    """The characters the variable-length repeats inside ``alternatives`` consume (empty:
    none of them has one)."""
    chars: set[str] = set()
    for alternative in alternatives:
        for op, arg in _flat(alternative):
            if op in _REPEATS and arg[0] != arg[1]:
                first = _starts(_flat(arg[2]))[0]
                if first is None:
                    return None
                chars |= first
            elif op == c.BRANCH:
                inner = _variable_chars(arg[1])
                if inner is None:
                    return None
                chars |= inner
    return chars


def _alternatives_overlap(items: Any) -> bool:
    """Whether ``items`` is (a group around) an alternation two of whose branches can begin
    with the same character."""
    while len(items) == 1 and items[0][0] == c.SUBPATTERN:
        items = items[0][1][-1]
    if len(items) != 1 or items[0][0] != c.BRANCH:
        return False
    starts = [_starts(branch)[0] for branch in items[0][1][1]]
    for i, first in enumerate(starts):
        for other in starts[i + 1 :]:
            if first is None or other is None or first & other:
                return True
    return False


def _starts(items: Any) -> tuple[Chars, bool]:
    """``(probe characters items can start with, whether it can match empty)``."""
    chars: set[str] = set()
    for op, arg in items:
        first, nullable = _item_starts(op, arg)
        if first is None:
            return None, True
        chars |= first
        if not nullable:
            return chars, False
    return chars, True


def _item_starts(op: Any, arg: Any) -> tuple[Chars, bool]:
    if op == c.LITERAL:
        return {chr(arg)}, False
    if op == c.NOT_LITERAL:
        return {ch for ch in _PROBES if ord(ch) != arg}, False
    if op == c.ANY:
        return {ch for ch in _PROBES if ch != "\n"}, False
    if op == c.IN:
        return {ch for ch in _PROBES if _in_class(ch, arg)}, False
    if op == c.SUBPATTERN:
        return _starts(arg[-1])
    if op == c.BRANCH:
        chars: set[str] = set()
        nullable = False
        for branch in arg[1]:
            first, empty = _starts(branch)
            if first is None:
                return None, True
            chars |= first
            nullable = nullable or empty
        return chars, nullable
    if op in _REPEATS or op == c.POSSESSIVE_REPEAT:
        first, empty = _starts(arg[2])
        return first, empty or arg[0] == 0
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return set(), True
    return None, True


def _in_class(ch: str, items: Any) -> bool:
    negate = False
    hit = False
    for op, arg in items:
        if op == c.NEGATE:
            negate = True
        elif op == c.LITERAL:
            hit = hit or ord(ch) == arg
        elif op == c.RANGE:
            hit = hit or arg[0] <= ord(ch) <= arg[1]
        elif op == c.CATEGORY:
            test = _CATEGORIES.get(arg)
            hit = hit or test is None or test(ch)
        else:
            hit = True  # not analysed: assume it matches
    return hit != negate
