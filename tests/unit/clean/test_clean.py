"""Chrome removal. The fixtures reproduce the *shapes* of the chrome in shared/seeds
(mastheads, language notices, captions, share counters, source footers, rails,
disclaimers, comment forms) in our own words."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.fixtures.corpus import UNRELATED, WIRE
from worker.clean import clean_fragment, clean_page, extract
from worker.clean.chrome import _HARD, _HARD_LINE_PATTERNS, ChromeRules, chrome_lines, strip_chrome
from worker.clean.extract import (
    MIN_PROSE_WORDS,
    fragment_to_text,
    html_to_plain_text,
    prose_words,
    second_opinion,
)
from worker.clean.learned import learnable_keys, line_key
from worker.clean.prefilter import LineRules

ARTICLE = [
    "Harbour workers in Selden walked out on Monday over a dispute about night shifts.",
    "The union said about 1,200 dockers joined the strike, halting the loading of ships.",
    "Latest",  # a sub-heading inside the article is not chrome
    "Port managers said talks would resume on Wednesday with a mediator present.",
    "Photographs taken by a drone show dozens of container ships waiting offshore.",
    "Copyright law was not part of the dispute, a union spokesperson added.",
]

CHROME_HEAD = [
    "The Selden Gazette",
    "Now you can see foreign-language news in English...",
    "2026-11-20T06:15:00.000Z",
    "Enlarge image",
    "Photo: J. Carver / Gazette images / Wireworks",
    "PHOTO JANE CARVER, WIREWORKS AGENCY",
    "0",
    "117",
]
CHROME_TAIL = [
    "Source: gazette",
    "All news articles on 2026-11-20",
    "You may like",
    "World/Business 2026-11-21T09:43:02.774Z",
    "Trends 24h",
    "Latest",
    "© Harbour Media 2021 - Privacy",
    "The information on this site is from external sources that are not under our control.",
    "The inclusion of any links does not necessarily imply a recommendation or endorse the views expressed within them.",
    "source site",
    "source site-17",
    "Leave a Reply",
    "LEAVE A REPLY",
    "Your email address will not be published. Required fields are marked *",
]


def test_every_chrome_shape_removed_and_every_article_line_kept() -> None:
    text = "\n".join(CHROME_HEAD + ARTICLE + CHROME_TAIL)
    assert strip_chrome(text).split("\n") == ARTICLE
    assert set(chrome_lines(text)) == set(CHROME_HEAD + CHROME_TAIL)


@pytest.mark.parametrize("line", CHROME_HEAD[1:] + CHROME_TAIL[:2] + CHROME_TAIL[6:])
def test_hard_chrome_lines_go_even_mid_text(line: str) -> None:
    text = "\n".join([ARTICLE[0], line, ARTICLE[1]])
    assert strip_chrome(text).split("\n") == ARTICLE[:2]


def test_soft_lines_stay_inside_the_article() -> None:
    text = "\n".join(["Storm warning", ARTICLE[0], "Latest", ARTICLE[1], "Trends 24h", ARTICLE[3]])
    # no hard chrome at either edge: short headline and sub-headings stay
    assert strip_chrome(text) == text


def test_per_feed_patterns_and_learned_lines() -> None:
    text = "\n".join(
        [*ARTICLE[:2], "Read the full story at the Gazette", "Subscribe to our sea bulletin today!"]
    )
    rules = ChromeRules(
        extra_patterns=(r"^read the full story",),
        learned_keys=frozenset({line_key("Subscribe to our sea bulletin today")}),
    )
    assert strip_chrome(text, rules).split("\n") == ARTICLE[:2]


def test_learnable_keys_only_short_lines() -> None:
    keys = learnable_keys("Follow us on Social!\n" + ARTICLE[0], max_words=6)
    assert keys == {"follow us on social"}


def test_fragment_keeps_every_paragraph_and_inline_markup() -> None:
    html = (
        "".join(f"<p>{p}</p>" for p in ARTICLE[:2])
        + "<p>A <b>bold</b> <a href='x'>link</a> here.</p>"
    )
    assert fragment_to_text(html).split("\n") == [*ARTICLE[:2], "A bold link here."]


def _prose_fragments() -> list[str]:
    """Feed bodies of plain paragraphs, as the fixture outlets and wire texts give them."""
    from tests.fixtures.corpus import OUTLETS, UNRELATED, WIRE, content_html, outlet_paragraphs

    bodies = [content_html(outlet_paragraphs(s, o)) for s in WIRE for o in OUTLETS]
    bodies += [content_html(p) for p in UNRELATED.values()]
    styled = "".join(
        f"<p><b>CALDER</b> - {p}<br><em>{p[:40]}</em> <span>end</span></p>" for p in ARTICLE
    )
    return [*bodies, styled]


@pytest.mark.parametrize("html", _prose_fragments())
def test_fragment_of_plain_prose_skips_trafilatura_with_the_same_text(
    html: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = fragment_to_text(html)
    monkeypatch.setattr(extract, "_plain_prose", lambda root, text: False)
    assert fast == fragment_to_text(html)  # what the trafilatura path gives
    monkeypatch.undo()
    calls = []
    monkeypatch.setattr(extract.trafilatura, "extract", lambda *a, **k: calls.append(1))
    assert fragment_to_text(html) == fast and not calls  # and it did not run


@pytest.mark.parametrize(
    "html",
    [
        "".join(f"<p>{p}</p>" for p in ARTICLE) + f"<p>{ARTICLE[0]}</p>",  # a repeat
        f"<p>{ARTICLE[0]} AT&amp;T</p>",  # an ampersand
        f"<p>{ARTICLE[0]}</p><p><a href='/more'>Read more</a></p>",  # a link
        f"<h2>Head</h2><p>{ARTICLE[0]}</p>",  # a heading
        f"<div><p>{ARTICLE[0]}</p></div>",  # a container
    ],
)
def test_fragments_trafilatura_may_change_still_go_through_it(
    html: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = extract.trafilatura.extract

    def counted(*args: object, **kwargs: object) -> str | None:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(extract.trafilatura, "extract", counted)
    fragment_to_text(html)
    assert calls


def test_plain_text_drops_scripts() -> None:
    assert html_to_plain_text("<div>a<script>evil()</script></div><p>b</p>") == "a\nb"


def test_clean_fragment_and_page() -> None:
    html = "".join(f"<p>{p}</p>" for p in CHROME_HEAD + ARTICLE + CHROME_TAIL)
    assert clean_fragment(html).split("\n") == ARTICLE
    page = (
        "<html><head><title>t</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav>"
        "<article><h1>Dock strike</h1>"
        + "".join(f"<p>{p}</p>" for p in ARTICLE[:2] + ARTICLE[3:])
        + "<p>Leave a Reply</p></article><footer>© Harbour Media 2021 - Privacy</footer></body></html>"
    )
    text = clean_page(page)
    for sentence in ARTICLE[:2] + ARTICLE[3:]:
        assert sentence in text
    assert "Leave a Reply" not in text and "Home" not in text


# Chrome of article pages in general (pointers, buttons, prompts, disclosures, bylines),
# in our own words.
PAGE_CHROME = [
    "READ MORE: Port strike enters its third week",
    "Related: How the night-shift rota works",
    "Next article: Cranes idle at dawn",
    "DON'T MISS",
    "Table of Contents",
    "Advertisement",
    "Tags",
    "- 6 min read",
    "Written by Jane Carver",
    "Posted by Jane Carver at November 20, 2026",
    "Skip to main content",
    "Back to news",
    "Sign up",
    "Book a demo",
    "Get a free quote today.",
    "Subscribe to get the latest stories sent to your email.",
    "Get the best of the Gazette delivered to your inbox every week",
    "2026-11-20T08:57:40+01:00",
    "November 20, 2026",
    "Friday, 20 November 2026 10:15",
]
ARTICLE_LINES_LIKE_CHROME = [
    "Related research shows that night shifts double the risk of accidents on the quays.",
    "More than 1,200 dockers signed up for the strike fund in its first week.",
    "Dockers who want to register for the new rota can do so at the union office.",
    "She said she would read more about the agreement before the vote.",
    "March 2020",  # a timeline's sub-heading
    "May 5, 2026 was the day the first crane stopped.",
]


@pytest.mark.parametrize("line", PAGE_CHROME)
def test_page_chrome_lines_go(line: str) -> None:
    text = "\n".join([ARTICLE[0], line, ARTICLE[1]])
    assert strip_chrome(text).split("\n") == ARTICLE[:2]


def test_article_lines_that_resemble_chrome_stay() -> None:
    text = "\n".join(ARTICLE_LINES_LIKE_CHROME)
    assert strip_chrome(text) == text


def test_line_pattern_shortcuts_decide_as_the_regex() -> None:
    """The width and literal shortcuts of the hard-line check never change its answer:
    chrome lines, article prose, case and non-ASCII variants, each alone and padded."""
    chrome = [
        "Your email address will not be published. Required fields are marked *",
        "This content is not under our control.", "Links ARE NOT UNDER OUR CONTROL",
        "© 2026 Harbour Gazette. All Rights Reserved.", "23", "1.2k",
        "Written by Ana Lee on Monday", "Read more: the bridge", "5 min read", "Sign up now",
        "Tuesday, 19 November 2019 10:15",
        "Information on this site is from external sources.", "Source: Wire", "—",
    ]  # fmt: skip
    # Lines of rules since deleted, and prose: probes of the shortcuts' "no".
    others = [
        "Photo by Ana Lee", "Updated at 1:23 p.m.", "wal / AFP / dpa",
        "Harbour fire / Getty Images", "We may earn a commission on qualifying purchases.",
        "Save my name, email, and website in this browser for the next time.",
    ]  # fmt: skip
    prose = [line for text in (*WIRE.values(), *UNRELATED.values()) for line in text]
    lines = []
    for line in chrome + others + prose[:40]:
        for variant in (line, line.upper(), f"Note: {line}", f"{line} ſ", f"É {line}"):
            lines += [variant, variant + " " + prose[0], "x" * 500 + variant]
    regexes = [re.compile(pattern, re.IGNORECASE) for pattern in _HARD_LINE_PATTERNS]
    alone = [LineRules([pattern]) for pattern in _HARD_LINE_PATTERNS]
    for line in lines:
        assert _HARD.matches(line) == any(r.fullmatch(line) for r in regexes), line
        for pattern, regex, rules in zip(_HARD_LINE_PATTERNS, regexes, alone, strict=True):
            assert rules.matches(line) == bool(regex.fullmatch(line)), (pattern, line)
    assert all(_HARD.matches(c) for c in chrome)


# Boilerplate written as sentences (worker.clean.notices), in our own words.
NOTICE_LINES = [
    "Copyright 2026 Wireworks. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed.",
    "published, broadcast, rewritten or redistributed.",  # the same, cut by a line break
    "As an Amazon Associate we earn from qualifying purchases.",
    "Harbour Savings Bank. Member FDIC.",
    "Follow the Gazette on Facebook, Instagram and YouTube for daily updates.",
    "Want more harbour stories? Follow us on social media.",
    "If you enjoyed this report, please consider subscribing to the print edition.",
    "(Story continues below)",
    "You need to be a registered member of the Gazette to leave comments on stories.",
    "Not a member yet? Click here to sign up. It takes two minutes.",
    "To report offensive or inappropriate comments, use the link below.",
    "Like this story? Share it with a friend!",
    "Plenty more where that came from: sign up for the Harbour Brief, in your inbox daily.",
    "<A",
    'TARGET="_top"',
    'SRC="http://ads.example/banner_300x250.gif" BORDER=0></A>',
]
NOTICE_LIKE_ARTICLE_LINES = [
    "The union said the minutes may not be published until the court has ruled on them.",
    "Views differ on the quays: some dockers are not necessarily against the new rota.",
    "She follows the harbour on Facebook and in the paper, she said, and both got it wrong.",
    '<div className="rota">',  # a code sample in a developer's post
    'type="text"',
    "Unsure how to report a broken crane? Email us at safety@harbour.example.",
    "Website: https://harbour.example/rota",
]


def test_ad_markup_check_ends_on_long_runs_of_markup() -> None:
    """Long runs of ad markup once sent the check into exponential backtracking (one
    hostile feed body could stall a worker for ever); a child process turns a regression
    into a failure instead of a hung test run."""
    code = (
        "from worker.clean.notices import is_markup\n"
        "runs = ['<a ' + '%]\"' * 40 + 'x', '<a ' + '\">' * 40 + 'x', '<a' + ' ' * 300 + 'x',\n"
        "        '<a ' + 'href=x/> ' * 80 + '!', '<a ' + 'src=\"a b\" ' * 80 + 'zz']\n"
        "assert not any(is_markup(line) for line in runs)\n"
        "assert is_markup('<a ' + 'href=\"/c?id=1\" ' * 80 + '><img src=x.gif border=0></a>')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_paragraph_quoting_a_notice_stays() -> None:
    paragraph = (
        "The agency's lawyer told the court that the line 'all rights reserved' at the foot "
        "of every story did not stop the harbour authority from quoting the reports in full, "
        "and that the gazette had never asked it to remove them from its website."
    )
    assert strip_chrome(paragraph) == paragraph


# Rails, bylines, rows and list items of chrome (worker.clean.chrome), in our own words.
RAIL_LINES = [
    "Most Viewed Stories",
    "Related news from the Web",
    "Powered by Newswire.example",
    "Associated Press Writer",
    "(AP)",
    "| Advertisement | |",
    "| Most Popular Stories |",
    "- Sign up for our newsletter for harbour news and events",
    "You might also like: Cranes idle at dawn",
    "Follow us",
    "Pin for later",
    "- Order Reprints",
    "- Print Article",
]
LIST_ITEMS_LIKE_CHROME = [
    "- Manicure/pedicure",
    "- Photo editing in a browser",
    "- Get started with the rota app",
    "| Harbour | Cranes | Night shifts |",
    "|---|---|---|",
]


@pytest.mark.parametrize("line", NOTICE_LINES + RAIL_LINES)
def test_notices_rails_rows_and_items_go_even_mid_text(line: str) -> None:
    text = "\n".join([ARTICLE[0], line, ARTICLE[1]])
    assert strip_chrome(text).split("\n") == ARTICLE[:2]


def test_article_lines_that_resemble_notices_rows_or_items_stay() -> None:
    text = "\n".join(NOTICE_LIKE_ARTICLE_LINES + LIST_ITEMS_LIKE_CHROME)
    assert strip_chrome(text) == text


# -- a second opinion when precision-mode extraction found no article ------------------------

_PROSE = (
    "The harbour authority closed the northern pier on Tuesday after divers found cracks "
    "in two of its concrete supports, a spokeswoman said."
)
_CHROME = "Home | News | Sport | Weather\nE-mail this article | Printable version\n(c) 2007 Example"


def test_second_opinion_keeps_text_with_running_prose_and_never_asks() -> None:
    text = "\n".join([_PROSE] * 3)  # 3 x 22 words of prose

    def recall() -> str:
        raise AssertionError("recall mode must not run when the text has prose")

    assert second_opinion(text, recall) == text


def test_second_opinion_takes_recall_when_precision_found_only_chrome() -> None:
    found = _CHROME
    other = _CHROME + "\n" + "\n".join([_PROSE] * 3)
    assert prose_words(found) == 0 and prose_words(other) == 66
    assert second_opinion(found, lambda: other) == other


def test_second_opinion_needs_twice_the_prose_and_the_minimum() -> None:
    some = "\n".join([_PROSE] * 2)  # 44 prose words: below the minimum
    assert prose_words(some) < MIN_PROSE_WORDS
    assert second_opinion(some, lambda: "\n".join([_PROSE] * 3)) == some  # 66 < 2 x 44
    assert second_opinion(_CHROME, lambda: _PROSE) == _CHROME  # 22 < MIN_PROSE_WORDS
    more = "\n".join([_PROSE] * 5)
    assert second_opinion(some, lambda: more) == more  # 110 >= 88


def test_prose_words_counts_running_text_lines_only() -> None:
    assert prose_words(_PROSE) == 22
    # A paragraph hard-wrapped mid-sentence still reads as running text.
    wrapped = "The harbour authority closed the northern pier on\nTuesday after divers found cracks in two of its\nconcrete supports."
    assert prose_words(wrapped) == 8 + 9  # the last line is too short to judge
    assert prose_words("Short line ending here.") == 0
    assert prose_words("Top Stories From The Region And Around The World Today") == 0  # title case
    assert prose_words("Home | about the paper | contact the newsroom | terms of use") == 0
    assert (
        prose_words("\u2022 world news from the wires \u2022 sport results from the weekend") == 0
    )


def test_page_keeps_its_precision_text_when_the_recall_pass_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = (
        "<html><body><div><p>Home</p><p>Contact</p><p>Weather today: mild</p></div></body></html>"
    )
    precise = extract.page_to_text(page)
    assert precise and prose_words(precise) < MIN_PROSE_WORDS  # a second opinion is asked
    real = extract.trafilatura.extract
    asked = []

    def failing(*args: object, **kwargs: object) -> object:
        if kwargs.get("favor_recall"):
            asked.append(True)
            raise ValueError("hostile markup")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(extract.trafilatura, "extract", failing)
    assert extract.page_to_text(page) == precise
    assert asked == [True]
