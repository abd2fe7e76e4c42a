"""The payers the server answers for: every payer's policy set, loaded once at start-up.

Each payer loads on its own: one whose overlay does not load is reported (``/readyz``, the
start-up log, its problems) while the others serve. Any failure while loading a payer, not only
a policy problem, is recorded as that payer's problem, located as well as it can be: loading never
raises.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from supportable.engine import (DEFAULT_ENGINE, Location, PolicyError, PolicySet, PolicySources, Problem,
                                build_policy_set, check_engine, parse_sources, shown_path, source_files)

LOG = logging.getLogger("supportable")
_engine = DEFAULT_ENGINE        # the process's engine (use_engine)


def use_engine(engine: str | None) -> str:
    """Build this process's registries with ``engine`` (None: the default) from now on; returns it.
    An unknown name is a ValueError (settings validate it first)."""
    global _engine
    _engine = check_engine(engine)
    return _engine


def current_engine() -> str:
    return _engine


@dataclass
class Registry:
    policies: dict[str, PolicySet] = field(default_factory=dict)
    failed: dict[str, list[Problem]] = field(default_factory=dict)
    engine: str = field(default_factory=current_engine)    # the engine every payer here was built with

    @classmethod
    def load(cls, policies_dir: Path, payers_dir: Path | None = None, edits_dir: Path | None = None,
             engine: str | None = None) -> "Registry":
        try:
            sources = PolicySources.from_dirs(policies_dir, payers_dir, edits_dir)   # each file read once
        except Exception as exc:  # e.g. an unreadable payers folder
            registry = cls()
            registry.failed["base"] = [unexpected_problem(exc, policies_dir, payers_dir)]
            return registry
        return cls.from_sources(sources, engine)

    @classmethod
    def from_sources(cls, sources: PolicySources, engine: str | None = None) -> "Registry":
        """Every payer of ``sources``, built with ``engine`` (None: the process's, ``use_engine``); the
        files they share (the base, parent overlays) are parsed once."""
        registry = cls(engine=check_engine(engine) if engine is not None else current_engine())
        policies_dir, payers_dir = sources.policies_dir, sources.payers_dir
        parsed = parse_sources(sources)
        for payer in sources.payer_ids():
            try:
                registry.policies[payer] = build_policy_set(parsed, payer, registry.engine)
            except PolicyError as exc:
                registry.failed[payer] = list(exc.problems)
            except Exception as exc:  # never let one file take the service down: refuse it, located
                LOG.debug("payer %s failed to load", payer, exc_info=True)
                registry.failed[payer] = [unexpected_problem(exc, policies_dir, payers_dir)]
        return registry

    @property
    def known(self) -> list[str]:
        return sorted(set(self.policies) | set(self.failed))


def unexpected_problem(exc: Exception, policies_dir: Path, payers_dir: Path | None) -> Problem:
    """A failure the loader did not turn into a problem itself, as a problem located where possible:
    at a YAML error's mark, or at the first byte of a policy file that is not UTF-8."""
    location = None
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None and not str(getattr(mark, "name", "<")).startswith("<"):
        location = Location(str(mark.name), mark.line + 1, mark.column + 1)
    elif isinstance(exc, (UnicodeDecodeError, ValueError)) or mark is not None:
        location = _first_undecodable(policies_dir, payers_dir)
    text = str(exc).replace("\n", " ")
    return Problem("load_failed", f"the policy files could not be read: {type(exc).__name__}: "
                   f"{text[:300]}", location)


def _first_undecodable(policies_dir: Path, payers_dir: Path | None) -> Location | None:
    root = Path(policies_dir).resolve().parent
    paths = [path for name, path in source_files(policies_dir, payers_dir) if name.endswith(".yaml")]
    for path in paths:
        try:
            data = path.read_bytes()
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            before = data[:bad.start]
            line = before.count(b"\n") + 1
            column = len(before) - (before.rfind(b"\n") + 1) + 1
            return Location(shown_path(path, root), line, column)
        except OSError:
            continue
    return None
