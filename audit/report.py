"""An audit's HTML report: one self-contained file (no script, no font, no image fetched from anywhere)
with the verdict mix, the top reasons, verdicts and money at risk by payer, the units, invalid
encounters by problem and the slowest encounters.

The charts are drawn by matplotlib, each on a Figure of its own without pyplot (so safe in threads),
and embedded as inline SVG (text drawn as paths, so no font is needed to show them); everything else
is HTML tables. The report is built
from the summary document alone (``write_report(summary, path)``), so a summary file written by an
earlier audit can be rendered again (``python -m supportable.audit.report SUMMARY.json OUT.html``).
"""
from __future__ import annotations

import functools
import html
import io
import json
import re
import sys
from pathlib import Path

VERDICT_ORDER = ("supportable", "needs_documentation", "not_supportable")
COLOURS = {"supportable": "#2e7d32", "needs_documentation": "#f9a825", "not_supportable": "#c62828"}
TOP = 15


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]          # drop the XML prolog and DOCTYPE: inline in HTML
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)   # the RDF block names outside URIs


def _figure(width: float, height: float):
    """A figure and its axes, made without pyplot: no global figure state, so reports can be drawn in
    several threads at once (the web server's day jobs)."""
    from matplotlib.figure import Figure
    _settings()
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


@functools.cache
def _settings() -> None:
    """matplotlib's settings for every chart, set once a process (they are global: the same for all)."""
    import matplotlib
    matplotlib.rcParams["text.parse_math"] = False     # labels are data (payer names, rule ids): `$` is a dollar
    matplotlib.rcParams["svg.fonttype"] = "path"
    matplotlib.rcParams["svg.hashsalt"] = "supportable-audit"     # stable element ids: the same report twice


def verdict_chart(summary: dict) -> str:
    counts = [summary["by_verdict"].get(v, 0) for v in VERDICT_ORDER]
    fig, ax = _figure(6, 2.4)
    bars = ax.barh(list(VERDICT_ORDER), counts, color=[COLOURS[v] for v in VERDICT_ORDER])
    ax.bar_label(bars, labels=[f"{c} ({100 * c / (sum(counts) or 1):.0f}%)" for c in counts], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("lines")
    ax.set_title("Verdicts of all lines")
    ax.margins(x=0.25)
    return _svg(fig)


PAYERS_SHOWN = 12          # payers drawn by name; the rest (names from the input, unknown ones) as one bar


def _payer_rows(summary: dict) -> list[tuple[str, dict]]:
    """The payers to draw, most lines first, at most PAYERS_SHOWN of them, the others summed in one row."""
    if len(summary["by_payer"]) <= PAYERS_SHOWN:
        return list(summary["by_payer"].items())
    ranked = sorted(summary["by_payer"].items(), key=lambda kv: (-kv[1].get("lines", 0), -kv[1].get("encounters", 0), kv[0]))
    shown, rest = ranked[:PAYERS_SHOWN - 1], ranked[PAYERS_SHOWN - 1:]
    other: dict = {}
    for _, counts in rest:
        for key, n in counts.items():
            other[key] = other.get(key, 0) + n
    return shown + [(f"{len(rest)} other payers", other)]


def payer_chart(summary: dict) -> str:
    rows = _payer_rows(summary)
    payers = [name for name, _ in rows]
    fig, ax = _figure(7, 0.5 * len(payers) + 1.4)
    left = [0] * len(payers)
    for verdict in VERDICT_ORDER:
        values = [counts.get(verdict, 0) for _, counts in rows]
        ax.barh(payers, values, left=left, color=COLOURS[verdict], label=verdict)
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("lines")
    ax.set_title("Verdicts by payer")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize="small", frameon=False)
    return _svg(fig)


def counts_chart(title: str, counts: list[tuple[str, int]], unit: str = "lines", colour: str = "#546e7a") -> str:
    """A horizontal bar chart of (label, count), largest first as given, each bar labelled with its count."""
    fig, ax = _figure(8, 0.32 * len(counts) + 1.2)
    bars = ax.barh([label for label, _ in counts], [n for _, n in counts], color=colour)
    ax.bar_label(bars, padding=3, fontsize="small")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize="small")
    ax.set_xlabel(unit)
    ax.set_title(title)
    ax.margins(x=0.15)
    return _svg(fig)


