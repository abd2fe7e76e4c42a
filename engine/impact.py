"""Impact of a candidate payer overlay: which decisions of a corpus of encounters would change.

``supportable impact --payer aetna --candidate new-aetna.yaml --encounters corpus.jsonl`` decides
every encounter of a corpus twice, under the payer's current policy and under the policy it would
have if the candidate file replaced the payer's overlay, and reports every line whose decision
(verdict or supportable units) changes, with the rules responsible on each side.

How the candidate is loaded: a temporary payers folder gets a copy of every current overlay file,
with the candidate written as ``<payer>.yaml``, and both folders are loaded with
:func:`load_policy_set`, so the candidate goes through exactly the checks the real file would.
Problems found in the temporary copies are reported against the files they came from (the
candidate's own path, or the real overlay file), never against the temporary folder. Payers
that extend the candidate's payer are found too: they would change with it.

A corpus is a ``.jsonl`` file (one encounter per line) or a folder of ``*.json`` (one encounter
each) and ``*.jsonl`` files, read in name order, not recursively. An encounter that is not JSON or
does not parse is counted and listed with its location and first problem; it does not stop the
run. Every encounter is decided under the payer given, whatever its own ``payer`` field says.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .decision import NEEDS_DOCUMENTATION, NOT_SUPPORTABLE, SUPPORTABLE, Decision, LineDecision
from .errors import InputError, Location, PolicyError, Problem, Problems
from .loader import shown_path
from .overlay import BASE, discover, resolve_chain
from .policydiff import diff_policies
from .policyset import PolicySet, default_payers_dir, load_policy_set

VERDICTS = (SUPPORTABLE, NEEDS_DOCUMENTATION, NOT_SUPPORTABLE)
UNITS_UP, UNITS_DOWN, RULES_CHANGED = "units_up", "units_down", "rules_changed"
NOW_REFUSED, NOW_ACCEPTED = "now_refused", "now_accepted"
# Every kind of change, in the order reports list them. A verdict change is named old->new; units
# up/down are changes of supportable units under the same verdict; rules_changed keeps verdict and
# units but rests on other rules; now_refused / now_accepted are whole encounters that only one
# of the two policies accepts (a changed effective range).
CHANGE_TYPES = tuple(f"{a}->{b}" for a in VERDICTS for b in VERDICTS if a != b) + \
    (UNITS_UP, UNITS_DOWN, RULES_CHANGED, NOW_REFUSED, NOW_ACCEPTED)
DECISION_CHANGES = tuple(t for t in CHANGE_TYPES if t != RULES_CHANGED)


class ImpactError(Exception):
    """The comparison cannot be made. ``kind`` says why: ``unknown_payer``, ``unreadable_candidate``,
    ``current_does_not_load``, ``candidate_does_not_load``, ``unreadable_corpus``."""

    def __init__(self, kind: str, message: str, problems: list[Problem] | None = None):
        self.kind, self.message, self.problems = kind, message, list(problems or [])
        super().__init__(message)


# ------------------------------------------------------------------------------------------------
# Loading the current policy and the candidate
# ------------------------------------------------------------------------------------------------

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

    def to_dict(self) -> dict:
        return {"payer": self.payer, "chain": self.chain, "current_version": self.current_version,
                "candidate_version": self.candidate_version, "policy_changes": self.changes,
                "loads_with_candidate": self.loads,
                "problems_with_candidate": [p.to_dict() for p in self.candidate_problems],
                "current_problems": [p.to_dict() for p in self.current_problems]}


@dataclass
class CandidatePair:
    payer: str
    current: PolicySet
    candidate: PolicySet
    current_path: str            # the payer's overlay file, as problems show it
    candidate_path: str          # the candidate file, as problems show it
    dependents: list[Dependent]
    policy_diff: dict
    load_seconds: float
    warnings: list[Problem] = field(default_factory=list)


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
        report = paths.deep(diff_policies(current, new))
        warnings = [paths.problem(p) for p in new.warnings]
    return CandidatePair(payer, current, new, current_path, candidate_path, deps, report,
                         time.perf_counter() - started, warnings)


def _candidate_problem(p: Problem, payer: str, candidate_path: str) -> Problem:
    """The temporary copy is named ``<payer>.yaml``; say what that means for the candidate's id."""
    if p.code == "payer_id_mismatch" and p.location is not None and p.location.file == candidate_path:
        return Problem(p.code, p.message.replace(f"does not match its file name `{payer}.yaml`",
                                                 f"is not `{payer}`, the payer this file is a candidate for"),
                       p.location, p.level)
    return p


# ------------------------------------------------------------------------------------------------
# Reading a corpus
# ------------------------------------------------------------------------------------------------

@dataclass
class CorpusItem:
    location: str        # file:line for a JSON-lines file, the file for a .json file
    text: str            # kept as text and decoded when decided: thousands of decoded documents held
                         # at once would slow every garbage collection of the run


