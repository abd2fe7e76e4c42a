"""A bottom-up evaluation plan for a compiled program (issue 13), beside the pyDatalog reference.

- strata.py      the dependency graph, its strata in evaluation order, stratification errors
- steps.py       one clause compiled into steps over a slot array, made into closure chains
- state.py       one evaluation's relations, hash indexes and semi-naive deltas; the static store
- plan.py        the plan: built once per program (static part solved), ``run`` per encounter
- provenance.py  the derivations recorded while deriving, read as :class:`Derivation` values
- proofs.py      the explainer's proofs, searching only the rules of a fact's recorded derivations
- engines.py     the evaluator by name: ``pydatalog`` (default) or ``plan``
"""
from .engines import DEFAULT_ENGINE, ENGINES, PLAN, PYDATALOG, PlanEvaluator, derive, make_evaluator
from .plan import ALL, FIRST, NONE, Plan
from .provenance import Derivation, Derivations
from .steps import PlanError
from .strata import StratificationError

__all__ = ["ALL", "DEFAULT_ENGINE", "ENGINES", "FIRST", "NONE", "PLAN", "PYDATALOG", "Derivation", "Derivations",
           "Plan", "PlanError", "PlanEvaluator", "StratificationError", "derive", "make_evaluator"]
