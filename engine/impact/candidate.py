"""Loading a payer's current policy and the policy it would have with a candidate overlay file.

How the candidate is loaded: a temporary payers folder gets a copy of every current overlay file,
with the candidate written as ``<payer>.yaml``, and both folders are loaded with
:func:`load_policy_set`, so the candidate goes through exactly the checks the real file would.
Problems found in the temporary copies are reported against the files they came from (the
candidate's own path, or the real overlay file), never against the temporary folder. Payers
that extend the candidate's payer are found too: they would change with it.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import Location, PolicyError, Problem, Problems
from ..loader import shown_path
from ..overlay import BASE, discover, resolve_chain
from ..policydiff import PolicyDiff, diff_policies
from ..policyset import PolicySet, default_payers_dir, load_policy_set
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
    # rewrites the temporary folder's file names in a document about the candidate (its diff on the wire)
    show_paths: Callable[[object], object] = lambda document: document


class _PathMap:
    """Rewrites the temporary folder's file names, wherever they appear, to the real files."""

    def __init__(self, tmp: Path, real: dict[str, str]):
        self.pairs: list[tuple[str, str]] = []
        for prefix in dict.fromkeys((str(tmp), str(tmp.resolve()))):
            for name, shown in real.items():
                self.pairs.append((f"{prefix}/{name}", shown))

    def text(self, s: str) -> str:
        for old, new in self.pairs:
            if old in s:
                s = s.replace(old, new)
        return s

    def problem(self, p: Problem) -> Problem:
        loc = p.location
        if loc is not None:
            loc = Location(self.text(loc.file), loc.line, loc.column)
        return Problem(p.code, self.text(p.message), loc, p.level)

    def deep(self, obj):
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {k: self.deep(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.deep(v) for v in obj]
        return obj


def _chain_ids(payer: str, payers: dict[str, Path], root: Path) -> list[str] | None:
    """The ``extends`` chain of ``payer`` (root first) as its files say, without loading rules."""
    problems = Problems()
    overlays = resolve_chain(payer, payers, problems, root)
    return [BASE] + [o.id for o in overlays] if overlays else None


def load_candidate(policies_dir: Path, payer: str, candidate: Path, payers_dir: Path | None = None,
                   dependents: bool = True) -> CandidatePair:
    """Load ``payer``'s current policy and the policy it would have with ``candidate`` as its overlay
    file. Raises :class:`ImpactError` (with located problems) when either does not load."""
    policies_dir = Path(policies_dir)
    payers_dir = default_payers_dir(policies_dir) if payers_dir is None else Path(payers_dir)
    root = policies_dir.resolve().parent
    current_files = discover(payers_dir)
    if payer not in current_files:
        known = ", ".join(sorted(current_files)) or "none"
        why = (f"`{BASE}` is the base CPT guidance, which has no overlay file to replace" if payer == BASE
               else f"no payer `{payer}` in {shown_path(payers_dir, root)}")
        raise ImpactError("unknown_payer", f"{why}; a candidate replaces one of the payer overlays: {known}")
    candidate = Path(candidate)
    try:
        text = candidate.read_bytes()
    except OSError as exc:
        raise ImpactError("unreadable_candidate", f"cannot read the candidate `{candidate}`: "
                          f"{exc.strerror or exc}") from None
    current_path = shown_path(current_files[payer], root)
    candidate_path = shown_path(candidate.resolve(), root)
    started = time.perf_counter()
    try:
        current = load_policy_set(policies_dir, payer, payers_dir)
    except PolicyError as exc:
        raise ImpactError("current_does_not_load", f"the current policy of payer `{payer}` does not load, so "
                          "there is nothing to compare the candidate with", exc.problems) from None
    with tempfile.TemporaryDirectory(prefix="supportable-impact-") as tmp_name:
        tmp = Path(tmp_name)
        real = {}
        for pid, path in current_files.items():
            if pid != payer:
                shutil.copyfile(path, tmp / path.name)
                real[path.name] = shown_path(path, root)
        (tmp / f"{payer}.yaml").write_bytes(text)
        real[f"{payer}.yaml"] = candidate_path
        paths = _PathMap(tmp, real)
        try:
            new = load_policy_set(policies_dir, payer, tmp)
        except PolicyError as exc:
            problems = [_candidate_problem(paths.problem(p), payer, candidate_path) for p in exc.problems]
            raise ImpactError("candidate_does_not_load", f"the candidate `{candidate_path}` for payer `{payer}` "
                              "does not load", problems) from None
        deps: list[Dependent] = []
        if dependents:
            new_files = discover(tmp)
            for other in sorted(current_files):
                if other == payer:
                    continue
                chain = _chain_ids(other, new_files, root) or _chain_ids(other, current_files, root)
                if not chain or payer not in chain[:-1]:
                    continue
                dep = Dependent(other, chain)
                try:
                    dep.current = load_policy_set(policies_dir, other, payers_dir)
                    dep.current_version = dep.current.version
                except PolicyError as exc:
                    dep.current_problems = list(exc.problems)
                try:
                    dep.candidate = load_policy_set(policies_dir, other, tmp)
                    dep.candidate_version = dep.candidate.version
                except PolicyError as exc:
                    dep.candidate_problems = [paths.problem(p) for p in exc.problems]
                deps.append(dep)
        report = diff_policies(current, new)
        warnings = [paths.problem(p) for p in new.warnings]
    return CandidatePair(payer, current, new, current_path, candidate_path, deps, report,
                         time.perf_counter() - started, warnings, paths.deep)


def _candidate_problem(p: Problem, payer: str, candidate_path: str) -> Problem:
    """The temporary copy is named ``<payer>.yaml``; say what that means for the candidate's id."""
    if p.code == "payer_id_mismatch" and p.location is not None and p.location.file == candidate_path:
        return Problem(p.code, p.message.replace(f"does not match its file name `{payer}.yaml`",
                                                 f"is not `{payer}`, the payer this file is a candidate for"),
                       p.location, p.level)
    return p
