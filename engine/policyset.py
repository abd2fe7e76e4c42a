"""A policy set: vocabulary + the rules and parameters of one payer, loaded, checked and compiled
once, evaluated per encounter.

``load_policy_set(policies_dir, payer, payers_dir)`` is ``build(parse(PolicySources.from_dirs(...)),
payer)``: read the files once (engine.sources), parse them (engine.parsed), run the build's stage
table (engine.build) and raise :class:`PolicyError` with every problem if a stage finds errors;
``PolicySet.read_encounter(document)`` validates an encounter and ``PolicySet.decide(encounter)``
runs evaluate -> explain -> decide, by the engine the build made (``PolicySet.engine``: ``plan``,
the default, whose proofs are read from its recorded derivations, or ``pydatalog``, the reference).
``payer="base"`` is the base CPT guidance alone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import icd10
from .build import build
from .compiler import CompiledProgram
from .dateranges import IN_FORCE
from .decision import Decision, decide
from .edits import EditTables
from .engine_names import PYDATALOG
from .encounter import Encounter, parse_encounter
from .errors import FieldProblem, InputError, Problem
from .evaluator import Evaluator, Model
from .explain import Explainer
from .facts import encounter_facts
from .overlay import BASE, Disable, LayeredRules, Overlay, discover
from .parsed import ParsedPolicies, parse
from .sources import PolicySources, default_payers_dir
from .syntax import Parameter, Rule
from .vocabulary import Vocabulary


@dataclass
class PolicySet:
    payer: str
    name: str
    chain: list[str]                 # layers, root first: ["base", "medicare", ...]
    rules: list[Rule]
    parameters: dict[str, Parameter]
    disabled: list[Disable]
    vocabulary: Vocabulary
    program: CompiledProgram
    evaluator: Evaluator             # or engine.plan.PlanEvaluator: see ``engine``
    version: str
    effective_from: str | None = None
    effective_to: str | None = None
    overlays: list[Overlay] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    edits: EditTables | None = None
    stage_times: dict[str, float] = field(default_factory=dict)   # seconds each build stage took (engine.build)

    @property
    def solved_program(self) -> CompiledProgram:
        """The program the evaluator runs: under pyDatalog, ``program`` with its static part solved
        (``solve_static``); the plan runs ``program`` itself (it solves the static part when built)."""
        return self.evaluator.program

    @property
    def engine(self) -> str:
        """The name of the engine that evaluates this policy set: ``plan`` or ``pydatalog``."""
        return getattr(self.evaluator, "engine", PYDATALOG)

    @property
    def rule_index(self) -> dict[str, Rule]:
        index = self.__dict__.get("_rule_index")
        if index is None:
            index = self.__dict__["_rule_index"] = {r.id: r for r in self.rules}
        return index

    @property
    def extends(self) -> str | None:
        return self.chain[-2] if len(self.chain) > 1 else None

    def facts_of(self, encounter: Encounter) -> tuple[list[tuple[str, tuple]], dict]:
        """What an evaluator is given for one encounter: its facts and the edit-table rows of its
        codes, and for each edit fact the row it came from."""
        facts = encounter_facts(encounter)
        provenance: dict = {}
        if self.edits is not None:
            edit_facts, provenance = self.edits.facts_for([line.code for line in encounter.lines],
                                                          encounter.date_of_service.isoformat())
            facts += edit_facts
        return facts, provenance

    def evaluate(self, encounter: Encounter) -> Model:
        return self.evaluator.evaluate(*self.facts_of(encounter))

    def explaining(self, encounter: Encounter) -> tuple[Model, Explainer]:
        """The model of ``encounter`` and the explainer a decision reads its proofs and why-nots from:
        under the plan, proofs read from the derivations it recorded (engine.plan.proofs); under
        pyDatalog, searched in the model. Both give the same proofs (``make engines-check``)."""
        facts, provenance = self.facts_of(encounter)
        explaining = getattr(self.evaluator, "explaining", None)
        if explaining is not None:
            return explaining(self.program, facts, provenance)
        model = self.evaluator.evaluate(facts, provenance)
        return model, Explainer(self.program, model)

    def with_engine(self, engine: str) -> "PolicySet":
        """This policy set evaluated by another engine: ``pydatalog`` (the reference) or ``plan``."""
        from dataclasses import replace
        from .plan.engines import make_evaluator
        if engine == self.engine:
            return self
        return replace(self, evaluator=make_evaluator(self.program, engine))

    def parse(self, data: object) -> Encounter:
        """Deprecated name of :meth:`read_encounter`."""
        return self.read_encounter(data)

    def read_encounter(self, data: object) -> Encounter:
        """Validate a decoded encounter document (raises InputError with field paths), including
        that its date of service falls within this payer's effective range."""
        encounter = parse_encounter(data, self.vocabulary)
        dos = encounter.date_of_service.isoformat()
        if (self.effective_from and dos < self.effective_from) or (self.effective_to and dos >= self.effective_to):
            raise InputError([FieldProblem("date_of_service", f"payer `{self.payer}`'s policy is in force "
                                           f"{self.effective_text()}; {dos} is outside it", "outside_effective_range")])
        return encounter

    def effective_text(self) -> str:
        return IN_FORCE.text(self.effective_from, self.effective_to)

    def decide(self, encounter: Encounter, explain: str = "full") -> Decision:
        """Evaluate, explain and decide; ``explain`` (none, summary, full) sets how much proof is built."""
        model, explainer = self.explaining(encounter)
        return decide(encounter, model, explainer, self.payer, self.version, explain)


