"""Abstract syntax of the rule language: terms, literals, rules.

These are plain frozen values. The parser builds them from rule text, the checker reads them, the
compiler turns them into pyDatalog clauses, and the explainer matches them against a model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Union

from .errors import Location


_SYMBOL = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_KEYWORDS = {"not", "count", "sum", "min", "max"}


@dataclass(frozen=True)
class Var:
    name: str

    @property
    def anonymous(self) -> bool:
        return self.name.startswith("_")

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    value: Union[str, int]

    def __str__(self) -> str:
        if isinstance(self.value, int):
            return str(self.value)
        if _SYMBOL.match(self.value) and self.value not in _KEYWORDS:
            return self.value
        return '"' + self.value.replace("\\", "\\\\").replace('"', '\\"') + '"'


Term = Union[Var, Const]


@dataclass(frozen=True)
class Atom:
    pred: str
    args: tuple[Term, ...]
    loc: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{self.pred}/{len(self.args)}"

    def vars(self) -> set[str]:
        return {a.name for a in self.args if isinstance(a, Var) and not a.anonymous}

    def __str__(self) -> str:
        return f"{self.pred}({', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class Positive:
    atom: Atom

    @property
    def loc(self):
        return self.atom.loc

    def __str__(self) -> str:
        return str(self.atom)


@dataclass(frozen=True)
class Negative:
    atom: Atom

    @property
    def loc(self):
        return self.atom.loc

    def __str__(self) -> str:
        return f"not {self.atom}"


@dataclass(frozen=True)
class Compare:
    """``L op R`` with op one of == != < <= > >=; ``X = Y`` is parsed as ``==``."""
    left: Term
    op: str
    right: Term
    loc: Location | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True)
class Arith:
    """``Result = L op R`` with op one of + - * //."""
    result: Var
    left: Term
    op: str
    right: Term
    loc: Location | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.result} = {self.left} {self.op} {self.right}"


@dataclass(frozen=True)
class Call:
    """``@name(args)``: a registered builtin (see :mod:`engine.builtins`)."""
    name: str
    args: tuple[Term, ...]
    loc: Location | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"@{self.name}({', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class Aggregate:
    """``Result = count : { body }`` or ``Result = sum X : { body }`` (also min, max).

    The aggregate ranges over the distinct bindings of the body's local variables (those that
    occur nowhere else in the rule); variables shared with the rest of the rule group it.
    """
    result: Var
    func: str
    target: Var | None
    body: tuple["Literal", ...]
    loc: Location | None = field(default=None, compare=False)

    def inner_vars(self) -> set[str]:
        out: set[str] = set()
        for lit in self.body:
            out |= literal_vars(lit)
        return out

    def __str__(self) -> str:
        target = f" {self.target}" if self.target else ""
        return f"{self.result} = {self.func}{target} : {{ {', '.join(map(str, self.body))} }}"


Literal = Union[Positive, Negative, Compare, Arith, Call, Aggregate]


@dataclass(frozen=True)
class Clause:
    head: Atom
    body: tuple[Literal, ...]

    def __str__(self) -> str:
        if not self.body:
            return f"{self.head}."
        return f"{self.head} :- {', '.join(map(str, self.body))}."


def term_vars(*terms: Term) -> set[str]:
    return {t.name for t in terms if isinstance(t, Var) and not t.anonymous}


def literal_vars(lit: Literal) -> set[str]:
    """Named (non-anonymous) variables a literal mentions."""
    if isinstance(lit, (Positive, Negative)):
        return lit.atom.vars()
    if isinstance(lit, Compare):
        return term_vars(lit.left, lit.right)
    if isinstance(lit, Arith):
        return term_vars(lit.result, lit.left, lit.right)
    if isinstance(lit, Call):
        return term_vars(*lit.args)
    if isinstance(lit, Aggregate):
        return term_vars(lit.result) | lit.inner_vars()
    raise TypeError(lit)


def body_atoms(body) -> "Iterator[Atom]":
    """Every atom of a body, negated or not, inside aggregates too."""
    for lit in body:
        if isinstance(lit, (Positive, Negative)):
            yield lit.atom
        elif isinstance(lit, Aggregate):
            yield from body_atoms(lit.body)


def clause_vars(clause: Clause) -> set[str]:
    out = clause.head.vars()
    for lit in clause.body:
        out |= literal_vars(lit)
    return out


@dataclass(frozen=True)
class Rule:
    """A policy rule: a clause plus what a person needs to audit it."""
    id: str
    clause: Clause
    because: str
    source: str
    section: str
    layer: str
    location: Location
    effective_from: str | None = None   # ISO date, inclusive
    effective_to: str | None = None     # ISO date, exclusive
    kind: str | None = None
    replaces: "Rule | None" = field(default=None, compare=False)  # the parent layer's version it replaced

    @property
    def head_key(self) -> str:
        return self.clause.head.key


@dataclass(frozen=True)
class Parameter:
    """A named value (or a table of values) that rules read as ``param``/``param_entry`` facts."""
    name: str
    value: Union[str, int, None]
    table: dict | None
    description: str
    source: str
    section: str
    layer: str
    location: Location
    row_sources: tuple = ()   # ((key, (file, section)), ...) for table rows citing their own source
    allowed: tuple = ()       # the values any layer may set (`one_of`), inherited by overriding layers
    value_location: Location | None = field(default=None, compare=False)   # of `value` or `table`
    allowed_layer: str | None = None   # the layer whose `one_of` this is

    def kind(self) -> str:
        """What sort of values it holds: a rule compares them with values of the same type."""
        if self.table is None:
            return type(self.value).__name__
        return "table of " + "/".join(sorted({type(v).__name__ for v in self.table.values()}) or ["nothing"])

    @property
    def is_table(self) -> bool:
        return self.table is not None

    def facts(self) -> list[tuple[str, tuple]]:
        if self.table is None:
            return [("param", (self.name, self.value))]
        return [("param_entry", (self.name, key, value)) for key, value in self.table.items()]

    def source_of(self, key=None) -> tuple[str, str]:
        for row_key, src in self.row_sources:
            if row_key == key:
                return src
        return self.source, self.section
