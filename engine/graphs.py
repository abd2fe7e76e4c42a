"""Strongly connected components of a dependency graph, shared by the checker (recursion through
negation is an error) and the evaluation plan (its strata)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping


def strongly_connected(successors: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """Tarjan's components of the graph ``node -> the nodes it reads``, each sorted by name, every
    component after the components it reads. Deterministic: nodes and edges are visited in name
    order. Iterative, so a long chain of predicates cannot exhaust Python's recursion limit; a node
    that is only read (no entry of its own) is a component by itself."""
    succ = {v: sorted(set(ws)) for v, ws in successors.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[str, ...]] = []

    def enter(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)

    def visit(root: str) -> None:
        enter(root)
        work = [(root, 0)]
        while work:
            v, i = work[-1]
            reads = succ.get(v, ())
            if i < len(reads):
                work[-1] = (v, i + 1)
                w = reads[i]
                if w not in index:
                    enter(w)
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                out.append(tuple(sorted(component)))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return out
