"""Policy tests: cases written in YAML next to the policies, run against the engine like unit tests.

``supportable test [PATH]`` runs them (server/cli_policytest.py); by default every
``payers/tests/**/*.yaml`` and ``policies/tests/**/*.yaml``. (Payers are only the ``*.yaml`` files
directly in ``payers/``, so ``payers/tests/`` is never read as a payer.)

The test file
-------------
::

    payer: medicare                  # required: the payer that decides every case (`base`: the base alone)
    description: ...                 # optional, for readers
    edits:                           # optional: edit-table rows for these cases, as an overlay's
      mue: {add: [...]}              #   `edits:` block (docs/overlays.md), layered over the payer's
    examples:                        # optional: encounters shared by this file's cases, by name
      exercise_visit: {<a whole encounter, as in docs/encounter.md>}
    cases:                           # required, a non-empty list
      - name: 22 + 18 minutes make 3 units     # required, unique in the file
        source: {file: domain-notes.md, section: "1.1"}  # the guidance the expectations rest on
        example: medicare_8_minute_rule        # this file's `examples:` first, else
                                               #   examples/encounters/<name>.json (or a path
                                               #   ending .json, relative to the test file)
        # or, instead of `example:`:  encounter: {<a whole encounter>}
        change: {...}                # optional: the change language below
        date_of_service: 2025-11-03  # optional; applied after `change`
        expect:                      # required: line id -> any of these keys
          1:
            verdict: supportable     # supportable | needs_documentation | not_supportable
            units: 2                 # the supportable units
            reasons: [rule ids]      # must all fire on the line (the line's reasons)
            not_reasons: [rule ids]  # must not fire
            missing_documentation: [elements]  # exactly these (in any order)
            suggested_codes: [codes]           # exactly these (in any order)
            overbilled: true                   # supportable for fewer units than billed
            fixes: ["add_modifier 59|XS", "add_documentation distinct_region"]   # exactly these:
                                               # action and value (modifier choices joined by |)
            advice: [rule ids]       # must all give the line advice (information that denies nothing)
            not_advice: [rule ids]   # must not

A rule id in ``reasons``/``not_reasons``/``advice``/``not_advice`` must be a rule of the payer's chain or one it disables;
documentation elements and codes must be in the vocabulary; a line id must be a line of the
encounter. Lines an ``expect`` does not name are not checked.

The change language
-------------------
``change:`` is a mapping applied entry by entry, in the order written, to a copy of the example:

- ``<path>: <value>`` sets a field. A path is field names joined by ``.`` with ``[i]`` list
  indexes (``[-1]`` is the last item): ``lines[0].minutes: 24``, ``patient.condition_status:
  plateau``, ``lines[1]: {id: "2", code: "97110", ...}`` (a whole line), ``lines: [...]`` (all of
  them). Everything up to the last step must exist; a mapping gains a key it lacks, a list item
  must exist (use ``append`` to add one).
- ``remove: [<path>, ...]`` (or one path) deletes fields or list items: ``remove: [plan_of_care,
  "lines[1]"]``. What it names must exist. Items are removed one after the other, so later
  indexes see the earlier removals.
- ``append: {<path>: <value>}`` adds to a list: one item, or each item of a list value
  (``append: {documentation: prior_authorization}``, ``append: {"patient.history": [{...}, {...}]}``).
  A list missing from an existing mapping is created.

YAML anchors and merge keys work as usual, so a change can be shared (``change: &nmr {...}`` and
later ``change: {<<: *nmr, lines[0].minutes: 33}``; the merged entries come first, and an entry
written in the mapping itself replaces a merged one of the same path). In YAML's ``[flow]`` and
``{flow}`` collections a path containing ``[`` must be quoted (``"lines[1]"``). Unquoted YAML
dates become ISO strings. Quote codes and modifiers that look like numbers (``"97110"``, ``"59"``).

Problems
--------
Everything about a test file is checked before it runs, and every problem is a located
:class:`~engine.errors.Problem` (``file:line:col``): YAML syntax, unknown keys (with a suggestion),
an unknown payer or one whose policies do not load, an unknown example, line ids the encounter does
not have, rule ids the payer does not have, a change that does not apply, and an encounter that
does not validate (its field path, located at the ``change`` entry or ``encounter`` node that set
it, else at ``example:``). A case with problems is an error and is not run; the others still run.
Nothing here raises for bad input.

Coverage
--------
For each case the rules that took part in its decision are collected (:func:`exercised_rules`:
its derivations, recursively, and the rules its why-nots show were tried); per payer these are
compared with the rules of the payer's chain, less the rules that can never hold under its
parameters (the total-time unit rules under a per-code payer, see compiler.live_rules), and the
result is merged per policy file.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .compiler import EFFECTIVE_VAR, live_rules
from .decision import NEEDS_DOCUMENTATION, NOT_SUPPORTABLE, SUPPORTABLE, Decision, decide
from .edits import EditTables, check_codes, parse_overlay_edits
from .encounter import Encounter
from .errors import InputError, Location, PolicyError, Problem, Problems
from .explain import Attempt, Explainer, ProofNode
from .loader import shown_path
from .overlay import BASE
from .policyset import PolicySet, default_payers_dir, load_policy_set, payer_ids
from .syntax import Aggregate, Compare, Const, Negative, Positive, Var
from .yamlsource import Node, load_yaml

FILE_KEYS = ("payer", "description", "edits", "examples", "cases")
CASE_KEYS = ("name", "source", "example", "encounter", "change", "date_of_service", "expect")
EXPECT_KEYS = ("verdict", "units", "reasons", "not_reasons", "missing_documentation", "suggested_codes",
               "overbilled", "fixes", "advice", "not_advice")
FIX_ACTIONS = ("add_documentation", "add_modifier", "remove_modifier", "bill_instead", "reduce_units")
VERDICTS = (SUPPORTABLE, NEEDS_DOCUMENTATION, NOT_SUPPORTABLE)
PASSED, FAILED, ERROR = "passed", "failed", "error"

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[-?[0-9]+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[-?[0-9]+\])*)*$")
_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(-?[0-9]+)\]")


# --- the test file model -------------------------------------------------------------------------

@dataclass
class LineExpectation:
    line: str
    location: Location
    fields: dict[str, object]                       # field -> expected value, in file order
    locations: dict[str, Location] = field(default_factory=dict)


@dataclass
class Case:
    file: str
    location: Location
    name: str
    payer: str
    source: str = ""                              # the guidance the case rests on, as written
    policy: PolicySet | None = None               # the payer with the file's own edit rows, if it has any
    expect: list[LineExpectation] = field(default_factory=list)
    data: dict | None = None                      # the encounter document, after the change
    encounter: Encounter | None = None            # validated
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Mismatch:
    field: str
    expected: object
    actual: object
    message: str

    def to_dict(self) -> dict:
        return {"field": self.field, "expected": self.expected, "actual": self.actual, "message": self.message}


@dataclass
class LineResult:
    line: str
    code: str
    expected: dict
    actual: dict
    fired: list[str]
    mismatches: list[Mismatch] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"line": self.line, "code": self.code, "passed": not self.mismatches, "expected": self.expected,
                "actual": self.actual, "fired": self.fired, "mismatches": [m.to_dict() for m in self.mismatches]}


@dataclass
class CaseResult:
    case: Case
    status: str
    lines: list[LineResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"file": self.case.file, "line": self.case.location.line, "name": self.case.name,
                "source": self.case.source, "payer": self.case.payer, "status": self.status, "lines": [l.to_dict() for l in self.lines],
                "problems": [p.to_dict() for p in self.problems]}


@dataclass
class RunError:
    """A problem outside any one case (a file, a payer, a path), with any details (e.g. the
    problems of a payer whose policies do not load)."""
    problem: Problem
    details: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = self.problem.to_dict()
        if self.details:
            out["details"] = [p.to_dict() for p in self.details]
        return out


@dataclass
class PolicyTestRun:
    __test__ = False   # not a pytest test class
    files: list[str]
    results: list[CaseResult]
    errors: list[RunError]
    coverage: "Coverage | None" = None

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.status == PASSED)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.status == FAILED)

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.results if r.status == ERROR) + len(self.errors)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.error_count == 0

    def summary(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed"
        if self.error_count:
            text += f", {self.error_count} error{'s' if self.error_count != 1 else ''}"
        return text

    def to_dict(self) -> dict:
        out = {"summary": {"passed": self.passed, "failed": self.failed, "errors": self.error_count,
                           "text": self.summary()},
               "files": self.files, "cases": [r.to_dict() for r in self.results],
               "errors": [e.to_dict() for e in self.errors]}
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_dict()
        return out


# --- loading policies once ------------------------------------------------------------------------

class Policies:
    """The payers' policy sets, each loaded once per run (``None`` with problems if it does not load)."""

    def __init__(self, policies_dir: Path, payers_dir: Path | None):
        self.policies_dir = Path(policies_dir)
        self.payers_dir = default_payers_dir(self.policies_dir) if payers_dir is None else Path(payers_dir)
        self.root = self.policies_dir.resolve().parent
        self.known = payer_ids(self.policies_dir, self.payers_dir)
        self._sets: dict[str, tuple[PolicySet | None, list[Problem]]] = {}

    def get(self, payer: str) -> tuple[PolicySet | None, list[Problem]]:
        if payer not in self._sets:
            key = (str(self.policies_dir.resolve()), str(self.payers_dir.resolve()), payer, self._fingerprint())
            if key not in _LOADED:
                try:
                    _LOADED[key] = (load_policy_set(self.policies_dir, payer, self.payers_dir), [])
                except PolicyError as exc:
                    _LOADED[key] = (None, list(exc.problems))
            self._sets[payer] = _LOADED[key]
        return self._sets[payer]

    def _fingerprint(self) -> tuple:
        """Every file a policy set is loaded from, with its size and modification time."""
        paths = [*sorted((self.policies_dir / "vocabulary").glob("*.yaml")),
                 *sorted((self.policies_dir / BASE).glob("*.yaml")), *sorted((self.policies_dir / "edits").glob("*.yaml")),
                 *sorted(self.payers_dir.glob("*.yaml"))]
        out = []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)


