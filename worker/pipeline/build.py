"""The stage objects a config describes: the fetcher with its limits, and the dedup policy
the store decides by. Built in one place so the daemon, a config reload, backfill and the
benches get the same ones.
"""

from __future__ import annotations

from datetime import timedelta

from worker.config import Config
from worker.dedup.decision import MatchRule
from worker.dedup.engine import DedupPolicy
from worker.dedup.lsh import LshParams
from worker.reader.fetcher import Fetcher, FetchLimits


def dedup_policy(config: Config) -> DedupPolicy:
    d = config.dedup
    return DedupPolicy(
        rule=MatchRule(
            d.jaccard_threshold,
            d.containment_threshold,
            d.min_shingles,
            d.merge_jaccard,
            d.merge_link_share,
            d.fact_conflict,
        ),
        lsh=LshParams.for_threshold(d.lsh_threshold, d.num_perm),
        canonical_policy=d.canonical_policy.value,
        retention=timedelta(seconds=d.retention),
    )


def fetcher_for(config: Config) -> Fetcher:
    f = config.fetch
    return Fetcher(
        FetchLimits(
            f.timeout,
            f.connect_timeout,
            f.max_bytes,
            f.max_redirects,
            f.user_agent,
            per_host=f.per_host_concurrency,
        )
    )
