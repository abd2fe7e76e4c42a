"""A policy set: vocabulary + the rules and parameters of one payer, loaded, checked and compiled
once, evaluated per encounter.

This is the facade the CLI and the server use: ``load_policy_set(policies_dir, payer, payers_dir)``
runs parse -> layer -> check -> compile and raises :class:`PolicyError` with every problem if any
stage finds errors; ``PolicySet.decide(encounter)`` runs evaluate -> explain -> decide.
``payer="base"`` is the base CPT guidance alone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import icd10
from .checker import check_rules
from .compiler import CompiledProgram, compile_program
from .dateranges import IN_FORCE
from .decision import Decision, decide
from .edits import EditTables, check_codes, load_base_tables, load_import
from .encounter import Encounter, parse_encounter
from .errors import FieldProblem, InputError, Problem, Problems
from .evaluator import Evaluator, Model
from .explain import Explainer
from .facts import encounter_facts
from .loader import load_rule_files
from .overlay import BASE, Disable, LayeredRules, Overlay, apply_layers, discover, parse_overlay, resolve_chain
from .syntax import Parameter, Rule
from .vocabulary import Vocabulary, load_vocabulary


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
    evaluator: Evaluator
    version: str
    effective_from: str | None = None
    effective_to: str | None = None
    overlays: list[Overlay] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    edits: EditTables | None = None

    @property
    def rule_index(self) -> dict[str, Rule]:
        index = self.__dict__.get("_rule_index")
        if index is None:
            index = self.__dict__["_rule_index"] = {r.id: r for r in self.rules}
        return index

    @property
    def extends(self) -> str | None:
        return self.chain[-2] if len(self.chain) > 1 else None

    def evaluate(self, encounter: Encounter) -> Model:
        facts = encounter_facts(encounter)
        provenance: dict = {}
        if self.edits is not None:
            edit_facts, provenance = self.edits.facts_for([line.code for line in encounter.lines],
                                                          encounter.date_of_service.isoformat())
            facts += edit_facts
        return self.evaluator.evaluate(facts, provenance)

    def with_engine(self, engine: str) -> "PolicySet":
        """This policy set evaluated by another engine: ``pydatalog`` (the reference) or ``plan``."""
        from dataclasses import replace
        from .plan.engines import make_evaluator
        return replace(self, evaluator=make_evaluator(self.program, engine))

    def parse(self, data: object) -> Encounter:
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
        model = self.evaluate(encounter)
        return decide(encounter, model, Explainer(self.program, model), self.payer, self.version, explain)

    def describe(self) -> dict:
        """What this payer is: its chain, effective range, parameters and version."""
        return {"id": self.payer, "name": self.name, "extends": self.extends, "chain": self.chain,
                "effective": {"from": self.effective_from, "to": self.effective_to},
                "policy_version": self.version, "rules": len(self.rules),
                "parameters": {name: p.to_dict() for name, p in sorted(self.parameters.items())},
                "disabled": [d.to_dict() for d in self.disabled],
                "edit_changes": [c.to_dict() for layer in (self.edits.overlays if self.edits else [])
                                 for c in layer.changes],
                "edits_imported": self.edits.imported.digest if self.edits and self.edits.imported else None}


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
    h.update(f"icd10|{icd10.code_set().version}\n".encode())  # diagnoses are checked against this release
    for name in sorted(vocabulary.entries):
        for ident in sorted(vocabulary.entries[name]):
            h.update(f"{name}|{ident}|{sorted(vocabulary.entries[name][ident].items())}\n".encode())
    return "sha256:" + h.hexdigest()[:16]


def default_payers_dir(policies_dir: Path) -> Path:
    """Overlays live in ``payers/`` beside ``policies/`` unless told otherwise."""
    return Path(policies_dir).resolve().parent / "payers"


def payer_ids(policies_dir: Path, payers_dir: Path | None = None) -> list[str]:
    """``base`` and every payer overlay file found (whether or not it loads)."""
    payers_dir = default_payers_dir(policies_dir) if payers_dir is None else payers_dir
    return [BASE, *discover(payers_dir)]


class ParsedSources:
    """Policy files parsed once and shared by every payer loaded with it (the vocabulary and the base
    are in every payer's chain, a parent overlay in each of its children's). Parsed rules and
    vocabularies are never changed after parsing, so sharing them is safe; each payer still gets
    the problems of every file it uses."""

    def __init__(self):
        self._parsed: dict[tuple, tuple[object, list[Problem]]] = {}

    def get(self, key: tuple, parse, problems: Problems):
        if key not in self._parsed:
            found = Problems()
            self._parsed[key] = (parse(found), found.items)
        value, items = self._parsed[key]
        problems.items.extend(items)
        return value


def _load_base(policies_dir: Path, root: Path, problems: Problems):
    paths = sorted((policies_dir / BASE).glob("*.yaml"))
    if not paths:
        problems.error("no_rules", "no rule files found", None)
    return load_rule_files(paths, BASE, problems, root=root)


def load_policy_set(policies_dir: Path, payer: str = BASE, payers_dir: Path | None = None,
                    sources: ParsedSources | None = None, edits_dir: Path | None = None) -> PolicySet:
    """Load, check and compile one payer's policy; pass one ``sources`` when loading several payers
    from the same folders, so shared files are parsed once. ``edits_dir`` is a folder written by
    ``supportable edits import`` (CMS's PTP and MUE tables), applied over the bundled edit tables."""
    policies_dir = Path(policies_dir)
    payers_dir = default_payers_dir(policies_dir) if payers_dir is None else Path(payers_dir)
    root = policies_dir.resolve().parent
    sources = sources or ParsedSources()
    problems = Problems()
    vocabulary = sources.get(("vocabulary", policies_dir), lambda p: load_vocabulary(policies_dir / "vocabulary", p),
                             problems)
    base_rules, base_parameters = sources.get(("base", policies_dir), lambda p: _load_base(policies_dir, root, p),
                                              problems)

    def parse(path, found, root_):
        return sources.get(("overlay", Path(path)), lambda p: parse_overlay(path, p, root_), found)

    overlays = resolve_chain(payer, discover(payers_dir), problems, root, parse) if payer != BASE else []
    base_edits = sources.get(("edits", policies_dir), lambda p: load_base_tables(policies_dir / "edits", p, root),
                             problems)
    imported = sources.get(("imported", str(edits_dir)), lambda p: load_import(edits_dir, p), problems)
    problems.raise_if_errors()
    layered = apply_layers(payer, base_rules, base_parameters, overlays, problems)
    check_rules(layered.rules, vocabulary, problems, layered.parameters)
    edits = EditTables(base_edits, imported, [o.edits for o in overlays if o.edits is not None])
    for layer in [base_edits, *edits.overlays]:
        check_codes(layer, vocabulary, problems)
    edits.apply_overlays(problems, layered.parameters)
    problems.raise_if_errors()
    program = compile_program(layered.rules, vocabulary.catalog_facts(), layered.parameters)
    name = overlays[-1].name if overlays else "Base CPT guidance (no payer overlay)"
    return PolicySet(payer=payer, name=name, chain=layered.chain, rules=layered.rules,
                     parameters=layered.parameters, disabled=layered.disabled, vocabulary=vocabulary,
                     program=program, evaluator=Evaluator(program), version=policy_version(layered, vocabulary, edits),
                     effective_from=layered.effective_from, effective_to=layered.effective_to,
                     overlays=overlays, warnings=[p for p in problems.items if p.level == "warning"], edits=edits)
