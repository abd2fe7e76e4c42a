"""The human-readable form of a decision, of what a payer requires for a code, of a diff and of the
payers: reads like an auditor's note, not a data dump. Each reads the documents the JSON output
sends (server/wire), so text and JSON cannot say different things."""
from __future__ import annotations

from supportable.engine import DERIVED_ELEMENTS, RULE_NOTE, VERDICTS

_VERDICT = {v: v.replace("_", " ").upper() for v in VERDICTS}
_METHOD = {"cpt_per_code": "timed units counted per code (CPT midpoint rule)",
           "total_time": "timed units from the visit's total timed minutes (Medicare 8-minute rule)"}


def _cite(rule: dict, edits=()) -> str:
    """``[layer: id; source, section; edit rows]`` of a rule entry (wire.RuleEntry)."""
    where = f", {rule['source']['section']}" if rule["source"]["section"] else ""
    layer = "" if rule["layer"] == "base" else f"{_layer(rule)}: "
    rows = "".join(f"; edit row of {e['layer']} at {e['location']} (confidence {e['confidence']})"
                   for e in edits if e["layer"] != "base")
    return f"[{layer}{rule['id']}; {rule['source']['file']}{where}{rows}]"


def _layer(rule: dict) -> str:
    if rule.get("replaces"):
        return f"{rule['layer']}, replacing {rule['replaces']['layer']}"
    return rule["layer"]


def render_decision(view: dict, explain: bool = False) -> str:
    """The text of a decision from its wire.DecisionText (``wire.decision_text``)."""
    decision, method = view["decision"], view["method"]
    out = [f"Encounter {decision['encounter']}, date of service {decision['date_of_service']}, payer "
           f"{decision['payer']}",
           f"Policy version {decision['policy_version']}; {_METHOD.get(method or '', method or 'no unit method')}.",
           ""]
    for line in decision["lines"]:
        out += _render_line(line, view["rules"], explain)
        out.append("")
    counts = ", ".join(f"{sum(1 for l in decision['lines'] if l['verdict'] == v)} {v.replace('_', ' ')}"
                       for v in _VERDICT)
    over = sum(1 for l in decision["lines"] if l["overbilled"])
    out.append(f"Summary: {counts}" + (f"; {over} line(s) over-billed." if over else "."))
    return "\n".join(out)


def _headline(line: dict) -> str:
    billed, supportable = line["units"]["billed"], line["units"]["supportable"]
    if line["overbilled"]:
        return (f"Line {line['line']}: {line['code']} — SUPPORTABLE FOR {supportable} OF {billed} "
                f"BILLED UNITS — over-billed by {billed - supportable}")
    units = f"{supportable} of {billed} billed unit(s) supportable"
    if line["units"].get("minutes_recorded") is False:
        units += "; minutes not recorded"
    return f"Line {line['line']}: {line['code']} — {_VERDICT[line['verdict']]} ({units})"


def _unit_premises(proof: dict, rules: dict) -> list[dict]:
    """The rules the units rest on, one level down (the code's units behind a line's)."""
    return [p for p in proof.get("premises", []) if p["kind"] == "rule" and rules[p["rule"]["id"]]["kind"] == "units"]


def remit_text(reason: dict) -> str:
    """The reason's remittance codes as the text shows them after its message: ` (CARC 16, RARC N706)`."""
    if not reason.get("carc"):
        return ""
    return f" (CARC {reason['carc']}" + (f", RARC {reason['rarc']}" if reason.get("rarc") else "") + ")"


def _fix_text(fix: dict) -> str:
    action = fix["action"]
    if action == "add_documentation":
        element = fix["element"]
        if "line" in fix:       # another line's element, which this line's units rest on
            field = DERIVED_ELEMENTS.get(element, "").split(".")[-1] or element
            return f"state line {fix['line']}'s `{field}` (`{element}`)"
        if element in DERIVED_ELEMENTS:
            return f"state it in the line's `{DERIVED_ELEMENTS[element].split('.')[-1]}` (`{element}`)"
        return f"document `{element}`"
    if action == "add_modifier":
        return f"add modifier {' or '.join(fix['one_of']) if 'one_of' in fix else fix['modifier']}"
    return {"remove_modifier": f"remove modifier {fix.get('modifier')}", "bill_instead": f"bill {fix.get('code')} instead",
            "reduce_units": f"reduce the billed units to {fix.get('units')}"}[action]