# Policy sets already loaded in this process, by directories, payer and the files' fingerprint: a
# second run over unchanged policies (the tests run the command many times) does not load them again.
_LOADED: dict[tuple, tuple[PolicySet | None, list[Problem]]] = {}


# --- paths and the change language ----------------------------------------------------------------

class ChangeError(Exception):
    pass


def parse_path(text: str) -> list[str | int] | None:
    """``lines[0].minutes`` -> ["lines", 0, "minutes"]; None if it is not a path."""
    if not isinstance(text, str) or not _PATH.match(text):
        return None
    try:
        return [name if name else int(index) for name, index in _SEGMENT.findall(text)]
    except ValueError:      # an index of thousands of digits
        return None


def show_path(segments: list) -> str:
    out = ""
    for s in segments:
        out += f"[{s}]" if isinstance(s, int) else (("." if out else "") + s)
    return out


def _step(container, segment, segments, i):
    where = show_path(segments[:i]) or "the encounter"
    if isinstance(segment, int):
        if not isinstance(container, list):
            raise ChangeError(f"`{where}` is not a list, so `[{segment}]` does not apply")
        if not -len(container) <= segment < len(container):
            raise ChangeError(f"`{where}` has {len(container)} item(s); there is no `[{segment}]`")
        return container[segment]
    if not isinstance(container, dict):
        raise ChangeError(f"`{where}` is not a mapping, so `.{segment}` does not apply")
    if segment not in container:
        has = ", ".join(f"`{k}`" for k in container) or "nothing"
        owner = f"`{where}` has" if i else "the encounter has"
        raise ChangeError(f"`{show_path(segments[:i + 1])}` is not in the encounter ({owner} {has})")
    return container[segment]


def _parent(data: dict, segments: list):
    node = data
    for i, segment in enumerate(segments[:-1]):
        node = _step(node, segment, segments, i)
    return node


