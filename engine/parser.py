"""Rule text -> abstract syntax, with every literal located in its policy file.

Policy text is data: it is parsed with a lark grammar (``rules.lark``) and turned into the values
of :mod:`engine.syntax`. Nothing here evaluates it.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .errors import Location, Problem
from .syntax import (Aggregate, Arith, Atom, Call, Clause, Compare, Const, Negative, Positive,
                     Var)

_GRAMMAR = resources.files(__package__).joinpath("rules.lark").read_text()


def _cache_file() -> str | bool:
    """Where lark keeps the built parser tables (30 ms to build, 2 ms to read): beside this module's
    bytecode, which is trusted as much (never the shared temp folder: the cache is a pickle). lark
    checks the grammar's and its own version's hash on reading, and builds anew if the file is
    missing, stale or unreadable; a folder it cannot write to costs only the build."""
    folder = Path(__file__).resolve().parent / "__pycache__"
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return False
    return str(folder / "rules.lark.cache")


_PARSER = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True, cache=_cache_file())

RESERVED = {"not", "count", "sum", "min", "max"}


class TextOrigin:
    """Where rule text sits in its file, so positions in the text map back to file:line:col."""

    def __init__(self, file: str, line: int = 1, column: int = 1):
        self.file, self.line, self.column = file, line, column

    def at(self, text_line: int, text_column: int) -> Location:
        if text_line == 1:
            return Location(self.file, self.line, self.column + text_column - 1)
        return Location(self.file, self.line + text_line - 1, text_column)


class _NotAVariable(Exception):
    def __init__(self, location, message):
        super().__init__(message)
        self.location, self.message = location, message


class ParseFailure(Exception):
    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


@v_args(meta=True)
class _ToSyntax(Transformer):
    def __init__(self, origin: TextOrigin):
        super().__init__()
        self.origin = origin

    def _loc(self, meta) -> Location | None:
        if getattr(meta, "empty", True):
            return None
        return self.origin.at(meta.line, meta.column)

    def start(self, meta, children):
        return children[0]

    def clause(self, meta, children):
        head = children[0]
        body = children[1] if len(children) > 1 and children[1] is not None else ()
        return Clause(head, tuple(body))

    def body(self, meta, children):
        return tuple(children)

    def atom(self, meta, children):
        name = str(children[0])
        args = tuple(c for c in children[1:] if c is not None)
        return Atom(name, args, self._loc(meta))

    def positive(self, meta, children):
        return Positive(children[0])

    def negative(self, meta, children):
        return Negative(children[0])

    def builtin(self, meta, children):
        name = str(children[0])
        args = tuple(c for c in children[1:] if c is not None)
        return Call(name, args, self._loc(meta))

    def compare(self, meta, children):
        left, op, right = children
        return Compare(left, str(op), right, self._loc(meta))

    def unify(self, meta, children):
        left, right = children
        return Compare(left, "==", right, self._loc(meta))

    def _result_var(self, term, meta, what: str) -> Var:
        if not isinstance(term, Var):
            raise _NotAVariable(self._loc(meta), f"the result of {what} must be a variable, not `{term}`")
        return term

    def arith(self, meta, children):
        result, left, op, right = children
        return Arith(self._result_var(result, meta, "arithmetic"), left, str(op), right, self._loc(meta))

    def aggregate(self, meta, children):
        result, func, target, body = children
        return Aggregate(self._result_var(result, meta, "an aggregate"), str(func),
                         Var(str(target)) if target else None, tuple(body), self._loc(meta))

    def var(self, meta, children):
        return Var(str(children[0]))

    def symbol(self, meta, children):
        return Const(str(children[0]))

    def string(self, meta, children):
        raw = str(children[0])[1:-1]
        return Const(raw.replace('\\"', '"').replace("\\\\", "\\"))

    def number(self, meta, children):
        return Const(int(children[0]))


def _describe(token: Token | None) -> str:
    if token is None or token.type == "$END":
        return "end of rule"
    return f"`{token.value}`"


def parse_clause(text: str, origin: TextOrigin) -> Clause:
    """Parse one clause; raise :class:`ParseFailure` with a located ``syntax_error``."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise ParseFailure(_syntax_problem(exc, text, origin)) from None
    try:
        return _ToSyntax(origin).transform(tree)
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _NotAVariable):
            raise ParseFailure(Problem("syntax_error", inner.message, inner.location)) from None
        raise


def _syntax_problem(exc: UnexpectedInput, text: str, origin: TextOrigin) -> Problem:
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = text.rstrip().splitlines() or [""]
        loc = origin.at(len(lines), len(lines[-1]) + 1)
        return Problem("syntax_error", "rule ends too early: a clause ends with `.`", loc)
    loc = origin.at(exc.line, exc.column)
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "?"
        return Problem("syntax_error", f"unexpected character `{char}`", loc)
    if isinstance(exc, UnexpectedToken):
        expected = sorted(_friendly(e) for e in exc.expected)
        hint = f"; expected {', '.join(expected[:6])}" if expected else ""
        return Problem("syntax_error", f"unexpected {_describe(exc.token)}{hint}", loc)
    return Problem("syntax_error", str(exc).splitlines()[0], loc)


_FRIENDLY = {"LPAR": "`(`", "RPAR": "`)`", "COMMA": "`,`", "DOT": "`.`", "VAR": "a variable",
             "NAME": "a name", "STRING": "a string", "NUMBER": "a number", "CMP": "a comparison",
             "ARITH": "an operator", "NOT": "`not`", "EQUAL": "`=`", "COLON": "`:`",
             "LBRACE": "`{`", "RBRACE": "`}`", "AT": "`@`", "AGG_FUNC": "an aggregate", "__ANON_0": "`:-`"}


def _friendly(terminal: str) -> str:
    return _FRIENDLY.get(terminal, f"`{terminal.lower()}`")
