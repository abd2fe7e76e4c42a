"""The evaluator's shared subgoal table gives exactly what pyDatalog's own ask gives."""
import copy
import json
import random

import pytest
from pyDatalog import pyEngine

from conftest import EXAMPLES, PAYERS, ROOT
from supportable.engine.evaluator import _ask_all
from supportable.engine.facts import encounter_facts
from supportable.engine.policyset import load_policy_set


# This module tests pyDatalog's evaluator (the reference engine): its policy sets are built with it,
# not with the default engine (the plan) the suite's shared fixtures use.
@pytest.fixture(scope="module")
def base_policy():
    return load_policy_set(ROOT / "policies", engine="pydatalog")


@pytest.fixture(scope="module")
def policies():
    return {payer: load_policy_set(ROOT / "policies", payer, engine="pydatalog") for payer in PAYERS}


def variants(seed: int = 7, count: int = 40):
    rng = random.Random(seed)
    docs = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]
    out = list(docs)
    for _ in range(count):
        d = copy.deepcopy(rng.choice(docs))
        for line in d["lines"]:
            line["minutes"] = rng.randint(3, 50)
            line["patients_in_session"] = rng.choice([1, 1, 2, 3])
            line.pop("time_block", None)
            line["time_blocks"] = rng.choice([["A"], ["B"], [], ["A", "C"]])
            if rng.random() < 0.3:
                line["documentation"] = []
        if rng.random() < 0.5:      # a code on two lines: its minutes are counted together
            extra = copy.deepcopy(rng.choice(d["lines"]))
            extra["id"] = "dup"
            d["lines"].append(extra)
        out.append(d)
    return out


def shared_and_plain(policy, enc):
    """Every derived predicate of an encounter, asked with the shared table and with pyDatalog's ask."""
    engine = policy.evaluator._engine()
    clauses = [engine.fact(n, a) for n, a in encounter_facts(enc)]
    for c in clauses:
        pyEngine.assert_(c)
    try:
        shared = {name: sorted(rows) for name, rows in _ask_all(engine.queries)}
        plain = {name: sorted(q.ask() or []) for name, q in engine.queries}
    finally:
        for c in clauses:
            pyEngine.retract(c)
    return shared, plain


def test_shared_table_matches_plain_ask(base_policy):
    seen_denials = seen_suggestions = 0
    for doc in variants():
        shared, plain = shared_and_plain(base_policy, base_policy.parse(doc))
        assert shared == plain, doc["id"]
        seen_denials += bool(shared["deny"])
        seen_suggestions += bool(shared["suggest"])
    # The comparison covered denials and suggestions, not only empty results.
    assert seen_denials >= 10 and seen_suggestions >= 3


def test_aggregates_read_the_shared_table_and_agree_with_plain_ask(policies, monkeypatch):
    # Aggregates read the rows the shared table has already solved (compiler.completed_rows) rather
    # than deriving their dependencies again; the result must be pyDatalog's own, under the payers
    # with the most aggregates, on visits with a code on several lines.
    from supportable.engine import compiler
    hits = []
    original = compiler.completed_rows
    monkeypatch.setattr(compiler, "completed_rows", lambda *a: hits.append(original(*a)) or hits[-1])
    compared = 0
    for payer in ("medicare", "commercial"):
        policy = policies[payer]
        for doc in variants(seed=11, count=8):
            doc["date_of_service"] = "2026-06-02"     # in Medicare's range, after every example's history
            if doc.get("plan_of_care"):               # a current plan, so Medicare decides units, not recertification
                doc["plan_of_care"].update(start_of_care="2026-05-20", certified_on="2026-05-21")
            shared, plain = shared_and_plain(policy, policy.parse(doc))
            assert shared == plain, (payer, doc["id"])
            compared += bool(shared.get("code_units"))
    assert compared >= 20
    assert any(h is not None for h in hits)          # the shared rows were used ...
    assert any(h is None for h in hits)              # ... and plain ask() (outside _ask_all) still works