def change_set(data: dict, segments: list, value) -> None:
    """Set a field: the parent must exist; a mapping gains the key if it lacks it; a list item
    must exist (use append to add one)."""
    parent = _parent(data, segments)
    last = segments[-1]
    if isinstance(last, int):
        _step(parent, last, segments, len(segments) - 1)
        parent[last] = value
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ChangeError(f"`{show_path(segments[:-1])}` is not a mapping, so `.{last}` does not apply")


def change_remove(data: dict, segments: list) -> None:
    parent = _parent(data, segments)
    _step(parent, segments[-1], segments, len(segments) - 1)
    del parent[segments[-1]]


def change_append(data: dict, segments: list, value) -> None:
    """Append to a list (each item of a list value); a missing list in an existing mapping is created."""
    parent = _parent(data, segments)
    last = segments[-1]
    if isinstance(parent, dict) and isinstance(last, str) and last not in parent:
        parent[last] = []
    target = _step(parent, last, segments, len(segments) - 1)
    if not isinstance(target, list):
        raise ChangeError(f"`{show_path(segments)}` is not a list; `append` adds to lists (use a plain path to set it)")
    target.extend(value if isinstance(value, list) else [value])


def plain(value):
    """YAML values as an encounter document holds them (dates as ISO strings)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


# --- reading a test file ----------------------------------------------------------------------------

_MERGE = "tag:yaml.org,2002:merge"


def _keys(node: Node) -> list[tuple[str, Location, Node]]:
    """A mapping's entries with the location of each key, in file order. YAML merge keys
    (``<<: *anchor``) bring in the anchored mapping's entries first, unless the mapping itself
    gives the same key (as YAML's merge does)."""
    merged: list[tuple[str, Location, Node]] = []
    own: list[tuple[str, Location, Node]] = []
    for k, v in node.raw.value:
        if k.tag == _MERGE:
            sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
            for src in sources:
                if isinstance(src, yaml.MappingNode):
                    merged += _keys(Node(src, node.file, node.text))
            continue
        mark = k.start_mark
        own.append((str(k.value), Location(node.file, mark.line + 1, mark.column + 1), Node(v, node.file, node.text)))
    mine = {key for key, _, _ in own}
    seen: set[str] = set()
    out = []
    for entry in merged:
        if entry[0] not in mine and entry[0] not in seen:
            seen.add(entry[0])
            out.append(entry)
    return out + own


def _get(node: Node, key: str) -> Node | None:
    """A mapping's value for ``key`` (merge keys included, as :func:`_keys` reads them)."""
    if not node.is_mapping:
        return None
    return next((value for k, _, value in _keys(node) if k == key), None)


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), sorted(map(str, known)), n=1)
    return f"; did you mean `{close[0]}`?" if close else ""


def _end_line(node: Node) -> int:
    return node.raw.end_mark.line + 1


class _Origins:
    """Where each part of a case's encounter came from, to locate the encounter's problems."""

    def __init__(self, base_kind: str, base_node: Node, example: str | None = None):
        self.base_kind, self.base_node, self.example = base_kind, base_node, example
        self.ops: list[tuple[str, list, Location, Node | None]] = []   # (op, path, key location, value node)
        self.date_node: Node | None = None

    def locate(self, path: str) -> tuple[Location, str]:
        segments = parse_path(path) or [] if path else []
        if segments == ["date_of_service"] and self.date_node is not None:
            return self.date_node.location, ""
        for op, op_path, key_loc, value in reversed(self.ops):
            n = len(op_path)
            if segments[:n] == op_path:
                if op == "set" and value is not None:
                    return _descend(value, segments[n:]), ""
                if op == "append" and value is not None:
                    return value.location, ""
                return key_loc, ""
            if op_path[:len(segments)] == segments and segments:
                return key_loc, ""
        if self.base_kind == "encounter":
            return _descend(self.base_node, segments), ""
        return self.base_node.location, f" (from example `{self.example}`)"


def _descend(node: Node, segments: list) -> Location:
    """The location of the deepest node along ``segments`` that the YAML has."""
    for segment in segments:
        nxt = None
        if isinstance(segment, int) and node.is_sequence:
            items = node.children()
            if -len(items) <= segment < len(items):
                nxt = items[segment]
        elif isinstance(segment, str) and node.is_mapping:
            nxt = _get(node, segment)
        if nxt is None:
            break
        node = nxt
    return node.location


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):     # a name too long for the file system, a NUL in it
        return False


