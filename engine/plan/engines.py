"""The two evaluators of a compiled program, chosen by name.

- ``pydatalog``: the reference, engine.evaluator.Evaluator (one pyDatalog engine per thread);
- ``plan``: engine.plan's bottom-up evaluation plan, shared by every thread, recording provenance
  on request.

Both give the same :class:`engine.evaluator.Model` for the same facts; tests/test_plan_equivalence.py
and ``make engines-check`` hold them to it. The names live in engine.engine_names (light to import);
the default is the plan, whose decisions read proofs from its recorded derivations (``explaining``).
"""
from __future__ import annotations

from ..compiler import CompiledProgram
from ..engine_names import DEFAULT_ENGINE, ENGINES, PLAN, PYDATALOG, check_engine
from ..evaluator import Evaluator, Model, solve_static
from .plan import ALL, NONE, Plan
from .provenance import Derivations

__all__ = ["DEFAULT_ENGINE", "ENGINES", "PLAN", "PYDATALOG", "PlanEvaluator", "derive", "make_evaluator"]


class PlanEvaluator:
    """The evaluator interface (``evaluate(facts, provenance) -> Model``) over a :class:`Plan`;
    safe to share between threads, as the plan is."""

    engine = PLAN

    def __init__(self, program: CompiledProgram):
        self.plan = Plan(program)
        self.program = program

    def evaluate(self, facts: list[tuple[str, tuple]], provenance: dict | None = None) -> Model:
        return self.plan.run(facts, provenance)[0]

    def derive(self, facts: list[tuple[str, tuple]], provenance: dict | None = None,
               record: str = "first") -> tuple[Model, Derivations | None]:
        """The model and the derivations recorded (``first`` or ``all``; ``none`` records nothing)."""
        return self.plan.run(facts, provenance, record if record else NONE)

    def explaining(self, program: CompiledProgram, facts: list[tuple[str, tuple]], provenance: dict | None = None):
        """The model and the explainer a decision reads: proofs read from every recorded derivation."""
        from .proofs import ProvenanceExplainer
        model, derivations = self.plan.run(facts, provenance, ALL)
        return model, ProvenanceExplainer(program, model, derivations)


def make_evaluator(program: CompiledProgram, engine: str | None = None, solved: CompiledProgram | None = None):
    """An evaluator of ``program`` by the engine's name (``plan``, ``pydatalog``; None: the default).
    pyDatalog runs the program with its static part solved, as the build gives it (``solved``, or
    solved here); the plan solves its static part itself."""
    engine = check_engine(engine)
    if engine == PYDATALOG:
        return Evaluator(solved if solved is not None else solve_static(program))
    return PlanEvaluator(program)


def derive(policy, encounter, record: str = "first") -> tuple[Model, Derivations | None]:
    """The model of one encounter under ``policy`` (a PolicySet) by the plan, with its derivations.
    The facts are the ones ``PolicySet.evaluate`` gives its evaluator (``PolicySet.facts_of``)."""
    evaluator = policy.evaluator if isinstance(policy.evaluator, PlanEvaluator) else _plan_of(policy)
    facts, provenance = policy.facts_of(encounter)
    return evaluator.derive(facts, provenance, record)


def _plan_of(policy) -> PlanEvaluator:
    """A plan for a policy set evaluated by pyDatalog, built once and kept on the (immutable) program's
    owner: building twice under a race only builds the same plan twice."""
    cached = policy.__dict__.get("_plan_evaluator")
    if cached is None or cached.program is not policy.program:
        cached = policy.__dict__["_plan_evaluator"] = PlanEvaluator(policy.program)
    return cached
