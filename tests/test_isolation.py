"""Nothing leaks between encounters, and evaluation is safe from several threads at once.

pyDatalog keeps engine state per thread, and copies of its Logic share fact stores; the plan is
one object shared by every thread, each evaluation in a state of its own: these tests prove each
engine's isolation rather than assume it (each test runs under both).
"""
import copy
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import EXAMPLES, ROOT
from supportable.engine.policyset import load_policy_set
from supportable.server import wire


@pytest.fixture(scope="module", params=["plan", "pydatalog"])
def base_policy(request):
    return load_policy_set(ROOT / "policies", engine=request.param)


def all_examples():
    return [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]


def outcome(policy, data):
    return wire.decision(policy.decide(policy.parse(data)), "full")


def test_a_then_b_then_a_gives_identical_results(base_policy, example):
    a = example("group_billed_as_97110")
    b = example("mixed_visit")
    b_same_ids = copy.deepcopy(b)  # same line ids as A, so leaked facts would collide
    first = outcome(base_policy, a)
    outcome(base_policy, b)
    outcome(base_policy, b_same_ids)
    again = outcome(base_policy, a)
    assert first == again
    assert first["lines"][0]["verdict"] == "not_supportable"


def test_facts_are_retracted_after_each_encounter(base_policy, example):
    enc = base_policy.parse(example("mixed_visit"))
    base_policy.evaluate(enc)
    empty = base_policy.parse(example("untimed_modality"))
    model = base_policy.evaluate(empty)
    # Only the second encounter's lines are known; the first one's line 3 (97140) is gone.
    assert {row[0] for row in model.rows("line")} == {l.id for l in empty.lines}
    assert ("3", "97140") not in model.rows("line_code")
    assert all(l == "2" or l == "1" for (l, _) in model.rows("supportable_units"))


@pytest.fixture(scope="module")
def pydatalog_policy():
    return load_policy_set(ROOT / "policies", engine="pydatalog")


def test_failure_during_evaluation_still_retracts(pydatalog_policy, example, monkeypatch):
    # pyDatalog's asserted facts (the plan asserts nothing: each evaluation has a state of its own)
    base_policy = pydatalog_policy
    enc = base_policy.parse(example("mixed_visit"))
    engine = base_policy.evaluator._engine()
    query_name, query = engine.queries[0]

    class Boom:
        def get_tag(self):
            raise RuntimeError("boom")

    engine.queries[0] = (query_name, Boom())
    try:
        try:
            base_policy.evaluate(enc)
        except RuntimeError:
            pass
        else:
            raise AssertionError("expected the failure to propagate")
    finally:
        engine.queries[0] = (query_name, query)
    model = base_policy.evaluate(base_policy.parse(example("untimed_modality")))
    assert ("3", "97140") not in model.rows("line_code")


def test_threads_agree_with_sequential_results(base_policy):
    docs = all_examples()
    expected = [outcome(base_policy, d) for d in docs]
    jobs = [(i % len(docs)) for i in range(120)]
    barrier = threading.Barrier(6)

    def run(i):
        if i < 6:
            barrier.wait(timeout=10)  # start the first six at once
        return i, outcome(base_policy, docs[i % len(docs)])

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, range(len(jobs))))
    for i, got in results:
        assert got == expected[i % len(docs)], f"encounter {i % len(docs)} differed under threads"


def test_two_policy_sets_in_one_thread_do_not_share_facts(base_policy, example):
    from supportable.engine.policyset import load_policy_set
    from conftest import ROOT
    other = load_policy_set(ROOT / "policies")
    enc = base_policy.parse(example("group_billed_as_97110"))
    one = wire.decision(base_policy.decide(enc), "full")
    two = wire.decision(other.decide(other.parse(example("group_billed_as_97110"))), "full")
    one.pop("policy_version"), two.pop("policy_version")
    assert one == two
    assert wire.decision(base_policy.decide(base_policy.parse(example("mixed_visit"))), "none")["summary"]["supportable"] == 4


def test_first_encounter_on_a_new_thread_may_lack_every_fact_a_rule_negates(policies):
    """A thread's engine must know every predicate a rule negates, even before any fact of it was
    asserted there: a first encounter with no one-on-one line used to fail with pyDatalog's
    'Predicate without definition: one_on_one/1' (found by bench/bench_http.py as a 500)."""
    import threading
    from conftest import make_encounter
    visit = make_encounter([{"code": "97116", "minutes": 20, "units": 1, "one_on_one": False,
                             "documentation": ["gait_impairment"]}])
    outcome = {}

    def first_on_fresh_thread(payer):
        try:
            policy = policies[payer]
            line = policy.decide(policy.parse(visit), "summary").lines[0]
            outcome[payer] = (line.verdict, [r.rule.id for r in line.reasons])
        except Exception as exc:  # recorded, so the assertion below shows it
            outcome[payer] = exc

    for payer in ("base", "medicare", "aetna"):
        thread = threading.Thread(target=first_on_fresh_thread, args=(payer,))
        thread.start()
        thread.join()
    for payer in ("base", "medicare", "aetna"):
        verdict, reasons = outcome[payer]
        assert verdict == "not_supportable"
        assert "base.group.no_one_on_one_contact" in reasons
