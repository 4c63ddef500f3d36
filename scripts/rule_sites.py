#!/usr/bin/env python3
"""What each phrase rule of the chrome line rules removes, site by site: does it generalize?

    python scripts/rule_sites.py --wcxb ../shared/data/wcxb-articles --aeb ../shared/data/aeb \\
        --spotsigs ../shared/data/spotsigs-dev/labels.tsv --seeds ../shared/seeds

Every page is extracted once (``page_to_text``); then, rule by rule, the lines that rule alone
takes (as ``strip_chrome`` judges a line: list items, table rows) are removed and scored:

* on WCXB and AEB, per site (the page's host): the words removed that are not in the page's
  gold text (``junk``), those that are (``gold``), the must-exclude snippets it fixes and the
  must-include snippets it loses (WCXB);
* on spotsigs-dev (no boilerplate labels), the sites on which it removes a line that pages of
  two different stories carry (a line two stories share is not either story's text);
* on the seed pages, whether it takes one of their listed chrome lines (a test holds those).

A labelled site is *helped* by a rule when it fixes more must-exclude snippets there than it
loses must-include ones (or as many, and removes more junk than gold words), *harmed* in the
opposite case; a spotsigs site where it removes a line two stories share is helped. A rule
*generalizes* when, leaving out the site it helps most (the site it was most likely written
for), it helps at least one site and more sites than it harms.
``docs/decisions/site-split-cleaning.md`` holds the table of the rules this deleted.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from worker.clean import chrome, notices
from worker.clean.extract import page_to_text
from worker.clean.learned import line_key
from worker.eval.benchmarks import Page, load_aeb, load_wcxb
from worker.eval.corpus import load_labels
from worker.eval.folds import site_key
from worker.eval.shapes import site_of
from worker.eval.text_metrics import snippet_found, token_text, tokens


@dataclass
class Evidence:
    """One rule's effect, per labelled site and on the unlabelled sets."""

    labelled: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    spotsigs_sites: set[str] = field(default_factory=set)
    seed_lines: int = 0

    def verdict(self) -> tuple[bool, str]:
        """Kept when, the site it gains most on left out, it helps on more sites than it
        harms (and on one at least); or when a seed page needs it."""

        def gain(c: Counter[str]) -> tuple[int, int]:
            return c["fixed"] - c["lost"], c["junk"] - c["gold"]

        helped = {s for s, c in self.labelled.items() if gain(c) > (0, 0)}
        harmed = {s for s, c in self.labelled.items() if gain(c) < (0, 0)}
        origin = max(helped, key=lambda s: gain(self.labelled[s]), default=None)
        others = len(helped - {origin}) + len(self.spotsigs_sites)
        if origin is None and self.spotsigs_sites:
            others -= 1  # the spotsigs site it was written for
        total = Counter[str]()
        for c in self.labelled.values():
            total.update(c)
        keep = others >= 1 and others > len(harmed)
        return keep or self.seed_lines > 0, (
            f"helped {others:3d} (labelled {len(helped):2d},"
            f" spotsigs {len(self.spotsigs_sites):3d})"
            f" harmed {len(harmed):2d}  junk {total['junk']:4d} gold {total['gold']:4d}"
            f" fixed {total['fixed']:2d} lost {total['lost']:2d}"
        )


def _rules() -> dict[str, tuple[str, re.Pattern[str] | None]]:
    """Every phrase rule by name: H (hard lines), N (notices), and the two that are one
    matcher each (ad markup, disclosures). Reads the modules' private lists on purpose."""
    rules: dict[str, tuple[str, re.Pattern[str] | None]] = {}
    for i, p in enumerate(chrome._HARD_LINE_PATTERNS):
        rules[f"H{i:02d}"] = ("hard", re.compile(p, re.I))
    for i, p in enumerate(notices._NOTICE_PATTERNS):
        rules[f"N{i:02d}"] = ("notice", re.compile(p, re.I))
    rules["MARKUP"] = ("markup", None)
    rules["DISCLOSURE"] = ("disclosure", None)
    return rules


RULES = _rules()
_ITEM_ONLY = {chrome._BUTTON_PATTERN, *chrome._CREDIT_PATTERNS}