def _render_line(line: dict, rules: dict, explain: bool) -> list[str]:
    out = [_headline(line)]
    proofs = line["proof"]["derivations"]
    if line["verdict"] == "supportable" and line["units"]["supportable"] > line["units"]["billed"]:
        out.append(f"  Note: the record supports {line['units']['supportable']} unit(s); only {line['units']['billed']} "
                   "billed.")
    if line["reasons"]:
        out.append("  Why:")
        for r in line["reasons"]:
            out.append(f"    - {r['message']}{remit_text(r)} {_cite(rules[r['id']], r.get('edits', ()))}")
        if line["overbilled"]:
            for p in proofs[:1]:
                out += [f"      {q['because']} {_cite(rules[q['rule']['id']])}" for q in _unit_premises(p, rules)]
    elif line["verdict"] == "supportable":
        out.append("  No rule denies this line.")
        for p in proofs[:1]:
            out.append(f"    - {p['because']} {_cite(rules[p['rule']['id']])}")
            out += [f"      {q['because']} {_cite(rules[q['rule']['id']])}" for q in _unit_premises(p, rules)]
    for s in line["suggested_codes"]:
        out.append(f"  Suggested code: {s['code']} — {s['message']} {_cite(rules[s['rule']])}")
    if line["missing_documentation"]:
        out.append(f"  Missing documentation: {', '.join(line['missing_documentation'])}")
    if line["fixes"]:
        out.append("  To make it supportable:")
        for f in line["fixes"]:
            out.append(f"    - {_fix_text(f)} (satisfies {f['satisfies']})")
    if line["advice"]:
        out.append("  For information (denies nothing):")
        for a in line["advice"]:
            out.append(f"    - {a['message']} {_cite(rules[a['id']])}")
    if explain:
        out.append("  Proof:")
        for p in proofs:
            out += _tree(p, 2)
        if line["proof"]["why_not_denied"]:
            out.append("  No denial applies:")
            for a in line["proof"]["why_not_denied"]:
                out += _attempt(a, 2)
    return out


def _tree(node: dict, depth: int) -> list[str]:
    pad = "  " * depth
    if node["kind"] == "rule":
        lines = [f"{pad}{node['statement']}  by {node['rule']['id']} ({_layer(node['rule'])}): {node['because']}"]
    elif node["kind"] == "fact" and node.get("origin") == "parameter" and "parameter" in node:
        param = node["parameter"]
        lines = [f"{pad}{node['statement']}  (parameter set by {param['layer']} at {param['location']}; "
                 f"{param['source']['file']}, {param['source']['section']})"]
    elif node["kind"] == "fact":
        lines = [f"{pad}{node['statement']}  ({node.get('origin', '')} fact)"]
    elif node["kind"] == "builtin":
        lines = [f"{pad}{node['statement']}  ({node.get('description', '')})"]
    else:
        lines = [f"{pad}{node['statement']}  ({node['kind']})"]
    for p in node.get("premises", []):
        lines += _tree(p, depth + 1)
    return lines


def _attempt(a: dict, depth: int) -> list[str]:
    pad = "  " * depth
    what = {"missing": "does not hold", "present": "holds, so its negation fails", "false": "is false",
            "no_result": "gives no result", "holds": "holds"}[a["reason"]]
    lines = [f"{pad}{a['rule']['id']}: {a['failed_premise']} {what}"]
    for n in a.get("because_not", []):
        lines += _attempt(n, depth + 1)
    return lines


def _effective(eff: dict) -> str:
    return RULE_NOTE.text(eff.get("from"), eff.get("to"))


def _rule_line(r: dict) -> list[str]:
    layer = r["layer"] + (f", replacing {r['replaces']['layer']}" if r.get("replaces") else "")
    src = r["source"]["file"] + (f", {r['source']['section']}" if r["source"]["section"] else "")
    return [f"  - {r['because']}{_effective(r['effective'])}",
            f"      {r['id']} ({layer}; {r['location']}) [{src}]",
            f"      {r['rule']}"]


def _edit_line(e: dict, code: str) -> str:
    where = f"{e['layer']}; {e['location']}"
    status = "" if e["status"] == "active" else f" [{e['status']}, not applied]"
    eff = _effective(e["effective"])
    src = e["source"]["file"] + (f", {e['source']['section']}" if e["source"]["section"] else "")
    if e["table"] == "mue":
        return (f"  - at most {e['units']} unit(s): {e['meaning']}{eff}; confidence {e['confidence']}{status} "
                f"({where}) [{src}]")
    other = e["column2"] if e["column1"] == code else e["column1"]
    role = f"column 1, {other} is column 2" if e["column1"] == code else f"column 2 of {other}"
    ways = f"; distinct by {', '.join(e['distinct_by'])}" if e["distinct_by"] and e["modifier_indicator"] == 1 else ""
    return (f"  - {code} is {role}: modifier indicator {e['modifier_indicator']} ({e['meaning']}){ways}{eff}; "
            f"confidence {e['confidence']}{status} ({where}) [{src}]")