class _FileReader:
    def __init__(self, policies: Policies, examples_dir: Path):
        self.policies = policies
        self.examples_dir = examples_dir
        self._example_cache: dict[Path, object] = {}

    def read(self, path: Path) -> tuple[list[Case], list[RunError]]:
        shown = shown_path(path, self.policies.root)
        doc, found = load_yaml(path, shown, aliases=True)
        problems: list[Problem] = list(found)
        errors: list[RunError] = []
        if doc is None:
            return [], [RunError(p) for p in problems]
        if not doc.is_mapping:
            return [], [RunError(Problem("test_format", "a test file is a mapping with `payer` and `cases`",
                                         doc.location))] + [RunError(p) for p in problems]
        for key, loc, _ in _keys(doc):
            if key not in FILE_KEYS:
                problems.append(Problem("test_format", f"unknown top-level key `{key}`; use "
                                        f"{', '.join(f'`{k}`' for k in FILE_KEYS)}{_suggest(key, FILE_KEYS)}", loc))
        policy = None
        payer_node = _get(doc, "payer")
        payer = payer_node.scalar_text() if payer_node is not None else ""
        runnable = True
        if payer_node is None or not payer_node.is_scalar or not payer:
            problems.append(Problem("test_format", "the test file does not name its `payer` (a payer id, or `base`)",
                                    payer_node.location if payer_node is not None else doc.location))
            runnable = False
        elif payer not in self.policies.known:
            problems.append(Problem("unknown_payer", f"unknown payer `{payer}`; available: "
                                    f"{', '.join(self.policies.known)}{_suggest(payer, self.policies.known)}",
                                    payer_node.location))
            runnable = False
        else:
            policy, load_problems = self.policies.get(payer)
            if policy is None:
                errors.append(RunError(Problem("payer_does_not_load", f"the policies of payer `{payer}` do not load, "
                                               "so this file's cases were not run", payer_node.location),
                                       load_problems))
                runnable = False
        edits_node = _get(doc, "edits")
        if edits_node is not None and policy is not None:
            policy = self._with_edits(policy, edits_node, problems)
        examples: dict[str, Node] = {}
        ex_node = _get(doc, "examples")
        if ex_node is not None:
            if not ex_node.is_mapping:
                problems.append(Problem("test_format", "`examples` is a mapping from a name to an encounter",
                                        ex_node.location))
            else:
                for name, loc, value in _keys(ex_node):
                    if not value.is_mapping:
                        problems.append(Problem("test_format", f"example `{name}` is not a mapping (an encounter)",
                                                value.location))
                    else:
                        examples[name] = value
        cases_node = _get(doc, "cases")
        case_nodes: list[Node] = []
        if cases_node is None or not cases_node.is_sequence or not cases_node.children():
            problems.append(Problem("test_format", "`cases` is a non-empty list of cases",
                                    cases_node.location if cases_node is not None else doc.location))
        else:
            case_nodes = cases_node.children()
        cases = [self._safe_case(node, shown, payer, policy, examples) for node in case_nodes]
        if edits_node is not None:
            for case in cases:
                case.policy = policy
        names: dict[str, Case] = {}
        for case in cases:
            if case.name and case.name in names:
                case.problems.append(Problem("duplicate_case_name", f"case name `{case.name}` is already used at "
                                             f"line {names[case.name].location.line}", case.location))
            names.setdefault(case.name, case)
        # YAML-level problems (duplicate keys) inside a case belong to that case.
        spans = [(node.location.line, _end_line(node), case) for node, case in zip(case_nodes, cases)]
        for p in problems:
            owner = next((c for start, end, c in spans if p.location and start <= p.location.line <= end
                          and p.code == "duplicate_key"), None)
            if owner is not None:
                owner.problems.append(p)
            else:
                errors.append(RunError(p))
        if not runnable:
            errors += [RunError(p) for case in cases for p in case.problems]
            return [], errors
        return cases, errors

    @staticmethod
    def _with_edits(policy: PolicySet, node: Node, problems: list[Problem]) -> PolicySet:
        """The payer with the file's `edits:` block as one more layer (`test`) over its own: rows the
        cases need (an MUE, a pair) without an imported CMS table."""
        found = Problems()
        layer = parse_overlay_edits(node, "test", found)
        check_codes(layer, policy.vocabulary, found)
        tables = EditTables(policy.edits.base, policy.edits.imported, [*policy.edits.overlays, layer])
        tables.apply_overlays(found, policy.parameters)
        problems.extend(found.items)
        return replace(policy, edits=tables)

    # -- one case --------------------------------------------------------------------------------
    def _safe_case(self, node: Node, file: str, payer: str, policy: PolicySet | None,
                   examples: dict[str, Node]) -> Case:
        try:
            return self._case(node, file, payer, policy, examples)
        except yaml.YAMLError as exc:      # a value the safe constructor refuses (e.g. an unknown !!tag)
            mark = getattr(exc, "problem_mark", None)
            loc = Location(file, mark.line + 1, mark.column + 1) if mark else node.location
            case = Case(file=file, location=node.location, name=_name_of(node), payer=payer)
            case.problems.append(Problem("test_format", f"cannot read this value: {getattr(exc, 'problem', exc)}", loc))
            return case

    def _case(self, node: Node, file: str, payer: str, policy: PolicySet | None, examples: dict[str, Node]) -> Case:
        case = Case(file=file, location=node.location, name="", payer=payer)
        problems = case.problems
        if not node.is_mapping:
            problems.append(Problem("test_format", "a case is a mapping with `name`, an encounter and `expect`",
                                    node.location))
            return case
        for key, loc, _ in _keys(node):
            if key not in CASE_KEYS:
                problems.append(Problem("test_format", f"unknown key `{key}` in a case; use "
                                        f"{', '.join(f'`{k}`' for k in CASE_KEYS)}{_suggest(key, CASE_KEYS)}", loc))
        name_node = _get(node, "name")
        case.name = name_node.scalar_text() if name_node is not None else ""
        if not case.name:
            problems.append(Problem("test_format", "the case has no `name`", node.location))
            case.name = f"(unnamed case at line {node.location.line})"
        source = _get(node, "source")
        if source is not None:
            file = _get(source, "file") if source.is_mapping else source
            section = _get(source, "section") if source.is_mapping else None
            case.source = (file.scalar_text() if file is not None else "") + \
                (f", {section.scalar_text()}" if section is not None else "")
            if not (file is not None and file.scalar_text()):
                problems.append(Problem("test_format", "`source` names a guidance file: `{file: ..., section: ...}`",
                                        source.location))
        data, origins = self._encounter(node, examples, problems)
        if data is not None:
            self._apply_change(node, data, origins, problems)
        dos = _get(node, "date_of_service")
        if dos is not None and data is not None:
            value = plain(dos.value())
            if not isinstance(value, str):
                problems.append(Problem("test_format", "`date_of_service` is a date (YYYY-MM-DD)", dos.location))
            else:
                data["date_of_service"] = value
                origins.date_node = dos
        case.data = data
        case.expect = self._expectations(node, policy, problems)
        if data is None:
            return case
        lines = data.get("lines")
        ids = [str(l["id"]) for l in lines if isinstance(l, dict) and "id" in l] if isinstance(lines, list) else []
        for exp in case.expect:
            if exp.line not in ids:
                problems.append(Problem("unknown_line", f"`expect` names line `{exp.line}`, which the encounter does "
                                        f"not have; its lines are {', '.join(f'`{i}`' for i in ids) or 'none'}"
                                        f"{_suggest(exp.line, ids)}", exp.location))
        if policy is None or any(p.code == "invalid_change" for p in problems):
            return case     # a change that did not apply leaves an encounter nobody meant to write
        try:
            encounter = policy.parse(data)
        except InputError as exc:
            for fp in exc.problems:
                loc, suffix = origins.locate(fp.path)
                problems.append(Problem("invalid_encounter", f"invalid encounter{suffix}: "
                                        f"`{fp.path or '(document)'}`: {fp.message} ({fp.code})", loc))
            return case
        if not problems:
            case.encounter = encounter
        return case


    def _example(self, name: str, node: Node, examples: dict[str, Node], problems: list[Problem]):
        if name in examples:
            return plain(examples[name].value())
        candidates = [self.examples_dir / f"{name}.json"]
        if name.endswith(".json") or "/" in name:
            candidates.insert(0, (Path(node.file) if Path(node.file).is_absolute() else self.policies.root / node.file
                                  ).parent / name)
        path = next((p for p in candidates if _is_file(p)), None)
        if path is None:
            known = sorted(examples) + sorted(p.stem for p in self.examples_dir.glob("*.json"))
            problems.append(Problem("unknown_example", f"no example `{name}`: not in this file's `examples` nor "
                                    f"{shown_path(self.examples_dir, self.policies.root)}/{_suggest(name, known)}",
                                    node.location))
            return None
        if path not in self._example_cache:
            try:
                self._example_cache[path] = json.loads(path.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError, RecursionError) as exc:
                problems.append(Problem("unknown_example", f"example `{name}` ({shown_path(path, self.policies.root)}) "
                                        f"cannot be read: {exc}", node.location))
                return None
        return json.loads(json.dumps(self._example_cache[path]))   # a copy each case can change

    def _encounter(self, node: Node, examples: dict[str, Node], problems: list[Problem]):
        ex_node, enc_node = _get(node, "example"), _get(node, "encounter")
        if (ex_node is None) == (enc_node is None):
            problems.append(Problem("test_format", "a case gives its encounter either in full (`encounter:`) or as "
                                    "`example:` (with an optional `change:`), exactly one of them", node.location))
            return None, None
        if enc_node is not None:
            if not enc_node.is_mapping:
                problems.append(Problem("test_format", "`encounter` is a mapping (a whole encounter)",
                                        enc_node.location))
                return None, None
            return plain(enc_node.value()), _Origins("encounter", enc_node)
        name = ex_node.scalar_text()
        if not ex_node.is_scalar or not name:
            problems.append(Problem("test_format", "`example` is the name of an example encounter", ex_node.location))
            return None, None
        data = self._example(name, ex_node, examples, problems)
        if data is None:
            return None, None
        if not isinstance(data, dict):
            problems.append(Problem("unknown_example", f"example `{name}` is not an encounter (a JSON object)",
                                    ex_node.location))
            return None, None
        return data, _Origins("example", ex_node, name)

    def _apply_change(self, node: Node, data: dict, origins: _Origins, problems: list[Problem]) -> None:
        change = _get(node, "change")
        if change is None:
            return
        if not change.is_mapping:
            problems.append(Problem("invalid_change", "`change` is a mapping: `path: value` to set a field, "
                                    "`remove: [paths]`, `append: {path: value}`", change.location))
            return
        for key, loc, value in _keys(change):
            try:
                if key == "remove":
                    items = value.children() if value.is_sequence else [value]
                    for item in items:
                        segments = self._path(item.scalar_text() if item.is_scalar else None, item.location)
                        origins.ops.append(("remove", segments, item.location, None))
                        change_remove(data, segments)
                elif key == "append":
                    if not value.is_mapping:
                        raise _Located("`append` is a mapping from a list's path to the item(s) to add", value.location)
                    for path, ploc, item in _keys(value):
                        segments = self._path(path, ploc)
                        origins.ops.append(("append", segments, ploc, item))
                        change_append(data, segments, plain(item.value()))
                else:
                    segments = self._path(key, loc)
                    origins.ops.append(("set", segments, loc, value))
                    change_set(data, segments, plain(value.value()))
            except _Located as exc:
                problems.append(Problem("invalid_change", str(exc), exc.location))
            except ChangeError as exc:
                problems.append(Problem("invalid_change", str(exc), origins.ops[-1][2]))

    @staticmethod
    def _path(text: str | None, loc: Location) -> list:
        segments = parse_path(text) if text else None
        if not segments:
            raise _Located(f"`{text}` is not a field path (like `lines[0].minutes` or `patient.condition_status`)", loc)
        return segments

    def _expectations(self, node: Node, policy: PolicySet | None, problems: list[Problem]) -> list[LineExpectation]:
        expect = _get(node, "expect")
        if expect is None or not expect.is_mapping or not _keys(expect):
            problems.append(Problem("test_format", "`expect` is a mapping from line id to what the line's decision "
                                    "must be", expect.location if expect is not None else node.location))
            return []
        out = []
        for line_id, loc, spec in _keys(expect):
            exp = LineExpectation(line_id, loc, {})
            out.append(exp)
            if not spec.is_mapping or not _keys(spec):
                problems.append(Problem("test_format", f"the expectation for line `{line_id}` is a mapping with any of "
                                        f"{', '.join(f'`{k}`' for k in EXPECT_KEYS)}", spec.location))
                continue
            for key, kloc, value in _keys(spec):
                if key not in EXPECT_KEYS:
                    problems.append(Problem("test_format", f"unknown key `{key}` in the expectation for line "
                                            f"`{line_id}`; use {', '.join(f'`{k}`' for k in EXPECT_KEYS)}"
                                            f"{_suggest(key, EXPECT_KEYS)}", kloc))
                    continue
                checked = self._expected_value(key, value, policy, problems)
                if checked is not None:
                    exp.fields[key] = checked
                    exp.locations[key] = value.location
        return out

    def _expected_value(self, key: str, node: Node, policy: PolicySet | None, problems: list[Problem]):
        value = node.value()
        if key == "verdict":
            if value not in VERDICTS:
                problems.append(Problem("test_format", f"verdict `{value}` is not one of {', '.join(VERDICTS)}"
                                        f"{_suggest(value, VERDICTS)}", node.location))
                return None
            return value
        if key == "overbilled":
            if not isinstance(value, bool):
                problems.append(Problem("test_format", f"overbilled `{value}` is true or false", node.location))
                return None
            return value
        if key == "fixes":
            items = node.children() if node.is_sequence else [node]
            fixes = []
            for item in items:
                text = str(plain(item.value())).strip()
                action = text.split(" ", 1)[0]
                if action not in FIX_ACTIONS or " " not in text:
                    problems.append(Problem("test_format", f"fix `{text}` is an action ({', '.join(FIX_ACTIONS)}) and "
                                            "a value, like `add_modifier 59|XS`", item.location))
                    continue
                fixes.append(_fix_text(action, text.split(" ", 1)[1].strip().split("|")))
            return fixes
        if key == "units":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(Problem("test_format", f"units `{value}` is not a whole number of units",
                                        node.location))
                return None
            return value
        items = node.children() if node.is_sequence else [node]
        values = []
        for item in items:
            v = plain(item.value())
            if not isinstance(v, (str, int)) or isinstance(v, bool):
                problems.append(Problem("test_format", f"`{key}` lists {'rule ids' if _rule_key(key) else 'values'}, "
                                        f"and `{v}` is not one", item.location))
                continue
            v = str(v)
            if policy is not None:
                known, what = self._known(key, policy)
                if v not in known:
                    problems.append(Problem(f"unknown_{'rule' if _rule_key(key) else 'value'}",
                                            f"`{v}` in `{key}` is not {what}{_suggest(v, known)}", item.location))
                    continue
            values.append(v)
        return values

    @staticmethod
    def _known(key: str, policy: PolicySet) -> tuple[set[str], str]:
        if _rule_key(key):
            return (set(policy.rule_index) | {d.id for d in policy.disabled},
                    f"a rule of payer `{policy.payer}` (nor one it disables)")
        if key == "missing_documentation":
            return policy.vocabulary.ids("documentation"), "a documentation element"
        return policy.vocabulary.ids("code"), "a code"


