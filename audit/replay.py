"""`supportable replay LOG --workers N | --scheduler ADDRESS`: a decision log replayed on Dask, through
the same cluster as an audit and an impact run.

The log is cut into partitions of numbered lines (``log_lines``); each worker process builds the
policies replayed once (a per-process cache keyed by the folders and the engine) and checks that their
digest is the one the command line read (a worker with other policy files is named in the error);
each partition is replayed by the engine's own ``replay_lines``; the partitions' reports are merged
in log order (``merge_replays``), so the report is the one a single process writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supportable import engine as facade

from .run import open_cluster
from .worker import PolicyMismatch, worker_name

_LOADED: dict[tuple, tuple] = {}


@dataclass(frozen=True)
class ReplaySpec:
    policies: str
    payers: str | None
    engine: str
    digest: str
    only_payer: str | None = None


def policies_for(spec: ReplaySpec):
    """(payer ids, policy_for) of this process for the spec's folders, built once per process."""
    key = (spec.policies, spec.payers, spec.engine)
    loaded = _LOADED.get(key)
    if loaded is None:
        sources = facade.PolicySources.from_dirs(Path(spec.policies), Path(spec.payers) if spec.payers else None)
        parsed, built = facade.parse_sources(sources), {}

        def policy_for(payer: str):
            if payer not in built:
                try:
                    built[payer] = facade.build_policy_set(parsed, payer, engine=spec.engine)
                except facade.PolicyError as exc:
                    built[payer] = exc
            if isinstance(built[payer], Exception):
                raise built[payer]
            return built[payer]
        loaded = _LOADED[key] = (sources.digest(), list(sources.payer_ids()), policy_for)
    digest, payer_ids, policy_for = loaded
    if digest != spec.digest:
        raise PolicyMismatch(f"worker {worker_name()} reads other policy files under {spec.policies} (digest "
                             f"{digest[:16]}, the command read {spec.digest[:16]}): give every worker the same files")
    return payer_ids, policy_for


def prepare_replay(spec: ReplaySpec) -> str:
    policies_for(spec)
    return worker_name()


def replay_partition(spec: ReplaySpec, log: str, lines: list[tuple[int, bytes]]):
    payer_ids, policy_for = policies_for(spec)
    report = facade.impact.Replay(log, spec.policies, spec.payers or "")
    return facade.impact.replay_lines(report, lines, policy_for, payer_ids, spec.only_payer)


def replay_on_cluster(log: Path, spec: ReplaySpec, scheduler: str | None, workers: int | None,
                      partition_size: int = 200, client=None, policies: str = "", payers: str = ""):
    """The whole log's Replay, its partitions replayed on the cluster and merged in log order."""
    client, cluster, _ = open_cluster(scheduler, workers, client)
    try:
        client.run(prepare_replay, spec)
        futures = [client.submit(replay_partition, spec, str(log), part, pure=False)
                   for part in facade.impact.log_lines(log, partition_size)]
        return facade.impact.merge_replays(client.gather(futures), str(log), policies, payers)
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
