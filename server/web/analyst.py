""""Analyst": a candidate overlay for a payer (edited in a text area or uploaded) run through lint, the
policy tests and the impact analysis on a corpus, as one background job with progress; the results
with counts by change type (and a bar chart of them).

The candidate is written into a private copy of the payers folder (``payers/<payer>.yaml``
replaced), under the job's own folder: the server's own policies are never touched. Lint and the
policy tests run over that copy; impact compares the payer's current policy with the candidate's
(as ``supportable impact``). The candidate is YAML read by the engine's safe loader, never code.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, abort, redirect, request, url_for

from supportable.engine import (CHANGE_TYPES, RULES_CHANGED, ImpactError, compare, default_payers_dir,
                                lint_policies, load_candidate, read_corpus, run_tests)

from .. import wire
from ..routes.common import State
from ..wire import tools as wire_tools
from .jobs import JobError, JobStore, Progress, finished, status_answer
from .pages import page, payer_ids

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE_CORPUS = ROOT / "examples" / "corpus" / "encounters.jsonl"
DEFAULT_MAX = 300
TOOLS = (("lint", "Lint every payer with the candidate in place"),
         ("tests", "Run the policy tests with the candidate in place"),
         ("impact", "Impact: decide a corpus under the current policy and under the candidate"))


def run_analysis(state: State, workdir: Path, payer: str, candidate: str, tools: list[str], corpus: Path | None,
                 max_encounters: int | None, progress: Progress) -> dict:
    policies = Path(state.settings.policies)
    payers = Path(state.settings.payers) if state.settings.payers else default_payers_dir(policies)
    copy = workdir / "payers"
    shutil.copytree(payers, copy)
    (copy / f"{payer}.yaml").write_text(candidate, encoding="utf-8")
    steps = len(tools)
    out: dict = {"payer": payer, "tools": tools}
    for n, tool in enumerate(tools):
        progress.step(n, steps, f"running {tool} ({n + 1} of {steps})", force=True)
        if tool == "lint":
            report = lint_policies(policies, copy, None, [])
            out["lint"] = {**wire_tools.lint_report(report), "failed": report.failed}
        elif tool == "tests":
            out["tests"] = wire_tools.policy_test_run(run_tests(None, policies, copy))
        elif tool == "impact":
            out["impact"] = _impact(policies, payers, payer, copy / f"{payer}.yaml", corpus, max_encounters,
                                    lambda done, total: progress.step(n, steps, f"impact: {done} of {total} "
                                                                      "encounters decided", force=True))
    progress.step(steps, steps, "done", force=True)
    return _shown(out, str(copy))


def _shown(value, private: str):
    """The job's private copy named as the payers folder it stands for (``payers/aetna.yaml:3:1``)."""
    if isinstance(value, str):
        return value.replace(private, "payers")
    if isinstance(value, list):
        return [_shown(v, private) for v in value]
    if isinstance(value, dict):
        return {k: _shown(v, private) for k, v in value.items()}
    return value


def _impact(policies: Path, payers: Path, payer: str, candidate: Path, corpus: Path | None, max_encounters: int | None,
            report) -> dict:
    if corpus is None:
        raise JobError("impact needs a corpus: upload one (NDJSON, one encounter a line)")
    try:
        pair = load_candidate(policies, payer, candidate, payers, dependents=False)
        items = read_corpus(corpus, max_encounters)
        result = compare(pair.current, pair.candidate, items, progress=report)
    except ImpactError as exc:
        return {"error": exc.message, "problems": wire.problem_items(exc.problems)}
    summary = result.summary()
    by_type = {t: summary["by_type"].get(t, 0) for t in CHANGE_TYPES if t != RULES_CHANGED}
    from supportable.audit.report import counts_chart
    chart = counts_chart("Lines whose decision changes, by type of change",
                         [(t.replace("->", " → ").replace("_", " "), n) for t, n in by_type.items()]) \
        if any(by_type.values()) else None
    return {"summary": summary, "by_type": by_type, "chart": chart, "policy_diff": wire.policy_diff(pair.policy_diff),
            "warnings": wire.problem_items(pair.warnings),
            "changes": [wire_tools.change(c) for c in result.changes if c.type != RULES_CHANGED][:500],
            "invalid": [wire_tools.invalid_encounter(i) for i in result.invalid][:100]}


