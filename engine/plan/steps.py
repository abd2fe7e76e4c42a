"""One clause compiled into steps over a slot array, and the steps made into a chain of closures.

Each variable of a clause gets a slot; the body is taken in the order the compiler scheduled it
(``checker.schedule_body``), and at each literal it is known which slots are bound. So every step
is fixed at build time:

- ``pos``   a relation literal: a lookup through the hash index on its bound argument positions
            (a membership test when every position is bound, a scan when none is), then the free
            slots are assigned from the row (a variable repeated in the literal is checked);
- ``neg``   ``not p(...)``: the same lookup against a completed stratum, continuing when it is empty;
- ``cmp``   a comparison of bound values (values of kinds with no order do not compare: False);
- ``bind``  ``X == value`` with ``X`` free: assigns it;
- ``builtin`` a registered builtin or arithmetic (engine.builtins), its inputs bound;
- ``agg``   an aggregate's value, folded from the completed rows of its body predicate for the group.

A chain is built per clause, and for a clause of a recursive stratum one more per recursive literal,
that literal reading the previous round's new facts (semi-naive). The closures hold only values
fixed at build time; everything that changes per evaluation is in the ``st`` argument
(engine.plan.state.State), so one chain serves every thread at once.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

from ..builtins import ARITHMETIC, BUILTINS
from ..compiler import AggregateSpec, aggregate_rows

CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
       ">=": operator.ge}
BUILTIN_BY_NAME = {f"_b_{s.name}": s for s in [*BUILTINS.values(), *ARITHMETIC.values()]}
FULL, DELTA = "full", "delta"


class PlanError(ValueError):
    """A clause the plan cannot evaluate as scheduled (a comparison on an unbound variable, an
    unsafe head); the checker rejects such rules before they are compiled."""


@dataclass(frozen=True)
class Step:
    kind: str                  # pos, neg, cmp, bind, builtin, agg, fail
    pred: str = ""
    args: tuple = ()           # kind-specific, see compile_clause
    literal: int = -1          # position in the clause body


@dataclass(frozen=True)
class ClausePlan:
    number: int                        # position in CompiledProgram.clauses (the canonical clause order)
    rule_id: str | None
    head: tuple                        # the head's LitSpec
    body: tuple                        # the body's LitSpecs, in scheduled order
    slots: tuple[str, ...]             # variable name of each slot
    steps: tuple[Step, ...]
    recursive_literals: tuple[int, ...] = ()   # body positions reading the clause's own stratum
    chains: dict = field(default_factory=dict, compare=False)  # FULL or body position -> closure


def _key_fn(parts):
    """env -> the lookup key, for parts (is_slot, slot or constant) in position order."""
    if all(is_slot for is_slot, _ in parts):
        slots = tuple(v for _, v in parts)
        if len(slots) == 1:
            (s,) = slots
            return lambda env: (env[s],)
        if len(slots) == 2:
            a, b = slots
            return lambda env: (env[a], env[b])
        return lambda env: tuple(env[s] for s in slots)
    if all(not is_slot for is_slot, _ in parts):
        key = tuple(v for _, v in parts)
        return lambda env: key
    parts = tuple(parts)
    return lambda env: tuple(env[v] if is_slot else v for is_slot, v in parts)


def compile_clause(number: int, rule_id: str | None, head, body, aggregates: dict[str, AggregateSpec],
                   stratum: frozenset[str] = frozenset()) -> ClausePlan:
    """``aggregates``: value predicate -> its AggregateSpec; ``stratum``: the predicates of the
    clause's own stratum when it recurses (their literals get semi-naive variants)."""
    slots: dict[str, int] = {}

    def slot(name: str) -> int:
        return slots.setdefault(name, len(slots))

    bound: set[str] = set()
    steps: list[Step] = []
    recursive: list[int] = []
    for i, (name, terms) in enumerate(body):
        if name in CMP:
            (lk, lv), (rk, rv) = terms
            lfree, rfree = lk == "v" and lv not in bound, rk == "v" and rv not in bound
            if name == "==" and lfree and rfree:
                steps.append(Step("fail", literal=i))       # pyDatalog finds nothing for two free sides
            elif name == "==" and (lfree or rfree):
                dst, (sk, sv) = (lv, (rk, rv)) if lfree else (rv, (lk, lv))
                src = (True, slots[sv]) if sk == "v" else (False, sv)
                steps.append(Step("bind", args=(slot(dst), src), literal=i))
                bound.add(dst)
            elif lfree or rfree:
                raise PlanError(f"comparison `{name}` in clause {number} reads an unbound variable")
            else:
                steps.append(Step("cmp", name, ((lk == "v", slots[lv] if lk == "v" else lv),
                                                (rk == "v", slots[rv] if rk == "v" else rv)), literal=i))
        elif name.startswith("_b_"):
            spec = BUILTIN_BY_NAME[name]
            args, seen = [], set()
            for k, v in terms:
                if k == "c":
                    args.append(("c", v))
                elif v in bound:
                    args.append(("b", slots[v]))
                elif v in seen:
                    args.append(("same", slots[v]))        # repeated output: must equal its first value
                else:
                    seen.add(v)
                    args.append(("f", slot(v)))
            runnable = all(args[p][0] in ("c", "b") for p in spec.inputs)
            steps.append(Step("builtin" if runnable else "fail", name, (spec, tuple(args)), literal=i))
            bound |= seen
        elif name in aggregates:
            spec = aggregates[name]
            groups, (rk, rv) = terms[:-1], terms[-1]
            if any(k != "v" or v not in bound for k, v in groups):
                steps.append(Step("fail", name, literal=i))   # pyDatalog's resolver needs the group bound
                continue
            if rk == "v" and rv not in bound:
                result = ("f", slot(rv))
                bound.add(rv)
            else:
                result = ("b", slots[rv]) if rk == "v" else ("c", rv)
            group_slots = tuple(slots[v] for _, v in groups)
            steps.append(Step("agg", spec.aux_pred, (spec, group_slots, result), literal=i))
        else:
            negative = name.startswith("~")
            pred = name[1:] if negative else name
            positions, keyparts, assign, checks = [], [], [], []
            first_free: dict[str, int] = {}
            for pos, (k, v) in enumerate(terms):
                if k == "c":
                    positions.append(pos)
                    keyparts.append((False, v))
                elif v in bound:
                    positions.append(pos)
                    keyparts.append((True, slots[v]))
                elif v in first_free:
                    checks.append((pos, first_free[v]))
                else:
                    first_free[v] = pos
                    if not negative:
                        assign.append((pos, slot(v)))
            if not negative:
                bound |= set(first_free)
                if pred in stratum:
                    recursive.append(i)
            steps.append(Step("neg" if negative else "pos", pred,
                              (tuple(positions), tuple(keyparts), tuple(assign), tuple(checks), len(terms)),
                              literal=i))
    hpred, hterms = head
    for k, v in hterms:
        if k == "v" and v not in bound:
            raise PlanError(f"head variable `{v}` of clause {number} (`{hpred}`) is not bound by its body")
    plan = ClausePlan(number, rule_id, head, tuple(body), tuple(sorted(slots, key=slots.get)), tuple(steps),
                      tuple(recursive))
    hparts = tuple((k == "v", slots[v] if k == "v" else v) for k, v in hterms)
    plan.chains[FULL] = _chain(plan, hpred, hparts, None)
    for i in plan.recursive_literals:
        plan.chains[i] = _chain(plan, hpred, hparts, i)
    return plan


