"""Reading policy files: safe YAML that keeps each value's file:line:column, at a bounded cost.

Every policy file (vocabulary, base rules, edit tables, payer overlays, policy tests) is read here,
and any failure to read it becomes one located problem instead of an exception:

- the file must be a readable regular file of at most ``MAX_FILE_BYTES`` (``unreadable_file``,
  ``file_too_large``);
- it must be UTF-8 (``not_utf8``, located at the first bad byte); a leading byte-order mark is
  dropped; control characters (NUL…), a byte-order mark inside the text and the bidirectional
  controls that make text display differently from what it says are refused (``control_character``);
- YAML is composed safely (never a loader that builds Python objects), with no tags
  (``yaml_unknown_tag``: ``!ref``, ``!!python/object/apply``…), plain mapping keys
  (``yaml_complex_key``), at most ``MAX_DEPTH`` levels of nesting (``yaml_too_deep``) and, except
  in policy tests, no aliases (``yaml_alias``; an anchor alone shares nothing). Policy tests may
  share a fragment with an anchor and a merge key (``<<: *anchor``); there the document, expanded
  through its aliases, may hold at most ``MAX_EXPANDED_NODES`` values (``yaml_expansion_limit``):
  an alias bomb is refused after composing its few kilobytes, and no walk visits a shared node twice.

libyaml's parser is used when PyYAML has it (its marks are the pure-Python parser's; about nine
times faster), under PyYAML's composer, so the checks above see every event; YAML that libyaml
refuses is parsed again by PyYAML's parser, so what is accepted, and the messages, stay PyYAML's.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from .errors import Location, Problem

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 200_000

_YAML_TAG = "tag:yaml.org,2002:"
_STR, _MERGE = _YAML_TAG + "str", _YAML_TAG + "merge"
_UNCONSTRUCTIBLE = {"tag:yaml.org,2002:value", "tag:yaml.org,2002:yaml"}   # a plain `=` has no constructor
# What YAML itself refuses (PyYAML's Reader), a byte-order mark inside the text, and the
# bidirectional controls (U+202A-U+202E, U+2066-U+2069) that reorder how text is displayed.
_REFUSED_CHARS = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]"
                            "|[\uFEFF\u202A-\u202E\u2066-\u2069]")
_CHAR_NAMES = {"\x00": "a NUL byte", "\uFEFF": "a byte-order mark (U+FEFF) inside the text"}


class ValueProblem(yaml.MarkedYAMLError, ValueError):
    """A value the safe constructor cannot build (2025-02-30, a merge of a scalar); its text is
    the problem alone (where it is, the caller's located problem says)."""

    def __str__(self) -> str:
        return str(self.problem or self.context)


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

    def list_items(self, problems, code: str, message: str) -> list["Node"]:
        """The items of a section that must be a list; if it is not, the error ``message`` and no items."""
        if not self.is_sequence:
            problems.error(code, message, self.location)
            return []
        return self.children()

    def children(self) -> list["Node"]:
        return [Node(v, self.file, self.text) for v in self.raw.value] if self.is_sequence else []

    def value(self) -> Any:
        """The plain Python value (safe constructor semantics: str, int, float, bool, None, date…).
        Raises :class:`ValueProblem` (a ValueError) for a value YAML cannot build (2025-02-30)."""
        try:
            return SafeConstructor().construct_document(self.raw)
        except yaml.MarkedYAMLError as exc:
            raise ValueProblem(exc.context, exc.context_mark, exc.problem, exc.problem_mark) from None
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:   # 2025-02-30, 5,000 digits
            raise ValueProblem(None, None, str(exc), self.raw.start_mark) from None

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


class _Refused(Exception):
    def __init__(self, code: str, message: str, mark):
        super().__init__(message)
        self.code, self.message, self.mark = code, message, mark


class _CheckingComposer(Composer):
    """PyYAML's composer, refusing tags, complex keys, deep nesting and (unless allowed) aliases, and
    counting the values of the document as its aliases expand it."""

    def setup(self, aliases: bool, max_nodes: int) -> None:
        self._aliases, self._max_nodes = aliases, max_nodes
        self._sizes: dict[int, int] = {}      # id(node) -> its value count, aliases expanded
        self._expanded = 0
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if not self._aliases:
                raise _Refused("yaml_alias", f"alias `*{event.anchor}`: policy files use no YAML aliases; write "
                               "the value out", event.start_mark)
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:
                raise _Refused("yaml_alias", f"alias `*{event.anchor}` refers to a value that contains it",
                               event.start_mark)
            self._expanded += size
            if self._expanded > self._max_nodes:
                raise _Refused("yaml_expansion_limit", f"alias `*{event.anchor}` expands the document beyond "
                               f"{self._max_nodes:,} values; share less through aliases", event.start_mark)
            return node
        if isinstance(event, (ScalarEvent, SequenceStartEvent, MappingStartEvent)) and event.tag not in (None, "!"):
            tag = "!!" + event.tag[len(_YAML_TAG):] if event.tag.startswith(_YAML_TAG) else event.tag
            raise _Refused("yaml_unknown_tag", f"tag `{tag}`: policy files hold plain values (text, "
                           "numbers, dates, lists and mappings) and use no YAML tags", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused("yaml_too_deep", f"values nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self._expanded += 1
        node = super().compose_node(parent, index)
        self._depth -= 1
        size = 1
        if isinstance(node, yaml.ScalarNode):
            if not node.style:
                node.style = None              # libyaml says '' for a plain scalar, PyYAML None
            if node.tag in _UNCONSTRUCTIBLE or (node.tag == _MERGE and not self._aliases):
                node.tag = _STR
        elif isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(c)] for c in node.value)
        else:
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise _Refused("yaml_complex_key", "a mapping key is a plain value, not a list or a mapping",
                                   key.start_mark)
                size += self._sizes[id(key)] + self._sizes[id(value)]
        self._sizes[id(node)] = size
        return node


class _PythonParser(Reader, Scanner, Parser):
    def __init__(self, stream):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


def _loader(parser: type) -> type:
    class _Loader(_CheckingComposer, parser, SafeConstructor, Resolver):
        def __init__(self, text: str, aliases: bool, max_nodes: int):
            parser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)
            self.setup(aliases, max_nodes)
    return _Loader


