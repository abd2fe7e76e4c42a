"""Provenance recorded while deriving: the first derivation in the canonical order, every derivation
on request (the same ones the explainer finds by matching bodies), each one valid against the model;
and one plan evaluated from several threads at once."""
from __future__ import annotations

import json
import random
import threading

from conftest import EXAMPLES, ROOT
from supportable.engine.explain import Explainer
from supportable.engine.plan import Plan, PlanEvaluator, derive
from test_plan import program


def corpus(every: int = 60) -> list[dict]:
    lines = (ROOT / "examples" / "corpus" / "encounters.jsonl").read_text().splitlines()
    return [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))] + \
        [json.loads(line) for line in lines[::every]]


def test_the_first_derivation_is_the_same_whatever_order_the_facts_come_in():
    prog = program("covered(P) :- visit(P, D), D >= \"2026-01-01\".", "covered(P) :- waiver(P).",
                   "busy(P) :- visit(P, D), not holiday(D).")
    facts = [("visit", ("ann", d)) for d in ("2026-03-02", "2026-01-05", "2026-02-01", "2025-12-30")] + \
        [("waiver", ("ann",)), ("holiday", ("2026-01-05",))]
    plan = Plan(prog)
    seen = set()
    rng = random.Random(5)
    for _ in range(8):
        rng.shuffle(facts)
        _, derivations = plan.run(list(facts), record="all")
        first = derivations.first("covered", ("ann",))
        seen.add((first, tuple(derivations.all("covered", ("ann",)))))
    assert len(seen) == 1
    first, every = seen.pop()
    # clauses in program order, rows in sorted order: the earliest visit on or after the date, first
    assert first.rule_id == "t.r0" and first.named() == {"P": "ann", "D": "2026-01-05"}
    assert first.premises == (("visit", ("ann", "2026-01-05")),)
    assert [(d.rule_id, d.named().get("D")) for d in every] == \
        [("t.r0", "2026-01-05"), ("t.r0", "2026-02-01"), ("t.r0", "2026-03-02"), ("t.r1", None)]
    busy = plan.run(facts, record="first")[1].first("busy", ("ann",))
    assert busy.named()["D"] == "2025-12-30" and busy.absent == (("holiday", ("2025-12-30",)),)


def test_first_recording_keeps_one_derivation_and_none_records_nothing():
    plan = Plan(program("covered(P) :- visit(P, D).", "covered(P) :- waiver(P)."))
    facts = [("visit", ("ann", "d1")), ("visit", ("ann", "d2")), ("waiver", ("ann",))]
    model, derivations = plan.run(facts, record="first")
    assert [d.named() for d in derivations.all("covered", ("ann",))] == [{"P": "ann", "D": "d1"}]
    assert ("covered", ("ann",)) in derivations and ("visit", ("ann", "d1")) not in derivations  # input facts
    assert plan.run(facts)[1] is None and plan.run(facts)[0] == model


def _explainer_derivations(explainer, pred, args):
    return {(node.rule.id, tuple(sorted(node.bindings))) for node in explainer.derivations(pred, args)}


def _recorded(derivations, pred, args):
    return {(d.rule_id, tuple(sorted((k, v) for k, v in d.bindings if not k.startswith("Anon_"))))
            for d in derivations.all(pred, args)}


def test_every_recorded_derivation_is_one_the_explainer_finds_and_holds_in_the_model(policies):
    checked = 0
    for payer in ("base", "medicare", "aetna"):
        policy = policies[payer]
        rules = policy.rule_index
        for doc in corpus():
            encounter = policy.parse(doc)
            model, derivations = derive(policy, encounter, "all")
            assert model == policy.evaluate(encounter)
            explainer = Explainer(policy.program, model)
            for pred, args in list(derivations.facts()):
                if pred.startswith(policy.program.prefix):
                    continue                    # aggregate bodies: not rules the explainer proves
                shown = () if pred in policy.program.padded else args
                assert model.holds(pred, shown)
                for d in derivations.all(pred, args):
                    assert rules[d.rule_id].clause.head.pred == pred
                    assert all(model.holds(p, row) for p, row in d.premises), (payer, pred, args, d)
                    assert not any(model.holds(p, row) for p, row in d.absent if None not in row)
                if pred in ("deny", "suggest", "supportable_units", "code_units"):
                    assert _recorded(derivations, pred, args) == _explainer_derivations(explainer, pred, shown), \
                        (payer, doc["id"], pred, args)
                    checked += 1
    assert checked > 200


