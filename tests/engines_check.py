"""Both engines on the same encounters: identical models and identical decisions, or the first
difference, located.

For every payer and every encounter (every example, and the corpus sample tests/golden.py takes, or
the whole corpus with --all): the Model from the pyDatalog evaluator (the reference) and from the
evaluation plan are compared predicate by predicate, and the decision JSON with full proofs from
``PolicySet.decide`` under each engine is compared whole: pyDatalog's searched by the plain
explainer, the plan's read from its recorded derivations (engine.plan.proofs).

    .venv/bin/python tests/engines_check.py           # examples + the corpus sample (as make test)
    .venv/bin/python tests/engines_check.py --all     # every corpus encounter (make engines-check)
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import golden


@dataclass
class Result:
    compared: dict[str, int] = field(default_factory=dict)     # payer -> encounters compared
    refused: dict[str, int] = field(default_factory=dict)      # payer -> encounters the payer refuses
    differences: list[str] = field(default_factory=list)
    derived_facts: int = 0                                     # derived facts compared (not input facts)


def first_model_difference(reference, other) -> str | None:
    """The first predicate (in name order) whose facts differ, with the first fact in one and not the other."""
    for pred in sorted(set(reference.facts) | set(other.facts)):
        a, b = reference.facts.get(pred), other.facts.get(pred)
        if a == b:
            continue
        a, b = a or frozenset(), b or frozenset()
        only_ref = sorted(a - b, key=repr)
        only_plan = sorted(b - a, key=repr)
        return (f"predicate `{pred}`: " + (f"{pred}{only_ref[0]!r} only in pydatalog" if only_ref else
                                           f"{pred}{only_plan[0]!r} only in plan") +
                f" ({len(only_ref)} only in pydatalog, {len(only_plan)} only in plan)")
    if reference.provenance != other.provenance:
        return "edit-table provenance differs"
    return None


def first_json_difference(a, b, path: str = "") -> str | None:
    if type(a) is not type(b):
        return f"{path or '/'}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}/{key}: only in {'plan' if key in b else 'pydatalog'}"
            found = first_json_difference(a[key], b[key], f"{path}/{key}")
            if found:
                return found
        if list(a) != list(b):
            return f"{path or '/'}: keys in another order"
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_json_difference(x, y, f"{path}/{i}")
            if found:
                return found
        return None if len(a) == len(b) else f"{path}: {len(a)} items in pydatalog, {len(b)} in plan"
    return None if a == b else f"{path or '/'}: {a!r} != {b!r}"


def compare(every: int, payers: list[str] | None = None, stop_at: int = 1) -> Result:
    """Compare both engines on the examples and every ``every``-th corpus encounter; stop after
    ``stop_at`` differences (0: never)."""
    from supportable.engine.decision import decide
    from supportable.engine.errors import InputError
    from supportable.engine.explain import Explainer
    from supportable.server import wire
    from supportable.engine.policyset import load_policy_set, payer_ids
    from supportable.engine import PolicySources, parse_sources
    policies = golden.ROOT / "policies"
    sources = parse_sources(PolicySources.from_dirs(policies))     # every payer from one read and one parse
    result = Result()
    encounters = golden._examples() + golden._corpus(every)
    for payer in payers or payer_ids(policies):
        # one compiled program, evaluated by each engine (two builds would name the aggregates'
        # auxiliary predicates apart, and the models are compared predicate by predicate)
        reference = load_policy_set(policies, payer, sources=sources, engine="pydatalog")
        plan = reference.with_engine("plan")
        assert (reference.engine, plan.engine) == ("pydatalog", "plan") and plan.program is reference.program
        result.compared[payer] = result.refused[payer] = 0
        for name, document in encounters:
            try:
                encounter = reference.parse(document)
            except InputError:
                result.refused[payer] += 1
                continue
            result.compared[payer] += 1
            expected, got = reference.evaluate(encounter), plan.evaluate(encounter)
            result.derived_facts += sum(len(expected.rows(p)) for p, _ in reference.program.derived)
            found = first_model_difference(expected, got)
            if found is None:
                # PolicySet.decide's own steps on the model just computed by the reference (deciding
                # anew would evaluate with pyDatalog a second time); the plan's side is PolicySet.decide,
                # its proofs read from the derivations the plan recorded
                want = wire.decision(decide(encounter, expected, Explainer(reference.program, expected), reference.payer,
                                              reference.version, "full"), "full")
                have = wire.decision(plan.decide(encounter, "full"), "full")
                difference = first_json_difference(want, have)
                found = f"decision differs at {difference}" if difference else None
            if found is not None:
                result.differences.append(f"payer `{payer}`, encounter {name}: {found}")
                if stop_at and len(result.differences) >= stop_at:
                    return result
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="every corpus encounter, not the sample")
    parser.add_argument("--payer", action="append", help="only this payer (repeatable)")
    args = parser.parse_args()
    started = time.perf_counter()
    result = compare(1 if args.all else golden.SAMPLE_EVERY, args.payer, stop_at=20)
    for payer, n in result.compared.items():
        print(f"{payer:<16} {n} encounters compared ({result.refused[payer]} refused by the payer's dates)")
    for line in result.differences:
        print("DIFFERENT:", line)
    total = sum(result.compared.values())
    print(f"{total} encounter x payer pairs, {result.derived_facts} derived facts: "
          + ("identical models and decisions" if not result.differences else f"{len(result.differences)} differ")
          + f" ({time.perf_counter() - started:.0f} s)")
    return 1 if result.differences else 0


if __name__ == "__main__":
    sys.exit(main())
