""""A day's claims": upload NDJSON, a JSON array or a CSV (server/web/claims_file.py, docs/web.md), decide
every encounter as a background job (server/web/jobs.py) with progress, then a table of every line
with filters (payer, verdict, code, reason), totals by verdict and by reason, and the rows as CSV.

The job runs through one function, :data:`RUN_DAY`, on the audit's path (``supportable.audit``'s
``run_audit``, server/web/day_audit.py): on a Dask cluster when the server has a scheduler
(``SUPPORTABLE_DASK_SCHEDULER``), else in the web worker with the policies it serves. The page is the
same either way and says where the claims were checked; it shows the audit's charts, and offers the
audit's summary (JSON) and report (HTML) of the upload as ``supportable audit`` writes them."""
from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from typing import Callable

from flask import Blueprint, Response, abort, redirect, request, url_for

from ..routes.common import State
from . import labels
from ..routes.x12 import payer_table
from .claims_file import CSV_COLUMNS, is_unread, read_claims
from .jobs import JobStore, Progress, finished, status_answer
from .pages import page, payer_ids

LOG = logging.getLogger("supportable")
FILTERS = ("payer", "verdict", "code", "reason")
CSV_OUT = ("encounter", "payer", "line", "code", "verdict", "overbilled", "units_billed", "units_supportable",
           "reasons", "decision_id")


def line_rows(decision: dict) -> list[dict]:
    """The page's rows of one decision document: one per billed line."""
    return [{"encounter": decision["encounter"], "decision_id": decision.get("decision_id"), "payer": decision["payer"],
             "line": line["line"], "code": line["code"],
             "verdict": line["verdict"], "overbilled": line["overbilled"], "billed": line["units"]["billed"],
             "supportable": line["units"]["supportable"],
             "reasons": [{"id": r["id"], "message": r["message"], "source": labels.source_text(r.get("source"))}
                         for r in line["reasons"]]} for line in decision["lines"]]


def run_day(state: State, items: list[tuple[str, object]], payer: str | None, progress: Progress) -> dict:
    """Decide the day's claims on the audit's path (server/web/day_audit.py): on the server's Dask
    cluster when it has one (``SUPPORTABLE_DASK_SCHEDULER``), else in this worker. The result is what
    the page shows: ``lines`` (one row per billed line), ``failed`` (one per claim not decided), the
    audit's ``summary`` and its ``charts`` (None, with ``charts_note``, when they cannot be drawn:
    the results never depend on the pictures)."""
    from .day_audit import log_decisions, run_audit_of_day
    results, summary = run_audit_of_day(state, items, payer, progress)
    log_decisions(state, items, results)
    lines, failed = [], []
    for (where, document), result in zip(items, results):
        if "decision" in result:
            lines += line_rows(result["decision"])
            continue
        ident = document.get("id") if isinstance(document, dict) else None
        error = result["error"]
        problems = labels.problems_text(document) if is_unread(document) else \
            labels.problems_text(error["problems"]) if error.get("problems") else [error.get("detail", "")]
        failed.append({"where": where, "encounter": ident if isinstance(ident, str) else None, "problems": problems})
    progress.step(len(items), len(items), "drawing the charts", force=True)
    drawn, note = draw_charts(summary)           # never raises: a picture cannot lose the results
    return {"encounters": len(items), "decided": len(items) - len(failed), "failed": failed, "lines": lines,
            "ran_on": (f"the Dask cluster at {summary['cluster']} ({len(summary['workers'])} worker(s))"
                       if state.settings.dask_scheduler else "this server"),
            "summary": summary, "charts": drawn, "charts_note": note}


def draw_charts(summary: dict) -> tuple[dict | None, str | None]:
    """The audit report's charts of ``summary``, or (None, why not)."""
    try:
        from supportable.audit.report import charts
    except ImportError:
        return None, "The charts need matplotlib (pip install 'supportable[audit-extras]'); the counts are below."
    try:
        return charts(summary), None
    except Exception:  # a picture that cannot be drawn must not lose the results
        LOG.exception("the day's charts could not be drawn")
        return None, "The charts could not be drawn (the server's log says why); the counts are below."


# The one function a day's claims run through: (state, items, payer, progress) -> result.
RUN_DAY: Callable[[State, list, str | None, Progress], dict] = run_day


def totals(lines: list[dict]) -> dict:
    by_verdict = Counter(l["verdict"] for l in lines)
    by_reason: Counter = Counter()
    messages: dict[str, str] = {}
    for l in lines:
        for r in l["reasons"]:          # lines, not reasons: a rule may give one line a reason twice (two bindings)
            messages.setdefault(r["id"], r["message"])
        by_reason.update({r["id"] for r in l["reasons"]})
    return {"lines": len(lines), "by_verdict": {v: by_verdict.get(v, 0) for v in labels.VERDICT_WORDS},
            "overbilled": sum(1 for l in lines if l["overbilled"]),
            "by_reason": [(rid, n, messages[rid]) for rid, n in by_reason.most_common()]}