def _chain(plan: ClausePlan, hpred: str, hparts, delta_at: int | None):
    head_fn = _key_fn(hparts)
    number = plan.number

    def emit(env, st):
        st.emit(hpred, head_fn(env), number, env)

    k = emit
    for step in reversed(plan.steps):
        k = _op(step, k, DELTA if step.literal == delta_at else FULL)
    return k


def _op(step: Step, nxt, source: str):
    kind = step.kind
    if kind == "pos":
        return _positive(step, nxt, source)
    if kind == "neg":
        return _negative(step, nxt)
    if kind == "cmp":
        f = CMP[step.pred]
        (ls, lv), (rs, rv) = step.args

        def cmp(env, st):
            try:
                ok = f(env[lv] if ls else lv, env[rv] if rs else rv)
            except TypeError:       # no order between a string and a number: it does not hold
                return
            if ok:
                nxt(env, st)
        return cmp
    if kind == "bind":
        dst, (is_slot, src) = step.args

        def bind(env, st):
            env[dst] = env[src] if is_slot else src
            nxt(env, st)
        return bind
    if kind == "builtin":
        return _builtin(step, nxt)
    if kind == "agg":
        return _aggregate(step, nxt)
    if kind == "fail":
        return lambda env, st: None
    raise PlanError(f"unknown step `{kind}`")


def _positive(step: Step, nxt, source: str):
    pred = step.pred
    positions, keyparts, assign, checks, arity = step.args
    key_fn = _key_fn(keyparts)
    delta = source == DELTA
    if len(positions) == arity:
        def member(env, st):
            if (st.delta_contains if delta else st.contains)(pred, key_fn(env)):
                nxt(env, st)
        return member

    def each(env, st):
        if positions:
            rows = (st.delta_lookup if delta else st.lookup)(pred, positions, key_fn(env))
        else:
            rows = (st.delta_scan if delta else st.scan)(pred)
        for row in rows:
            for pos, s in assign:
                env[s] = row[pos]
            if checks and any(row[p] != row[q] for p, q in checks):
                continue
            nxt(env, st)
    return each


def _negative(step: Step, nxt):
    pred = step.pred
    positions, keyparts, _assign, checks, arity = step.args
    key_fn = _key_fn(keyparts)

    def absent(env, st):
        if len(positions) == arity:
            if st.contains(pred, key_fn(env)):
                return
        else:
            rows = st.lookup(pred, positions, key_fn(env)) if positions else st.scan(pred)
            if checks:
                if any(all(r[p] == r[q] for p, q in checks) for r in rows):
                    return
            elif rows:
                return
        nxt(env, st)
    return absent


def _builtin(step: Step, nxt):
    spec, args = step.args
    outputs = tuple((i, s, kind == "same") for i, (kind, s) in enumerate(args) if kind in ("f", "same"))

    def call(env, st):
        values = tuple(env[v] if kind == "b" else (v if kind == "c" else None) for kind, v in args)
        for full in spec.solve(values):
            for i, s, same in outputs:
                if same:
                    if env[s] != full[i]:
                        break
                else:
                    env[s] = full[i]
            else:
                nxt(env, st)
    return call


def _aggregate(step: Step, nxt):
    spec, group_slots, (rkind, rv) = step.args
    aux = step.pred
    positions = tuple(range(len(group_slots)))

    def fold(env, st):
        rows = st.lookup(aux, positions, tuple(env[s] for s in group_slots)) if positions else st.scan(aux)
        value = aggregate_rows(spec, rows)
        if value is None:
            return
        if rkind == "f":
            env[rv] = value
        elif (env[rv] if rkind == "b" else rv) != value:
            return
        nxt(env, st)
    return fold