_PYTHON_LOADER = _loader(_PythonParser)
try:
    from yaml._yaml import CParser
    _FAST_LOADER = _loader(CParser)
except ImportError:                           # PyYAML built without libyaml
    _FAST_LOADER = _PYTHON_LOADER


def _located(name: str, text: str, index: int) -> Location:
    """The 1-based line and column of character ``index`` of ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return Location(name, text.count("\n", 0, index) + 1, index - line_start + 1)


def decode_utf8(data: bytes, name: str, why: str = "the file must be UTF-8 text") -> tuple[str | None, Problem | None]:
    """UTF-8 bytes as text (a leading byte-order mark dropped, as editors on Windows write one), or
    a ``not_utf8`` problem located at the first byte that is not UTF-8."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[bom:].decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[bom:bom + exc.start].decode("utf-8")
        return None, Problem("not_utf8", f"byte 0x{data[bom + exc.start]:02X} (at byte offset {bom + exc.start}) is "
                             f"not UTF-8; {why}", _located(name, before, len(before)))


def read_text(path: Path, name: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, list[Problem]]:
    """A policy file's text, or the located problem that stops it being read."""
    data, problems = read_bytes(path, name, max_bytes)
    if data is None:
        return None, problems
    return text_of(data, name, max_bytes)


