"""Reading a test file's YAML nodes: a mapping's entries with YAML merge keys (``<<: *anchor``),
one entry's value, where a path ends in the YAML, and values as an encounter document holds them."""
from __future__ import annotations

import datetime as _dt

import yaml

from ..errors import Location
from ..yamlsource import Node

_MERGE = "tag:yaml.org,2002:merge"


def entries(node: Node) -> list[tuple[str, Location, Node]]:
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
                    merged += entries(Node(src, node.file, node.text))
            continue
        mark = k.start_mark
        own.append((str(k.value), Location(node.file, mark.line + 1, mark.column + 1), Node(v, node.file, node.text)))
    mine = {key for key, _, _ in own}
    seen: set[str] = set()
    out = []
    for item in merged:
        if item[0] not in mine and item[0] not in seen:
            seen.add(item[0])
            out.append(item)
    return out + own


def entry(node: Node, key: str) -> Node | None:
    """A mapping's value for ``key`` (merge keys included, as :func:`entries` reads them)."""
    if not node.is_mapping:
        return None
    return next((value for k, _, value in entries(node) if k == key), None)


def end_line(node: Node) -> int:
    return node.raw.end_mark.line + 1


def descend(node: Node, segments: list) -> Location:
    """The location of the deepest node along ``segments`` that the YAML has."""
    for segment in segments:
        nxt = None
        if isinstance(segment, int) and node.is_sequence:
            items = node.children()
            if -len(items) <= segment < len(items):
                nxt = items[segment]
        elif isinstance(segment, str) and node.is_mapping:
            nxt = entry(node, segment)
        if nxt is None:
            break
        node = nxt
    return node.location


def plain(value):
    """YAML values as an encounter document holds them (dates as ISO strings)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value
