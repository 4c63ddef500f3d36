"""The story choice and the merge rule of ``worker.dedup.decision``: pure, on hand-made texts."""

from __future__ import annotations

from itertools import product

from tests.fixtures.corpus import WIRE
from worker.dedup.decision import (
    Candidate,
    Match,
    MatchRule,
    Similarity,
    is_copy,
    link_share,
    similarity,
    similarity_matrix,
    stories_to_merge,
    story_match,
    verified_matches,
)
from worker.dedup.fingerprint import Fingerprint, fingerprint

RULE = MatchRule()


def _match(article: int, story: int, jaccard: float, containment: float) -> Match:
    return Match(article, story, Similarity(jaccard, containment))


def test_story_match_follows_the_most_verified_copies() -> None:
    """One near-identical copy in a split-off story does not outvote three copies in the
    main story; the article is recorded against the main story's best match."""
    matches = [
        _match(9, 2, 0.95, 1.0),
        _match(4, 1, 0.6, 0.8),
        _match(3, 1, 0.5, 0.7),
        _match(5, 1, 0.3, 0.5),
    ]
    chosen = story_match(matches)
    assert chosen is not None and (chosen.story_id, chosen.article_id) == (1, 4)


def test_story_match_ties_go_to_the_best_match_then_the_oldest_article() -> None:
    assert story_match([]) is None
    tied = [_match(7, 5, 0.6, 0.9), _match(8, 6, 0.6, 0.7)]
    chosen = story_match(tied)
    assert chosen is not None and chosen.story_id == 5
    even = [_match(8, 5, 0.6, 0.9), _match(7, 6, 0.6, 0.9)]
    chosen = story_match(even)
    assert chosen is not None and chosen.story_id == 6


def test_link_share_is_the_rule_over_every_pair() -> None:
    """The vectorised share equals the scalar rule applied pair by pair."""
    left = [
        fingerprint("\n".join(WIRE["bridge"])),
        fingerprint("\n".join(WIRE["bridge"][:3])),
        fingerprint("Short headline only"),  # too few features: never a copy
    ]
    right = [
        fingerprint("\n".join(WIRE["bridge"][1:])),
        fingerprint("\n".join(WIRE["vaccine"])),
        fingerprint("\n".join(WIRE["bridge"][5:] + WIRE["harvest"])),
    ]
    expected = sum(
        a.compatible(b) and is_copy(similarity(a, b), a, b, RULE) for a, b in product(left, right)
    ) / (len(left) * len(right))
    assert 0.0 < expected < 1.0
    assert link_share(left, right, RULE) == expected
    assert link_share(left, [], RULE) == 0.0


def test_link_share_counts_other_schemes_as_failing() -> None:
    body = "\n".join(WIRE["orchestra"])
    spots, words = fingerprint(body), fingerprint(body, features="words")
    assert link_share([spots], [spots, words], RULE) == 0.5


def _story_of(texts: list[str]) -> list[Fingerprint]:
    return [fingerprint(t) for t in texts]


def test_a_short_text_contained_in_two_stories_does_not_merge_them() -> None:
    """The classic chain: a short text passes containment against two unrelated stories.
    Their own members do not pass the rule against each other, so they stay apart."""
    shared = WIRE["harvest"][:2]
    one = _story_of(["\n".join(shared + WIRE["bridge"])])
    two = _story_of(["\n".join(shared + WIRE["vaccine"])])
    short = fingerprint("\n".join(shared))
    cands = [Candidate(1, 10, one[0]), Candidate(2, 20, two[0])]
    matches = verified_matches(short, cands, RULE)
    assert {m.story_id for m in matches} == {10, 20}
    near = story_match(matches)
    assert near is not None
    assert stories_to_merge(near, matches, {10: one, 20: two}, RULE) == set()


def test_two_halves_of_one_story_merge_on_their_links() -> None:
    """A story split early (two trims arrived before any copy that covers both) is one
    story once the links between the halves mostly pass, even though the bridging copy
    is not near-identical to either side."""
    body = WIRE["bridge"]
    first = _story_of(["\n".join(body[:6]), "\n".join(body[:5])])
    second = _story_of(["\n".join(body[2:]), "\n".join(body[3:])])
    bridge = fingerprint("\n".join(body[1:7]))
    cands = [Candidate(1, 10, first[0]), Candidate(2, 10, first[1])]
    cands += [Candidate(3, 20, second[0]), Candidate(4, 20, second[1])]
    matches = verified_matches(bridge, cands, RULE)
    near = story_match(matches)
    assert near is not None and {m.story_id for m in matches} == {10, 20}
    assert max(m.similarity.jaccard for m in matches) < RULE.merge_jaccard
    members = {10: first, 20: second}
    assert link_share(first, second, RULE) >= RULE.merge_link_share
    assert stories_to_merge(near, matches, members, RULE) == {10, 20} - {near.story_id}
    strict = MatchRule(merge_link_share=1.0)
    assert stories_to_merge(near, matches, members, strict) == set()


def test_similarity_matrix_agrees_with_the_pairwise_estimate() -> None:
    body = "\n".join(WIRE["harvest"])
    left = [fingerprint(body), fingerprint(""), fingerprint(body, features="words")]
    right = [fingerprint("\n".join(WIRE["harvest"][:3])), fingerprint(body)]
    jaccard, containment, smaller = similarity_matrix(left, right)
    for (i, a), (j, b) in product(enumerate(left), enumerate(right)):
        if not a.compatible(b):
            assert (jaccard[i, j], containment[i, j], smaller[i, j]) == (0.0, 0.0, 0.0)
            continue
        sim = similarity(a, b)
        assert (jaccard[i, j], containment[i, j]) == (sim.jaccard, sim.containment), (i, j)
        assert smaller[i, j] == min(a.shingle_count, b.shingle_count)
