"""``LineRules`` (worker.clean.prefilter) answers as trying each pattern of a rule list
would, for the rule lists of ``chrome`` and ``notices`` as they stand (rules added later
are sampled too), with its shortcuts and without them (the plain path it falls back to when
the private regex parser is missing or reads differently). Random inputs are seeded, so a
failure repeats. The sampler walks parse trees itself: a test tool, not the runtime path."""

from __future__ import annotations

import random
import re
from re import _compiler, _parser  # type: ignore[attr-defined]
from re import _constants as sre
from types import SimpleNamespace
from typing import Any

import pytest

from worker.clean import chrome, notices, prefilter
from worker.clean.prefilter import CASE_SPECIALS, LineRules, folded, required_factors

RULE_LISTS = {
    "hard": chrome._HARD_LINE_PATTERNS,
    "notices": notices._NOTICE_PATTERNS,
}
# What random text is drawn from: ASCII, Latin and other letters, spacing and marks the
# rules name, and the characters that case-fold onto ASCII letters.
POOL = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " .,:;!?'\"()[]/|-_*&%#@©°•·–—’”»…\t\u00a0éÉßΣσςжЖ中😀" + CASE_SPECIALS
)


def test_case_specials_are_every_non_ascii_character_that_matches_ascii() -> None:
    every = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000)
    assert set(re.findall(r"[\x00-\x7f]", every, re.IGNORECASE)) == set(CASE_SPECIALS)


class _Sampler:
    """Random strings that a parsed pattern may match (checked against the pattern after)."""

    def __init__(self, rng: random.Random, flags: int) -> None:
        self.rng, self.flags = rng, flags
        self.groups: dict[int, str] = {}

    def char_of(self, item: tuple[Any, Any]) -> str:
        matcher = _compiler.compile(_parser.SubPattern(_parser.State(), [item]), self.flags)
        fitting = [c for c in POOL if matcher.fullmatch(c)]
        return self.rng.choice(fitting) if fitting else "a"

    def literal(self, char: str) -> str:
        spelled = {"i": "\u0130\u0131", "s": "\u017f", "k": "\u212a"}.get(char.lower(), "")
        if spelled and self.rng.random() < 0.05:
            return self.rng.choice(spelled)
        return char.upper() if self.rng.random() < 0.3 else char

    def sequence(self, items: Any) -> str:
        return "".join(self.node(op, av) for op, av in items)

    def node(self, op: Any, av: Any) -> str:
        if op is sre.LITERAL:
            return self.literal(chr(av))
        if op in (sre.IN, sre.ANY, sre.NOT_LITERAL):
            return self.char_of((op, av))
        if op is sre.SUBPATTERN:
            text = self.sequence(av[3])
            if av[0] is not None:
                self.groups[av[0]] = text
            return text
        if op is sre.BRANCH:
            return self.sequence(self.rng.choice(av[1]))
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high = int(av[0]), int(av[1])
            count = self.rng.randint(low, min(high, low + self.rng.choice((1, 3, 12))))
            return "".join(self.sequence(av[2]) for _ in range(count))
        if op is sre.GROUPREF:
            return self.groups.get(av, "")
        if op is sre.ATOMIC_GROUP:
            return self.sequence(av)
        return ""  # anchors, boundaries, lookarounds: the final check keeps only matches


def _matches_of(pattern: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    parsed = _parser.parse(pattern, re.IGNORECASE)
    regex = re.compile(pattern, re.IGNORECASE)
    found = []
    for _ in range(count * 4):
        text = _Sampler(rng, re.IGNORECASE).sequence(parsed)
        if text and "\n" not in text and regex.fullmatch(text):
            found.append(text)
        if len(found) == count:
            break
    return found


@pytest.mark.parametrize("name", sorted(RULE_LISTS))
def test_every_sampled_match_of_a_rule_passes_its_shortcuts(name: str) -> None:
    """Width and required words are necessary conditions: no match of any rule of the list
    is turned away by them (and the list as one ``LineRules`` finds it too)."""
    patterns = RULE_LISTS[name]
    together = LineRules(patterns)
    sampled = 0
    for number, pattern in enumerate(patterns):
        alone = LineRules([pattern])
        factors = required_factors(pattern)
        for text in _matches_of(pattern, 60, seed=number):
            sampled += 1
            assert alone.matches(text) and together.matches(text), (pattern, text)
            low = folded(text)
            if factors is not None and low is not None:
                assert any(f in low for f in factors), (pattern, text, factors)
    assert sampled > 20 * len(patterns)


def _near_misses(rng: random.Random, texts: list[str]) -> list[str]:
    """Texts around the matches: cut, padded, with a character changed or the case turned."""
    out = []
    for text in texts:
        cut = rng.randrange(len(text))
        out += [text[:cut], text[cut:], "x" * 300 + text, f"Note: {text}", text.swapcase()]
        out.append(text[:cut] + rng.choice(POOL) + text[cut + 1 :])
    return out


def _lines_around(patterns: tuple[str, ...] | list[str]) -> list[str]:
    rng = random.Random(7)
    lines: list[str] = []
    for number, pattern in enumerate(patterns):
        lines += _near_misses(rng, _matches_of(pattern, 8, seed=100 + number))
    lines += ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 400))) for _ in range(300)]
    return lines


