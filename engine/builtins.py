"""Registered builtins: small pure functions rules may call as ``@name(args)``.

A builtin declares which arguments must be bound when it is called (inputs) and computes the rest
(outputs). The compiler exposes each one to pyDatalog as a resolver; the explainer calls the same
function to show a builtin's inputs and outputs in a proof.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterable

from . import icd10


@dataclass(frozen=True)
class Builtin:
    name: str
    params: tuple[str, ...]          # parameter names, for messages and docs
    inputs: tuple[int, ...]          # positions that must be bound
    func: Callable[..., Iterable[tuple]]  # inputs -> iterable of output tuples
    description: str
    constants: tuple[tuple[int, str], ...] = ()  # (position, kind): constant arguments checked at load

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def outputs(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.arity) if i not in self.inputs)

    def solve(self, args: tuple) -> list[tuple]:
        """All full argument tuples for the given inputs (``None`` at output positions)."""
        ins = [args[i] for i in self.inputs]
        results = []
        for outs in self.func(*ins):
            full = list(args)
            for pos, value in zip(self.outputs, outs):
                if full[pos] is not None and full[pos] != value:
                    break
                full[pos] = value
            else:
                results.append(tuple(full))
        return results


def _timed_units(minutes):
    if isinstance(minutes, int) and minutes >= 0:
        yield ((minutes + 7) // 15,)


def _divmod(dividend, divisor):
    if isinstance(dividend, int) and isinstance(divisor, int) and divisor > 0:
        yield divmod(dividend, divisor)


def _icd10_within(code, group):
    if isinstance(code, str) and isinstance(group, str) and icd10.is_within(code, group):
        yield ()


def _icd10_billable(code):
    if icd10.is_billable(code):
        yield ()


def _days_between(earlier, later):
    try:
        yield ((date.fromisoformat(later) - date.fromisoformat(earlier)).days,)
    except (TypeError, ValueError):
        return


def _year_of(day):
    try:
        yield (date.fromisoformat(day).year,)
    except (TypeError, ValueError):
        return


def _arith(op):
    def run(left, right):
        if not (isinstance(left, int) and isinstance(right, int)):
            return
        if op == "+":
            yield (left + right,)
        elif op == "-":
            yield (left - right,)
        elif op == "*":
            yield (left * right,)
        elif op == "//" and right != 0:
            yield (left // right,)
    return run


BUILTINS: dict[str, Builtin] = {b.name: b for b in [
    Builtin("timed_units", ("minutes", "units"), (0,), _timed_units,
            "15-minute units for a number of minutes by the midpoint rule: one unit for each full 15 "
            "minutes, plus one more when the rest is 8 minutes or more (8-22 -> 1, 23-37 -> 2, ...)"),
    Builtin("divmod", ("dividend", "divisor", "quotient", "remainder"), (0, 1), _divmod,
            "whole-number division: how many times the divisor fits, and what is left over"),
    Builtin("icd10_within", ("diagnosis", "group"), (0, 1), _icd10_within,
            "the diagnosis is the ICD-10-CM group (chapter range such as G00-G99, block such as "
            "I60-I69, category or subcategory) or falls under it in the ICD-10-CM hierarchy",
            constants=((1, "icd10"),)),
    Builtin("icd10_billable", ("diagnosis",), (0,), _icd10_billable,
            "the diagnosis is a billable code (valid for submission, not a category or header) in the "
            "shipped ICD-10-CM release"),
    Builtin("days_between", ("earlier", "later", "days"), (0, 1), _days_between,
            "whole days from one ISO date to a later one"),
    Builtin("year_of", ("date", "year"), (0,), _year_of, "the calendar year of an ISO date"),
]}

# Arithmetic in rule bodies (`U = B - S`) compiles to these; they are not callable by name.
ARITHMETIC: dict[str, Builtin] = {
    op: Builtin(f"arith{name}", ("left", "right", "result"), (0, 1), _arith(op), f"integer {op}")
    for op, name in (("+", "_add"), ("-", "_sub"), ("*", "_mul"), ("//", "_div"))
}
