"""``eval dedup``, ``eval events`` and ``eval extract``: quality on labelled data, with the
daemon's own code.

The measuring code lives in ``worker.eval``; it is imported when the command runs, so the
daemon does not load it.
"""

from __future__ import annotations

import argparse
import importlib


def _run(module: str) -> object:
    def handler(args: argparse.Namespace) -> int:
        return int(importlib.import_module(module).main(args) or 0)

    return handler


def _numbers(text: str) -> list[int]:
    """``0,1,2`` as ``[0, 1, 2]``."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or N,N,...") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="measure dedup and boilerplate removal on labelled data")
    ev_sub = ev.add_subparsers(dest="eval_command", metavar="WHAT")
    ev_sub.required = True

    dedup = ev_sub.add_parser("dedup", help="near-duplicate clustering vs labels")
    dedup.add_argument(
        "--labels",
        required=True,
        metavar="FILE.tsv",
        help="TSV with header path<TAB>cluster; paths relative to its folder",
    )
    dedup.add_argument(
        "--distractors", metavar="DIR", help="every file below DIR is its own cluster"
    )
    dedup.add_argument("--json", action="store_true", help="one JSON object on stdout")
    dedup.add_argument(
        "--set",
        action="append",
        metavar="dedup.KEY=VALUE",
        help="override one [dedup] or [clean] setting (repeatable), e.g. dedup.lsh_threshold=0.2",
    )
    dedup.add_argument(
        "--seed",
        type=_numbers,
        default=[0],
        metavar="N[,N...]",
        help="seeds of the documents' arrival order (default 0); several: one run each, and "
        "the pair agreement of their stories",
    )
    dedup.add_argument(
        "--workers",
        type=_numbers,
        metavar="N[,N...]",
        help="feed paths: the feeds whole, polled by N worker processes (run --once) "
        "started together, instead of in rounds by this process; several: one run each",
    )
    dedup.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL server to run on (a new database is made on it for each run and "
        "dropped after; the role needs CREATEDB); default a temporary SQLite file",
    )
    dedup.add_argument(
        "--half",
        choices=("even", "odd"),
        help="only the labelled clusters of even (odd) index in sorted name order, with "
        "every distractor: a check for overfitting",
    )
    dedup.add_argument(
        "--path",
        choices=("import", "whole-pages", "fragments", "summaries", "all"),
        default="import",
        help="how the documents reach the store: newsdedup import (default), or served as "
        "feeds and polled by the daemon's path with whole pages, the pages' main HTML "
        "blocks or one-sentence summaries (page fetched) as entry bodies; all: each in turn",
    )
    dedup.set_defaults(handler=_run("worker.eval.dedup"))

    events = ev_sub.add_parser("events", help="event grouping (stories into events) vs labels")
    events.add_argument(
        "--labels",
        required=True,
        metavar="FILE.tsv",
        help="TSV with header path<TAB>cluster (a cluster is one event); paths relative to it",
    )
    events.add_argument("--json", action="store_true", help="one JSON object on stdout")
    events.add_argument(
        "--set",
        action="append",
        metavar="events.KEY=VALUE",
        help="override one [events], [dedup] or [clean] setting (repeatable)",
    )
    events.add_argument(
        "--seed", type=int, default=0, help="seed of the documents' arrival order (default 0)"
    )
    events.add_argument(
        "--half",
        choices=("even", "odd"),
        help="only the groups (cluster name up to its first '_') of even (odd) index in "
        "natural order: tune on one half, check on the other",
    )
    events.set_defaults(handler=_run("worker.eval.events"))

    templated = ev_sub.add_parser(
        "templated",
        help="generated templated reports: false merges between reports of different facts",
    )
    templated.add_argument(
        "--reports", type=int, default=40, help="reports of each of the four kinds (default 40)"
    )
    templated.add_argument(
        "--generate-seed", type=int, default=0, help="seed of the generated set (default 0)"
    )
    templated.add_argument(
        "--seed", type=int, default=0, help="seed of the documents' arrival order (default 0)"
    )
    templated.add_argument(
        "--set",
        action="append",
        metavar="dedup.KEY=VALUE",
        help="override one [dedup] or [clean] setting (repeatable)",
    )
    templated.add_argument("--json", action="store_true", help="one JSON object on stdout")
    templated.set_defaults(handler=_run("worker.eval.templated"))

    extract = ev_sub.add_parser("extract", help="main-text extraction vs ground truth")
    extract.add_argument("--aeb", metavar="DIR", help="article extraction benchmark folder")
    extract.add_argument("--wcxb", metavar="DIR", help="WCXB articles folder")
    extract.add_argument(
        "--folds",
        type=int,
        metavar="K",
        help="split the pages (of one benchmark or both) into K folds by site and score each "
        "page with the line model fitted on the other folds",
    )
    extract.add_argument("--json", action="store_true", help="one JSON object on stdout")
    extract.add_argument(
        "--no-reference", action="store_true", help="skip trafilatura alone (the reference)"
    )
    extract.set_defaults(handler=_run("worker.eval.extraction"))