def policy_version(layered: LayeredRules, vocabulary: Vocabulary, edits: EditTables | None = None) -> str:
    """A content hash of everything a decision rests on: rules, parameters, disabled rules, the
    layer chain, the edit tables and the vocabulary. Any change to any of them changes the version."""
    h = hashlib.sha256()
    for line in (edits.signature() if edits is not None else []):
        h.update(f"edit|{line}\n".encode())
    h.update(("chain|" + ">".join(layered.chain) + f"|{layered.effective_from}|{layered.effective_to}\n").encode())
    for rule in sorted(layered.rules, key=lambda r: r.id):
        h.update(f"{rule.id}|{rule.layer}|{rule.clause}|{rule.because}|{rule.source}|{rule.section}|"
                 f"{rule.effective_from}|{rule.effective_to}|{rule.kind}\n".encode())
    for name, p in sorted(layered.parameters.items()):
        h.update(f"param|{name}|{p.layer}|{p.value!r}|{sorted(p.table.items(), key=repr) if p.table else None}|"
                 f"{p.source}|{p.section}|{p.description}|{p.row_sources!r}|{p.allowed!r}\n".encode())
    for d in sorted(layered.disabled, key=lambda d: d.id):
        h.update(f"disabled|{d.id}|{d.layer}|{d.reason}|{d.source}|{d.section}\n".encode())
    h.update(f"icd10|{icd10.release()}\n".encode())  # diagnoses are checked against this release
    for name in sorted(vocabulary.entries):
        for ident in sorted(vocabulary.entries[name]):
            h.update(f"{name}|{ident}|{sorted(vocabulary.entries[name][ident].items())}\n".encode())
    return "sha256:" + h.hexdigest()[:16]


def payer_ids(policies_dir: Path, payers_dir: Path | None = None) -> list[str]:
    """``base`` and every payer overlay file found (whether or not it loads)."""
    payers_dir = default_payers_dir(policies_dir) if payers_dir is None else payers_dir
    return [BASE, *discover(payers_dir)]


def load_policy_set(policies_dir: Path, payer: str = BASE, payers_dir: Path | None = None,
                    sources: ParsedPolicies | None = None, edits_dir: Path | None = None,
                    engine: str | None = None) -> PolicySet:
    """Load, check and compile one payer's policy from the folders: ``build(parse(PolicySources.
    from_dirs(...)), payer)``. Pass one ``sources`` (a :class:`ParsedPolicies`, from ``parse``) when
    loading several payers, so the files are read and parsed once; ``edits_dir`` is a folder written
    by ``supportable edits import`` (CMS's PTP and MUE tables), applied over the bundled edit tables;
    ``engine`` the evaluator the build makes (``plan``, ``pydatalog``; None: the default)."""
    if sources is None:
        sources = parse(PolicySources.from_dirs(policies_dir, payers_dir, edits_dir))
    return build(sources, payer, engine)
