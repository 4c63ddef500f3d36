"""Facts: templated reports of different facts are no copies; copies of one report are."""

from __future__ import annotations

from dataclasses import replace

from worker.dedup.decision import MatchRule, is_copy, similarity
from worker.dedup.facts import MAX_FACTS, Facts, conflicting, fact_slots
from worker.dedup.fingerprint import Fingerprint, fingerprint
from worker.eval.templated import generate

RULE = MatchRule()


def _report(magnitude: str, town: str, depth: int, when: str) -> str:
    return "\n".join(
        [
            f"A magnitude {magnitude} earthquake struck 40 km north of {town}, in the Marren "
            f"Islands, at {when} UTC on May 3, the regional seismological agency said.",
            f"The quake had a depth of {depth} km. There were no immediate reports of damage.",
            "The agency said the information was preliminary and would be revised as more data "
            "came in. This report was generated automatically from the agency's data feed and "
            "was not reviewed by an editor.",
            "Earthquakes of this size are common in the region, which lies on the boundary "
            "between two tectonic plates, and residents can report whether they felt it.",
        ]
    )


def test_reports_of_different_facts_pass_on_signatures_but_are_no_copies() -> None:
    one = fingerprint(_report("5.2", "Vostra", 33, "04:12"))
    other = fingerprint(_report("6.1", "Ilmani", 120, "17:40"))
    sim = similarity(one, other)
    assert is_copy(sim, one, other, replace(RULE, fact_conflict=0.0)), "the template passes"
    assert not is_copy(sim, one, other, RULE)


def test_copies_restate_the_facts_they_share() -> None:
    text = _report("5.2", "Vostra", 33, "04:12")
    original = fingerprint(text)
    bylined = fingerprint("By Valley Courier staff\n" + text + "\nCopyright Valley Courier.")
    trimmed = fingerprint("\n".join(text.split("\n")[:2]))
    for copy in (bylined, trimmed):
        assert not conflicting(original.facts, copy.facts, RULE.fact_conflict)
    assert is_copy(similarity(original, bylined), original, bylined, RULE)


def test_slots_take_the_first_word_of_a_name_and_numbers() -> None:
    facts = fact_slots("Crowds gathered in New York City on Monday as 40,000 runners set off.")
    york = fact_slots("Crowds gathered in New Orleans on Monday as 40,000 runners set off.")
    # "New" fills the slot "gathered in" in both; "York" and "Orleans" make no slot.
    assert len(facts) == len(york) == 3
    assert not conflicting(facts, york, 0.3)
    paris = fact_slots("Crowds gathered in Paris City on Monday as 9,000 runners set off.")
    assert conflicting(facts, paris, 0.3)  # 2 of the 3 shared slots differ


def test_few_shared_slots_say_nothing() -> None:
    one = fact_slots("The quake struck at 04:12 today.")
    other = fact_slots("The quake struck at 17:40 today.")
    assert len(one) == 1 and not conflicting(one, other, 0.3)


def test_facts_are_bounded_and_stored_as_bytes() -> None:
    text = " ".join(f"word{i} number{i} {i}" for i in range(MAX_FACTS * 2))
    facts = fact_slots(text)
    assert len(facts) == MAX_FACTS
    again = Facts(facts.to_bytes())
    assert again.values == facts.values and again.slots == facts.slots
    assert Facts().to_bytes() is None and fact_slots("no facts here").to_bytes() is None


def test_stored_fingerprints_keep_their_facts() -> None:
    fp = fingerprint(_report("5.2", "Vostra", 33, "04:12"))
    stored = Fingerprint.from_stored(
        fp.to_bytes(), shingle_count=fp.shingle_count, content_hash=fp.content_hash,
        scheme=fp.scheme, seed=fp.seed, facts=fp.facts.to_bytes(),
    )  # fmt: skip
    assert stored.facts.values == fp.facts.values
    assert not conflicting(stored.facts, fp.facts, 0.3)


def test_off_compares_no_facts() -> None:
    a, b = (
        fact_slots(_report("5.2", "Vostra", 33, "04:12")),
        fact_slots(_report("6.1", "Ilmani", 1, "1")),
    )
    assert conflicting(a, b, 0.3) and not conflicting(a, b, 0.0)


def test_the_generated_set_is_deterministic_and_labelled() -> None:
    docs = generate(3, 5)
    assert [d.key for d in docs] == [d.key for d in generate(3, 5)]
    assert [d.text for d in docs] == [d.text for d in generate(3, 5)]
    assert {d.cluster.split("-")[0] for d in docs} == {"quake", "match", "market", "weather"}
    assert len({d.cluster for d in docs}) == 20
    assert all(d.cluster == d.key.split("/")[0] for d in docs)
