"""Reading one case of a test file into a :class:`~.model.Case`, with the origins of its encounter
(the ``encounter`` or ``example`` node and each ``change`` entry) to locate the encounter's problems."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..errors import InputError, Location, Problem
from ..loader import shown_path
from ..policyset import PolicySet
from ..yamlsource import Node
from .change import ChangeError, change_append, change_remove, change_set, parse_path
from .expectations import read_expectations
from .model import Case
from .nodes import descend, entries, entry, plain
from ..suggest import did_you_mean as suggest

CASE_KEYS = ("name", "source", "example", "encounter", "change", "date_of_service", "expect")


class Origins:
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
                    return descend(value, segments[n:]), ""
                if op == "append" and value is not None:
                    return value.location, ""
                return key_loc, ""
            if op_path[:len(segments)] == segments and segments:
                return key_loc, ""
        if self.base_kind == "encounter":
            return descend(self.base_node, segments), ""
        return self.base_node.location, f" (from example `{self.example}`)"


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):     # a name too long for the file system, a NUL in it
        return False


def _name_of(node: Node) -> str:
    name = entry(node, "name")
    return (name.scalar_text() if name is not None else "") or f"(unnamed case at line {node.location.line})"


class Located(Exception):
    """A problem in the change language at a known place."""

    def __init__(self, message: str, location: Location):
        super().__init__(message)
        self.location = location


class CaseReader:
    """Reads one case of a test file: its name and source, its encounter (in full, or an example
    with a change and a date of service), its expectations, and the encounter validated under the
    payer. Every problem is located; nothing raises for bad input."""

    def __init__(self, root: Path, examples_dir: Path):
        self.root = root
        self.examples_dir = examples_dir
        self._example_cache: dict[Path, object] = {}

    def read(self, node: Node, file: str, payer: str, policy: PolicySet | None,
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
        for key, loc, _ in entries(node):
            if key not in CASE_KEYS:
                problems.append(Problem("test_format", f"unknown key `{key}` in a case; use "
                                        f"{', '.join(f'`{k}`' for k in CASE_KEYS)}{suggest(key, CASE_KEYS)}", loc))
        name_node = entry(node, "name")
        case.name = name_node.scalar_text() if name_node is not None else ""
        if not case.name:
            problems.append(Problem("test_format", "the case has no `name`", node.location))
            case.name = f"(unnamed case at line {node.location.line})"
        source = entry(node, "source")
        if source is not None:
            file = entry(source, "file") if source.is_mapping else source
            section = entry(source, "section") if source.is_mapping else None
            case.source = (file.scalar_text() if file is not None else "") + \
                (f", {section.scalar_text()}" if section is not None else "")
            if not (file is not None and file.scalar_text()):
                problems.append(Problem("test_format", "`source` names a guidance file: `{file: ..., section: ...}`",
                                        source.location))
        data, origins = self._encounter(node, examples, problems)
        if data is not None:
            self._apply_change(node, data, origins, problems)
        dos = entry(node, "date_of_service")
        if dos is not None and data is not None:
            value = plain(dos.value())
            if not isinstance(value, str):
                problems.append(Problem("test_format", "`date_of_service` is a date (YYYY-MM-DD)", dos.location))
            else:
                data["date_of_service"] = value
                origins.date_node = dos
        case.data = data
        case.expect = read_expectations(node, policy, problems)
        if data is None:
            return case
        lines = data.get("lines")
        ids = [str(l["id"]) for l in lines if isinstance(l, dict) and "id" in l] if isinstance(lines, list) else []
        for exp in case.expect:
            if exp.line not in ids:
                problems.append(Problem("unknown_line", f"`expect` names line `{exp.line}`, which the encounter does "
                                        f"not have; its lines are {', '.join(f'`{i}`' for i in ids) or 'none'}"
                                        f"{suggest(exp.line, ids)}", exp.location))
        if policy is None or any(p.code == "invalid_change" for p in problems):
            return case     # a change that did not apply leaves an encounter nobody meant to write
        try:
            encounter = policy.read_encounter(data)
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
            candidates.insert(0, (Path(node.file) if Path(node.file).is_absolute() else self.root / node.file
                                  ).parent / name)
        path = next((p for p in candidates if _is_file(p)), None)
        if path is None:
            known = sorted(examples) + sorted(p.stem for p in self.examples_dir.glob("*.json"))
            problems.append(Problem("unknown_example", f"no example `{name}`: not in this file's `examples` nor "
                                    f"{shown_path(self.examples_dir, self.root)}/{suggest(name, known)}",
                                    node.location))
            return None
        if path not in self._example_cache:
            try:
                self._example_cache[path] = json.loads(path.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError, RecursionError) as exc:
                problems.append(Problem("unknown_example", f"example `{name}` ({shown_path(path, self.root)}) "
                                        f"cannot be read: {exc}", node.location))
                return None
        return json.loads(json.dumps(self._example_cache[path]))   # a copy each case can change

    def _encounter(self, node: Node, examples: dict[str, Node], problems: list[Problem]):
        ex_node, enc_node = entry(node, "example"), entry(node, "encounter")
        if (ex_node is None) == (enc_node is None):
            problems.append(Problem("test_format", "a case gives its encounter either in full (`encounter:`) or as "
                                    "`example:` (with an optional `change:`), exactly one of them", node.location))
            return None, None
        if enc_node is not None:
            if not enc_node.is_mapping:
                problems.append(Problem("test_format", "`encounter` is a mapping (a whole encounter)",
                                        enc_node.location))
                return None, None
            return plain(enc_node.value()), Origins("encounter", enc_node)
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
        return data, Origins("example", ex_node, name)

    def _apply_change(self, node: Node, data: dict, origins: Origins, problems: list[Problem]) -> None:
        change = entry(node, "change")
        if change is None:
            return
        if not change.is_mapping:
            problems.append(Problem("invalid_change", "`change` is a mapping: `path: value` to set a field, "
                                    "`remove: [paths]`, `append: {path: value}`", change.location))
            return
        for key, loc, value in entries(change):
            try:
                if key == "remove":
                    items = value.children() if value.is_sequence else [value]
                    for item in items:
                        segments = self._path(item.scalar_text() if item.is_scalar else None, item.location)
                        origins.ops.append(("remove", segments, item.location, None))
                        change_remove(data, segments)
                elif key == "append":
                    if not value.is_mapping:
                        raise Located("`append` is a mapping from a list's path to the item(s) to add", value.location)
                    for path, ploc, item in entries(value):
                        segments = self._path(path, ploc)
                        origins.ops.append(("append", segments, ploc, item))
                        change_append(data, segments, plain(item.value()))
                else:
                    segments = self._path(key, loc)
                    origins.ops.append(("set", segments, loc, value))
                    change_set(data, segments, plain(value.value()))
            except Located as exc:
                problems.append(Problem("invalid_change", str(exc), exc.location))
            except ChangeError as exc:
                problems.append(Problem("invalid_change", str(exc), origins.ops[-1][2]))

    @staticmethod
    def _path(text: str | None, loc: Location) -> list:
        segments = parse_path(text) if text else None
        if not segments:
            raise Located(f"`{text}` is not a field path (like `lines[0].minutes` or `patient.condition_status`)", loc)
        return segments

