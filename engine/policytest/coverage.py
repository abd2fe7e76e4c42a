"""Rule coverage of a policy-test run: per payer, the rules of its chain that can hold under its
parameters against those the cases exercised, merged per policy file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..liveness import in_force
from ..policyset import PolicySet


@dataclass
class RuleCoverage:
    id: str
    file: str
    location: str
    layer: str
    payers: set[str] = field(default_factory=set)        # tested payers whose chain has it (and can apply it)
    exercised_by: dict[str, set[str]] = field(default_factory=dict)   # payer -> how

    @property
    def exercised(self) -> bool:
        return bool(self.exercised_by)


class Coverage:
    """Which rules the cases exercised: per payer over its chain, merged per policy file."""

    def __init__(self, root: Path):
        self.root = root
        self.policies: dict[str, PolicySet] = {}
        self.exercised: dict[str, dict[str, set[str]]] = {}     # payer -> rule id -> how
        self.cases: dict[str, int] = {}

    def record(self, policy: PolicySet, found: dict[str, set[str]]) -> None:
        self.policies[policy.payer] = policy
        self.cases[policy.payer] = self.cases.get(policy.payer, 0) + 1
        mine = self.exercised.setdefault(policy.payer, {})
        for rid, how in found.items():
            mine.setdefault(rid, set()).update(how)

    @staticmethod
    def applicable(policy: PolicySet) -> set[str]:
        """Ids of the rules that can hold under this payer's parameters on the dates it is in force (the
        same liveness lint reads: a rule whose range lies outside them can never be exercised)."""
        return set(in_force(policy).live)

    def payer_figures(self) -> dict[str, dict]:
        out = {}
        for payer, policy in sorted(self.policies.items()):
            live = self.applicable(policy)
            rules = [r for r in policy.rules if r.id in live]
            done = self.exercised.get(payer, {})
            missing = [r for r in rules if r.id not in done]
            out[payer] = {"chain": policy.chain, "cases": self.cases.get(payer, 0), "rules": len(rules),
                          "exercised": len(rules) - len(missing),
                          "never_apply": sorted(r.id for r in policy.rules if r.id not in live),
                          "not_exercised": [{"id": r.id, "location": str(r.location)} for r in missing]}
        return out

    def rules(self) -> tuple[dict[tuple[str, str], RuleCoverage], dict[tuple[str, str], RuleCoverage]]:
        """(applicable rules, rules that can apply under none of the tested payers), keyed by (file, id)."""
        merged: dict[tuple[str, str], RuleCoverage] = {}
        never: dict[tuple[str, str], RuleCoverage] = {}
        for payer, policy in sorted(self.policies.items()):
            live = self.applicable(policy)
            done = self.exercised.get(payer, {})
            for rule in policy.rules:
                key = (rule.location.file, rule.id)
                if rule.id not in live:
                    never.setdefault(key, RuleCoverage(rule.id, rule.location.file, str(rule.location), rule.layer))
                    continue
                rc = merged.setdefault(key, RuleCoverage(rule.id, rule.location.file, str(rule.location), rule.layer))
                rc.payers.add(payer)
                if rule.id in done:
                    rc.exercised_by.setdefault(payer, set()).update(done[rule.id])
        return merged, {k: v for k, v in never.items() if k not in merged}

    def files(self) -> list[dict]:
        merged, never = self.rules()
        by_file: dict[str, list[RuleCoverage]] = {}
        for (file, _), rc in merged.items():
            by_file.setdefault(file, []).append(rc)
        out = []
        for file in sorted(set(by_file) | {f for f, _ in never}):
            rules = sorted(by_file.get(file, []), key=lambda r: location_key(r.location))
            out.append({"file": file, "rules": len(rules), "exercised": sum(1 for r in rules if r.exercised),
                        "not_exercised": [{"id": r.id, "location": r.location, "payers": sorted(r.payers)}
                                          for r in rules if not r.exercised],
                        "never_apply": sorted(rc.id for (f, _), rc in never.items() if f == file),
                        "detail": rules})
        return out


def location_key(location: str) -> tuple:
    parts = location.rsplit(":", 2)
    try:
        return (parts[0], int(parts[1]), int(parts[2]))
    except (IndexError, ValueError):
        return (location, 0, 0)
