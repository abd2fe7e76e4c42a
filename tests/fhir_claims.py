"""An encounter document written as a FHIR R4 Claim, following docs/fhir.md's mapping in reverse:
the decision tests send the Claim of every example encounter and compare the ClaimResponse with the
encounter's own decision. (Also: ``python tests/fhir_claims.py ENCOUNTER.json`` prints the Claim.)"""
from __future__ import annotations

import json
import sys

NS = "https://supportable.dev/fhir"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "urn:oid:2.16.840.1.113883.6.285"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"


def _cc(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def _ext(name: str, key: str, value) -> dict:
    return {"url": f"{NS}/StructureDefinition/{name}", key: value}


def _code_system(code: str) -> str:
    return CPT if code[:1].isdigit() else HCPCS


def _practitioner(pid: str, kind: str, npi: str | None = None, credentials=()) -> dict:
    out = {"resourceType": "Practitioner", "id": pid,
           "qualification": [{"code": _cc(f"{NS}/CodeSystem/provider-type", kind)}]}
    out["qualification"] += [{"code": _cc(f"{NS}/CodeSystem/credential", c)} for c in credentials]
    if npi:
        out["identifier"] = [{"system": NPI, "value": npi}]
    return out


def claim_of(enc: dict, payer: str | None = None) -> dict:
    """The Claim of encounter ``enc`` (payer: ``payer``, else the encounter's own, else none)."""
    contained, info, team = [], [], []

    def add_info(category: str, **rest) -> int:
        info.append({"sequence": len(info) + 1, "category": _cc(f"{NS}/CodeSystem/information-category", category),
                     **rest})
        return len(info)

    provider = enc["provider"]
    contained.append(_practitioner("rendering", provider["type"], provider.get("npi"), provider.get("credentials", ())))
    team.append({"sequence": 1, "provider": {"reference": "#rendering"},
                 "role": _cc("http://terminology.hl7.org/CodeSystem/claimcareteamrole", "primary")})
    if provider.get("supervised_by"):
        team.append({"sequence": 2, "provider": {"display": "supervisor"},
                     "role": _cc("http://terminology.hl7.org/CodeSystem/claimcareteamrole", "supervisor"),
                     "qualification": _cc(f"{NS}/CodeSystem/provider-type", provider["supervised_by"])})
    furnishers: dict[str, int] = {}
    for line in enc["lines"]:
        kind = line.get("furnished_by")
        if kind and kind not in furnishers:
            furnishers[kind] = len(team) + 1
            team.append({"sequence": len(team) + 1, "provider": {"display": kind},
                         "role": _cc("http://terminology.hl7.org/CodeSystem/claimcareteamrole", "assist"),
                         "qualification": _cc(f"{NS}/CodeSystem/provider-type", kind)})
    claim: dict = {"resourceType": "Claim", "id": enc["id"], "status": "active",
                   "type": _cc("http://terminology.hl7.org/CodeSystem/claim-type", "professional"), "use": "claim",
                   "patient": {"reference": f"Patient/{enc['patient']['id']}"}, "created": enc["date_of_service"],
                   "priority": _cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
                   "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "coverage"}}]}
    payer = payer or enc.get("payer")
    if payer:
        claim["insurer"] = {"identifier": {"system": f"{NS}/NamingSystem/payer", "value": payer}}
    billing = enc.get("billing_provider")
    if billing:
        contained.append(_practitioner("billing", billing["type"], billing.get("npi")))
        claim["provider"] = {"reference": "#billing"}
    else:
        claim["provider"] = {"display": "the rendering provider"}
    claim["careTeam"] = team
    claim["diagnosis"] = [{"sequence": i + 1, "diagnosisCodeableConcept": _cc(ICD10CM, code)}
                          for i, code in enumerate(enc.get("diagnoses", []))]
    for element in enc.get("documentation", []):
        add_info("documentation", code=_cc(f"{NS}/CodeSystem/documentation", element))
    plan = enc.get("plan_of_care")
    if plan:
        contained.append(_practitioner("certifier", plan["certified_by"]))
        care_plan = {"resourceType": "CarePlan", "id": "poc", "status": "active", "intent": "plan",
                     "subject": {"reference": f"Patient/{enc['patient']['id']}"},
                     "period": {"start": plan["start_of_care"]}, "author": {"reference": "#certifier"}}
        exts = [_ext(name, "valueDate", plan[key]) for key, name in (
            ("certified_on", "certified-on"), ("recertified_on", "recertified-on"),
            ("last_progress_report_on", "last-progress-report-on")) if plan.get(key)]
        if exts:
            care_plan["extension"] = exts
        contained.append(care_plan)
        add_info("plan-of-care", valueReference={"reference": "#poc"})
    patient = enc["patient"]
    if patient.get("condition_status"):
        add_info("condition-status", code=_cc(f"{NS}/CodeSystem/condition-status", patient["condition_status"]))
    for key, amount in (patient.get("year_to_date") or {}).items():
        add_info("year-to-date", code=_cc(f"{NS}/CodeSystem/year-to-date", key),
                 valueQuantity={"value": amount, "unit": "USD", "system": "urn:iso:std:iso:4217", "code": "USD"})
    for k, visit in enumerate(patient.get("history") or []):
        for j, code in enumerate(visit["codes"]):
            pid = f"history-{k}-{j}"
            contained.append({"resourceType": "Procedure", "id": pid, "status": "completed",
                              "subject": {"reference": f"Patient/{patient['id']}"},
                              "code": _cc(_code_system(code), code), "performedDateTime": visit["date"]})
            add_info("history", valueReference={"reference": f"#{pid}"})
    items = []
    for n, line in enumerate(enc["lines"]):
        sequences = [add_info("documentation", code=_cc(f"{NS}/CodeSystem/documentation", e))
                     for e in line.get("documentation", [])]
        sequences += [add_info("intended-outcome", code=_cc(f"{NS}/CodeSystem/intended-outcome", o))
                      for o in line.get("intended_outcomes", [])]
        item: dict = {"sequence": int(line["id"]) if str(line["id"]).isdigit() else n + 1,
                      "careTeamSequence": [furnishers[line["furnished_by"]]] if line.get("furnished_by") else [1],
                      "productOrService": _cc(_code_system(line["code"]), line["code"]),
                      "servicedDate": enc["date_of_service"], "quantity": {"value": line["units"]}}
        if claim["diagnosis"]:
            item["diagnosisSequence"] = [d["sequence"] for d in claim["diagnosis"]][:4]
        if sequences:
            item["informationSequence"] = sequences
        if line.get("charge") is not None:
            item["net"] = {"value": line["charge"], "currency": "USD"}
        if line.get("modifiers"):
            item["modifier"] = [_cc(_code_system(m) if m[:1].isdigit() else HCPCS, m) for m in line["modifiers"]]
        exts = []
        if line.get("minutes") is not None:
            exts.append(_ext("minutes", "valueUnsignedInt", line["minutes"]))
        if "one_on_one" in line:
            exts.append(_ext("one-on-one", "valueBoolean", line["one_on_one"]))
        if "patients_in_session" in line:
            exts.append(_ext("patients-in-session", "valuePositiveInt", line["patients_in_session"]))
        blocks = line.get("time_blocks") or ([line["time_block"]] if line.get("time_block") else [])
        exts += [_ext("time-block", "valueString", b) for b in blocks]
        regions = line.get("regions") or ([line["region"]] if line.get("region") else [])
        if regions:
            item["bodySite"] = _cc(f"{NS}/CodeSystem/region", regions[0])
            exts += [_ext("additional-region", "valueCoding", {"system": f"{NS}/CodeSystem/region", "code": r})
                     for r in regions[1:]]
        if line.get("allowed_amount") is not None:
            exts.append(_ext("allowed-amount", "valueMoney", {"value": line["allowed_amount"], "currency": "USD"}))
        if exts:
            item["extension"] = exts
        items.append(item)
    if contained:
        claim["contained"] = contained
    if info:
        claim["supportingInfo"] = info
    claim["item"] = items
    return claim


if __name__ == "__main__":
    print(json.dumps(claim_of(json.load(open(sys.argv[1]))), indent=2))
