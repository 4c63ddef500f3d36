"""The persistent LSH index: band keys of each indexed article are rows of ``lsh_buckets``,
written in the article's own transaction; a lookup finds stored articles sharing a band
with a fingerprint, within the retention window.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    TextClause,
    bindparam,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from worker.dedup.decision import Candidate
from worker.dedup.fingerprint import Fingerprint
from worker.dedup.lsh import band_keys
from worker.store.feeds import utcnow
from worker.store.models import Article, LshBucket

if TYPE_CHECKING:
    from worker.store.articles import DedupPolicy

# Above this many candidate rows a bucket is a common band (boilerplate); verify the best.
MAX_CANDIDATES = 500


@lru_cache(maxsize=16)
def _lookup_ids(bands: int) -> TextClause:
    """The candidate query for ``bands`` band keys, built once per band count: one equality
    per band, OR-ed, so SQLite (multi-index OR) and PostgreSQL (bitmap OR) each search the
    (band, bucket) primary key. A row-value IN list made SQLite scan the whole table; an
    expression rebuilt for every lookup cost more CPU than running it."""
    ors = " OR ".join(f"(band = {b} AND bucket = :k{b})" for b in range(bands))
    return text(
        f"SELECT article_id FROM lsh_buckets WHERE ({ors}) AND added_at >= :cutoff "
        "GROUP BY article_id ORDER BY count(*) DESC, article_id LIMIT :limit"
    ).bindparams(
        *(bindparam(f"k{b}", type_=BigInteger) for b in range(bands)),
        bindparam("cutoff", type_=DateTime(timezone=True)),
        bindparam("limit", type_=Integer),
    )


def candidates(
    session: Session, fp: Fingerprint, policy: DedupPolicy, keys: list[int] | None = None
) -> list[Candidate]:
    """Stored articles sharing a band with ``fp`` (most shared bands first), within the
    retention window. ``keys``: the band keys of ``fp``, when the caller has them."""
    keys = keys if keys is not None else band_keys(fp.hashvalues, policy.lsh)
    params: dict[str, object] = {f"k{b}": k for b, k in enumerate(keys)}
    params.update(cutoff=utcnow() - policy.retention, limit=MAX_CANDIDATES)
    ids = [row[0] for row in session.execute(_lookup_ids(len(keys)), params)]
    if not ids:
        return []
    rows = session.execute(
        select(
            Article.id,
            Article.story_id,
            Article.signature,
            Article.shingle_count,
            Article.content_hash,
            Article.sig_scheme,
            Article.sig_seed,
        ).where(Article.id.in_(ids))
    )
    out = []
    for row in rows:
        if row.signature is None or row.sig_scheme is None:
            continue
        stored = Fingerprint.from_stored(
            row.signature,
            shingle_count=row.shingle_count,
            content_hash=row.content_hash,
            scheme=row.sig_scheme,
            seed=row.sig_seed or 0,
        )
        out.append(Candidate(row.id, row.story_id, stored))
    return out


def index_article(
    session: Session,
    article_id: int,
    fp: Fingerprint,
    policy: DedupPolicy,
    now: datetime,
    keys: list[int] | None = None,
) -> None:
    session.execute(delete(LshBucket).where(LshBucket.article_id == article_id))
    if fp.shingle_count < policy.rule.min_shingles:
        return  # too short to be matched by similarity: keep it out of the index
    keys = keys if keys is not None else band_keys(fp.hashvalues, policy.lsh)
    session.execute(
        insert(LshBucket),
        [
            {"band": band, "bucket": key, "article_id": article_id, "added_at": now}
            for band, key in enumerate(keys)
        ],
    )
