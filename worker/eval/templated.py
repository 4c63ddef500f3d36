"""``newsdedup eval templated``: templated reports, generated, through the import path.

Automated reports (earthquake bulletins, sports results, market closes, weather
forecasts) share most of their words with every other report of their kind; what tells two
apart are the facts: the numbers, names, places and dates. Two reports of different facts
are different stories however much template they share; copies of one report (a new
headline and byline, a trimmed tail, a lede alone) are one story.

The set is generated here, from templates written for this project (no third-party text),
deterministically from ``--seed``: ``--reports`` reports of each of the four kinds, each
with one to three copies. A *cluster* is one report and its copies. Reports of one kind are
made alike on purpose: the same places, teams, indexes and cities come back with other
numbers and dates, as a week of real bulletins would.

The score is the eval's own (``worker.eval.dedup``); the figures that matter here are the
*false merges* (pairs of documents of different reports in one story: the target is 0) and
the copies joined (pairwise recall).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable

from worker.config import load_config
from worker.eval.corpus import Document
from worker.eval.dedup import DedupEval, eval_config, run_eval
from worker.eval.runs import run_database

OUTLETS = ("Harbour Gazette", "Valley Courier", "Northern Ledger", "Coastline Daily")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("March", "April", "May")


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"


def _quake(rng: random.Random) -> tuple[str, list[str]]:
    town, region = rng.choice(
        [("Port Ellis", "the Marren Islands"), ("Caldera Bay", "the Marren Islands"),
         ("Vostra", "the Kestrel coast"), ("San Orlo", "the Kestrel coast"),
         ("Ilmani", "the northern highlands")]
    )  # fmt: skip
    mag = f"{rng.randint(4, 7)}.{rng.randint(0, 9)}"
    direction = rng.choice(("north", "south", "east", "west", "northeast", "southwest"))
    dist, depth = rng.randint(5, 140), rng.randint(8, 190)
    when = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    lat = f"{rng.randint(-40, 40)}.{rng.randint(10, 99)}"
    lon = f"{rng.randint(100, 179)}.{rng.randint(10, 99)}"
    date = _date(rng)
    title = f"Magnitude {mag} earthquake strikes near {town}"
    return title, [
        f"A magnitude {mag} earthquake struck {dist} km {direction} of {town}, in "
        f"{region}, at {when} UTC on {date}, the regional seismological agency said.",
        f"The quake had a depth of {depth} km. Its epicentre was at {lat} degrees latitude "
        f"and {lon} degrees longitude.",
        "There were no immediate reports of damage or injuries. The agency said the "
        "information was preliminary and would be revised as more data came in.",
        "This report was generated automatically from the agency's data feed and was not "
        "reviewed by an editor. The magnitude and location may change after review by a "
        "seismologist.",
        "Earthquakes of this size are common in the region, which lies on the boundary "
        "between two tectonic plates. Residents can report whether they felt the shaking "
        "on the agency's website.",
    ]


TEAMS = ("Redhill Rovers", "Ashford United", "Port Ellis Athletic", "Kestrel City",
         "Marren Town", "Valley Wanderers")  # fmt: skip
PLAYERS = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Alvarez", "Brennan", "Kowalski",
           "Haddad", "Nieminen", "Costa")  # fmt: skip


def _match(rng: random.Random) -> tuple[str, list[str]]:
    winner, loser = rng.sample(TEAMS, 2)
    ws, ls = rng.randint(1, 5), 0
    ls = rng.randint(0, ws - 1)
    scorers = rng.sample(PLAYERS, 3)
    minutes = sorted(rng.sample(range(3, 90), 3))
    venue = f"{winner.split()[0]} Park"
    pos, pts = rng.randint(1, 12), rng.randint(10, 60)
    title = f"{winner} beat {loser} {ws}-{ls}"
    second = (
        f"{scorers[1]} added a second after {minutes[1]} minutes."
        if ws > 1
        else f"{loser} pressed for an equaliser after {minutes[1]} minutes."
    )
    pulled = (
        f"{scorers[2]} pulled one back for {loser} in the {minutes[2]}th minute."
        if ls
        else f"{loser} had a late chance in the {minutes[2]}th minute."
    )
    return title, [
        f"{winner} beat {loser} {ws}-{ls} in the league on {rng.choice(DAYS)}, "
        f"{_date(rng)}, at {venue}.",
        f"{scorers[0]} opened the scoring in the {minutes[0]}th minute and {second} {pulled}",
        f"The win lifts {winner} to {pos}th place in the table on {pts} points, while "
        f"{loser} stay on {rng.randint(5, pts)} points.",
        f"{winner} play their next match on {rng.choice(DAYS)}. The attendance at {venue} "
        f"was {rng.randint(3, 40)},{rng.randint(100, 999)}.",
        "Results are provided by the league's data service. Kick-off times and fixtures "
        "are subject to change, and the table is updated after every match.",
    ]


INDEXES = (("Harbour 100", "crown"), ("Kestrel Composite", "mark"), ("Marren All-Share", "florin"))
COMPANIES = ("Ellis Shipping", "Valley Foods", "Northgate Mining", "Corran Energy",
             "Bayside Telecom", "Orlo Steel")  # fmt: skip


def _market(rng: random.Random) -> tuple[str, list[str]]:
    index, currency = rng.choice(INDEXES)
    up = rng.random() < 0.5
    points, pct = rng.randint(3, 240), f"{rng.randint(0, 2)}.{rng.randint(1, 99):02d}"
    level = f"{rng.randint(2, 19)},{rng.randint(100, 999)}.{rng.randint(10, 99)}"
    gainer, faller = rng.sample(COMPANIES, 2)
    reason = rng.choice(("a profit warning", "weaker sales", "a broker downgrade"))
    title = f"{index} {'rises' if up else 'falls'} {pct}% to {level}"
    return title, [
        f"The {index} index closed {'up' if up else 'down'} {points} points, or {pct} "
        f"percent, at {level} on {rng.choice(DAYS)}, {_date(rng)}, as trading volume reached "
        f"{rng.randint(100, 900)} million shares.",
        f"{gainer} led the gainers, rising {rng.randint(1, 9)}.{rng.randint(1, 9)} percent, "
        f"while {faller} fell {rng.randint(1, 9)}.{rng.randint(1, 9)} percent after {reason}.",
        f"The {currency} traded at {rng.randint(0, 1)}.{rng.randint(1000, 9999)} against the "
        f"dollar, and the yield on the ten-year bond was {rng.randint(1, 6)}."
        f"{rng.randint(10, 99)} percent.",
        "Analysts said investors were waiting for the central bank's next decision on "
        "interest rates. Market data are delayed by at least 15 minutes and are provided "
        "for information only.",
        "This market report is updated automatically at the close of each trading day.",
    ]


CITIES = ("Port Ellis", "Redhill", "Ashford", "Caldera Bay", "Vostra")


def _weather(rng: random.Random) -> tuple[str, list[str]]:
    city = rng.choice(CITIES)
    high = rng.randint(8, 34)
    low = high - rng.randint(4, 12)
    cond = rng.choice(("Sunny", "Cloudy", "Showers", "Thunderstorms", "Fog clearing"))
    day = f"{rng.choice(DAYS)}, {_date(rng)}"
    title = f"{city} weather for {day}: {cond.lower()}, {high} degrees"
    return title, [
        f"{city} forecast for {day}: {cond.lower()} with a high of {high} degrees and a low "
        f"of {low} degrees.",
        f"Winds will blow from the {rng.choice(('north', 'south', 'east', 'west'))} at "
        f"{rng.randint(5, 20)} to {rng.randint(21, 60)} kilometres per hour, and the chance "
        f"of rain is {rng.randint(0, 10) * 10} percent.",
        f"Sunrise is at {rng.randint(5, 7)}:{rng.randint(10, 59)} and sunset at "
        f"{rng.randint(18, 21)}:{rng.randint(10, 59)}. The UV index will reach "
        f"{rng.randint(1, 11)}.",
        "The outlook for the weekend is changeable. Forecasts are issued by the national "
        "weather service and updated every six hours.",
        "Warnings for severe weather are published separately and take precedence over "
        "this forecast.",
    ]


KINDS: dict[str, Callable[[random.Random], tuple[str, list[str]]]] = {
    "quake": _quake, "match": _match, "market": _market, "weather": _weather,
}  # fmt: skip


def _copies(rng: random.Random, title: str, paragraphs: list[str]) -> list[tuple[str, str]]:
    """The report as first published, then one to three copies: a new headline and a
    byline, the tail trimmed, or the lede alone."""
    out = [(title, "\n".join(paragraphs))]
    for outlet in rng.sample(OUTLETS, rng.randint(1, 3)):
        how = rng.choice(("rehead", "trim", "lede"))
        if how == "rehead":
            body = [f"By {outlet} staff", *paragraphs, f"Copyright {outlet}."]
            out.append((f"{title} ({outlet})", "\n".join(body)))
        elif how == "trim":
            out.append((title, "\n".join(paragraphs[: rng.randint(3, 4)])))
        else:
            out.append((f"{outlet}: {title}", "\n".join(paragraphs[:2])))
    return out


def generate(seed: int = 0, reports: int = 40) -> list[Document]:
    """``reports`` reports of each kind with their copies, as labelled documents (the
    cluster is ``kind-N``)."""
    rng = random.Random(seed)
    docs = []
    for kind, make in KINDS.items():
        for n in range(reports):
            title, paragraphs = make(rng)
            for c, (headline, text) in enumerate(_copies(rng, title, paragraphs)):
                docs.append(Document(f"{kind}-{n}/{c}", f"{kind}-{n}", False, headline, text=text))
    return docs


def run(
    docs: list[Document], overrides: list[str], config_path: str | None, seed: int
) -> DedupEval:
    base = load_config(config_path) if config_path else None
    with run_database(None) as url:
        return run_eval(docs, eval_config(base, overrides, url), order_seed=seed)


def pair_counts(result: DedupEval, docs: list[Document]) -> tuple[int, int, int]:
    """``(copy pairs, copy pairs joined, false merge pairs)``: the counts behind the
    pairwise scores (recall = joined / copy pairs, precision = joined / joined pairs)."""
    sizes: dict[str, int] = {}
    for d in docs:
        sizes[d.cluster] = sizes.get(d.cluster, 0) + 1
    true = sum(n * (n - 1) // 2 for n in sizes.values())
    joined = round(result.pairwise.recall * true)
    predicted = round(joined / result.pairwise.precision) if result.pairwise.precision else 0
    return true, joined, predicted - joined


def main(args: argparse.Namespace) -> int:
    docs = generate(args.generate_seed, args.reports)
    result = run(docs, args.set or [], args.config, args.seed)
    true, joined, false = pair_counts(result, docs)
    summary = {
        "documents": result.documents,
        "reports": result.true_clusters,
        "stories": result.predicted_clusters,
        "false_merge_pairs": false,
        "copy_pairs": true,
        "copy_pairs_joined": joined,
        "pairwise": result.pairwise.as_dict(),
        "bcubed": result.bcubed.as_dict(),
        "settings": result.settings,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"templated reports: {result.documents} documents, {result.true_clusters} reports, "
            f"{result.predicted_clusters} stories\n"
            f"false merges (pairs of different reports in one story): {false}\n"
            f"copies joined: {joined} of {true} pairs\n"
            f"pairwise P/R/F1 {result.pairwise.precision:.4f} / {result.pairwise.recall:.4f} / "
            f"{result.pairwise.f1:.4f}; B-cubed F1 {result.bcubed.f1:.4f}"
        )
    return 0