def _matches(name: str, text: str, item: bool) -> bool:
    kind, rx = RULES[name]
    if kind == "hard":
        assert rx is not None
        return not (item and rx.pattern in _ITEM_ONLY) and rx.fullmatch(text) is not None
    if kind == "disclosure":
        return notices.is_disclosure(text)
    if notices._too_long(text.strip()):
        return False
    if kind == "markup":
        return notices.is_markup(text.strip())
    assert rx is not None
    return rx.fullmatch(text.strip()) is not None


def line_rules(line: str) -> set[str]:
    """The rules that, each alone, make ``line`` chrome (as ``is_hard_chrome`` reads it)."""
    whole = line.strip()
    item = bool(whole) and whole[0] in chrome._BULLETS
    text = chrome._BULLET.sub("", whole) if item else whole
    cells = chrome._table_cells(text)
    if cells is None:
        return {name for name in RULES if _matches(name, text, item)}
    if chrome._HEADER_RULE.fullmatch(text) or not cells:
        return set()
    per_cell = [{name for name in RULES if _matches(name, c, False)} for c in cells]
    return set.intersection(*per_cell)


def _labelled(pages: list[tuple[str, Page, str]], evidence: dict[str, Evidence]) -> None:
    for site, page, text in pages:
        lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
        truth = Counter(tokens(page.truth))
        hits = [line_rules(ln) for ln in lines]
        before = token_text(tokens(text))
        for name in set().union(*hits) if hits else ():
            kept = "\n".join(ln for ln, h in zip(lines, hits, strict=True) if name not in h)
            predicted, after = Counter(tokens(text)), Counter(tokens(kept))
            lost_tp = sum((predicted & truth).values()) - sum((after & truth).values())
            removed = sum(predicted.values()) - sum(after.values())
            haystack = token_text(tokens(kept))
            c = evidence[name].labelled[site]
            c["gold"] += lost_tp
            c["junk"] += removed - lost_tp
            for snippets, key in ((page.must_not, "fixed"), (page.must_have, "lost")):
                for s in snippets:
                    w = tokens(s)
                    c[key] += (
                        bool(w) and snippet_found(before, w) and not snippet_found(haystack, w)
                    )


def _spotsigs(labels: Path, evidence: dict[str, Evidence]) -> None:
    docs = [(d.cluster, site_of(d), page_to_text(d.page)) for d in load_labels(labels) if d.page]
    clusters: dict[str, set[str]] = defaultdict(set)
    for cluster, _site, text in docs:
        for ln in text.split("\n"):
            clusters[line_key(ln)].add(cluster)
    for _cluster, site, text in docs:
        for ln in text.split("\n"):
            if ln.strip() and len(clusters[line_key(ln)]) >= 2:
                for name in line_rules(ln):
                    evidence[name].spotsigs_sites.add(site)


def _seeds(folder: Path, evidence: dict[str, Evidence]) -> None:
    # The listed chrome of the seed pages (tests/integration/pipeline/test_seeds.py).
    from tests.integration.pipeline.test_seeds import LISTED_CHROME

    listed = [re.compile(p) for p in LISTED_CHROME]
    for path in sorted(folder.glob("*.txt")):
        for ln in path.read_text(encoding="utf-8").splitlines():
            if ln.strip() and any(p.fullmatch(ln.strip()) for p in listed):
                for name in line_rules(ln):
                    evidence[name].seed_lines += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wcxb", type=Path, required=True)
    parser.add_argument("--aeb", type=Path, required=True)
    parser.add_argument("--spotsigs", type=Path, help="spotsigs-dev labels.tsv")
    parser.add_argument("--seeds", type=Path, help="the seed pages' folder")
    args = parser.parse_args()
    evidence: dict[str, Evidence] = defaultdict(Evidence)
    pages = [
        (site_key(p.url, f"{name}:{p.id}"), p, page_to_text(p.html, p.url, lines=None))
        for name, loader, folder in (("wcxb", load_wcxb, args.wcxb), ("aeb", load_aeb, args.aeb))
        for p in loader(folder)
    ]
    _labelled(pages, evidence)
    if args.spotsigs:
        _spotsigs(args.spotsigs, evidence)
    if args.seeds:
        _seeds(args.seeds, evidence)
    for name, (kind, rx) in RULES.items():
        keep, summary = evidence[name].verdict()
        seed = " seed" if evidence[name].seed_lines else ""
        shown = rx.pattern[:60] if rx is not None else kind
        print(f"{name:<10} {'keep' if keep else 'DROP'}{seed:<5} {summary}  {shown}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
