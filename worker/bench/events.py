"""``newsdedup bench events``: CPU per story of event assignment with N stories in the
window, and the memory the window's state takes.

Synthetic stories, made here: a Zipf-distributed background vocabulary (the common words
of news) plus, per event, a handful of its own names and rare words, 64 terms a story (real
texts give 62 on ECB+, 67 on the BBC set), events of 1 to 20 stories, their times spread
evenly over the window's 7 days. The window is filled through ``EventIndex.load`` (as a
worker's start does), then ``--stories`` more are placed one by one (decide, record, split
check), the window moving on as they come (``expire`` after every 32, as after a batch),
and each placement's CPU time is taken, its share of the expiry included. Terms are given,
not tokenised: ``story_terms`` on a text is measured apart, on a synthetic article of 400
words.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from worker.bench.measure import StageTimes, peak_rss_mib
from worker.config import EventSettings
from worker.events.assign import EventIndex
from worker.events.represent import story_terms
from worker.pipeline.events import rule_for

VOCABULARY = 200_000
EVENT_TERMS = 12
BACKGROUND_TERMS = 56
BATCH = 32


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / (1024 * 1024)


class Stories:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        weights = [1.0 / (rank + 1) for rank in range(VOCABULARY)]
        self._cumulative = list(_accumulate(weights))
        self.event = 0
        self.left = 0
        self.own: list[str] = []

    def next(self) -> tuple[int, Counter[str]]:
        """(true event, terms) of the next story."""
        rng = self.rng
        if self.left == 0:
            self.event += 1
            self.left = rng.randint(1, 20)
            self.own = [f"e:name{self.event}_{k}" for k in range(EVENT_TERMS)]
        self.left -= 1
        terms: Counter[str] = Counter()
        for term in rng.sample(self.own, 8):
            terms[term] += rng.randint(1, 3)
        for index in rng.choices(
            range(VOCABULARY), cum_weights=self._cumulative, k=BACKGROUND_TERMS
        ):
            terms[f"w:v{index}"] += 1
        return self.event, terms


def _accumulate(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += v
        out.append(total)
    return out


def run(window: int, stories: int, seed: int = 1) -> dict[str, Any]:
    source = Stories(seed)
    rule = rule_for(EventSettings())
    step = rule.window / window  # seconds between two stories: the window holds ``window``
    gc.collect()
    before = _rss_mib()
    index = EventIndex(rule)
    started = time.perf_counter()

    def rows() -> Iterator[tuple[int, int, Counter[str], float]]:
        for story_id in range(1, window + 1):
            event, terms = source.next()
            yield story_id, event, terms, story_id * step

    index.load(rows())
    fill_seconds = time.perf_counter() - started
    gc.collect()
    state_mib = _rss_mib() - before
    arrays_mib = index.window.nbytes() / (1024 * 1024)
    times = StageTimes()
    next_event = iter(range(10**9, 2 * 10**9))
    joined = 0
    for story_id in range(window + 1, window + stories + 1):
        _, terms = source.next()
        cpu = time.process_time()
        placed = index.place(story_id, terms, story_id * step, lambda: next(next_event))
        if story_id % BATCH == 0:
            index.expire()
        times.add("assign", 1000 * (time.process_time() - cpu))
        joined += not placed.new_event
    text = " ".join(f"Word{i % 97} word{i % 389}." if i % 9 == 0 else f"term{i % 541}"
                    for i in range(400))  # fmt: skip
    for _ in range(200):
        cpu = time.process_time()
        story_terms("A headline of eight words about the event", text)
        times.add("terms", 1000 * (time.process_time() - cpu))
    table = times.table()
    return {
        "window_stories": window,
        "placed_stories": stories,
        "joined_an_event": joined,
        "assign_ms_per_story": table["assign"],
        "terms_ms_per_story": table["terms"],
        "fill_seconds": fill_seconds,
        "window_stories_after": len(index),
        "window_state_mib": state_mib,
        "window_state_bytes_per_story": state_mib * 1024 * 1024 / window,
        "window_arrays_mib": arrays_mib,
        "peak_rss_mib": peak_rss_mib(),
    }


def main(args: argparse.Namespace) -> int:
    result = run(args.window, args.stories)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    a, t = result["assign_ms_per_story"], result["terms_ms_per_story"]
    print(f"window: {result['window_stories']} stories, filled in {result['fill_seconds']:.1f}s")
    print(
        f"assignment CPU per story: median {a['median_ms']:.3f} ms, p95 {a['p95_ms']:.3f} ms, "
        f"mean {a['mean_ms']:.3f} ms ({result['placed_stories']} stories placed, "
        f"{result['joined_an_event']} joined an event)"
    )
    print(f"terms of a 400-word story: median {t['median_ms']:.3f} ms, p95 {t['p95_ms']:.3f} ms")
    print(
        f"window state: {result['window_state_mib']:.0f} MiB "
        f"({result['window_state_bytes_per_story']:.0f} B per story; arrays "
        f"{result['window_arrays_mib']:.0f} MiB); "
        f"peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    return 0