def render_code_requirements(report: dict) -> str:
    code = report["code"]
    out = [f"{code['code']} {code['name']} under {report['name']} (payer {report['payer']}; layers "
           f"{' > '.join(report['chain'])}; policy version {report['policy_version']})",
           f"{code['description']}",
           f"Kind: {code['kind']}{', one-on-one' if code['one_on_one'] else ''}{', group' if code['group'] else ''}."
           f" Units: {code['unit_basis_meaning'] or code['unit_basis']}."]
    if code["add_on_to"]:
        out.append(f"An add-on, billed with {' or '.join(code['add_on_to'])} on the same day.")
    if code["add_ons"]:
        out.append(f"Further increments are billed with the add-on {' or '.join(code['add_ons'])}.")
    if code["regions"]:
        r = code["regions"]
        out.append(f"Covers {r['min']} to {r['max']} {r['kind']} region(s).")
    method = report.get("unit_method")
    if method:
        out.append(f"Unit method: {method['value']} (set by {method['layer']}; {method['source']['file']}, "
                   f"{method['source']['section']}).")
    edits = report.get("edits") or {}
    pairs = edits.get("column1_of", []) + edits.get("column2_of", [])
    out += ["", "Code-pair edits (NCCI PTP):"]
    out += [_edit_line(e, code["code"]) for e in pairs] or ["  (none)"]
    out += [f"  - disabled by {d['layer']}: {'/'.join(d['key'])}: {d['reason']}" for d in edits.get("disabled", [])]
    out += ["", "Medically unlikely edit (MUE):"]
    out += [_edit_line(e, code["code"]) for e in edits.get("mue", [])] or ["  (none)"]
    for key, title in (("requirements", "A line billing this code is denied when"),
                       ("units", "Units"), ("suggestions", "Another code is suggested when")):
        out += ["", f"{title}:"]
        out += [x for r in report[key] for x in _rule_line(r)] or ["  (none)"]
    if report["disabled"]:
        out += ["", "Switched off by this payer:"]
        for d in report["disabled"]:
            out.append(f"  - {d['id']} (from {d['was']['layer']}), disabled by {d['layer']}: {d['reason']}")
    if report["parameters"]:
        out += ["", "Parameters these rules read:"]
        for p in report["parameters"]:
            value = p.get("value", None) if "value" in p else ", ".join(f"{r['key']}: {r['value']}" for r in p["table"])
            out.append(f"  - {p['name']} = {value} (set by {p['layer']}): {p['description']}")
    return "\n".join(out)


def render_diff(report: dict) -> str:
    a, b = report["from"], report["to"]
    s = report["summary"]
    out = [f"{a['payer']} ({' > '.join(a['chain'])}, {a['policy_version']}) -> "
           f"{b['payer']} ({' > '.join(b['chain'])}, {b['policy_version']})",
           f"{s['added']} added, {s['replaced']} replaced, {s['removed']} disabled or absent, "
           f"{s['parameters']} parameter(s) differ, {s.get('edits', 0)} edit table change(s)."]
    if report["added"]:
        out += ["", "Added:"]
        out += [f"  + {r['id']} ({r['layer']}; {r['location']}): {r['because']}{_effective(r['effective'])}"
                for r in report["added"]]
    if report["replaced"]:
        out += ["", "Replaced:"]
        for r in report["replaced"]:
            out.append(f"  ~ {r['id']}")
            for side in ("before", "after"):
                v = r[side]
                out += [f"      {side:<6} ({v['layer']}; {v['location']}): {v['rule']}{_effective(v['effective'])}",
                        f"               because: {v['because']}"]
    if report["removed"]:
        out += ["", "Disabled or absent:"]
        for r in report["removed"]:
            rule = r["rule"]
            if r["change"] == "disabled":
                out.append(f"  - {rule['id']} ({rule['layer']}): disabled by {r['by']['layer']} at "
                           f"{r['by']['location']}: {r['by']['reason']}")
            else:
                out.append(f"  - {rule['id']} ({rule['layer']}): not in {b['payer']}")
    if report["parameters"]:
        out += ["", "Parameters:"]
        for p in report["parameters"]:
            out.append(f"  * {p['name']}: {param_text(p['before'])} -> {param_text(p['after'])}")
    if report.get("edits"):
        out += ["", "Edit tables:"]
        for e in report["edits"]:
            who = b["payer"] if e["side"] == "to" else a["payer"]
            if e["action"] == "add":
                key = f"{e['column1']}/{e['column2']}" if e["table"] == "ptp" else e["code"]
                out.append(f"  + {e['table'].upper()} {key} added by {e['layer']} ({who}; {e['location']})")
            else:
                changes = ", ".join(f"{k} {v}" for k, v in e["changes"].items())
                verb = {"override": "overridden", "disable": "disabled"}[e["action"]]
                out.append(f"  ~ {e['table'].upper()} {'/'.join(e['key'])} {verb} by {e['layer']} ({who}; "
                           f"{e['location']}){': ' + changes if changes else ''}: {e['reason']}")
    return "\n".join(out)


def param_text(p: dict | None) -> str:
    if p is None:
        return "(not set)"
    if "value" in p:
        return f"{p['value']} ({p['layer']})"
    return "{" + ", ".join(f"{r['key']}: {r['value']}" for r in p["table"]) + f"}} ({p['layer']})"


def render_payers(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if "error" in r:
            out.append(f"{r['id']}: DOES NOT LOAD")
            out += [f"    {p.get('file', '')}:{p.get('line', '')}:{p.get('column', '')}: {p['message']} [{p['code']}]"
                    for p in r["problems"]]
            continue
        eff = _effective(r["effective"]).strip() or "(always in force)"
        extends = f" extends {r['extends']}" if r["extends"] else ""
        out.append(f"{r['id']}: {r['name']}{extends}; {r['rules']} rules; {eff}; {r['policy_version']}")
    return "\n".join(out)