def reasons_chart(summary: dict) -> str:
    reasons = summary["top_reasons"][:TOP]
    if not reasons:
        return "<p>No line was refused or reduced for a reason.</p>"
    return counts_chart(f"Top {len(reasons)} reasons", [(r["id"], r["lines"]) for r in reasons])


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.charts svg{max-width:100%;height:auto}.note{color:#555}"""


def charts(summary: dict) -> dict[str, str]:
    """The report's charts as inline SVG: ``verdicts``, ``payers`` and ``reasons`` (the web's day page
    shows these same charts)."""
    return {"verdicts": verdict_chart(summary), "payers": payer_chart(summary), "reasons": reasons_chart(summary)}


def render(summary: dict, drawn: dict[str, str] | None = None) -> str:
    """The report of ``summary``; ``drawn``: its charts when already drawn (``charts``)."""
    s, money, units = summary, summary["money"], summary["units"]
    drawn = drawn or charts(summary)
    payer_rows = [[p, c.get("encounters", 0), c.get("invalid", 0), c.get("lines", 0),
                   *[c.get(v, 0) for v in VERDICT_ORDER], f"{money['at_risk_by_payer'].get(p, 0):.2f}"]
                  for p, c in s["by_payer"].items()]
    code_rows = [[code, c.get("lines", 0), *[c.get(v, 0) for v in VERDICT_ORDER]] for code, c in s["by_code"].items()]
    money_text = (f"{money['lines_with_charge']} line(s) carry a charge: {money['charged']:.2f} charged, "
                  f"<strong>{money['at_risk']:.2f} at risk</strong> (the charge of the billed units a line does "
                  "not support)" if money["lines_with_charge"] else "No line carries a <code>charge</code>: "
                  "no money at risk is counted.")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Supportable audit report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Supportable audit report</h1>",
        f"<p>{s['encounters']} encounter(s) from {html.escape(', '.join(s['corpus']))}: {s['decided']} decided, "
        f"{s['invalid']} invalid (reported in place in {html.escape(s['output'])}); {s['lines']} line(s). "
        f"Payer: {html.escape(s['payer'])}. History: {html.escape(s['history'])} "
        f"({html.escape(s['history_note'])}).</p>",
        f"<p class='note'>Decided on {html.escape(str(s['cluster']))} in {s['elapsed_s']} s "
        f"({s['encounters_per_s']} encounters/s); engine {html.escape(s['engine'])}; policy versions: "
        + html.escape(", ".join(f"{p} {v}" for p, v in s["policy_versions"].items())) + ".</p>",
        f"<h2>Units and money</h2><p>Units billed {units['billed']}, supportable {units['supportable']}, "
        f"not supportable {units['not_supportable']}. {money_text}</p>",
        "<h2>Verdicts</h2><div class='charts'>", drawn["verdicts"], "</div>",
        "<h2>By payer</h2><div class='charts'>", drawn["payers"], "</div>",
        _table(["payer", "encounters", "invalid", "lines", *VERDICT_ORDER, "at risk"], payer_rows),
        "<h2>Top reasons</h2><div class='charts'>", drawn["reasons"], "</div>",
        _table(["reason", "lines"], [[r["id"], r["lines"]] for r in s["top_reasons"]]),
        "<h2>By code</h2>", _table(["code", "lines", *VERDICT_ORDER], code_rows),
        "<h2>Invalid encounters by problem</h2>",
        _table(["problem", "encounters"], list(map(list, s["invalid_by_problem"].items())))
        if s["invalid_by_problem"] else "<p>None.</p>",
        "<h2>Slowest encounters</h2>",
        _table(["ms", "index", "source", "encounter"], [[e["ms"], e["index"], e["source"], e["encounter"] or "(invalid)"]
                                                       for e in s["slowest"]]),
        "</body></html>\n",
    ]
    return "".join(parts)


def write_report(summary: dict, path: Path) -> None:
    Path(path).write_text(render(summary), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m supportable.audit.report SUMMARY.json OUT.html")
    write_report(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
