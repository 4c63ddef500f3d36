"""Page furniture pruning and headline removal on small pages written here."""

from __future__ import annotations

import lxml.html
import pytest

from worker.clean import clean_page
from worker.clean.furniture import prune_furniture
from worker.clean.headline import drop_headline, page_headlines
from worker.clean.learned import line_key

PROSE = [
    "The harbour authority said on Monday that night shifts would resume next week after "
    "a month of talks with the union, which had asked for more staff on every crane.",
    "Dockers who walked out in October will be paid for the days they missed, the "
    "agreement says, and a mediator will review the rota again in the spring.",
]


def _page(body: str, head: str = "<title>Dock deal</title>") -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def _text(page: lxml.html.HtmlElement) -> str:
    return " ".join(page.text_content().split())


def test_prose_guard_counts_lines_between_br_tags() -> None:
    # A blog engine's post column, classed as furniture, its paragraphs cut by <br>.
    page = _page(f"<div class='sidebar post-body'>{PROSE[0]}<br><br>{PROSE[1]}<br></div>")
    assert prune_furniture(page) == 0
    assert PROSE[1][:40] in _text(page)


def test_one_line_of_prose_does_not_save_furniture() -> None:
    page = _page(f"<div class='newsletter'>{PROSE[0]}<br>Sign up</div><p>{PROSE[1]}</p>")
    assert prune_furniture(page) == 1
    assert "Sign up" not in _text(page) and PROSE[1][:40] in _text(page)


def test_one_long_paragraph_is_prose_enough() -> None:
    long_paragraph = PROSE[0] + " " + PROSE[1]  # 50+ words of running text
    page = _page(f"<div class='post-and-ads'><p>{long_paragraph}</p><p>Sign up</p></div>")
    assert prune_furniture(page) == 0


def test_widget_blocks_are_not_furniture() -> None:
    page = _page(f"<div class='elementor-widget-wrap'><p>{PROSE[0]}</p></div>")
    assert prune_furniture(page) == 0


def test_link_only_paragraphs_go_linked_sentences_stay() -> None:
    page = _page(
        f"<article><p>{PROSE[0]}</p>"
        "<p>READ MORE: <a href='/a'>Port strike enters its third week as talks stall again</a></p>"
        "<p><strong><a href='/b'>UNION LEADER PRAISES DOCKERS</a></strong></p>"
        "<p><a href='/c'>The full agreement is published by the authority.</a></p>"
        f"<p>{PROSE[1]} <a href='/d'>More</a></p></article>"
    )
    assert prune_furniture(page) == 2
    text = _text(page)
    assert "third week" not in text and "PRAISES" not in text
    assert "full agreement is published" in text and "More" in text


def test_headline_dropped_when_it_is_the_page_title() -> None:
    head = "<title>Dock deal ends strike | The Harbour Gazette</title>"
    page = _page("<h1>Dock deal ends strike</h1>", head)
    headlines = page_headlines(page)
    assert drop_headline("Dock deal ends strike\n" + PROSE[0], headlines) == PROSE[0]
    # a first line that is not the title, or only starts like it, stays
    assert drop_headline("Dock deal\n" + PROSE[0], headlines) == "Dock deal\n" + PROSE[0]
    long_line = " ".join(PROSE)  # a paragraph, even when a title repeats it
    assert drop_headline(long_line, {line_key(long_line)}) == long_line
    # a kicker or dateline above the headline
    assert drop_headline("Business\nDock deal ends strike\nText.", headlines) == "Business\nText."
    assert drop_headline("a\nb\nc\nDock deal ends strike", headlines).endswith("strike")
    og = _page("", "<meta property='og:title' content='Cranes idle at dawn'>")
    assert drop_headline("Cranes idle at dawn!\nText.", page_headlines(og)) == "Text."


def test_clean_page_without_headline_and_teasers() -> None:
    html = (
        "<html><head><title>Dock deal ends strike - Gazette</title></head><body>"
        "<article><h1>Dock deal ends strike</h1>"
        f"<p>{PROSE[0]}</p><p>SEE MORE: <a href='/x'>Cranes stand idle at dawn along the quays</a></p>"
        f"<p>{PROSE[1]}</p></article></body></html>"
    )
    assert clean_page(html).split("\n") == PROSE


def test_inline_elements_stay_whatever_their_class() -> None:
    # A link styled as a popup and a highlighted code comment are parts of their sentences.
    page = _page(
        f"<article><p>{PROSE[0]} See <a class='external-popup' href='/x'>the agreement</a>.</p>"
        "<pre><code><span class='hljs-comment'># rota for the night shift</span></code></pre>"
        "<div class='comments'>Leave a comment</div></article>"
    )
    assert prune_furniture(page) == 1
    assert "the agreement" in _text(page) and "rota for the night shift" in _text(page)
    assert "Leave a comment" not in _text(page)


def test_link_tables_go_data_tables_stay() -> None:
    page = _page(
        f"<article><p>{PROSE[0]}</p>"
        "<table><tr><td><a href='/1'>Home</a></td><td><a href='/2'>World</a></td>"
        "<td><a href='/3'>Sports</a></td></tr></table>"
        "<table><tr><th>Port</th><th>Cranes</th></tr><tr><td>Selden</td><td>14</td></tr>"
        "<tr><td><a href='/p'>Marlow</a></td><td>9</td></tr></table></article>"
    )
    assert prune_furniture(page) == 1
    assert "Sports" not in _text(page) and "Marlow" in _text(page)


def test_the_pages_own_address_goes_other_addresses_stay() -> None:
    html = (
        "<html><head><title>Dock deal</title>"
        "<link rel='canonical' href='https://gazette.example/news/dock-deal'></head><body>"
        f"<article><p>{PROSE[0]}</p><p>https://www.gazette.example/news/dock-deal/</p>"
        f"<p>https://harbour.example/agreement.pdf</p><p>{PROSE[1]}</p></article></body></html>"
    )
    text = clean_page(html, url="http://gazette.example/news/dock-deal?src=feed")
    assert "gazette.example" not in text and "https://harbour.example/agreement.pdf" in text


@pytest.mark.parametrize(
    "box",
    [
        "<div class='post-cta'><h4>Want to win more contracts?</h4><a href='/t'>Try it</a></div>",
        "<section class='footnotes'><ol><li><p>The rota of 2019.</p></li></ol></section>",
        "<div class='affiliate-disclaimer'><p>We earn from qualifying purchases.</p></div>",
    ],
)
def test_calls_to_action_footnotes_and_disclaimers_are_furniture(box: str) -> None:
    page = _page(f"<article><p>{PROSE[0]}</p>{box}<p>{PROSE[1]}</p></article>")
    assert prune_furniture(page) == 1
    assert page.find(".//article").text_content() == "".join(PROSE)


def test_linked_entries_of_an_ordered_list_stay() -> None:
    # A numbered reading list is content; the same links as loose paragraphs are teasers.
    entries = "".join(
        f"<li><p><a href='/b{i}'>Cranes at Dawn, volume {i}</a></p><p>{PROSE[0]}</p></li>"
        for i in range(3)
    )
    page = _page(f"<article><ol>{entries}</ol><p><a href='/x'>Cranes at Dawn</a></p></article>")
    assert prune_furniture(page) == 1
    assert "volume 2" in _text(page)
