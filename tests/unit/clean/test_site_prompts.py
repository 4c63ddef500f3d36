"""Promotions of a site's own channels, long legal disclosures and menus inside the text,
in our own words."""

from __future__ import annotations

import pytest

from worker.clean.chrome import strip_chrome
from worker.clean.notices import is_disclosure, is_notice

ARTICLE = [
    "Harbour workers in Selden walked out on Monday over a dispute about night shifts.",
    "The union said about 1,200 dockers joined the strike, halting the loading of ships.",
]

# Each line below is chrome by a rule of notices or chrome whose wording recurs across sites.
PROMPT_LINES = [
    "If you liked this episode, please consider sharing it with a friend on the quays. "
    "The Harbour Hour is made by three dockers after the night shift, with a borrowed "
    "microphone and a lot of tea, and every listener who passes it on keeps the show "
    "going through the long winter of the strike.",
    "This report was written by Jane Carver and produced by the Gazette, an independent "
    "newsroom covering the ports. Sign up for Dock Notes and our other newsletters.",
    "Ready to reach dockers? Explore sponsorship opportunities for the Brief.",
    "Join our mailing list! Get a letter when an episode is out with extras for members",
    "Get the latest news about our port tours and evening lectures.",
]
PROMPT_LIKE_ARTICLE_LINES = [
    "Stay Connected",  # a section heading of a travel guide
    "If you liked the old rota, the union said, you will not like the new one.",
    "The dockers join the Facebook debate every night, the union says, and lose it.",
    "The union opened its strike fund to every docker on the quays of Selden and Marlow on "
    "Monday. Sign up for the newsletter was slow, and few dockers joined before the strike.",
    "Included: transfers between the quays and the hotel (restrictions apply).",
    "Route: Selden quay / Marlow quay / Dunmore bridge / Selden station",  # a route
    "Get the latest",
    "Dockers who unsubscribe from the union list still receive the strike fund.",
]


@pytest.mark.parametrize("line", PROMPT_LINES)
def test_prompts_of_the_sites_own_channels_go(line: str) -> None:
    text = "\n".join([ARTICLE[0], line, ARTICLE[1]])
    assert strip_chrome(text).split("\n") == ARTICLE


def test_article_lines_that_resemble_prompts_stay() -> None:
    text = "\n".join(PROMPT_LIKE_ARTICLE_LINES)
    assert strip_chrome(text) == text


# Long (over 60 words, beyond the notices' reach) but in regulators' fixed wording.
_PADDING = (
    " Services are offered only where the firm and its representatives are licensed, and "
    "nothing on this page is an offer to buy or sell any security or a recommendation of "
    "any particular product, plan or strategy for any reader."
)
DISCLOSURES = [
    "Harbour Wealth, LLC is a Registered Investment Adviser." + _PADDING * 2,
    "By submitting this form I agree that the Gazette may contact me by text message. "
    "Message and data rates may apply." + _PADDING * 2,
    "Many of the card offers on this site come from partners who pay us. This "
    "compensation may impact how and where products appear on this site." + _PADDING * 2,
    "We may be compensated when you click on a link on this page or when an account is "
    "opened with one of our partners." + _PADDING * 2,
]


@pytest.mark.parametrize("line", DISCLOSURES)
def test_long_disclosures_go(line: str) -> None:
    assert not is_notice(line) and is_disclosure(line)
    assert strip_chrome("\n".join([ARTICLE[0], line, ARTICLE[1]])).split("\n") == ARTICLE


def test_paragraphs_mentioning_advisers_or_compensation_stay() -> None:
    lines = [
        "Over the past five years, many registered investment advisers in the port towns "
        "have merged, the survey says.",
        "The dockers asked for compensation for the lost shifts, and the court agreed.",
        ("Harbour Wealth is a registered investment adviser." + _PADDING * 5),  # too long
    ]
    assert not any(is_disclosure(line) for line in lines)


MENU = ["Home", "Latest News", "World", "Business", "Sports", "Weather", "Opinion", "Videos"]


def test_a_menu_in_the_middle_of_the_text_goes() -> None:
    text = "\n".join([ARTICLE[0], "Download now", *MENU, ARTICLE[1]])
    assert strip_chrome(text).split("\n") == ARTICLE


def test_short_lines_inside_the_article_stay() -> None:
    # Too few entries, list items, a table written as lines, a code sample: all stay.
    menu_too_short = ["Download now", *MENU[:6]]  # seven short lines with the button
    items = ["Advertisement"] + [f"- {entry}" for entry in MENU]
    table = [
        "Advertisement",
        "Overall score",
        "4.5/5",
        "Pricing",
        "3.8/5",
        *MENU[:4],
        "1/5",
        *MENU[4:],
    ]
    code = ["Advertisement", "<ul>", "{items.map(item => (", "<li", "key={item.id}", "</li>"]
    code += ["</ul>", "</div>", "</div>"]
    for lines in (menu_too_short, items, table, code):
        kept = strip_chrome("\n".join([ARTICLE[0], *lines, ARTICLE[1]])).split("\n")
        assert kept[1:-1] == lines[1:], lines