def _rule_key(key: str) -> bool:
    """An expectation that lists rule ids (the others list documentation elements or codes)."""
    return key in ("reasons", "not_reasons", "advice", "not_advice")


def _name_of(node: Node) -> str:
    name = _get(node, "name")
    return (name.scalar_text() if name is not None else "") or f"(unnamed case at line {node.location.line})"


class _Located(Exception):
    def __init__(self, message: str, location: Location):
        super().__init__(message)
        self.location = location


# --- running --------------------------------------------------------------------------------------

def _fix_text(action: str, values: list) -> str:
    return f"{action} {'|'.join(map(str, values))}"


def actual_line(line) -> dict:
    return {"verdict": line.verdict, "units": line.supportable_units, "billed_units": line.billed_units,
            "reasons": [r.rule.id for r in line.reasons], "missing_documentation": list(line.missing_documentation),
            "suggested_codes": [c for c, _ in line.suggestions], "overbilled": line.overbilled,
            "fixes": [_fix_text(f.action, f.value if isinstance(f.value, list) else [f.value]) for f in line.fixes],
            "advice": [a.rule.id for a in line.advice]}


def compare_line(exp: LineExpectation, line) -> LineResult:
    actual = actual_line(line)
    fired = actual["reasons"]
    result = LineResult(exp.line, line.code, dict(exp.fields), actual, fired)
    add = result.mismatches.append
    for key, want in exp.fields.items():
        if key == "verdict" and want != actual["verdict"]:
            add(Mismatch(key, want, actual["verdict"], f"expected {want}, got {actual['verdict']}"))
        elif key == "units" and want != actual["units"]:
            add(Mismatch(key, want, actual["units"], f"expected {want} supportable unit(s), got {actual['units']} "
                         f"(of {actual['billed_units']} billed)"))
        elif key == "reasons":
            missing = [r for r in want if r not in fired]
            if missing:
                add(Mismatch(key, want, fired, f"expected {', '.join(missing)} to fire; "
                             f"{'fired: ' + ', '.join(fired) if fired else 'no rule fired'}"))
        elif key == "not_reasons":
            present = [r for r in want if r in fired]
            if present:
                add(Mismatch(key, want, fired, f"expected {', '.join(present)} not to fire; it did"))
        elif key == "advice":
            missing = [r for r in want if r not in actual["advice"]]
            if missing:
                add(Mismatch(key, want, actual["advice"], f"expected advice from {', '.join(missing)}; "
                             f"{'given: ' + ', '.join(actual['advice']) if actual['advice'] else 'none given'}"))
        elif key == "not_advice":
            present = [r for r in want if r in actual["advice"]]
            if present:
                add(Mismatch(key, want, actual["advice"], f"expected no advice from {', '.join(present)}; it gave some"))
        elif key in ("missing_documentation", "suggested_codes", "fixes"):
            got = actual[key]
            if sorted(set(want)) != sorted(set(got)):
                add(Mismatch(key, want, got, f"expected [{', '.join(want)}], got [{', '.join(got)}]"))
        elif key == "overbilled" and want != actual["overbilled"]:
            add(Mismatch(key, want, actual["overbilled"], f"expected overbilled {str(want).lower()}, got "
                         f"{str(actual['overbilled']).lower()}"))
    return result