def read_bytes(path: Path, name: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[bytes | None, list[Problem]]:
    """A policy file's bytes (at most ``max_bytes`` + 1 of them), or the located problem that stops
    it being read (``unreadable_file``)."""
    start = Location(name, 1, 1)
    try:
        # O_NONBLOCK: a FIFO named like a policy file must not hang the reader until someone writes to it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            return None, [Problem("unreadable_file", f"cannot read file: it is {what}", start)]
        with open(fd, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return None, [Problem("unreadable_file", "cannot read file: it does not exist (removed or renamed while "
                              "being read?)", start)]
    except IsADirectoryError:             # where a directory cannot be opened at all
        return None, [Problem("unreadable_file", "cannot read file: it is a directory", start)]
    except OSError as exc:
        return None, [Problem("unreadable_file", f"cannot read file: {exc.strerror or exc}", start)]
    return data, []


def text_of(data: bytes, name: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, list[Problem]]:
    """A policy file's bytes as its text, or the located problem that refuses them (``file_too_large``,
    ``not_utf8``, ``control_character``)."""
    start = Location(name, 1, 1)
    if len(data) > max_bytes:
        return None, [Problem("file_too_large", f"the file is larger than {max_bytes:,} bytes, the most a policy "
                              "file may hold", start)]
    text, problem = decode_utf8(data, name, "policy files are UTF-8 text")
    if text is None:
        return None, [problem]
    bad = _REFUSED_CHARS.search(text)
    if bad is not None:
        char = bad.group()
        shown = _CHAR_NAMES.get(char, f"the control character U+{ord(char):04X}")
        return None, [Problem("control_character", f"{shown}: policy files are plain text, without control "
                              "characters or invisible marks", _located(name, text, bad.start()))]
    return text, []


def compose(text: str, name: str, aliases: bool = False, max_nodes: int = MAX_EXPANDED_NODES
            ) -> tuple[yaml.Node | None, list[Problem]]:
    """Compose YAML text safely (see the module docstring); a failure becomes one located problem.
    libyaml's parser is the fast path; YAML it refuses is parsed again by PyYAML's own parser, whose
    verdict and messages are the ones policy authors have always seen."""
    try:
        root = _compose(_FAST_LOADER, text, aliases, max_nodes)
    except yaml.MarkedYAMLError:
        try:
            root = _compose(_PYTHON_LOADER, text, aliases, max_nodes)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
            return None, [Problem("yaml_syntax_error", f"invalid YAML: {exc.problem or exc.context}", loc)]
        except _Refused as exc:
            return None, [Problem(exc.code, exc.message, Location(name, exc.mark.line + 1, exc.mark.column + 1))]
    except _Refused as exc:
        return None, [Problem(exc.code, exc.message, Location(name, exc.mark.line + 1, exc.mark.column + 1))]
    except yaml.YAMLError as exc:             # a reader error the character check did not foresee
        return None, [Problem("yaml_syntax_error", f"invalid YAML: {exc}", Location(name, 1, 1))]
    except RecursionError:
        return None, [Problem("yaml_too_deep", "values nested too deeply", Location(name, 1, 1))]
    if root is None:
        return None, [Problem("empty_file", "file is empty", Location(name, 1, 1))]
    return root, _duplicate_keys(root, name)


def _compose(loader_class: type, text: str, aliases: bool, max_nodes: int) -> yaml.Node | None:
    loader = loader_class(text, aliases, max_nodes)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def load_yaml(path: Path, display: str | None = None, aliases: bool = False
              ) -> tuple[Node | None, list[Problem]]:
    """Read and compose a policy file; every failure becomes a located problem, never an exception.
    ``aliases``: allow anchors, aliases and merge keys, within the expansion limit (policy tests)."""
    name = display or str(path)
    text, problems = read_text(Path(path), name)
    if text is None:
        return None, problems
    return load_text(text, name, aliases)


def load_text(text: str, name: str, aliases: bool = False) -> tuple[Node | None, list[Problem]]:
    """Compose a policy file's text (already read and checked) shown as ``name``."""
    root, problems = compose(text, name, aliases)
    if root is None:
        return None, problems
    return Node(root, name, text), problems


def each_node(root: yaml.Node):
    """Every node below ``root`` (mapping values and sequence items; keys are not visited), each
    once however many aliases share it."""
    stack = [root]
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        yield node
        if isinstance(node, yaml.MappingNode):
            stack.extend(v for _, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _duplicate_keys(root: yaml.Node, name: str) -> list[Problem]:
    """YAML allows a repeated key and keeps only one value; a policy file never means that."""
    problems: list[Problem] = []
    for node in each_node(root):
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key, _ in node.value:
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
    return sorted(problems, key=lambda p: p.location)
