"""A day's claims on the audit's path (issue 15, docs/audit.md): every upload is decided by
``supportable.audit``'s ``run_audit``, the function behind ``supportable audit``: the same partitions,
the same ``decide_partition``, the same result documents, the same summary and the same report charts.

Where it runs:

- with a Dask scheduler (``SUPPORTABLE_DASK_SCHEDULER``), on that cluster, as ``supportable audit
  --scheduler`` runs: the workers load the policies from this server's paths once per process, their
  policy versions are checked equal to each other and then to this server's, so the page never shows a
  decision made under other policies than the ones the server serves;
- without one, in this web worker (``AuditJob.here``), with the policies it already serves, in the
  job's own thread: no second copy of the policies and no processes started per upload.

Either way the results come back in the order of the file; a claim that could not be read stays in its
place as an invalid result (``invalid-claim``), so the summary counts it as ``supportable audit``
would. Every decision is written to this server's decision log with a decision id, as a claim checked
on the form is.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from supportable.engine import PolicyError, PolicySources

from ..registry import Registry
from . import labels
from .claims_file import is_unread
from .jobs import JobError, Progress

EXPLAIN = "summary"        # as `supportable audit` decides by default: reasons and sources, no proof trees


class ServedPolicies:
    """The web worker's own built policies, as the audit's ``decide_partition`` reads them."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.known = set(registry.known)

    def get(self, payer: str):
        policy = self.registry.policies.get(payer)
        return policy if policy is not None else PolicyError(self.registry.failed.get(payer, []))

    def versions(self) -> dict[str, str]:
        return {payer: self.registry.policies[payer].version if payer in self.registry.policies else "does-not-load"
                for payer in sorted(self.known)}


def audit_items(items: list[tuple[str, object]]) -> list:
    """The day's (where, document or problems) as the audit's corpus items, in order."""
    from supportable.audit.corpus import Item
    out = []
    for index, (where, document) in enumerate(items):
        if is_unread(document):          # problems found while reading the file
            out.append(Item(index, where, "", "the claim cannot be read: " + "; ".join(labels.problems_text(document)),
                            "invalid-claim"))
        else:
            out.append(Item(index, where, json.dumps(document, separators=(",", ":"))))
    return out


def run_audit_of_day(state, items: list[tuple[str, object]], payer: str | None, progress: Progress
                     ) -> tuple[list[dict], dict]:
    """Decide the day's claims on the audit's path: (the result documents in order, the summary)."""
    from supportable.audit import AuditError, AuditJob, PolicyMismatch, Settings, run_audit
    from supportable.audit.run import DEFAULT_PARTITION
    settings, registry, total = state.settings, state.registry, len(items)
    policies = Path(settings.policies).resolve()
    payers = Path(settings.payers).resolve() if settings.payers else None
    edits = Path(settings.edits).resolve() if settings.edits else None
    scheduler = settings.dask_scheduler
    # the workers of a cluster read the files themselves and are checked against their digest
    digest = PolicySources.from_dirs(policies, payers, edits).digest() if scheduler else ""
    audit = Settings(str(policies), str(payers) if payers else None, str(edits) if edits else None,
                     registry.engine, payer, EXPLAIN, digest)
    with tempfile.TemporaryDirectory(prefix="supportable-day-") as folder:
        output = Path(folder) / "results.ndjson"
        # in this worker partitions cost nothing: small ones move the progress bar often
        size = DEFAULT_PARTITION if scheduler else max(10, min(DEFAULT_PARTITION, total // 50))
        job = AuditJob([], output, audit, scheduler=scheduler, progress=False, items=audit_items(items),
                       partition_size=size,
                       here=None if scheduler else ServedPolicies(registry), corpus_label="the uploaded file",
                       summary_path=Path(folder) / "summary.json",
                       on_progress=lambda n: progress.step(n, total, f"{n} of {total} claims checked"))
        try:
            summary = run_audit(job)
        except PolicyMismatch as exc:
            raise JobError(f"The cluster's workers do not have this server's policies: {exc}") from None
        except AuditError as exc:
            where = f"on the cluster at {scheduler}" if scheduler else "here"
            raise JobError(f"The claims could not be checked {where}: {exc.message}") from None
        results = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    summary.pop("summary_file", None)
    summary["output"] = "the day's results page"
    if scheduler:
        served = ServedPolicies(registry).versions()
        differ = sorted(p for p, v in summary["policy_versions"].items() if served.get(p) != v)
        if differ:
            raise JobError("The cluster's workers decided under other policies than this server serves ("
                           + ", ".join(f"`{p}` {summary['policy_versions'][p]}, here {served.get(p)}" for p in differ)
                           + "); give the workers this server's policy files.")
    return results, summary


def log_decisions(state, items: list[tuple[str, object]], results: list[dict]) -> None:
    """Give every decision an id and write it to the decision log, as ``POST /v1/check`` does."""
    from ..routes.decisions import record_decision
    for (_, document), result in zip(items, results):
        if "decision" in result:
            result["decision"] = record_decision(state, result["decision"], document)
