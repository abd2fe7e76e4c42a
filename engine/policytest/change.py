"""The change language of a case (``change:``): field paths (``lines[0].minutes``) and the
set, remove and append operations on a copy of an encounter document."""
from __future__ import annotations

import re

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[-?[0-9]+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[-?[0-9]+\])*)*$")
_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(-?[0-9]+)\]")


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
