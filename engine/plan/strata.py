"""Strata: the derived predicates grouped and ordered so that each group is evaluated after every
group it reads.

The dependency graph has an edge from a clause's head to each derived predicate its body reads:
positive, negated (``~p``) or through an aggregate (the value predicate ``<prefix>_aggvN`` reads the
aggregate's body predicate ``<prefix>_aggN``). Its strongly connected components (Tarjan) are the
strata, emitted dependencies first. A stratum is *recursive* when it has more than one predicate or
a predicate reads itself; it is then evaluated semi-naively, otherwise in one pass.

Negation and aggregates must read a *completed* stratum: an edge of either kind inside one component
has no stratified meaning and is reported as a :class:`StratificationError` naming both predicates
(the checker rejects such rules first, with locations; this is the plan's own guard).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graphs import strongly_connected

POSITIVE, NEGATIVE, AGGREGATE = "positive", "negative", "aggregate"


class StratificationError(ValueError):
    """The program has recursion through negation or an aggregate."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Edge:
    reads: str      # the predicate read
    kind: str       # POSITIVE, NEGATIVE or AGGREGATE


def value_to_aux(name: str) -> str:
    """``<prefix>_aggvN`` -> ``<prefix>_aggN``: the predicate an aggregate's value is folded from."""
    head, _, n = name.rpartition("_aggv")
    return f"{head}_agg{n}"


def dependency_graph(clauses, aggregate_values: set[str]) -> dict[str, set[Edge]]:
    """head -> the edges to the derived predicates (heads of ``clauses``) its bodies read."""
    heads = {head[0] for head, _ in clauses}
    graph: dict[str, set[Edge]] = {h: set() for h in heads}
    for (head, _), body in clauses:
        for name, _terms in body:
            if name in aggregate_values:
                edge = Edge(value_to_aux(name), AGGREGATE)
            elif name.startswith("~"):
                edge = Edge(name[1:], NEGATIVE)
            else:
                edge = Edge(name, POSITIVE)
            if edge.reads in heads:
                graph[head].add(edge)
    return graph


def components(graph: dict[str, set[Edge]]) -> list[tuple[str, ...]]:
    """The strongly connected components of the predicate graph, each sorted by name, every component
    after the components it reads (engine.graphs)."""
    return strongly_connected({v: [e.reads for e in edges] for v, edges in graph.items()})


def stratify(graph: dict[str, set[Edge]]) -> list[tuple[tuple[str, ...], bool]]:
    """(predicates, recursive) per stratum, in evaluation order; raises StratificationError when a
    negation or an aggregate reads a predicate of its own stratum."""
    problems = []
    strata = []
    for comp in components(graph):
        members = set(comp)
        for pred in comp:
            for edge in sorted(graph[pred], key=lambda e: (e.reads, e.kind)):
                if edge.kind != POSITIVE and edge.reads in members:
                    how = "negation" if edge.kind == NEGATIVE else "an aggregate"
                    problems.append(f"`{pred}` reads `{edge.reads}` through {how} in the recursive group "
                                    f"{{{', '.join(comp)}}}: the rules have no stratified meaning")
        recursive = len(comp) > 1 or any(e.reads == comp[0] for e in graph[comp[0]])
        strata.append((comp, recursive))
    if problems:
        raise StratificationError(problems)
    return strata
