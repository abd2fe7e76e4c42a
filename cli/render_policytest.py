"""The text form of a policy-test run (``supportable test``): one PASS/FAIL/ERROR line per case, a
diff of expected against actual for each failing line, the errors outside any case, rule coverage
and the summary."""
from __future__ import annotations

from supportable.engine import Coverage, ERROR, FAILED, Mismatch, PASSED, PolicyTestRun
from supportable.server.wire.tools import coverage


def render_text(run: PolicyTestRun, coverage: bool = False) -> str:
    out: list[str] = []
    for r in run.results:
        label = {PASSED: "PASS", FAILED: "FAIL", ERROR: "ERROR"}[r.status]
        out.append(f"{label} {r.case.file}:{r.case.location.line} {r.case.name}")
        if r.status == FAILED:
            for line in r.lines:
                if not line.mismatches:
                    continue
                out.append(f"    line {line.line} ({line.code}):")
                for m in line.mismatches:
                    out.append(f"      {m.field}:")
                    out += _diff(m)
                out.append(f"      rules fired: {', '.join(line.fired) if line.fired else '(none)'}")
        for p in r.problems:
            out.append(f"    {p}")
    for e in run.errors:
        out.append(f"ERROR {e.problem}")
        for d in e.details:
            out.append(f"    {d}")
    if coverage and run.coverage is not None:
        out += [""] + render_coverage(run.coverage)
    out += ["", run.summary()]
    return "\n".join(out)


def _show(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _diff(m: Mismatch) -> list[str]:
    if m.field == "reasons":
        lines = [f"        - expected to fire: {_show(m.expected)}", f"        + fired:            {_show(m.actual)}"]
    elif m.field == "not_reasons":
        lines = [f"        - expected not to fire: {_show(m.expected)}",
                 f"        + fired:                {_show(m.actual)}"]
    else:
        lines = [f"        - expected: {_show(m.expected)}", f"        + actual:   {_show(m.actual)}"]
    return lines


def render_coverage(cov: Coverage) -> list[str]:
    data = coverage(cov)
    out = ["Rule coverage (a rule is exercised when it appears in a line's derivation or was tried in a why-not):"]
    for payer, fig in data["payers"].items():
        out.append(f"  payer {payer} ({' > '.join(fig['chain'])}; {fig['cases']} case(s)): "
                   f"{fig['exercised']} of {fig['rules']} rules exercised"
                   + (f"; {len(fig['never_apply'])} never apply under its parameters" if fig["never_apply"] else ""))
    for f in data["files"]:
        if not f["rules"]:
            out.append(f"  {f['file']}: no rule applies under the tested payers")
            continue
        head = f"  {f['file']}: {f['exercised']} of {f['rules']} rules exercised"
        if not f["not_exercised"]:
            out.append(head)
            continue
        out.append(head + "; not exercised:")
        for r in f["not_exercised"]:
            some = r["payers"] != sorted(data["payers"])
            out.append(f"    {r['id']} ({r['location']}" + (f"; in {', '.join(r['payers'])}" if some else "") + ")")
    t = data["total"]
    out.append(f"Coverage: {t['exercised']} of {t['rules']} rules exercised ({t['percent']}%)")
    return out
