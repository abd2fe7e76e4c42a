"""A decision as a FHIR R4 ``ClaimResponse`` (docs/fhir.md): one ``item`` per Claim item, whose
adjudications carry the verdict, the billed and supportable units and every reason (its rule id,
and the X12 claim adjustment reason and remark codes when the reason names them), with the rules'
messages and sources as process notes. Built from the decision document (``server.wire.decision``),
so the ClaimResponse says exactly what ``/v1/check`` says."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from . import systems as s


def _json(model) -> dict:
    return json.loads(model.model_dump_json(exclude_none=True))


def _outside(ref) -> dict:
    """A Claim's reference as the ClaimResponse may carry it: a reference into the Claim's own
    contained resources (``#id``) means nothing outside the Claim, so only its identifier and display
    are kept."""
    out = _json(ref)
    if str(out.get("reference", "")).startswith("#"):
        out.pop("reference")
        out.setdefault("display", ref.reference[1:])
    return out


def _concept(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _x12_codings(value, system: str) -> list[dict]:
    """``carc`` / ``rarc`` of a reason as codings: a code, ``{code, description}``, or a list of them;
    absent gives none."""
    if value is None:
        return []
    out = []
    for v in value if isinstance(value, list) else [value]:
        code = v.get("code") if isinstance(v, dict) else v
        if code in (None, ""):
            continue
        coding = {"system": system, "code": str(code)}
        display = (v.get("description") or v.get("display")) if isinstance(v, dict) else None
        if display:
            coding["display"] = str(display)
        out.append(coding)
    return out


def reason_concept(reason: dict) -> dict:
    """A reason as adjudication.reason: our rule id, then its CARC and RARC codings where it has them."""
    coding = [{"system": s.CS_RULE, "code": reason["id"]}]
    coding += _x12_codings(reason.get("carc"), s.CARC)
    coding += _x12_codings(reason.get("rarc"), s.RARC)
    return {"coding": coding, "text": reason["message"]}


def _source(source: dict) -> str:
    return source["file"] + (f", {source['section']}" if source.get("section") else "")


def _amount(value) -> dict:
    return {"value": value}


def _notes_for(line: dict, notes: list[dict]) -> list[int]:
    numbers = []

    def add(text: str) -> None:
        notes.append({"number": len(notes) + 1, "type": "display", "text": text})
        numbers.append(len(notes))

    for r in line["reasons"]:
        add(f"{r['message']} [{r['id']}; {_source(r['source'])}]")
    for element in line["missing_documentation"]:
        add(f"documentation missing: {element}")
    for c in line["suggested_codes"]:
        add(f"suggested code {c['code']}: {c['message']} [{c['rule']}]")
    for f in line["fixes"]:
        value = next((f[k] for k in ("element", "modifier", "one_of", "code", "units") if k in f), "")
        add(f"to make it supportable: {f['action'].replace('_', ' ')} {value} (satisfies {f['satisfies']})")
    for a in line["advice"]:
        add(f"advice: {a['message']} [{a['id']}; {_source(a['source'])}]")
    return numbers


def _item(line: dict, sequence: int, notes: list[dict]) -> dict:
    units = line["units"]
    verdict = s.ADJ_VERDICTS[line["verdict"]]
    adjudication = [
        {"category": _concept(s.CS_ADJUDICATION, verdict), "value": units["supportable"]},
        {"category": _concept(s.CS_ADJUDICATION, s.ADJ_BILLED), "value": units["billed"]},
        {"category": _concept(s.CS_ADJUDICATION, s.ADJ_SUPPORTABLE), "value": units["supportable"]}]
    if line["overbilled"]:
        adjudication.append({"category": _concept(s.CS_ADJUDICATION, s.ADJ_OVERBILLED),
                             "value": units["billed"] - units["supportable"]})
    for r in line["reasons"]:
        adjudication.append({
            "extension": [{"url": s.EXT_RULE_SOURCE, "valueString": _source(r["source"])},
                          {"url": s.EXT_RULE_LAYER, "valueCode": r["layer"]}],
            "category": _concept(s.CS_ADJUDICATION, s.ADJ_REASON), "reason": reason_concept(r)})
    out = {"itemSequence": sequence, "adjudication": adjudication}
    numbers = _notes_for(line, notes)
    if numbers:
        out["noteNumber"] = numbers
    return out


def outcome_of(lines: list[dict]) -> str:
    """``complete``: every item supportable for every unit billed; ``error``: no item supportable for
    any unit; ``partial``: in between (docs/fhir.md)."""
    if all(l["verdict"] == "supportable" and not l["overbilled"] for l in lines):
        return "complete"
    if all(l["units"]["supportable"] == 0 or l["verdict"] != "supportable" for l in lines):
        return "error"
    return "partial"


def claim_response(decision: dict, claim, sequences: list[int], decided_at: str | None = None) -> dict:
    """The ClaimResponse of ``decision`` (a decision document, with ``decision_id`` when it has one)
    for ``claim`` (the R4B Claim it was read from); ``sequences``: the item sequence of each line."""
    notes: list[dict] = []
    by_line = {str(seq): seq for seq in sequences}
    items = [_item(line, by_line.get(line["line"], i + 1), notes) for i, line in enumerate(decision["lines"])]
    summary = decision["summary"]
    disposition = (f"{summary['supportable']} supportable, {summary['needs_documentation']} needs documentation, "
                   f"{summary['not_supportable']} not supportable; {summary['overbilled']} over-billed "
                   f"(payer {decision['payer']}, policy {decision['policy_version']})")
    methods = sorted({l["units"]["method"] for l in decision["lines"] if l["units"].get("method")})
    out: dict = {"resourceType": "ClaimResponse"}
    if decision.get("decision_id"):
        out["id"] = decision["decision_id"]
    extension = [{"url": s.EXT_POLICY_VERSION, "valueString": decision["policy_version"]}]
    extension += [{"url": s.EXT_UNIT_METHOD, "valueCode": m} for m in methods]
    out["extension"] = extension
    if decision.get("decision_id"):
        out["identifier"] = [{"system": s.DECISION_ID, "value": decision["decision_id"]}]
    out.update({
        "status": "active",
        "type": _json(claim.type),
        "use": claim.use,
        "patient": _outside(claim.patient),
        "created": decided_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "insurer": {"identifier": {"system": s.PAYER_ID, "value": decision["payer"]}, "display": decision["payer"]},
        "request": ({"reference": f"Claim/{claim.id}"} if claim.id else
                    {"identifier": _json(claim.identifier[0])} if claim.identifier else
                    {"display": decision["encounter"]}),
        "outcome": outcome_of(decision["lines"]),
        "disposition": disposition,
        "item": items})
    if claim.provider is not None:
        out["requestor"] = _outside(claim.provider)
    if notes:
        out["processNote"] = notes
    return out