def test_a_zero_place_predicate_under_negation_decides_as_plain_ask(tmp_path):
    # `flag() :- ...` read as `not flag()` made pyDatalog fail inside the negation (ValueError from
    # pyEngine) whenever the flag held; 0-place predicates are now compiled with one constant.
    import shutil
    from conftest import ROOT, decide_for, make_encounter
    from supportable.engine.policyset import load_policy_set
    payers = tmp_path / "payers"
    payers.mkdir()
    (payers / "flagged.yaml").write_text(
        "id: flagged\nname: Flagged\nextends: base\nadd:\n"
        "  - {id: flagged.status, because: s, source: domain-notes.md,\n"
        "     rule: \"status_not_improving(S) :- condition_status(S), S != improving.\"}\n"
        "  - {id: flagged.flag, because: f, source: domain-notes.md,\n"
        "     rule: \"not_improving() :- status_not_improving(S).\"}\n"
        "  - {id: flagged.deny, because: d, source: domain-notes.md,\n"
        "     rule: \"deny(L) :- line_code(L, C), not not_improving().\"}\n")
    policy = load_policy_set(ROOT / "policies", "flagged", payers, engine="pydatalog")
    for status, verdict in (("plateau", "supportable"), ("improving", "not_supportable"), ("regressing", "supportable")):
        visit = make_encounter([("97110", 20, 1)], patient={"id": "p", "condition_status": status})
        shared, plain = shared_and_plain(policy, policy.parse(visit))
        assert shared == plain
        holds = status != "improving"
        assert shared["not_improving"] == ([(1,)] if holds else [])     # compiled as not_improving(1)
        assert policy.evaluate(policy.parse(visit)).rows("not_improving") == (frozenset({()}) if holds else frozenset())
        assert ("flagged.deny" in {r.rule.id for r in decide_for(policy, visit).lines[0].reasons}) == \
            (verdict == "not_supportable")
        plan = policy.with_engine("plan")           # the plan pads it the same way and decides the same
        assert plan.evaluate(plan.parse(visit)).rows("not_improving") == policy.evaluate(policy.parse(visit)).rows(
            "not_improving")
        assert decide_for(plan, visit).lines[0].verdict == decide_for(policy, visit).lines[0].verdict


def test_models_cover_every_derived_predicate(base_policy, example):
    model = base_policy.evaluate(base_policy.parse(example("group_billed_as_97110")))
    assert model.rows("deny") == frozenset({("1",)})
    assert model.rows("suggest") == frozenset({("1", "97150")})
    assert ("97110",) in model.rows("outcome_coded")


def test_rules_a_payers_parameters_rule_out_are_not_evaluated(policies):
    base, medicare = policies["base"].program, policies["medicare"].program
    base_derived = {name for name, _ in base.derived}
    medicare_derived = {name for name, _ in medicare.derived}
    # base counts units per code: the total-time predicates never hold there
    assert "visit_timed_units" not in base_derived and "code_leftover_rank" not in base_derived
    assert {"visit_timed_units", "code_leftover_rank"} <= medicare_derived
    # ... but the rules stay for explanations: the why-not names the parameter that rules them out
    enc = policies["base"].parse(json.loads((EXAMPLES / "gait_and_exercise.json").read_text()))
    line = policies["base"].decide(enc, "full").lines[0]
    attempt = next(a for a in line.why_not if a.rule.id == "base.units.total_time.no_unit")
    assert (attempt.failed_statement, attempt.reason) == ("code_in_total('97116', _)", "missing")
    from supportable.engine.explain import Explainer
    model = policies["base"].evaluate(enc)
    [why] = Explainer(policies["base"].program, model).why_not("code_in_total", ("97116", 22))
    assert (why.failed_statement, why.reason) == ("param('unit_method', 'total_time')", "missing")


def test_static_part_is_solved_once_and_gives_the_same_model(policies):
    from dataclasses import replace
    from supportable.engine.evaluator import Evaluator, _with_static_part_solved
    policy = policies["aetna"]
    assert {"therapy_code", "cmt_code", "same_day_exclusive", "nmr_diagnosis_group"} <= policy.program.static_derived
    solved = policy.evaluator.program
    assert not any(head[0] in policy.program.static_derived for head, _ in solved.clauses)
    assert ("therapy_code", ("97110",)) in solved.static_facts
    unsolved = Evaluator(replace(policy.program, static_derived=frozenset()))
    assert _with_static_part_solved(unsolved.program) is unsolved.program
    for doc in variants()[:20]:
        facts = encounter_facts(policy.parse(doc))
        assert policy.evaluator.evaluate(facts).facts == unsolved.evaluate(facts).facts