def test_one_plan_evaluated_from_several_threads_gives_the_sequential_results(policies):
    policy = policies["medicare"]
    evaluator = PlanEvaluator(policy.program)
    encounters = [policy.parse(doc) for doc in corpus(every=30)]
    from supportable.engine.plan.engines import derive as derive_with

    import dataclasses
    holder = dataclasses.replace(policy, evaluator=evaluator)    # the policy set, evaluated by this one plan

    def snapshot(encounter):
        model, derivations = derive_with(holder, encounter, "all")
        firsts = {fact: derivations.first(*fact) for fact in derivations.facts()}
        return model, firsts

    expected = [snapshot(e) for e in encounters]
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(n: int) -> None:
        try:
            start.wait()
            order = list(range(len(encounters)))
            random.Random(n).shuffle(order)
            results[n] = [(i, snapshot(encounters[i])) for i in order for _ in range(2)]
        except BaseException as exc:          # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for n, got in results.items():
        assert len(got) == 2 * len(encounters)
        for i, (model, firsts) in got:
            assert model == expected[i][0], (n, encounters[i].id)
            assert firsts == expected[i][1], (n, encounters[i].id)
    assert sum(len(m.rows("deny")) for m, _ in expected) > 20


def test_proofs_are_read_from_the_derivations_without_searching_and_equal_the_searched_ones(policies, monkeypatch):
    # Under the plan a proof is read from the recorded derivations (engine.plan.readproofs): no rule
    # body is matched against the model for a fact the plan derived, and every node (rules, bindings,
    # premises, absences, comparisons, builtins, aggregates, in order) is the plain search's.
    from supportable.engine.plan import proofs as plan_proofs
    searched = []
    original = Explainer._solve

    def counting(self, rule, lits, b, proofs):
        if len(lits) == len(self.body_order(rule)):      # a rule's search starting, not a step inside it
            searched.append(rule.id)
        return original(self, rule, lits, b, proofs)

    monkeypatch.setattr(Explainer, "_solve", counting)
    compared = 0
    for payer in ("base", "medicare", "aetna_medicare"):
        policy = policies[payer]
        for doc in corpus(every=100):
            encounter = policy.parse(doc)
            model, derivations = derive(policy, encounter, "all")
            for pred in ("deny", "deny_units", "supportable_units", "suggest", "advise"):
                for args in sorted(model.rows(pred), key=repr):
                    plain = Explainer(policy.program, model).derivations(pred, args)
                    searched.clear()
                    read = plan_proofs.ProvenanceExplainer(policy.program, model, derivations).derivations(pred, args)
                    assert read == plain, (payer, doc["id"], pred, args)
                    assert searched == [], (payer, doc["id"], pred, args, searched)
                    first = plan_proofs.ProvenanceExplainer(policy.program, model, derivations).prove(pred, args)
                    assert first == plain[0]
                    compared += 1
    assert compared >= 100


def test_a_derivation_that_does_not_fit_its_recipe_falls_back_to_the_search(policies, monkeypatch):
    # Reading never invents a proof: when a recorded derivation cannot be read (here: every builtin and
    # comparison step refuses), the proof is searched as before, and is the same.
    from supportable.engine.plan import proofs as plan_proofs
    policy = policies["medicare"]
    doc = json.loads((EXAMPLES / "medicare_8_minute_rule.json").read_text())
    encounter = policy.parse(doc)
    model, derivations = derive(policy, encounter, "all")
    monkeypatch.setattr(plan_proofs.ProvenanceExplainer, "_read_premises", lambda *a: None)
    for args in sorted(model.rows("supportable_units"), key=repr):
        plain = Explainer(policy.program, model).derivations("supportable_units", args)
        assert plan_proofs.ProvenanceExplainer(policy.program, model, derivations).derivations(
            "supportable_units", args) == plain