@dataclass
class InvalidEncounter:
    location: str
    encounter: str | None      # its id, when it has one
    code: str
    problem: str

    def to_dict(self) -> dict:
        return {"location": self.location, "encounter": self.encounter, "code": self.code,
                "problem": self.problem}


@dataclass
class Corpus:
    source: str
    items: list[CorpusItem]
    invalid: list[InvalidEncounter]      # files that could not be read
    files: int

    @property
    def read(self) -> int:
        return len(self.items)


def read_corpus(path: Path, max_encounters: int | None = None) -> Corpus:
    """Read a ``.jsonl`` file, a ``.json`` file or a folder of them (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl"))
    elif path.is_file():
        files = [path]
    else:
        raise ImpactError("unreadable_corpus", f"no file or folder `{path}`")
    items: list[CorpusItem] = []
    invalid: list[InvalidEncounter] = []
    for f in files:
        if max_encounters is not None and len(items) >= max_encounters:
            break
        try:
            text = f.read_text(encoding="utf-8-sig")      # a leading byte-order mark is accepted, as over HTTP
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            if f is path:
                raise ImpactError("unreadable_corpus", f"cannot read `{f}`: {reason}") from None
            invalid.append(InvalidEncounter(str(f), None, "unreadable_file", f"cannot read the file: {reason}"))
            continue
        if f.suffix == ".json":
            items.append(CorpusItem(str(f), text))
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            if max_encounters is not None and len(items) >= max_encounters:
                break
            if line.strip():
                items.append(CorpusItem(f"{f}:{n}", line))
    return Corpus(str(path), items, invalid, len(files))


def _decode(item: CorpusItem) -> tuple[object, InvalidEncounter | None]:
    try:
        return json.loads(item.text), None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if "\n" in item.text.strip() else f"column {exc.colno}"
        return None, InvalidEncounter(item.location, None, "invalid_json", f"invalid JSON at {where}: {exc.msg}")
    except RecursionError:
        return None, InvalidEncounter(item.location, None, "invalid_json", "invalid JSON: nested too deeply")
    except ValueError as exc:  # e.g. an integer longer than Python's conversion limit
        return None, InvalidEncounter(item.location, None, "invalid_json", f"invalid JSON: {exc}")


# ------------------------------------------------------------------------------------------------
# Comparing decisions
# ------------------------------------------------------------------------------------------------

def _deny_rules(line: LineDecision) -> list[str]:
    if line.verdict == SUPPORTABLE:
        return []
    return sorted({r.rule.id for r in line.reasons})     # a denied line's reasons are its denials


def _units_rule(line: LineDecision) -> str | None:
    if line.verdict != SUPPORTABLE:
        return None
    return line.proofs[0].rule.id if line.proofs else None


def _side(line: LineDecision) -> dict:
    deny = _deny_rules(line)
    units_rule = _units_rule(line)
    out = {"verdict": line.verdict, "billed_units": line.billed_units, "supportable_units": line.supportable_units,
           "rules": deny if line.verdict != SUPPORTABLE else ([units_rule] if units_rule else []),
           "denied_by": deny, "units_rule": units_rule}
    if line.missing_documentation:
        out["missing_documentation"] = list(line.missing_documentation)
    return out


@dataclass
class Change:
    type: str
    encounter: str
    location: str
    line: str | None = None
    code: str | None = None
    current: dict | None = None
    candidate: dict | None = None
    problem: str | None = None      # for now_refused / now_accepted: why the other side refuses it

    @property
    def responsible(self) -> dict:
        """The rules behind the change on each side: denials only one side has, else the units rules."""
        a, b = self.current or {}, self.candidate or {}
        gone = [r for r in a.get("denied_by", []) if r not in b.get("denied_by", [])]
        came = [r for r in b.get("denied_by", []) if r not in a.get("denied_by", [])]
        if self.type in (UNITS_UP, UNITS_DOWN) or (not gone and not came):
            return {"current": a.get("rules", []), "candidate": b.get("rules", [])}
        return {"current": gone or a.get("rules", []), "candidate": came or b.get("rules", [])}

    def to_dict(self) -> dict:
        out = {"type": self.type, "encounter": self.encounter, "location": self.location}
        if self.line is not None:
            out.update(line=self.line, code=self.code, current=self.current, candidate=self.candidate,
                       responsible=self.responsible)
        if self.problem is not None:
            out["problem"] = self.problem
        return out


@dataclass
class SideTiming:
    seconds: float = 0.0
    encounters: int = 0

    def to_dict(self) -> dict:
        return {"seconds": round(self.seconds, 4), "encounters": self.encounters,
                "encounters_per_s": round(self.encounters / self.seconds, 1) if self.seconds else None}


@dataclass
class Impact:
    payer: str
    current_version: str
    candidate_version: str
    decided: int = 0                 # encounters both policies accepted and decided
    lines: int = 0
    changes: list[Change] = field(default_factory=list)
    invalid: list[InvalidEncounter] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)      # engine failures (reported, never raised)
    verdicts: dict = field(default_factory=lambda: {"current": dict.fromkeys(VERDICTS, 0),
                                                     "candidate": dict.fromkeys(VERDICTS, 0)})
    timing: dict = field(default_factory=lambda: {"current": SideTiming(), "candidate": SideTiming()})
    wall_seconds: float = 0.0

    def counts(self) -> dict:
        out = dict.fromkeys(CHANGE_TYPES, 0)
        for c in self.changes:
            out[c.type] += 1
        return out

    def decision_changes(self) -> list[Change]:
        return [c for c in self.changes if c.type != RULES_CHANGED]

    def summary(self) -> dict:
        changed = self.decision_changes()
        return {"encounters_decided": self.decided, "lines_decided": self.lines,
                "lines_changed": sum(1 for c in changed if c.line is not None),
                "encounters_changed": len({c.location for c in changed if c.line is not None}),
                "encounters_refused_or_accepted": sum(1 for c in changed if c.line is None),
                "lines_same_decision_other_rules": sum(1 for c in self.changes if c.type == RULES_CHANGED),
                "by_type": {k: v for k, v in self.counts().items()},
                "verdicts": self.verdicts}

    def timing_dict(self) -> dict:
        both = self.timing["current"].seconds + self.timing["candidate"].seconds
        return {"current": self.timing["current"].to_dict(), "candidate": self.timing["candidate"].to_dict(),
                "wall_seconds": round(self.wall_seconds, 4),
                "encounters_per_s": round(self.decided / self.wall_seconds, 1) if self.wall_seconds else None,
                "decide_seconds_both": round(both, 4)}

    def to_dict(self) -> dict:
        return {"payer": self.payer, "current_version": self.current_version,
                "candidate_version": self.candidate_version, "summary": self.summary(),
                "changes": [c.to_dict() for c in self.changes],
                "invalid": [i.to_dict() for i in self.invalid], "errors": self.errors,
                "timing": self.timing_dict()}


def _first_problem(exc: InputError) -> tuple[str, str]:
    if not exc.problems:
        return "invalid_encounter", str(exc)
    p = exc.problems[0]
    return p.code, str(p)


def _enc_id(data: object) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data["id"]
    return None


def compare(current: PolicySet, candidate: PolicySet, corpus: Corpus, progress=None) -> Impact:
    """Decide every encounter of ``corpus`` under both policies and collect the changes."""
    impact = Impact(current.payer, current.version, candidate.version, invalid=list(corpus.invalid))
    clock = time.perf_counter
    started = clock()
    sides = (("current", current), ("candidate", candidate))
    for n, item in enumerate(corpus.items, start=1):
        data, bad = _decode(item)
        if bad is not None:
            impact.invalid.append(bad)
            continue
        enc_id = _enc_id(data)
        parsed, refused, decisions = {}, {}, {}
        for name, ps in sides:
            t = clock()
            try:
                parsed[name] = ps.parse(data)
            except InputError as exc:
                refused[name] = _first_problem(exc)
            except RecursionError:
                refused[name] = ("invalid_encounter", "(document): nested too deeply")
            impact.timing[name].seconds += clock() - t
        if len(refused) == 2:
            code, problem = refused["current"]
            impact.invalid.append(InvalidEncounter(item.location, enc_id, code, problem))
            continue
        if refused:
            name = next(iter(refused))
            impact.changes.append(Change(NOW_REFUSED if name == "candidate" else NOW_ACCEPTED,
                                         enc_id or "", item.location, problem=refused[name][1]))
            continue
        failed = False
        for name, ps in sides:
            t = clock()
            try:
                decisions[name] = ps.decide(parsed[name], "none")
            except Exception as exc:  # an engine fault: reported with the encounter, never raised
                impact.errors.append({"location": item.location, "encounter": enc_id, "policy": name,
                                      "error": f"{type(exc).__name__}: {exc}"})
                failed = True
            impact.timing[name].seconds += clock() - t
            impact.timing[name].encounters += 1
        if failed:
            continue
        impact.decided += 1
        _compare_decisions(decisions["current"], decisions["candidate"], item.location, impact)
        if progress is not None and n % 500 == 0:
            progress(n, len(corpus.items))
    impact.wall_seconds = clock() - started
    return impact


def _compare_decisions(old: Decision, new: Decision, location: str, impact: Impact) -> None:
    for a, b in zip(old.lines, new.lines):
        impact.lines += 1
        impact.verdicts["current"][a.verdict] += 1
        impact.verdicts["candidate"][b.verdict] += 1
        if a.verdict != b.verdict:
            kind = f"{a.verdict}->{b.verdict}"
        elif a.supportable_units != b.supportable_units:
            kind = UNITS_UP if b.supportable_units > a.supportable_units else UNITS_DOWN
        else:
            sa, sb = _side(a), _side(b)
            if sa["rules"] == sb["rules"]:
                continue
            kind = RULES_CHANGED
        impact.changes.append(Change(kind, old.encounter_id, location, a.line, a.code, _side(a), _side(b)))
