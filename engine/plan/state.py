"""What one evaluation changes: its relations, their indexes, the semi-naive deltas and the
derivations recorded. A new :class:`State` per evaluation, owned by the calling thread; the plan
it reads (clause chains, the static relations and their indexes) is never written.

Relations are ordered sets (dicts row -> None), so rows are enumerated in the order they were
added; an index maps the values at some argument positions to the rows holding them, in that same
order, and is kept up to date as rows are added (only a recursive stratum adds rows to a relation
that is being read).
"""
from __future__ import annotations

_EMPTY: tuple = ()


class StaticStore:
    """The facts that are the same for every encounter (catalog, parameters, and what the rules
    derive from them alone), with an index for every (predicate, bound positions) the plan looks
    up; built once, then only read."""

    __slots__ = ("rows", "sets", "indexes")

    def __init__(self, rows: dict[str, tuple[tuple, ...]], lookups: set[tuple[str, tuple[int, ...]]]):
        self.rows = rows
        self.sets = {pred: frozenset(r) for pred, r in rows.items()}
        indexes: dict[tuple[str, tuple[int, ...]], dict] = {}
        for pred, positions in sorted(lookups):
            index: dict[tuple, list] = {}
            for row in rows.get(pred, _EMPTY):
                index.setdefault(tuple(row[p] for p in positions), []).append(row)
            indexes[(pred, positions)] = {k: tuple(v) for k, v in index.items()}
        self.indexes = indexes


class State:
    """One evaluation's relations: dynamic (input and derived per encounter) over static."""

    __slots__ = ("static", "rows", "indexes", "live", "pending", "delta", "delta_indexes", "recursive",
                 "record", "record_all", "derived", "_seen", "_static_read")

    def __init__(self, static: StaticStore, record: bool = False, record_all: bool = False):
        self.static = static
        self.rows: dict[str, dict[tuple, None]] = {}          # dynamic relations
        self.indexes: dict[tuple[str, tuple[int, ...]], dict] = {}
        self.live: dict[str, list[tuple[tuple[int, ...], dict]]] = {}   # pred -> its dynamic indexes
        self.pending: dict[str, dict[tuple, None]] = {}       # facts new in this round (recursive stratum)
        self.delta: dict[str, dict[tuple, None]] = {}         # facts new in the previous round
        self.delta_indexes: dict[tuple[str, tuple[int, ...]], dict] = {}
        self.recursive = False
        self.record = record or record_all
        self.record_all = record_all
        self.derived: dict[tuple[str, tuple], list] = {}      # (pred, row) -> [(clause number, env), ...]
        self._seen: dict[tuple[str, tuple], set] = {}         # all derivations: the (clause, env) met
        self._static_read: set[str] = set()                   # predicates looked up in the static store

    # -- relations ----------------------------------------------------------------------------
    def relation(self, pred: str) -> dict[tuple, None]:
        """The dynamic relation of ``pred``, made (from its static rows, if any) on first use."""
        rel = self.rows.get(pred)
        if rel is None:
            static = self.static.rows.get(pred)
            rel = self.rows[pred] = dict.fromkeys(static) if static else {}
            if pred in self._static_read:
                for key in [k for k in self.indexes if k[0] == pred]:
                    del self.indexes[key]    # a static index read before: rebuild from the dynamic rows
        return rel

    def add(self, pred: str, row: tuple) -> bool:
        rel = self.rows[pred]
        if row in rel:
            return False
        rel[row] = None
        for positions, index in self.live.get(pred, _EMPTY):
            _file(index, row, positions)
        return True

    # -- reads (the steps call these) ----------------------------------------------------------
    def lookup(self, pred: str, positions: tuple[int, ...], key: tuple):
        index = self.indexes.get((pred, positions))
        if index is None:
            index = self._index(pred, positions)
        return index.get(key, _EMPTY)

    def _index(self, pred: str, positions: tuple[int, ...]) -> dict:
        rel = self.rows.get(pred)
        if rel is None:
            index = self.static.indexes.get((pred, positions))
            self._static_read.add(pred)
            if index is None:                 # a lookup the plan did not foresee: index the static rows now
                index = {}
                for row in self.static.rows.get(pred, _EMPTY):
                    _file(index, row, positions)
        else:
            index = {}
            for row in rel:
                _file(index, row, positions)
            self.live.setdefault(pred, []).append((positions, index))
        self.indexes[(pred, positions)] = index
        return index

    def contains(self, pred: str, row: tuple) -> bool:
        rel = self.rows.get(pred)
        if rel is None:
            return row in self.static.sets.get(pred, _EMPTY)
        return row in rel

    def scan(self, pred: str):
        rel = self.rows.get(pred)
        if rel is None:
            return self.static.rows.get(pred, _EMPTY)
        return rel.keys()

    # -- the previous round's new facts (semi-naive) ---------------------------------------------
    def delta_lookup(self, pred: str, positions: tuple[int, ...], key: tuple):
        index = self.delta_indexes.get((pred, positions))
        if index is None:
            index = {}
            for row in self.delta.get(pred, _EMPTY):
                index.setdefault(tuple(row[p] for p in positions), []).append(row)
            self.delta_indexes[(pred, positions)] = index
        return index.get(key, _EMPTY)

    def delta_contains(self, pred: str, row: tuple) -> bool:
        return row in self.delta.get(pred, _EMPTY)

    def delta_scan(self, pred: str):
        return self.delta.get(pred, _EMPTY)

    # -- what a clause derives ---------------------------------------------------------------------
    def emit(self, pred: str, row: tuple, clause: int, env: list) -> None:
        if row in self.rows[pred]:
            if self.record_all:
                self._again(pred, row, clause, env)
            return
        if self.recursive:
            new = self.pending[pred]
            if row in new:
                if self.record_all:
                    self._again(pred, row, clause, env)
                return
            new[row] = None
        else:
            self.add(pred, row)
        if self.record:
            bindings = tuple(env)
            self.derived[(pred, row)] = [(clause, bindings)]
            if self.record_all:
                self._seen[(pred, row)] = {(clause, bindings)}

    def _again(self, pred: str, row: tuple, clause: int, env: list) -> None:
        """Another derivation of a fact already derived (recorded when every derivation is asked for);
        a semi-naive round can meet the same one twice, so each is kept once."""
        bindings = tuple(env)
        seen = self._seen.get((pred, row))
        if seen is None or (clause, bindings) in seen:
            return                  # not derived here (an input or static fact), or met before
        seen.add((clause, bindings))
        self.derived[(pred, row)].append((clause, bindings))

    def end_round(self, preds: tuple[str, ...]) -> bool:
        """Close a semi-naive round: the pending facts join their relations and become the delta the
        next round reads. False when the round found nothing new (the stratum is complete)."""
        grew = False
        self.delta = {}
        self.delta_indexes = {}
        for pred in preds:
            new = self.pending[pred]
            if new:
                grew = True
                for row in new:
                    self.add(pred, row)
                self.delta[pred] = new
            self.pending[pred] = {}
        return grew


def _file(index: dict, row: tuple, positions: tuple[int, ...]) -> None:
    """Adds ``row`` to ``index`` under its values at ``positions``."""
    key = tuple(row[p] for p in positions)
    bucket = index.get(key)
    if bucket is None:
        index[key] = [row]
    else:
        bucket.append(row)
