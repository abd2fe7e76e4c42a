"""Proofs and why-nots, built after evaluation from the rules and the model.

pyDatalog says *what* holds; this module says *why*. For a fact that holds, :func:`Explainer.prove`
finds the rule instances that derive it by matching each rule's body against the model (a
provenance search in the manner of AbcDatalog), and recurses into derived premises. For a fact
that does not hold, :func:`Explainer.why_not` lists each rule that could have derived it and the
first premise that failed, with the bindings at that point. Both only read the model; a derived
fact that no rule can justify is an internal error, not a silent gap.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .builtins import ARITHMETIC, BUILTINS
from .comparison import compare
from .compiler import CompiledProgram, aggregate_rows
from .evaluator import Model
from .facts import CATALOG_PREDICATES, EDIT_PREDICATES, INPUT_PREDICATES
from .syntax import Aggregate, Arith, Atom, Call, Compare, Const, Literal, Negative, Parameter, Positive, Rule, Var
from .templates import fill

Bindings = dict[str, object]
_INPUT_NAMES = {p.name for p in INPUT_PREDICATES.values()}
_CATALOG_NAMES = {p.name for p in CATALOG_PREDICATES.values()}
_EDIT_NAMES = {p.name for p in EDIT_PREDICATES.values()}


def ground(atom: Atom, b: Bindings) -> str:
    parts = []
    for a in atom.args:
        if isinstance(a, Var):
            parts.append(repr(b[a.name]) if a.name in b else "_")
        else:
            parts.append(repr(a.value))
    return f"{atom.pred}({', '.join(parts)})"


@dataclass(frozen=True)
class ParameterFact:
    """The parameter a proof read, with the source it cites for the value read (a table entry may cite
    its own)."""
    parameter: Parameter
    file: str
    section: str


@dataclass(frozen=True)
class ProofNode:
    """One step of a proof. ``kind`` is rule, fact, absent, comparison, builtin or aggregate."""
    kind: str
    statement: str
    rule: Rule | None = None
    bindings: tuple[tuple[str, object], ...] = ()
    premises: tuple["ProofNode", ...] = ()
    origin: str = ""          # for facts: encounter, catalog, policy, parameter or edit_table
    # what else the step shows: absent: explanation; builtin: builtin, inputs, outputs, description;
    # aggregate: function, over, matches, result; an edit-table fact: edit (the Edit row); a parameter
    # fact: parameter (a ParameterFact)
    detail: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return fill(self.rule.because, dict(self.bindings)) if self.rule else ""


@dataclass(frozen=True)
class Attempt:
    """A rule that could have derived a conclusion, and the first premise that failed."""
    rule: Rule
    bindings: tuple[tuple[str, object], ...]
    failed: Literal | None
    failed_statement: str
    reason: str               # missing, present, false, no_result
    nested: tuple["Attempt", ...] = ()


class Explainer:
    def __init__(self, program: CompiledProgram, model: Model):
        self.program = program
        self.model = model
        self.by_head = program.by_head
        self._memo: dict[tuple, ProofNode | None] = {}
        self._row_cache: dict[str, list[tuple]] = {}
        self._first_arg_index: dict[str, dict[object, list[tuple]]] = {}

    # -- matching -----------------------------------------------------------------------------
    def body_order(self, rule: Rule) -> list[Literal]:
        """The rule's body in the order it is matched, with the head bound (fixed at compile time)."""
        return self.program.explain_order[rule.id]

    def _sorted_rows(self, pred: str) -> list[tuple]:
        rows = self._row_cache.get(pred)
        if rows is None:
            # A fixed order makes proofs, reasons and why-nots identical from run to run.
            rows = self._row_cache[pred] = sorted(self.model.rows(pred), key=repr)
        return rows

    def _candidate_rows(self, atom: Atom, b: Bindings) -> list[tuple]:
        """Rows that can match ``atom``; indexed by the first argument (usually the line id)."""
        first = atom.args[0] if atom.args else None
        if isinstance(first, Const):
            key = first.value
        elif isinstance(first, Var) and first.name in b:
            key = b[first.name]
        else:
            return self._sorted_rows(atom.pred)
        index = self._first_arg_index.get(atom.pred)
        if index is None:
            index = self._first_arg_index[atom.pred] = {}
            for row in self._sorted_rows(atom.pred):
                if row:
                    index.setdefault(row[0], []).append(row)
        return index.get(key, [])

    def matches(self, atom: Atom, b: Bindings) -> Iterator[Bindings]:
        """Extensions of bindings ``b`` under which ``atom`` holds in the model."""
        for nb, _ in self.matching_rows(atom, b):
            yield nb

    def matching_rows(self, atom: Atom, b: Bindings) -> Iterator[tuple[Bindings, tuple]]:
        """Like :meth:`matches`, with the model row each extension matched."""
        for row in self._candidate_rows(atom, b):
            if len(row) != len(atom.args):
                continue
            nb = dict(b)
            for arg, value in zip(atom.args, row):
                if isinstance(arg, Const):
                    if arg.value != value:
                        break
                elif arg.anonymous:
                    continue
                elif arg.name in nb:
                    if nb[arg.name] != value:
                        break
                else:
                    nb[arg.name] = value
            else:
                yield nb, row

    def _value(self, term, b: Bindings):
        return term.value if isinstance(term, Const) else b.get(term.name)

    def _solve(self, rule: Rule, lits: list[Literal], b: Bindings, proofs: bool
               ) -> Iterator[tuple[Bindings, list[ProofNode]]]:
        if not lits:
            yield b, []
            return
        lit, rest = lits[0], lits[1:]
        for nb, node in self._step(rule, lit, b, proofs):
            for fb, nodes in self._solve(rule, rest, nb, proofs):
                yield fb, ([node] + nodes if proofs else nodes)

    def _step(self, rule, lit, b, proofs) -> Iterator[tuple[Bindings, ProofNode | None]]:
        if isinstance(lit, Positive):
            for nb, row in self.matching_rows(lit.atom, b):
                yield nb, (self._premise(lit.atom, nb, row) if proofs else None)
        elif isinstance(lit, Negative):
            if next(self.matches(lit.atom, b), None) is None:
                yield b, (ProofNode("absent", "not " + ground(lit.atom, b),
                                    detail={"explanation": f"no fact {ground(lit.atom, b)} holds"}) if proofs else None)
        elif isinstance(lit, Compare):
            left, right = self._value(lit.left, b), self._value(lit.right, b)
            if lit.op == "==" and (left is None or right is None):
                nb = dict(b)
                if left is None:
                    nb[lit.left.name] = right
                else:
                    nb[lit.right.name] = left
                yield nb, (ProofNode("comparison", f"{_show(lit.left, nb)} = {_show(lit.right, nb)}") if proofs else None)
            elif compare(left, lit.op, right) is True:
                yield b, (ProofNode("comparison", f"{_show(lit.left, b)} {lit.op} {_show(lit.right, b)}") if proofs else None)
        elif isinstance(lit, (Call, Arith)):
            spec, args = (BUILTINS[lit.name], lit.args) if isinstance(lit, Call) else \
                (ARITHMETIC[lit.op], (lit.left, lit.right, lit.result))
            values = tuple(None if isinstance(a, Var) and (a.anonymous or a.name not in b) else self._value(a, b)
                           for a in args)
            for full in spec.solve(values):
                nb = dict(b)
                for a, v in zip(args, full):
                    if isinstance(a, Var) and not a.anonymous:
                        nb[a.name] = v
                name = f"@{spec.name}" if isinstance(lit, Call) else "arithmetic"
                yield nb, (ProofNode("builtin", f"{name}({', '.join(map(repr, full))})", detail={
                    "builtin": spec.name, "inputs": {spec.params[i]: full[i] for i in spec.inputs},
                    "outputs": {spec.params[i]: full[i] for i in spec.outputs},
                    "description": spec.description}) if proofs else None)
        elif isinstance(lit, Aggregate):
            spec = self.program.aggregates[rule.id][lit]
            key = tuple(b.get(g) for g in spec.groups)
            rows = [r for r in self._sorted_rows(spec.aux_pred) if r[:len(key)] == key]
            value = aggregate_rows(spec, rows)
            current = b.get(lit.result.name)
            if value is not None and (current is None or current == value):
                nb = dict(b)
                nb[lit.result.name] = value
                over = [dict(zip(spec.locals_, r[len(key):-1])) for r in rows]
                yield nb, (ProofNode("aggregate", f"{lit.result} = {lit.func} = {value!r}", detail={
                    "function": lit.func, "over": ", ".join(map(str, lit.body)), "matches": over,
                    "result": value}) if proofs else None)

    def _premise(self, atom: Atom, b: Bindings, row: tuple) -> ProofNode:
        """The proof of a premise that matched ``row`` (anonymous arguments shown as matched)."""
        if atom.pred in self.by_head:
            node = self.prove(atom.pred, row)
            if node is not None:
                return node
        ground_atom = Atom(atom.pred, tuple(Const(v) for v in row), atom.loc)
        if atom.pred in ("param", "param_entry"):
            return self._parameter_fact(ground_atom, b)
        if atom.pred in _EDIT_NAMES:
            row = self.model.provenance.get((atom.pred, row))
            return ProofNode("fact", ground(ground_atom, b), origin="edit_table",
                             detail={"edit": row} if row is not None else {})
        origin = "encounter" if atom.pred in _INPUT_NAMES else "catalog" if atom.pred in _CATALOG_NAMES else "policy"
        return ProofNode("fact", ground(ground_atom, b), origin=origin)

    def _parameter_fact(self, atom: Atom, b: Bindings) -> ProofNode:
        """A parameter's value, with the layer that set it and the source it cites."""
        values = [self._value(a, b) for a in atom.args]
        param = self.program.parameters.get(values[0])
        detail = {}
        if param is not None:
            key = values[1] if atom.pred == "param_entry" else None
            detail = {"parameter": ParameterFact(param, *param.source_of(key))}
        return ProofNode("fact", ground(atom, b), origin="parameter", detail=detail)

    # -- proofs -------------------------------------------------------------------------------
    def derivations(self, pred: str, args: tuple, limit: int | None = None) -> list[ProofNode]:
        """Every rule instance deriving ``pred(args)`` (one per rule and distinct bindings)."""
        out: list[ProofNode] = []
        for rule in self.by_head.get(pred, []):
            b = self._unify_head(rule.clause.head, args)
            if b is None:
                continue
            for node in self._instances(pred, args, rule, self._solve(rule, self.body_order(rule), b, True)):
                out.append(node)
                if limit and len(out) >= limit:
                    return out
        return out

    @staticmethod
    def _instances(pred: str, args: tuple, rule: Rule, solutions) -> Iterator[ProofNode]:
        """One proof node per distinct binding among ``rule``'s solutions deriving ``pred(args)``."""
        seen = set()
        for fb, nodes in solutions:
            key = tuple(sorted((k, repr(v)) for k, v in fb.items()))
            if key not in seen:
                seen.add(key)
                yield ProofNode("rule", f"{pred}({', '.join(map(repr, args))})", rule=rule,
                                bindings=tuple(sorted(fb.items())), premises=tuple(nodes))

    def prove(self, pred: str, args: tuple) -> ProofNode | None:
        key = (pred, args)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = None  # guards recursion
        found = self.derivations(pred, args, limit=1)
        self._memo[key] = found[0] if found else None
        return self._memo[key]

    @staticmethod
    def _unify_head(head: Atom, args: tuple) -> Bindings | None:
        b: Bindings = {}
        for arg, value in zip(head.args, args):
            if value is None:
                continue  # asked with that argument open (an anonymous premise such as `not p(L, _)`)
            if isinstance(arg, Const):
                if arg.value != value:
                    return None
            elif not arg.anonymous:
                if arg.name in b and b[arg.name] != value:
                    return None
                b[arg.name] = value
        return b

    # -- why not ------------------------------------------------------------------------------
    def why_not(self, pred: str, args: tuple, depth: int = 1) -> list[Attempt]:
        attempts = []
        for rule in self.by_head.get(pred, []):
            b = self._unify_head(rule.clause.head, args)
            if b is None:
                continue
            attempts.append(self._deepest_failure(rule, b, depth))
        return attempts

    def _walk(self, rule: Rule, lits: list[Literal], i: int, cur: Bindings, best: list) -> bool:
        """Depth-first match of ``lits[i:]``; records in ``best`` the deepest literal that failed."""
        if i == len(lits):
            return True
        progressed = False
        for nb, _ in self._step(rule, lits[i], cur, False):
            progressed = True
            if self._walk(rule, lits, i + 1, nb, best):
                return True
        if not progressed and i > best[0]:
            best[:] = [i, cur, lits[i]]
        return False

    def _deepest_failure(self, rule: Rule, b: Bindings, depth: int) -> Attempt:
        best: list = [-1, b, None]
        self._walk(rule, self.body_order(rule), 0, b, best)
        _, fb, lit = best
        if lit is None:
            return Attempt(rule, tuple(sorted(b.items())), None, "", "holds")
        nested: tuple[Attempt, ...] = ()
        if isinstance(lit, Positive):
            statement, reason = ground(lit.atom, fb), "missing"
            if depth > 0 and lit.atom.pred in self.by_head and all(
                    not isinstance(a, Var) or a.name in fb for a in lit.atom.args):
                nested = tuple(self.why_not(lit.atom.pred, tuple(self._value(a, fb) for a in lit.atom.args), depth - 1))
        elif isinstance(lit, Negative):
            statement, reason = ground(lit.atom, fb), "present"
        elif isinstance(lit, Compare):
            statement, reason = f"{_show(lit.left, fb)} {lit.op} {_show(lit.right, fb)}", "false"
        else:
            statement, reason = str(lit), "no_result"
        return Attempt(rule, tuple(sorted(fb.items())), lit, statement, reason, nested)


def _show(term, b: Bindings) -> str:
    if isinstance(term, Const):
        return repr(term.value)
    return repr(b[term.name]) if term.name in b else term.name

