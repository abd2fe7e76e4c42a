"""The payers' policy sets a run decides under: the policy sources read once per run, each payer
built once per run, and, in a :class:`PolicyCache` the caller holds, once per sources digest."""
from __future__ import annotations

import threading
from pathlib import Path

from ..build import build
from ..errors import PolicyError, Problem
from ..parsed import ParsedPolicies, parse
from ..policyset import PolicySet
from ..sources import PolicySources

Built = tuple[PolicySet | None, list[Problem]]


class PolicyCache:
    """Payers built from policy sources, by the sources' digest (``PolicySources.digest``): a caller
    that runs the tests several times over the same files (the test suite, an editor's watch loop)
    holds one and passes it to each run; files changed on disk have another digest, so they are
    parsed and built anew; each payer is built once per engine. Nothing is kept but by the holder."""

    def __init__(self):
        self._built: dict[str, tuple[ParsedPolicies, dict[tuple[str, str | None], Built]]] = {}
        self._lock = threading.Lock()

    def get(self, sources: PolicySources, payer: str, engine: str | None = None) -> Built:
        with self._lock:
            parsed, sets = self._built.setdefault(sources.digest(), (parse(sources), {}))
            key = (payer, engine)
            if key not in sets:
                try:
                    sets[key] = (build(parsed, payer, engine), [])
                except PolicyError as exc:
                    sets[key] = (None, list(exc.problems))
            return sets[key]


class Policies:
    """The payers' policy sets of one run, each built once (``None`` with problems if it does not load),
    evaluated by ``engine`` (None: the default)."""

    def __init__(self, policies_dir: Path, payers_dir: Path | None, cache: PolicyCache | None = None,
                 engine: str | None = None):
        self.engine = engine
        self.sources = PolicySources.from_dirs(policies_dir, payers_dir)
        self.policies_dir, self.payers_dir = self.sources.policies_dir, self.sources.payers_dir
        self.root = self.sources.root
        self.known = self.sources.payer_ids()
        self._cache = cache if cache is not None else PolicyCache()

    def get(self, payer: str) -> Built:
        return self._cache.get(self.sources, payer, self.engine)