def filtered(lines: list[dict], chosen: dict) -> list[dict]:
    out = lines
    for key in ("payer", "verdict", "code"):
        if chosen.get(key):
            out = [l for l in out if l[key] == chosen[key]]
    if chosen.get("reason"):
        out = [l for l in out if any(r["id"] == chosen["reason"] for r in l["reasons"])]
    return out


def install(bp: Blueprint, state: State) -> None:
    store = JobStore(state.settings.web_jobs)

    def upload_page(errors=None, status=200):
        return page("day.html", "A day's claims", payers=payer_ids(state), columns=CSV_COLUMNS, errors=errors or []), \
            status

    @bp.get("/day")
    def day():
        return upload_page()

    @bp.post("/day")
    def day_start():
        upload = request.files.get("claims_file")
        name = upload.filename if upload and upload.filename else "pasted text"
        try:
            text = upload.read().decode("utf-8-sig") if upload and upload.filename else request.form.get("claims_text", "")
            items = read_claims(name, text, payer_table(state.settings))
        except UnicodeDecodeError:
            return upload_page([f"{name} is not UTF-8 text."], 422)
        except ValueError as exc:
            return upload_page([str(exc)], 422)
        if not items:
            return upload_page([f"{name} holds no claims."], 422)
        payer = request.form.get("payer") or None
        if payer and payer not in state.registry.known:
            return upload_page([f"Unknown payer `{payer}`."], 422)
        job_id = store.start("day", lambda progress: RUN_DAY(state, items, payer, progress), total=len(items),
                             meta={"name": name, "payer": payer})
        return redirect(url_for("web.day_job", job_id=job_id), code=303)

    @bp.get("/day/jobs/<job_id>/status")
    def day_job_status(job_id: str):
        return status_answer(store, job_id)

    @bp.get("/day/jobs/<job_id>")
    def day_job(job_id: str):
        status, meta, running = finished(store, job_id, "A day's claims: checking", "web.day_job_status")
        if meta.get("kind") != "day":
            abort(404, description="There is no such job (jobs are kept for a day).")
        if running is not None:
            return running
        result = day_result(job_id)
        chosen = {k: request.args.get(k, "") for k in FILTERS}
        lines = result["lines"]
        shown = filtered(lines, chosen)
        options = {"payer": sorted({l["payer"] for l in lines}), "verdict": list(labels.VERDICT_WORDS),
                   "code": sorted({l["code"] for l in lines}),
                   "reason": sorted({r["id"] for l in lines for r in l["reasons"]})}
        return page("day_result.html", "A day's claims: results", result=result, meta=meta, job_id=job_id,
                    all_totals=totals(lines), totals=totals(shown), shown=shown, chosen=chosen, options=options,
                    labels=labels, csv_link=url_for("web.day_job_csv", job_id=job_id, **{k: v for k, v in chosen.items() if v}))

    def day_result(job_id: str) -> dict:
        """A finished day's job's result; 404 for any other job (an analyst's shares the folder)."""
        result, meta = store.result(job_id), store.meta(job_id)
        if result is None or (meta or {}).get("kind") != "day":
            abort(404, description="There is no such finished job (jobs are kept for a day).")
        return result

    def summary_of(job_id: str) -> dict:
        result = day_result(job_id)
        if "summary" not in result:
            abort(404, description="This job was checked before the audit's report and summary were kept: "
                                   "upload the file again to have them.")
        return result

    @bp.get("/day/jobs/<job_id>/summary.json")
    def day_job_summary(job_id: str):
        """The audit's summary of the upload, as ``supportable audit`` writes NAME.summary.json."""
        return Response(json.dumps(summary_of(job_id)["summary"], indent=2) + "\n", mimetype="application/json",
                        headers={"Content-Disposition": f'attachment; filename="claims-{job_id[:8]}.summary.json"'})

    @bp.get("/day/jobs/<job_id>/report.html")
    def day_job_report(job_id: str):
        """The audit's HTML report of the upload (self-contained: print it or keep it)."""
        from supportable.audit.report import render
        result = summary_of(job_id)
        return Response(render(result["summary"], result.get("charts")), mimetype="text/html")

    @bp.get("/day/jobs/<job_id>/results.csv")
    def day_job_csv(job_id: str):
        result = day_result(job_id)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_OUT)
        for l in filtered(result["lines"], {k: request.args.get(k, "") for k in FILTERS}):
            writer.writerow([l["encounter"], l["payer"], l["line"], l["code"], l["verdict"], str(l["overbilled"]).lower(),
                             l["billed"], l["supportable"], "; ".join(f"{r['id']}: {r['message']}" for r in l["reasons"]), l.get("decision_id") or ""])
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="claims-{job_id[:8]}.csv"'})
