"""`supportable impact --workers N | --scheduler ADDRESS`: a candidate overlay judged over a corpus on
Dask, through the same cluster as an audit.

The corpus is read as ``impact`` reads it (``read_corpus``) and cut into partitions; each worker
process loads the payer's current policy and the candidate once (``load_candidate``, cached for
the life of the process, keyed by the paths, the payer and the engine) and checks that both versions
are the ones the command line loaded (a worker with other policies or another candidate file is
named in the error); each partition is compared by the engine's own ``compare``; the partitions'
results are merged in corpus order, so the report is the one a single process writes (changes,
invalid encounters and errors in the same order; counts and verdicts summed), timings aside.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from supportable import engine as facade

from .run import open_cluster
from .worker import PolicyMismatch, worker_name

_PAIRS: dict[tuple, object] = {}


@dataclass(frozen=True)
class ImpactSpec:
    policies: str
    payers: str | None
    payer: str
    candidate: str
    engine: str
    current_version: str
    candidate_version: str


def pair_for(spec: ImpactSpec):
    key = (spec.policies, spec.payers, spec.payer, spec.candidate, spec.engine)
    pair = _PAIRS.get(key)
    if pair is None:
        pair = facade.load_candidate(Path(spec.policies), spec.payer, Path(spec.candidate),
                                     Path(spec.payers) if spec.payers else None, engine=spec.engine)
        _PAIRS[key] = pair
    got = (pair.current.version, pair.candidate.version)
    if got != (spec.current_version, spec.candidate_version):
        raise PolicyMismatch(f"worker {worker_name()} has policy versions current {got[0]}, candidate {got[1]} for "
                             f"payer `{spec.payer}`; the command loaded {spec.current_version} and "
                             f"{spec.candidate_version}: give every worker the same policies and candidate file")
    return pair


def prepare_impact(spec: ImpactSpec) -> str:
    pair_for(spec)
    return worker_name()


def impact_partition(spec: ImpactSpec, source: str, items: list[tuple[str, str]], dependent: str | None = None):
    """Compare one partition under the payer (or under ``dependent``, a payer extending it)."""
    pair = pair_for(spec)
    current, candidate = pair.current, pair.candidate
    if dependent is not None:
        dep = next(d for d in pair.dependents if d.payer == dependent)
        current, candidate = dep.current, dep.candidate
    corpus = facade.impact.Corpus(source, [facade.impact.CorpusItem(loc, text) for loc, text in items], [], 1)
    return facade.compare(current, candidate, corpus)


def merge(parts: list, current, candidate, invalid_first: list):
    """One Impact from the partitions' results, in corpus order."""
    total = facade.Impact(current.payer, current.version, candidate.version, invalid=list(invalid_first))
    for part in parts:
        total.decided += part.decided
        total.lines += part.lines
        total.changes += part.changes
        total.invalid += part.invalid
        total.errors += part.errors
        for side in ("current", "candidate"):
            for verdict, n in part.verdicts[side].items():
                total.verdicts[side][verdict] += n
            total.timing[side].seconds += part.timing[side].seconds
            total.timing[side].encounters += part.timing[side].encounters
    return total


class ParallelCompare:
    """A cluster opened for one impact run; ``compare(current, candidate, corpus, dependent)``."""

    def __init__(self, spec: ImpactSpec, scheduler: str | None, workers: int | None, partition_size: int = 100):
        self.spec, self.partition_size = spec, partition_size
        self.client, self.cluster, self.where = open_cluster(scheduler, workers)
        try:
            self.workers = sorted(self.client.run(prepare_impact, spec).values())
        except BaseException:
            self.close()
            raise

    def compare(self, current, candidate, corpus, dependent: str | None = None):
        started = time.perf_counter()
        items = [(i.location, i.text) for i in corpus.items]
        futures = [self.client.submit(impact_partition, self.spec, corpus.source, items[k:k + self.partition_size],
                                      dependent, pure=False)
                   for k in range(0, len(items), self.partition_size)]
        result = merge(self.client.gather(futures), current, candidate, corpus.invalid)
        result.wall_seconds = time.perf_counter() - started
        return result

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