def run_case(case: Case, policy: PolicySet, coverage: "Coverage | None" = None) -> CaseResult:
    try:
        model = policy.evaluate(case.encounter)
        explainer = Explainer(policy.program, model)
        decision = decide(case.encounter, model, explainer, policy.payer, policy.version, "full")
        lines = {line.line: line for line in decision.lines}
        results = [compare_line(exp, lines[exp.line]) for exp in case.expect]
        if coverage is not None:
            coverage.record(policy, exercised_rules(decision, explainer))
    except Exception as exc:  # an engine fault: a located error, never a traceback
        return CaseResult(case, ERROR, problems=[Problem("internal_error", f"the engine failed while deciding this "
                                                         f"case ({type(exc).__name__}: {exc})", case.location)])
    return CaseResult(case, FAILED if any(r.mismatches for r in results) else PASSED, results)


def default_test_paths(policies_dir: Path, payers_dir: Path | None = None) -> list[Path]:
    payers_dir = default_payers_dir(policies_dir) if payers_dir is None else Path(payers_dir)
    return [Path(payers_dir) / "tests", Path(policies_dir) / "tests"]


def collect_files(paths: list[Path]) -> tuple[list[Path], list[RunError]]:
    files: list[Path] = []
    errors: list[RunError] = []
    for path in paths:
        path = Path(path)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*.yaml") if p.is_file())
        else:
            errors.append(RunError(Problem("no_such_path", f"`{path}` is neither a test file nor a folder",
                                           Location(str(path)))))
    seen, unique = set(), []
    for f in files:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique, errors


