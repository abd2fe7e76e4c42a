"""A policy set: vocabulary + rules, loaded, checked and compiled once, evaluated per encounter.

This is the facade the CLI and the server use: ``load_policy_set(policies_dir)`` runs the stages
parse -> check -> compile and raises :class:`PolicyError` with every problem if any stage finds
errors; ``PolicySet.decide(encounter)`` runs evaluate -> explain -> decide.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .checker import check_rules
from .compiler import CompiledProgram, compile_program
from .errors import Problem, Problems
from .evaluator import Evaluator, Model
from .facts import encounter_facts
from .decision import Decision, decide
from .encounter import Encounter, parse_encounter
from .explain import Explainer
from .loader import load_rule_files
from .syntax import Rule
from .vocabulary import Vocabulary, load_vocabulary


@dataclass
class PolicySet:
    payer: str
    rules: list[Rule]
    vocabulary: Vocabulary
    program: CompiledProgram
    evaluator: Evaluator
    version: str
    warnings: list[Problem] = field(default_factory=list)

    def evaluate(self, encounter: Encounter) -> Model:
        return self.evaluator.evaluate(encounter_facts(encounter))

    def parse(self, data: object) -> Encounter:
        """Validate a decoded encounter document (raises InputError with field paths)."""
        return parse_encounter(data, self.vocabulary)

    def decide(self, encounter: Encounter, explain: str = "full") -> Decision:
        """Evaluate, explain and decide; ``explain`` (none, summary, full) sets how much proof is built."""
        model = self.evaluate(encounter)
        return decide(encounter, model, Explainer(self.program, model), self.payer, self.version, explain)


def policy_version(rules: list[Rule], vocabulary: Vocabulary) -> str:
    """A content hash of the rules (and vocabulary) a decision was made on."""
    h = hashlib.sha256()
    for rule in sorted(rules, key=lambda r: r.id):
        h.update(f"{rule.id}|{rule.layer}|{rule.clause}|{rule.because}|{rule.source}|{rule.section}|"
                 f"{rule.effective_from}|{rule.effective_to}|{rule.kind}\n".encode())
    for name in sorted(vocabulary.entries):
        for ident in sorted(vocabulary.entries[name]):
            h.update(f"{name}|{ident}|{sorted(vocabulary.entries[name][ident].items())}\n".encode())
    return "sha256:" + h.hexdigest()[:16]


def load_policy_set(policies_dir: Path, payer: str = "base") -> PolicySet:
    policies_dir = Path(policies_dir)
    problems = Problems()
    vocabulary = load_vocabulary(policies_dir / "vocabulary", problems)
    paths = sorted((policies_dir / "base").glob("*.yaml"))
    if not paths:
        problems.error("no_rules", "no rule files found", None)
    rules = load_rule_files(paths, "base", problems, root=policies_dir.parent)
    problems.raise_if_errors()
    check_rules(rules, vocabulary, problems)
    problems.raise_if_errors()
    program = compile_program(rules, vocabulary.catalog_facts())
    return PolicySet(payer=payer, rules=rules, vocabulary=vocabulary, program=program,
                     evaluator=Evaluator(program), version=policy_version(rules, vocabulary),
                     warnings=[p for p in problems.items if p.level == "warning"])
