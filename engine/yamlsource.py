"""Safe YAML loading that keeps each value's file:line:column.

Policy files are read with PyYAML's safe composer (never a loader that can build Python
objects); the node tree keeps marks, which the loader uses to locate problems.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, Problem


@dataclass
class Node:
    """A YAML node with its plain value and its location."""
    raw: yaml.Node
    file: str
    text: str

    @property
    def location(self) -> Location:
        mark = self.raw.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.raw, yaml.MappingNode)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.raw, yaml.SequenceNode)

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.raw, yaml.ScalarNode)

    def items(self) -> list[tuple[str, "Node"]]:
        return [(str(k.value), Node(v, self.file, self.text)) for k, v in self.raw.value]

    def get(self, key: str) -> "Node | None":
        if not self.is_mapping:
            return None
        for k, v in self.raw.value:
            if k.value == key:
                return Node(v, self.file, self.text)
        return None

    def children_values(self) -> list["Node"]:
        """The values of a mapping, in file order."""
        return [Node(v, self.file, self.text) for _, v in self.raw.value] if self.is_mapping else []

    def children(self) -> list["Node"]:
        return [Node(v, self.file, self.text) for v in self.raw.value] if self.is_sequence else []

    def value(self) -> Any:
        """The plain Python value (safe constructor semantics: str, int, float, bool, None, date…)."""
        return yaml.SafeLoader(self.text).construct_document(self.raw)

    def scalar_text(self) -> str:
        return str(self.raw.value) if self.is_scalar else ""

    def source_span(self) -> tuple[str, Location]:
        """Text of a scalar laid out as in the file (for rule text), and where it starts.

        Plain and block scalars are returned as the raw slice of the file, with a block scalar's
        indicator line blanked, so positions inside the text map exactly back onto the file.
        Quoted scalars return their value, starting one column after the quote.
        """
        node = self.raw
        start, end = node.start_mark, node.end_mark
        if node.style in ("|", ">"):
            raw = self.text[start.index:end.index]
            first_nl = raw.find("\n")
            if first_nl < 0:
                return "", self.location
            return (" " * first_nl) + raw[first_nl:], Location(self.file, start.line + 1, start.column + 1)
        if node.style is None:
            return self.text[start.index:end.index], Location(self.file, start.line + 1, start.column + 1)
        return str(node.value), Location(self.file, start.line + 1, start.column + 2)


def load_yaml(path: Path, display: str | None = None) -> tuple[Node | None, list[Problem]]:
    """Compose a YAML file safely; a syntax error becomes a located problem."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem("unreadable_file", f"cannot read file: {exc.strerror}", Location(name))]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
        return None, [Problem("yaml_syntax_error", f"invalid YAML: {exc.problem}", loc)]
    if root is None:
        return None, [Problem("empty_file", "file is empty", Location(name, 1, 1))]
    return Node(root, name, text), _duplicate_keys(root, name)


def _duplicate_keys(root: yaml.Node, name: str) -> list[Problem]:
    """YAML allows a repeated key and keeps only one value; a policy file never means that."""
    problems: list[Problem] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    first = seen.get(key.value)
                    if first is not None:
                        mark = key.start_mark
                        problems.append(Problem(
                            "duplicate_key", f"key `{key.value}` appears twice in this mapping (first at line "
                            f"{first.start_mark.line + 1}); only one would be read",
                            Location(name, mark.line + 1, mark.column + 1)))
                    else:
                        seen[key.value] = key
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(problems, key=lambda p: p.location)
