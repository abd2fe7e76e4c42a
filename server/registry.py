"""The payers the server answers for: every payer's policy set, loaded once at start-up.

Each payer loads on its own: one whose overlay does not load is reported (``/readyz``, the
start-up log, its problems) while the others serve.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from supportable.engine.errors import PolicyError, Problem
from supportable.engine.policyset import ParsedSources, PolicySet, load_policy_set, payer_ids


@dataclass
class Registry:
    policies: dict[str, PolicySet] = field(default_factory=dict)
    failed: dict[str, list[Problem]] = field(default_factory=dict)

    @classmethod
    def load(cls, policies_dir: Path, payers_dir: Path | None = None, edits_dir: Path | None = None) -> "Registry":
        registry = cls()
        sources = ParsedSources()  # the base and parent overlays are parsed once for all payers
        for payer in payer_ids(policies_dir, payers_dir):
            try:
                registry.policies[payer] = load_policy_set(policies_dir, payer, payers_dir, sources, edits_dir)
            except PolicyError as exc:
                registry.failed[payer] = list(exc.problems)
        return registry

    @property
    def known(self) -> list[str]:
        return sorted(set(self.policies) | set(self.failed))