def run_tests(paths: list[Path] | None, policies_dir: Path, payers_dir: Path | None = None,
              coverage: bool = False, examples_dir: Path | None = None) -> PolicyTestRun:
    """Run the test files at ``paths`` (files or folders; default: every ``payers/tests/**/*.yaml``
    and ``policies/tests/**/*.yaml``)."""
    policies = Policies(policies_dir, payers_dir)
    explicit = bool(paths)
    if not paths:
        paths = [p for p in default_test_paths(policies.policies_dir, policies.payers_dir) if p.is_dir()]
    files, errors = collect_files(paths)
    if not files and not errors:
        where = ", ".join(str(p) for p in paths) if explicit else \
            f"{shown_path(policies.payers_dir / 'tests', policies.root)}/ or " \
            f"{shown_path(policies.policies_dir / 'tests', policies.root)}/"
        errors.append(RunError(Problem("no_tests", f"no test files (*.yaml) found in {where}")))
    reader = _FileReader(policies, examples_dir or policies.root / "examples" / "encounters")
    cov = Coverage(policies.root) if coverage else None
    results: list[CaseResult] = []
    for path in files:
        try:
            cases, file_errors = reader.read(path)
        except Exception as exc:  # a fault of the runner: reported against the file, never a traceback
            errors.append(RunError(Problem("internal_error", f"the test file could not be read "
                                           f"({type(exc).__name__}: {exc})",
                                           Location(shown_path(path, policies.root)))))
            continue
        errors += file_errors
        for case in cases:
            if case.problems:
                results.append(CaseResult(case, ERROR, problems=sorted(
                    case.problems, key=lambda p: (p.location or Location(""), p.code))))
                continue
            policy = case.policy or policies.get(case.payer)[0]
            results.append(run_case(case, policy, cov))
    return PolicyTestRun([shown_path(f, policies.root) for f in files], results, errors, cov)


# --- coverage -------------------------------------------------------------------------------------

def _is_effective_premise(lit) -> bool:
    """The premises the compiler adds for a rule's effective range (not written by its author)."""
    if isinstance(lit, Positive):
        return lit.atom.pred == "date_of_service" and lit.atom.args == (Var(EFFECTIVE_VAR),)
    return isinstance(lit, Compare) and lit.left == Var(EFFECTIVE_VAR)


class _Collector:
    def __init__(self, explainer: Explainer):
        self.ex = explainer
        self.found: dict[str, set[str]] = {}
        self._seen_nodes: set[int] = set()

    def mark(self, rule_id: str, how: str) -> None:
        self.found.setdefault(rule_id, set()).add(how)

    def node(self, node: ProofNode | None, how: str = "derivation") -> None:
        if node is None or id(node) in self._seen_nodes:
            return
        self._seen_nodes.add(id(node))
        if node.rule is not None:
            self.mark(node.rule.id, how)
            order = self.ex.body_order(node.rule)
            if len(order) == len(node.premises):
                for lit, premise in zip(order, node.premises):
                    if isinstance(lit, Aggregate):
                        self._aggregate(node, lit, premise, how)
        for premise in node.premises:
            self.node(premise, how)

    def _aggregate(self, node: ProofNode, lit: Aggregate, premise: ProofNode, how: str) -> None:
        """The rules behind each fact an aggregate counted (its proof node lists only bindings)."""
        spec = self.ex.program.aggregates.get(node.rule.id, {}).get(lit)
        if spec is None:
            return
        bound = dict(node.bindings)
        for match in premise.detail.get("matches", []):
            b = {g: bound.get(g) for g in spec.groups}
            b.update(match)
            for inner in lit.body:
                if isinstance(inner, Positive) and inner.atom.pred in self.ex.by_head:
                    self.node(self.ex.prove(inner.atom.pred, self._ground(inner.atom, b)), how)

    def attempt(self, attempt: Attempt) -> bool:
        """A why-not. The rule counts when it was really tried on the line: at least one of its own
        premises held before one failed, or the premise that failed is a derived fact whose own
        rules were tried. Then the proofs of the derived premises that held count too, and so does
        the proof of the derived fact whose presence defeated a ``not p(...)`` premise."""
        if attempt.failed is None:
            self.mark(attempt.rule.id, "why_not")
            return True
        order = self.ex.body_order(attempt.rule)
        index = next((i for i, lit in enumerate(order) if lit is attempt.failed), None)
        if index is None:
            index = next((i for i, lit in enumerate(order) if lit == attempt.failed), 0)
        nested = [self.attempt(a) for a in attempt.nested]
        if not (any(nested) or any(not _is_effective_premise(lit) for lit in order[:index])):
            return False
        self.mark(attempt.rule.id, "why_not")
        b = dict(attempt.bindings)
        for lit in order[:index]:
            if isinstance(lit, Positive) and lit.atom.pred in self.ex.by_head:
                self.node(self.ex.prove(lit.atom.pred, self._ground(lit.atom, b)), "why_not")
        lit = attempt.failed
        if isinstance(lit, Negative) and lit.atom.pred in self.ex.by_head:
            for _, row in self.ex.matching_rows(lit.atom, b):
                self.node(self.ex.prove(lit.atom.pred, row), "why_not")
                break
        return True

    @staticmethod
    def _ground(atom, b: dict) -> tuple:
        return tuple(a.value if isinstance(a, Const) else (None if a.anonymous else b.get(a.name)) for a in atom.args)