def install(bp: Blueprint, state: State) -> None:
    store = JobStore(state.settings.web_jobs)

    def overlay_text(payer: str) -> str:
        policies = Path(state.settings.policies)
        payers = Path(state.settings.payers) if state.settings.payers else default_payers_dir(policies)
        try:
            return (payers / f"{payer}.yaml").read_text(encoding="utf-8")
        except OSError:
            return ""

    def form(errors=None, status=200, payer=None, text=None):
        overlays = [p for p in payer_ids(state) if p != "base"]
        payer = payer if payer in overlays else (overlays[0] if overlays else "")
        return page("analyst.html", "Analyst", payers=overlays, payer=payer, tools=TOOLS,
                    text=overlay_text(payer) if text is None else text, errors=errors or [], default_max=DEFAULT_MAX,
                    example_corpus=EXAMPLE_CORPUS.is_file()), status

    @bp.get("/analyst")
    def analyst():
        return form(payer=request.args.get("payer"))

    @bp.post("/analyst")
    def analyst_start():
        payer = request.form.get("payer", "")
        upload = request.files.get("candidate_file")
        try:
            text = upload.read().decode("utf-8-sig") if upload and upload.filename else request.form.get("candidate", "")
        except UnicodeDecodeError:
            return form(["The candidate file is not UTF-8 text."], 422, payer, "")
        tools = [t for t, _ in TOOLS if request.form.get(f"run-{t}")]
        errors = []
        if payer not in payer_ids(state) or payer == "base":
            errors.append(f"Choose a payer whose overlay the candidate replaces (not `{payer or 'nothing'}`).")
        if not text.strip():
            errors.append("The candidate overlay is empty: edit it in the text area or upload a YAML file.")
        if not tools:
            errors.append("Choose at least one thing to run.")
        raw_max = request.form.get("max_encounters", "").strip()
        if raw_max and not raw_max.isdigit():
            errors.append(f"Encounters to read: `{raw_max}` is not a whole number.")
        if errors:
            return form(errors, 422, payer, text)
        workdir = Path(tempfile.mkdtemp(prefix="supportable-analyst-"))
        corpus_upload = request.files.get("corpus_file")
        if corpus_upload and corpus_upload.filename:
            corpus: Path | None = workdir / "corpus.jsonl"
            corpus_upload.save(corpus)
        else:
            corpus = EXAMPLE_CORPUS if EXAMPLE_CORPUS.is_file() else None
        max_encounters = int(raw_max) if raw_max else DEFAULT_MAX

        def work(progress: Progress) -> dict:
            try:
                return run_analysis(state, workdir, payer, text, tools, corpus, max_encounters or None, progress)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)

        job_id = store.start("analyst", work, total=len(tools), meta={"payer": payer, "tools": tools})
        return redirect(url_for("web.analyst_job", job_id=job_id), code=303)

    @bp.get("/analyst/jobs/<job_id>/status")
    def analyst_job_status(job_id: str):
        return status_answer(store, job_id)

    @bp.get("/analyst/jobs/<job_id>")
    def analyst_job(job_id: str):
        status, meta, running = finished(store, job_id, "Analyst: running", "web.analyst_job_status")
        if meta.get("kind") != "analyst":          # a day's job shares the folder
            abort(404, description="There is no such job (jobs are kept for a day).")
        if running is not None:
            return running
        return page("analyst_result.html", f"Analyst: candidate for {meta['payer']}", result=store.result(job_id) or {},
                    meta=meta)
