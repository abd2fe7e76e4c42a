"""The evaluation plan and pyDatalog (the reference) give identical models and identical decisions
with full proofs: on every example encounter and the corpus sample tests/golden.py takes, under every
payer (tests/engines_check.py; `make engines-check` runs the whole corpus)."""
from __future__ import annotations

import engines_check
import golden
from conftest import PAYERS


def test_both_engines_give_identical_models_and_decisions_on_examples_and_the_corpus_sample():
    result = engines_check.compare(golden.SAMPLE_EVERY)
    assert not result.differences, result.differences[0]
    # every payer, every example and every sampled corpus encounter was compared
    expected = len(golden._examples()) + len(golden._corpus(golden.SAMPLE_EVERY))
    assert set(result.compared) == set(PAYERS)
    assert all(result.compared[p] + result.refused[p] == expected for p in PAYERS)
    assert sum(result.compared.values()) >= 5 * 100
    assert result.derived_facts > 10_000        # the models compared were not empty


def test_a_difference_is_reported_with_its_predicate_fact_and_encounter():
    # the comparison can fail: a model missing one derived fact, and a decision changed in one place
    from supportable.engine.evaluator import Model
    reference = Model({"deny": frozenset({("1",), ("2",)}), "line_code": frozenset({("1", "97110")})})
    other = Model({"deny": frozenset({("1",)}), "line_code": frozenset({("1", "97110")})})
    assert engines_check.first_model_difference(reference, other) == \
        "predicate `deny`: deny('2',) only in pydatalog (1 only in pydatalog, 0 only in plan)"
    assert engines_check.first_model_difference(reference, reference) is None
    assert engines_check.first_json_difference({"lines": [{"verdict": "supportable"}]},
                                               {"lines": [{"verdict": "not_supportable"}]}) == \
        "/lines/0/verdict: 'supportable' != 'not_supportable'"
