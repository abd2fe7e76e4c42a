"""A day's claims on the audit's path (issue 15): when the server is given a Dask scheduler
(``SUPPORTABLE_DASK_SCHEDULER``), the day's encounters are decided by ``supportable.audit`` on that
cluster, as ``supportable audit --scheduler`` decides a corpus (policies loaded once per worker, the
policy version checked equal on every worker, results in input order), and the page shows them as
it shows those decided in the web worker (server/web/day.py ``run_claims``).

The encounters go to the cluster as an NDJSON file in the job's own temporary folder; progress comes
from the audit as it writes each partition's results."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from supportable.engine import PolicySources

from ..registry import current_engine
from . import labels
from .day import line_rows
from .jobs import JobError, Progress


def run_on_cluster(state, items: list[tuple[str, object]], payer: str | None, progress: Progress) -> dict:
    from supportable.audit import AuditError, AuditJob, PolicyMismatch, Settings, run_audit
    settings = state.settings
    documents = [(where, d) for where, d in items if not isinstance(d, list)]   # a list: problems found reading
    unread = len(items) - len(documents)
    total = len(items)
    policies = Path(settings.policies).resolve()
    payers = Path(settings.payers).resolve() if settings.payers else None
    edits = Path(settings.edits).resolve() if settings.edits else None
    sources = PolicySources.from_dirs(policies, payers, edits)
    audit = Settings(str(policies), str(payers) if payers else None, str(edits) if edits else None,
                     current_engine(), payer, "summary", sources.digest())
    with tempfile.TemporaryDirectory(prefix="supportable-day-") as folder:
        corpus, output = Path(folder) / "claims.ndjson", Path(folder) / "results.ndjson"
        corpus.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for _, d in documents))
        job = AuditJob([corpus], output, audit, scheduler=settings.dask_scheduler, progress=False,
                       on_progress=lambda n: progress.step(n + unread, total, f"{n + unread} of {total} claims checked"))
        try:
            summary = run_audit(job)
        except PolicyMismatch as exc:
            raise JobError(f"The cluster's workers do not have this server's policies: {exc}") from None
        except AuditError as exc:
            raise JobError(f"The claims could not be checked on the cluster at {settings.dask_scheduler}: "
                           f"{exc.message}") from None
        results = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    lines, failed = [], []
    decided = iter(results)
    for where, document in items:               # in the order of the file, as run_claims lists them
        if isinstance(document, list):
            failed.append({"where": where, "encounter": None, "problems": labels.problems_text(document)})
            continue
        result = next(decided)
        if "decision" in result:
            lines += line_rows(result["decision"])
        else:
            error = result["error"]
            ident = document.get("id") if isinstance(document, dict) else None
            failed.append({"where": where, "encounter": ident if isinstance(ident, str) else None,
                           "problems": labels.problems_text(error["problems"]) if error.get("problems")
                           else [error.get("detail", "")]})
    return {"encounters": total, "decided": total - len(failed), "failed": failed, "lines": lines,
            "ran_on": f"the Dask cluster at {settings.dask_scheduler} ({len(summary['workers'])} worker(s))"}
