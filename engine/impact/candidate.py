"""Loading a payer's current policy and the policy it would have with a candidate overlay file.

How the candidate is loaded: the policy sources are read once (``PolicySources.from_dirs``) and the
candidate is the same sources with the payer's overlay file replaced (``with_file``, shown under
the candidate's own path); both are parsed and built for the payer, so the candidate goes through
exactly the checks the real file would, and its problems name the candidate file. Nothing is
written to disk. Payers that extend the candidate's payer are found too: they would change with it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..build import build
from ..errors import PolicyError, Problem, Problems
from ..overlay import BASE
from ..parsed import ParsedPolicies, parse
from ..policydiff import PolicyDiff, diff_policies
from ..policyset import PolicySet
from ..sources import PolicySources, shown_path
from .model import ImpactError


@dataclass
class Dependent:
    """A payer whose ``extends`` chain passes through the candidate's payer."""
    payer: str
    chain: list[str]
    current_version: str | None = None
    candidate_version: str | None = None
    current_problems: list[Problem] = field(default_factory=list)
    candidate_problems: list[Problem] = field(default_factory=list)
    current: PolicySet | None = None
    candidate: PolicySet | None = None

    @property
    def loads(self) -> bool:
        return self.candidate is not None

    @property
    def changes(self) -> bool:
        return self.current_version != self.candidate_version


@dataclass
class CandidatePair:
    payer: str
    current: PolicySet
    candidate: PolicySet
    current_path: str            # the payer's overlay file, as problems show it
    candidate_path: str          # the candidate file, as problems show it
    dependents: list[Dependent]
    policy_diff: PolicyDiff
    load_seconds: float
    warnings: list[Problem] = field(default_factory=list)


def _chain_ids(payer: str, parsed: ParsedPolicies) -> list[str] | None:
    """The ``extends`` chain of ``payer`` (root first) as its files say, without loading rules."""
    overlays = parsed.chain(payer, Problems())
    return [BASE] + [o.id for o in overlays] if overlays else None


def load_candidate(policies_dir: Path, payer: str, candidate: Path, payers_dir: Path | None = None,
                   dependents: bool = True, engine: str | None = None) -> CandidatePair:
    """Load ``payer``'s current policy and the policy it would have with ``candidate`` as its overlay
    file, both evaluated by ``engine`` (None: the default). Raises :class:`ImpactError` (with located problems) when either does not load."""
    sources = PolicySources.from_dirs(policies_dir, payers_dir)
    if payer not in sources.overlays():
        _unknown_payer(sources, payer)
    candidate = Path(candidate)
    try:
        text = candidate.read_bytes()
    except OSError as exc:
        raise ImpactError("unreadable_candidate", f"cannot read the candidate `{candidate}`: "
                          f"{exc.strerror or exc}") from None
    return candidate_pair(sources, payer, text, shown_path(candidate.resolve(), sources.root), dependents, engine)


def _unknown_payer(sources: PolicySources, payer: str):
    known = ", ".join(sorted(sources.overlays())) or "none"
    why = (f"`{BASE}` is the base CPT guidance, which has no overlay file to replace" if payer == BASE
           else f"no payer `{payer}` in {shown_path(sources.payers_dir, sources.root)}")
    raise ImpactError("unknown_payer", f"{why}; a candidate replaces one of the payer overlays: {known}")


def candidate_pair(sources: PolicySources, payer: str, text: str | bytes, candidate_path: str,
                   dependents: bool = True, engine: str | None = None) -> CandidatePair:
    """``payer``'s policy from ``sources`` and with ``text`` (shown as ``candidate_path``) as its
    overlay file instead: ``sources.with_file("payers/<payer>.yaml", text)``, nothing written anywhere."""
    current_files = sources.overlays()
    if payer not in current_files:
        _unknown_payer(sources, payer)
    current_path = current_files[payer].shown
    started = time.perf_counter()
    parsed_current = parse(sources)
    try:
        current = build(parsed_current, payer, engine)
    except PolicyError as exc:
        raise ImpactError("current_does_not_load", f"the current policy of payer `{payer}` does not load, so "
                          "there is nothing to compare the candidate with", exc.problems) from None
    parsed_new = parse(sources.with_file(current_files[payer].name, text, shown=candidate_path))
    try:
        new = build(parsed_new, payer, engine)
    except PolicyError as exc:
        problems = [_candidate_problem(p, payer, candidate_path) for p in exc.problems]
        raise ImpactError("candidate_does_not_load", f"the candidate `{candidate_path}` for payer `{payer}` "
                          "does not load", problems) from None
    deps: list[Dependent] = []
    if dependents:
        for other in sorted(current_files):
            if other == payer:
                continue
            chain = _chain_ids(other, parsed_new) or _chain_ids(other, parsed_current)
            if not chain or payer not in chain[:-1]:
                continue
            dep = Dependent(other, chain)
            try:
                dep.current = build(parsed_current, other, engine)
                dep.current_version = dep.current.version
            except PolicyError as exc:
                dep.current_problems = list(exc.problems)
            try:
                dep.candidate = build(parsed_new, other, engine)
                dep.candidate_version = dep.candidate.version
            except PolicyError as exc:
                dep.candidate_problems = list(exc.problems)
            deps.append(dep)
    return CandidatePair(payer, current, new, current_path, candidate_path, deps, diff_policies(current, new),
                         time.perf_counter() - started, list(new.warnings))


def _candidate_problem(p: Problem, payer: str, candidate_path: str) -> Problem:
    """The temporary copy is named ``<payer>.yaml``; say what that means for the candidate's id."""
    if p.code == "payer_id_mismatch" and p.location is not None and p.location.file == candidate_path:
        return Problem(p.code, p.message.replace(f"does not match its file name `{payer}.yaml`",
                                                 f"is not `{payer}`, the payer this file is a candidate for"),
                       p.location, p.level)
    return p
