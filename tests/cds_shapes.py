"""The CDS Hooks 2.0 response shape and the Da Vinci CRD coverage-information extension, as the
specifications define them, checked member by member (tests/test_cds_hooks.py)."""
from __future__ import annotations

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.servicerequest import ServiceRequest

CI = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"


def check_card(card: dict) -> None:
    """A card as CDS Hooks 2.0 defines it (required fields, types, enumerations)."""
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140, card["summary"]
    assert card["indicator"] in ("info", "warning", "critical")
    assert isinstance(card["source"]["label"], str) and card["source"]["label"]
    assert isinstance(card.get("uuid", ""), str) and isinstance(card.get("detail", ""), str)
    topic = card["source"].get("topic")
    assert topic is None or (isinstance(topic["code"], str) and isinstance(topic["system"], str))
    if card.get("suggestions"):
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for suggestion in card["suggestions"]:
            assert isinstance(suggestion["label"], str)
            for action in suggestion.get("actions", []):
                check_action(action)
    for link in card.get("links", []):
        assert isinstance(link["label"], str) and isinstance(link["url"], str) and link["type"] in ("absolute", "smart")
    assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
                         "overrideReasons", "links", "extension"}


def check_action(action: dict) -> None:
    assert action["type"] in ("create", "update", "delete") and isinstance(action.get("description"), str)
    if action["type"] == "delete":
        assert isinstance(action["resourceId"], str) and "/" in action["resourceId"]
    else:
        assert isinstance(action["resource"], dict)


def members(extension: dict) -> dict[str, list]:
    found: dict[str, list] = {}
    for member in extension["extension"]:
        found.setdefault(member["url"], []).append(member)
    return found


def value(member: dict):
    return next(v for k, v in member.items() if k.startswith("value"))


def check_coverage_information(extension: dict) -> dict[str, list]:
    """The CRD coverage-information extension: cardinalities, value types and invariants crd-ci-q1..q9."""
    assert extension["url"] == CI
    m = members(extension)
    for name in ("coverage", "covered", "date", "coverage-assertion-id"):
        assert len(m.get(name, [])) == 1, (name, m.keys())
    assert len(m.get("pa-needed", [])) <= 1
    assert "reference" in m["coverage"][0]["valueReference"]
    codes = {"covered": ("covered", "not-covered", "conditional", "indeterminate"),
             "pa-needed": ("no-auth", "auth-needed", "satisfied", "performpa", "conditional", "indeterminate"),
             "doc-needed": ("clinical", "admin", "patient", "conditional", "indeterminate"),
             "doc-purpose": ("withpa", "withclaim", "withorder", "retain-doc", "OTH"),
             "info-needed": ("performer", "location", "timeframe", "contract-window", "detail-code", "OTH")}
    for name, allowed in codes.items():
        for member in m.get(name, []):
            assert member["valueCode"] in allowed, member
    for member in m.get("billingCode", []):
        assert member["valueCoding"]["system"] and member["valueCoding"]["code"]
    for member in m.get("reason", []):      # q7: our codes are outside the value set, so text is present
        assert member["valueCodeableConcept"]["text"]
    for member in m.get("detail", []):
        d = members(member)
        assert set(d) >= {"category", "code", "value"}
        assert d["category"][0]["valueCode"] in ("cat-limitation", "cat-decisional", "cat-other")
    values = {name: [x["valueCode"] for x in m.get(name, [])] for name in ("covered", "pa-needed", "doc-needed")}
    flat = [v for vs in values.values() for v in vs]
    assert not ("questionnaire" in m and "doc-needed" not in m)                               # q1
    assert not ("not-covered" in values["covered"] and "pa-needed" in m)                      # q2
    assert ("conditional" in flat) == ("info-needed" in m)                                    # q3
    assert ("satisfied" in values["pa-needed"]) == ("satisfied-pa-id" in m)                   # q5
    assert not (any(x["valueCode"] == "OTH" for x in m.get("info-needed", [])) and "reason" not in m)  # q6
    assert not ("doc-purpose" in m and "reason" not in m)                                     # q8
    assert not ("indeterminate" in flat and "reason" not in m)                                # q9
    assert m["date"][0]["valueDate"][:4].isdigit()
    return m


def check_response(body: dict, resource_type: str) -> list[dict]:
    """The whole response: cards, system actions updating each resource (validated with fhir.resources
    R4B) with coverage-information extensions; returns the extensions' members."""
    assert set(body) <= {"cards", "systemActions"} and isinstance(body["cards"], list)
    for card in body["cards"]:
        check_card(card)
    found = []
    model = {"ServiceRequest": ServiceRequest, "Appointment": Appointment}[resource_type]
    assert body["systemActions"], "CRD: primary hooks carry a coverage-information system action"
    for action in body["systemActions"]:
        check_action(action)
        assert action["type"] == "update" and action["resource"]["resourceType"] == resource_type
        model.model_validate(action["resource"])
        infos = [e for e in action["resource"]["extension"] if e["url"] == CI]
        assert infos
        found += [check_coverage_information(e) for e in infos]
    return found


def rule_ids(m: dict) -> list[str]:
    return [c["code"] for r in m.get("reason", []) for c in r["valueCodeableConcept"].get("coding", [])]
