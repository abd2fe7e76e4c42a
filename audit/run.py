"""An audit on Dask: the cluster, the partitions sent to it, the results written in input order.

Without a scheduler address the audit starts a ``distributed.LocalCluster`` of worker processes (one
thread each, as many as the machine's cores unless told) and stops it at the end; with one it
connects a ``distributed.Client`` to that scheduler and uses its workers as they are.

Before any encounter is sent, every worker loads the policies (``worker.prepare``, through
``Client.run``) and reports each payer's policy version; workers that disagree stop the audit with
their addresses. Partitions are then submitted a window at a time (memory stays bounded whatever
the corpus size) and written as they can be in order: a partition that finishes early waits for
the ones before it. A worker lost mid-run loses nothing: the scheduler runs its tasks again on
another worker, and each partition's result is written once, when its turn comes.

A program that already holds the encounters (the web's day of claims, server/web/day.py) gives them
as ``AuditJob.items`` instead of files, and one that already holds built policies (a web worker) may
decide them on this same path in its own process (``AuditJob.here``): the same partitions, the same
``decide_partition`` and tally, the same results and summary, with no cluster.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import corpus as corpus_mod
from supportable.server.wire.audit import audit_summary

from .output import open_writer
from .summary import Tally
from .worker import PolicyMismatch, Settings, decide_partition, prepare

DEFAULT_PARTITION = 250


class AuditError(Exception):
    """The audit cannot run: ``kind`` (``unreadable_corpus``, ``policy_mismatch``, ``no_scheduler``,
    ``task_failed``) says why."""

    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message
        super().__init__(message)


@dataclass
class AuditJob:
    corpus: list[Path]
    output: Path
    settings: Settings
    fmt: str = "ndjson"
    scheduler: str | None = None
    workers: int | None = None
    partition_size: int = DEFAULT_PARTITION
    progress: bool = False
    history_from_corpus: bool = False
    summary_path: Path | None = None
    payer_ids: object = None       # the payer-identifier table (server/payer_ids.py), for 837 files
    on_progress: object = None     # called with the number of encounters written so far (the web's day job)
    client: object = None          # an open distributed.Client to use (and leave open), else one is made
    items: list | None = None      # the encounters as corpus.Item, in order, instead of reading ``corpus``
    here: object = None            # policies built in this process: decide here, without a cluster
    corpus_label: str | None = None   # what the summary calls the corpus when ``items`` are given


def summary_path_for(output: Path) -> Path:
    """Where the summary goes: beside the output, ``NAME.summary.json`` for ``NAME.ndjson``."""
    output = Path(output)
    return output.with_name(output.stem + ".summary.json")


def machine_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def open_cluster(scheduler: str | None, workers: int | None, client=None):
    """(client, the local cluster started for it or None, a description): ``client`` as it is when
    given, else a client of the scheduler at ``scheduler``, else of a new local cluster of ``workers``
    single-threaded worker processes (default: one per core). The scheduler's HTTP endpoint (and
    dashboard, when installed) gets a free port (":0"), never a fixed one another cluster may hold."""
    from distributed import Client, LocalCluster
    # distributed's own warnings (an event loop slowed by a busy machine, a worker restarted) would
    # fill a terminal or a log with lines that are not the audit's; its errors still show
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if client is not None:
        return client, None, str(client.scheduler.address)
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise AuditError("no_scheduler", f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            client.close()
            raise AuditError("no_scheduler", f"the Dask scheduler at {scheduler} has no worker") from None
        return client, None, scheduler
    n = workers or machine_workers()
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster, f"local ({n} worker process{'es' if n > 1 else ''})"


def agreed_versions(reports: dict[str, dict]) -> dict[str, str]:
    """The versions every worker reported, or PolicyMismatch naming the workers that differ."""
    by_versions: dict[str, list[str]] = {}
    for address, report in sorted(reports.items()):
        by_versions.setdefault(json.dumps(report["versions"], sort_keys=True), []).append(address)
    if len(by_versions) == 1:
        return json.loads(next(iter(by_versions)))
    ranked = sorted(by_versions.items(), key=lambda kv: (-len(kv[1]), kv[1]))
    reference = json.loads(ranked[0][0])
    odd = []
    for versions, addresses in ranked[1:]:
        theirs = json.loads(versions)
        differs = ", ".join(f"`{p}` {theirs.get(p)} (others {reference.get(p)})"
                            for p in sorted(set(theirs) | set(reference)) if theirs.get(p) != reference.get(p))
        odd.append(f"{', '.join(addresses)}: {differs}")
    raise PolicyMismatch("workers disagree on the policy version: " + "; ".join(odd))


def _progress(job: AuditJob, total: int | None):
    from tqdm import tqdm
    return tqdm(total=total, unit="enc", file=sys.stderr, disable=not job.progress, dynamic_ncols=True,
                desc="audit")


def run_audit(job: AuditJob) -> dict:
    """Run the audit; write the results and the summary; return the summary."""
    files = None
    if job.items is None:
        try:
            files = corpus_mod.corpus_files(job.corpus)
        except corpus_mod.CorpusError as exc:
            raise AuditError("unreadable_corpus", str(exc)) from None

    def encounters():
        return iter(job.items) if job.items is not None else corpus_mod.items(job.corpus, files, job.payer_ids)

    started = time.perf_counter()
    patients, history_note = None, "each encounter's own patient.history and patient.year_to_date"
    if job.history_from_corpus:
        from .history import derive
        try:
            patients, history_note = derive(encounters())
        except corpus_mod.CorpusError as exc:
            raise AuditError("unreadable_corpus", str(exc)) from None
    # the progress bar's total: counting a corpus's files reads them once more, so only for a bar shown
    total = len(job.items) if job.items is not None else \
        corpus_mod.count_encounters(files) if job.progress else None
    sink = None            # opened once the policy versions are agreed: nothing is written before
    try:
        if job.here is not None:
            where = "this process"
            settings = replace(job.settings, versions=job.here.versions())
            sink = _InOrder(job, total)
            for batch in corpus_mod.partitions(encounters(), job.partition_size):
                sink.take(decide_partition(settings, batch, _share(batch, patients), loaded=job.here))
        else:
            client, cluster, where = open_cluster(job.scheduler, job.workers, job.client)
            try:
                reports = client.run(prepare, job.settings)
                settings = replace(job.settings, versions=agreed_versions(reports))
                sink = _InOrder(job, total)
                _submit_all(client, settings, corpus_mod.partitions(encounters(), job.partition_size), patients,
                            sink)
            finally:
                if client is not job.client:
                    client.close()
                if cluster is not None:
                    cluster.close()
    except corpus_mod.CorpusError as exc:        # a file that became unreadable while it was read
        raise AuditError("unreadable_corpus", f"{exc}; the results written so far are incomplete") from None
    finally:
        if sink is not None:
            sink.close()
    tally, partitions_by_worker = sink.tally, sink.by_worker
    elapsed = time.perf_counter() - started
    run = {
        "corpus": [job.corpus_label] if job.corpus_label else [str(p) for p in job.corpus],
        "output": str(job.output), "format": job.fmt,
        "payer": job.settings.payer or "each encounter's own `payer`, else base", "explain": job.settings.explain,
        "engine": job.settings.engine, "policy_versions": settings.versions, "cluster": where,
        "workers": {w: n for w, (n, _) in sorted(partitions_by_worker.items())},
        "policy_loads_by_worker": {w: loads for w, (_, loads) in sorted(partitions_by_worker.items())},
        "partition_size": job.partition_size,
        "history": "corpus" if job.history_from_corpus else "encounter", "history_note": history_note,
        "elapsed_s": round(elapsed, 3), "encounters_per_s": round(tally.encounters / elapsed, 1) if elapsed else None,
    }
    summary = audit_summary(run, tally.document())
    path = job.summary_path or summary_path_for(job.output)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    summary["summary_file"] = str(path)
    return summary


def _share(batch: list, patients: dict | None) -> dict | None:
    """The derived history of the partition's patients (``--history-from-corpus``), else None."""
    return {i.index: patients[i.index] for i in batch if i.index in patients} if patients else None


