"""``build(parsed, payer)``: one payer's policy set from the parsed files, through a named table of
stages (as OPA's compiler runs its stage table).

Each stage is a function of the :class:`Build` under way: it reads what earlier stages left there
and adds its own part. Each is timed (``PolicySet.stage_times``) and can be run alone on a
:class:`Build` holding what it reads (``run_stage``). The stages, in order:

- ``gather``: the parsed files the payer rests on (vocabulary, base rules and parameters, its chain
  of overlays, the base and imported edit tables) with their problems; stops on errors.
- ``layer``: apply the overlays, root first, to the base rules and parameters (``overlay.apply_layers``).
- ``check``: check the layered rules against the vocabulary and parameters (``checker.check_rules``);
  layer the remittance tables and check them (``remittance.check_table``).
- ``check_edits``: layer the edit tables and check their codes and ``when`` switches; stops on
  errors (of this stage or of ``layer`` and ``check``).
- ``compile``: the rules to the program the explainer reads (``compiler.compile_program``).
- ``solve_static``: for pyDatalog, the encounter-independent part of the program solved once; its
  evaluator runs the result (``evaluator.solve_static``). The plan solves its static part itself
  (next stage): for it this stage does nothing.
- ``evaluator``: the evaluator of the engine chosen (``build(..., engine=)``; engine.engine_names:
  ``plan``, the default, or ``pydatalog``), made once (``plan.engines.make_evaluator``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .checker import check_rules
from .compiler import CompiledProgram, compile_program
from .edits import EditLayer, EditTables, check_codes
from .engine_names import DEFAULT_ENGINE, PYDATALOG, check_engine
from .errors import Problems
from .evaluator import solve_static
from .overlay import LayeredRules, Overlay, apply_layers
from .parsed import ParsedPolicies
from .remittance import RemittanceLayer, RemittanceTable, check_table, layer_tables
from .syntax import Parameter, Rule
from .vocabulary import Vocabulary


@dataclass
class Build:
    """One payer's build under way: what the stages have made so far."""
    parsed: ParsedPolicies
    payer: str
    problems: Problems = field(default_factory=Problems)
    vocabulary: Vocabulary | None = None
    base_rules: list[Rule] = field(default_factory=list)
    base_parameters: dict[str, Parameter] = field(default_factory=dict)
    overlays: list[Overlay] = field(default_factory=list)
    base_edits: EditLayer | None = None
    imported: object = None
    remittance_parts: list[RemittanceLayer] = field(default_factory=list)
    remittance: RemittanceTable | None = None
    layered: LayeredRules | None = None
    edits: EditTables | None = None
    program: CompiledProgram | None = None
    solved: CompiledProgram | None = None
    engine: str = DEFAULT_ENGINE
    evaluator: object = None        # engine.evaluator.Evaluator or engine.plan.PlanEvaluator
    times: dict[str, float] = field(default_factory=dict)


def gather(b: Build) -> None:
    parsed, problems = b.parsed, b.problems
    b.vocabulary = parsed.vocabulary(problems)
    b.base_rules, b.base_parameters = parsed.base(problems)
    b.overlays = parsed.chain(b.payer, problems)
    b.base_edits = parsed.base_edits(problems)
    b.imported = parsed.imported(problems)
    b.remittance_parts = parsed.remittance(problems)
    problems.raise_if_errors()


def layer(b: Build) -> None:
    b.layered = apply_layers(b.payer, b.base_rules, b.base_parameters, b.overlays, b.problems)


def check(b: Build) -> None:
    check_rules(b.layered.rules, b.vocabulary, b.problems, b.layered.parameters)
    check_remittance(b)


def check_remittance(b: Build) -> None:
    """Layer the remittance tables (the base files, then each overlay's section) and check each
    layer's entries against the rules that layer can see, the reason kinds and the codes."""
    parts = list(b.remittance_parts)
    known = set(r.id for r in b.base_rules)
    seen = [set(known) for _ in parts]
    for overlay in b.overlays:
        known |= {r.id for r in [*overlay.add, *overlay.replace]}
        if overlay.remittance is not None:
            parts.append(overlay.remittance)
            seen.append(set(known))
    b.remittance = layer_tables(b.remittance_parts, [o.remittance for o in b.overlays if o.remittance is not None])
    check_table(parts, b.remittance.codes, seen, b.problems)


def check_edits(b: Build) -> None:
    b.edits = EditTables(b.base_edits, b.imported, [o.edits for o in b.overlays if o.edits is not None])
    for edit_layer in [b.base_edits, *b.edits.overlays]:
        check_codes(edit_layer, b.vocabulary, b.problems)
    b.edits.apply_overlays(b.problems, b.layered.parameters)
    b.problems.raise_if_errors()


def compile_(b: Build) -> None:
    b.program = compile_program(b.layered.rules, b.vocabulary.catalog_facts(), b.layered.parameters)


def solve(b: Build) -> None:
    if b.engine == PYDATALOG:
        b.solved = solve_static(b.program)


def evaluator(b: Build) -> None:
    from .plan.engines import make_evaluator
    b.evaluator = make_evaluator(b.program, b.engine, b.solved)


# The stage table: (name, function), run in this order.
STAGES = (("gather", gather), ("layer", layer), ("check", check), ("check_edits", check_edits),
          ("compile", compile_), ("solve_static", solve), ("evaluator", evaluator))
STAGE_NAMES = tuple(name for name, _ in STAGES)


def run_stage(name: str, b: Build) -> Build:
    """Run the one stage ``name`` on ``b`` (which holds what the stage reads), timing it."""
    step = dict(STAGES)[name]
    started = time.perf_counter()
    try:
        step(b)
    finally:
        b.times[name] = time.perf_counter() - started
    return b


def run_stages(parsed: ParsedPolicies, payer: str, until: str | None = None, engine: str | None = None) -> Build:
    """Run the stages in order (through ``until``, if given); a stage that finds errors raises
    :class:`~engine.errors.PolicyError` with every problem found so far. ``engine``: the evaluator's
    (None: the default); an unknown name is a ValueError before any stage runs."""
    b = Build(parsed, payer, engine=check_engine(engine))
    for name in STAGE_NAMES:
        run_stage(name, b)
        if name == until:
            break
    return b


def build(parsed: ParsedPolicies, payer: str, engine: str | None = None):
    """The :class:`~engine.policyset.PolicySet` of ``payer`` (``base``: the base CPT guidance alone),
    evaluated by ``engine`` (``plan`` or ``pydatalog``; None: the default), or
    :class:`~engine.errors.PolicyError` with every problem found."""
    from .policyset import PolicySet, policy_version
    b = run_stages(parsed, payer, engine=engine)
    layered, overlays = b.layered, b.overlays
    name = overlays[-1].name if overlays else "Base CPT guidance (no payer overlay)"
    return PolicySet(payer=payer, name=name, chain=layered.chain, rules=layered.rules,
                     parameters=layered.parameters, disabled=layered.disabled, vocabulary=b.vocabulary,
                     program=b.program, evaluator=b.evaluator,
                     version=policy_version(layered, b.vocabulary, b.edits, b.remittance),
                     remittance=b.remittance,
                     effective_from=layered.effective_from, effective_to=layered.effective_to,
                     overlays=overlays, warnings=[p for p in b.problems.items if p.level == "warning"],
                     edits=b.edits, stage_times=dict(b.times))
