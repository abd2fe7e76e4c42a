"""The summary of an audit as text, for the terminal."""
from __future__ import annotations


def render_summary(s: dict) -> str:
    out = [f"audited {s['encounters']} encounter(s) in {s['elapsed_s']} s ({s['encounters_per_s']} encounters/s) "
           f"on {s['cluster']}",
           f"  decided {s['decided']}, invalid {s['invalid']} (reported in place); {s['lines']} line(s)",
           "  verdicts: " + (", ".join(f"{v} {n}" for v, n in s["by_verdict"].items()) or "none"),
           f"  units: billed {s['units']['billed']}, supportable {s['units']['supportable']}"]
    money = s["money"]
    if money["lines_with_charge"]:
        out.append(f"  money: {money['lines_with_charge']} line(s) with a charge, {money['charged']:.2f} charged, "
                   f"{money['at_risk']:.2f} at risk")
    else:
        out.append("  money: no line carries a `charge`; nothing to put at risk")
    out.append("  by payer:")
    for payer, counts in s["by_payer"].items():
        rest = ", ".join(f"{k} {v}" for k, v in counts.items() if k != "encounters")
        out.append(f"    {payer}: {counts.get('encounters', 0)} encounter(s); {rest}")
    if s["top_reasons"]:
        out.append("  top reasons:")
        out += [f"    {r['lines']:>7}  {r['id']}" for r in s["top_reasons"][:10]]
    if s["invalid_by_problem"]:
        out.append("  invalid, by problem: " + ", ".join(f"{k} {v}" for k, v in s["invalid_by_problem"].items()))
    out.append(f"  history: {s['history']} ({s['history_note']})")
    out.append(f"  results: {s['output']}; summary: {s['summary_file']}")
    if s.get("report_file"):
        out.append(f"  report: {s['report_file']}")
    return "\n".join(out)