@pytest.mark.parametrize("plain", [False, True])
@pytest.mark.parametrize("name", sorted(RULE_LISTS))
def test_line_rules_answer_as_trying_each_pattern(name: str, plain: bool) -> None:
    patterns = RULE_LISTS[name]
    regexes = [re.compile(p, re.IGNORECASE) for p in patterns]
    rules = LineRules(patterns, plain=plain)
    assert bool(rules._gated or rules._together) != plain  # shortcuts in use, or none at all
    for line in _lines_around(patterns):
        assert rules.matches(line) == any(r.fullmatch(line) for r in regexes), line


def test_the_parser_of_this_python_reads_the_probes() -> None:
    """Fails when a Python release changes the parser: the shortcuts are then off (same
    answers, slower cleaning) until ``prefilter`` reads the new tree."""
    assert prefilter._reader_works() and prefilter.SHORTCUTS


def _swapped_pairs(pattern: str, flags: int = 0) -> Any:
    """A parse tree whose nodes are ``(argument, opcode)``: a parser of another shape."""
    parsed = _parser.parse(pattern, flags)
    parsed.data = [(av, op) for op, av in parsed.data]
    return parsed


def _renamed(name: str) -> SimpleNamespace:
    """The opcodes, with one of them a new object (as if renamed or renumbered)."""
    codes = SimpleNamespace(**vars(sre))
    setattr(codes, name, object())
    return codes


@pytest.mark.parametrize(
    ("parser", "codes"),
    [
        (None, sre),  # no re._parser
        (_parser, None),  # no re._constants
        (SimpleNamespace(parse=_swapped_pairs), sre),
        (SimpleNamespace(parse=lambda p, f=0: list(_parser.parse(p, f))), sre),  # no getwidth
        (_parser, _renamed("LITERAL")),
        (_parser, _renamed("SUBPATTERN")),
        (_parser, _renamed("MAX_REPEAT")),
        (_parser, _renamed("AT")),
    ],
)
def test_a_missing_or_different_parser_turns_the_shortcuts_off(
    monkeypatch: pytest.MonkeyPatch, parser: Any, codes: Any
) -> None:
    monkeypatch.setattr(prefilter, "_parser", parser)
    monkeypatch.setattr(prefilter, "sre", codes)
    assert not prefilter._reader_works()
    monkeypatch.setattr(prefilter, "SHORTCUTS", prefilter._reader_works())
    patterns = RULE_LISTS["hard"]
    rules = LineRules(patterns)
    assert not rules._gated and not rules._together
    regexes = [re.compile(p, re.IGNORECASE) for p in patterns]
    for line in _lines_around(patterns)[::7]:
        assert rules.matches(line) == any(r.fullmatch(line) for r in regexes), line


def test_required_factors_of_common_shapes() -> None:
    assert required_factors(r".{0,200}\ball rights reserved\b.{0,40}") == {"all rights reserved"}
    assert required_factors(r"(?:sign|log) (?:up|in) now") == {
        "sign up now", "sign in now", "log up now", "log in now",
    }  # fmt: skip
    assert required_factors(r"photos? by .*") == {"photo by ", "photos by "}
    assert required_factors(r"(?:a|b)\w+") is None  # nothing of three characters is required
    assert required_factors(r".*(?:x+|abc)") is None  # one branch requires nothing long
    assert required_factors(r"(\w+) said \1") == {" said "}


@pytest.mark.parametrize("plain", [False, True])
def test_patterns_that_cannot_share_an_alternation_still_answer(plain: bool) -> None:
    patterns = [r"(\w+) and \1", r"(?P<word>\w+)!", r"(?i:Quiet) please", r"a{2,}", r"(?i)x+y"]
    rules = LineRules(patterns, plain=plain)
    lines = ["this and this", "this and that", "hello!", "QUIET PLEASE", "aaa", "a", "b!", "xXy"]
    for line in lines:
        assert rules.matches(line) == any(re.fullmatch(p, line, re.I) for p in patterns), line
