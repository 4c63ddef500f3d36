"""Shortcuts of the cleaning stage give the answers of the plain code they replace: the
bare-paragraph path of ``fragment_to_text`` against parsing the body, the head-only
``line_key`` against folding the whole line. Random inputs are seeded."""

from __future__ import annotations

import random
import re

import pytest

from worker.clean import extract, learned

# Paragraph text: ASCII, Latin and other letters, spacing, quotes and marks, no markup.
POOL = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " .,:;!?'\"()[]/|-_*%#@©°•·–—’”»…\t\u00a0\u2028éÉßΣσςжЖ中😀\u0130\u212a\n  "
)


def _old_line_key(line: str) -> str:
    return re.sub(r"[\W_]+", " ", line.lower()).strip()[:200]


def test_line_key_is_the_old_folding_of_the_whole_line() -> None:
    rng = random.Random(3)
    pieces = ["word", "Word", " ", ", ", "...", " -- ", "_", "9", "a", "  ", "!?", "x" * 40]
    for _ in range(4000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 160)))
        if rng.random() < 0.2:
            line += rng.choice(["é", "ΟΔΟΣ", "İ", "\t", "\u00a0", "ß", "_x_"])
        line = rng.choice(["", " ", "-- ", "...."]) + line + rng.choice(["", " ", " ...", "!"])
        assert learned.line_key.__wrapped__(line) == _old_line_key(line), line


def _random_paragraph(rng: random.Random) -> str:
    return "".join(rng.choice(POOL) for _ in range(rng.randint(0, 120)))


def test_bare_paragraphs_read_as_the_parser_reads_them() -> None:
    rng = random.Random(5)
    for _ in range(400):
        paragraphs = [_random_paragraph(rng) for _ in range(rng.randint(1, 6))]
        html = "".join(f"<p>{p}</p>" for p in paragraphs)
        assert extract._bare_paragraphs(html) == paragraphs
        root = extract._fragment_root(html)
        assert root is not None
        assert [e.tag for e in root.iter()] == ["div"] + ["p"] * len(paragraphs)
        joined = extract.normalize_lines("\n".join(paragraphs))
        assert joined == extract._block_text(extract._fragment_root(html)), html  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "html",
    ["<p>a &amp; b</p>", "<p>a\rb</p>", "<p>a</p> <p>b</p>", "<p class='x'>a</p>", "<p>a\x00</p>",
     "<P>a</P>", "<p>a<br>b</p>", "<p>\ufeffa</p>", "<p>a</p><div>b</div>"],
)  # fmt: skip
def test_bodies_with_more_than_bare_paragraphs_are_parsed(html: str) -> None:
    assert extract._bare_paragraphs(html) is None


def test_fragment_text_is_the_same_with_and_without_the_bare_paragraph_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(11)
    bodies = []
    for _ in range(60):
        paragraphs = [_random_paragraph(rng) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.2:
            paragraphs.append(paragraphs[0])  # a repeated paragraph: trafilatura decides
        bodies.append("".join(f"<p>{p}</p>" for p in paragraphs))
    fast = [extract.fragment_to_text(b) for b in bodies]
    monkeypatch.setattr(extract, "_bare_paragraphs", lambda _html: None)
    assert fast == [extract.fragment_to_text(b) for b in bodies]