class _InOrder:
    """Takes decided partitions in corpus order: writes their results, merges their tallies, counts
    who decided them, moves the progress bar and tells ``on_progress``."""

    def __init__(self, job: AuditJob, total: int | None):
        self.job, self.tally, self.by_worker, self.written = job, Tally(), {}, 0
        self.bar = _progress(job, total)
        self.writer = open_writer(job.output, job.fmt)

    def take(self, part: dict) -> None:
        self.writer.write(part["lines"])
        self.tally.merge(part["tally"])
        count, _ = self.by_worker.get(part["worker"], (0, 0))
        self.by_worker[part["worker"]] = (count + 1, part["loads"])
        self.bar.update(len(part["lines"]))
        self.written += len(part["lines"])
        if self.job.on_progress is not None:
            self.job.on_progress(self.written)

    def close(self) -> None:
        self.writer.close()
        self.bar.close()


def _submit_all(client, settings: Settings, stream, patients: dict | None, sink: _InOrder) -> None:
    from distributed import as_completed
    window = max(4, 3 * sum(client.nthreads().values()))
    done: dict[int, dict] = {}
    sequence: dict[str, int] = {}          # task key -> its partition's place in the corpus
    next_to_write, submitted = 0, 0
    pending = as_completed()

    def submit_one() -> bool:
        nonlocal submitted
        batch = next(stream, None)
        if batch is None:
            return False
        future = client.submit(decide_partition, settings, batch, _share(batch, patients), pure=False, retries=0)
        sequence[future.key] = submitted
        pending.add(future)
        submitted += 1
        return True

    for _ in range(window):
        if not submit_one():
            break
    for future in pending:
        try:
            part = future.result()
        except PolicyMismatch:
            raise
        except Exception as exc:  # a task that failed for good (e.g. workers killed again and again)
            raise AuditError("task_failed", f"a partition could not be decided ({type(exc).__name__}: {exc})") \
                from None
        done[sequence.pop(future.key)] = part
        while next_to_write in done:
            sink.take(done.pop(next_to_write))
            next_to_write += 1
        submit_one()