def exercised_rules(decision: Decision, explainer: Explainer) -> dict[str, set[str]]:
    """Rule id -> how it took part in the decision (``derivation``, ``why_not``).

    Derivations: each line's deny or units proof, its units proof also when it is denied, its
    suggested codes' proofs and the unit method's proof, recursively through every premise,
    including the facts an aggregate counted. Why-nots: for every line, each deny rule that did not
    apply to it (and the helper rules its why-not looks into), when it was really tried: at least
    one of its own premises held before one failed, or the failed premise is a derived fact whose
    rules were tried. A rule that fails at its very first premise (another code's rule, a rule for
    the other unit method) was not tried on the line. The premises that held, and a derived fact
    whose presence defeated a ``not p(...)`` premise, bring in their proofs.
    """
    c = _Collector(explainer)
    model = explainer.model
    for (method,) in sorted(model.rows("unit_method"), key=repr):
        c.node(explainer.prove("unit_method", (method,)))
    for line in decision.lines:
        for proof in line.proofs:
            c.node(proof)
        for _, proof in line.suggestions:
            c.node(proof)
        for advice in line.advice:
            c.node(advice.proof)
        for (lid, units) in sorted(model.rows("supportable_units"), key=repr):
            if lid == line.line:
                c.node(explainer.prove("supportable_units", (lid, units)))
        for attempt in explainer.why_not("deny", (line.line,)):
            c.attempt(attempt)
    return c.found


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

    def to_dict(self) -> dict:
        return {"id": self.id, "location": self.location, "layer": self.layer, "payers": sorted(self.payers),
                "exercised": self.exercised,
                "exercised_by": {p: sorted(h) for p, h in sorted(self.exercised_by.items())}}


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
        """Ids of the rules that can hold under this payer's parameters (see compiler.live_rules)."""
        return live_rules(policy.program.rules, policy.program.static_facts)

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
            rules = sorted(by_file.get(file, []), key=lambda r: _loc_key(r.location))
            out.append({"file": file, "rules": len(rules), "exercised": sum(1 for r in rules if r.exercised),
                        "not_exercised": [{"id": r.id, "location": r.location, "payers": sorted(r.payers)}
                                          for r in rules if not r.exercised],
                        "never_apply": sorted(rc.id for (f, _), rc in never.items() if f == file),
                        "detail": [r.to_dict() for r in rules]})
        return out

    def to_dict(self) -> dict:
        files = self.files()
        total = sum(f["rules"] for f in files)
        done = sum(f["exercised"] for f in files)
        return {"payers": self.payer_figures(), "files": files,
                "total": {"rules": total, "exercised": done,
                          "percent": round(100 * done / total, 1) if total else 100.0}}


def _loc_key(location: str) -> tuple:
    parts = location.rsplit(":", 2)
    try:
        return (parts[0], int(parts[1]), int(parts[2]))
    except (IndexError, ValueError):
        return (location, 0, 0)


# --- text output ----------------------------------------------------------------------------------

def render_text(run: PolicyTestRun, coverage: bool = False) -> str:
    out: list[str] = []
    for r in run.results:
        label = {PASSED: "PASS", FAILED: "FAIL", ERROR: "ERROR"}[r.status]
        out.append(f"{label} {r.case.file}:{r.case.location.line} {r.case.name}")
        if r.status == FAILED:
            for line in r.lines:
                if not line.mismatches:
                    continue
                out.append(f"    line {line.line} ({line.code}):")
                for m in line.mismatches:
                    out.append(f"      {m.field}:")
                    out += _diff(m)
                out.append(f"      rules fired: {', '.join(line.fired) if line.fired else '(none)'}")
        for p in r.problems:
            out.append(f"    {p}")
    for e in run.errors:
        out.append(f"ERROR {e.problem}")
        for d in e.details:
            out.append(f"    {d}")
    if coverage and run.coverage is not None:
        out += [""] + render_coverage(run.coverage)
    out += ["", run.summary()]
    return "\n".join(out)


def _show(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _diff(m: Mismatch) -> list[str]:
    if m.field == "reasons":
        lines = [f"        - expected to fire: {_show(m.expected)}", f"        + fired:            {_show(m.actual)}"]
    elif m.field == "not_reasons":
        lines = [f"        - expected not to fire: {_show(m.expected)}",
                 f"        + fired:                {_show(m.actual)}"]
    else:
        lines = [f"        - expected: {_show(m.expected)}", f"        + actual:   {_show(m.actual)}"]
    return lines


def render_coverage(cov: Coverage) -> list[str]:
    data = cov.to_dict()
    out = ["Rule coverage (a rule is exercised when it appears in a line's derivation or was tried in a why-not):"]
    for payer, fig in data["payers"].items():
        out.append(f"  payer {payer} ({' > '.join(fig['chain'])}; {fig['cases']} case(s)): "
                   f"{fig['exercised']} of {fig['rules']} rules exercised"
                   + (f"; {len(fig['never_apply'])} never apply under its parameters" if fig["never_apply"] else ""))
    for f in data["files"]:
        if not f["rules"]:
            out.append(f"  {f['file']}: no rule applies under the tested payers")
            continue
        head = f"  {f['file']}: {f['exercised']} of {f['rules']} rules exercised"
        if not f["not_exercised"]:
            out.append(head)
            continue
        out.append(head + "; not exercised:")
        for r in f["not_exercised"]:
            some = r["payers"] != sorted(data["payers"])
            out.append(f"    {r['id']} ({r['location']}" + (f"; in {', '.join(r['payers'])}" if some else "") + ")")
    t = data["total"]
    out.append(f"Coverage: {t['exercised']} of {t['rules']} rules exercised ({t['percent']}%)")
    return out
