"""The CDS Hooks 2.0 documents the coverage service sends (server/cds, docs/cds-hooks.md): discovery
and a hook's response (cards, suggestions, actions, links, system actions), as the specification
defines them. A FHIR resource in an action is an object validated with fhir.resources (R4B) by the
service before it is sent; the card's ``extension`` is the CDS Hooks extension object (CRD's
``davinci-crd.associated-resource``).

Built here from the engine's prospective requirements (``server.cds.answer`` decides what to say):
the CRD coverage-information extension (``coverage_information``) and its members
(``code_member``, ``reason_member``, ``detail_member``), and a card (``card``)."""
from __future__ import annotations

import uuid
from typing import Any, Dict, List, Literal

from typing_extensions import NotRequired, TypedDict

from .common import wire

COVERAGE_INFORMATION = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
CRD_TEMP = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
CARD_TYPE = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
RULE_SYSTEM = "urn:supportable:rule"
ASSOCIATED = "davinci-crd.associated-resource"


@wire
class CdsService(TypedDict):
    """One service of the discovery document."""
    hook: str
    title: NotRequired[str]
    description: str
    id: str
    prefetch: NotRequired[Dict[str, str]]
    usageRequirements: NotRequired[str]


@wire
class CdsDiscovery(TypedDict):
    """``GET /cds-services``."""
    services: List[CdsService]


@wire
class CdsCoding(TypedDict):
    system: NotRequired[str]
    code: str
    display: NotRequired[str]


@wire
class CdsSource(TypedDict):
    label: str
    url: NotRequired[str]
    icon: NotRequired[str]
    topic: NotRequired[CdsCoding]


@wire
class CdsAction(TypedDict):
    """A suggested (or system) action: create or update carry the whole resource; delete names it."""
    type: Literal["create", "update", "delete"]
    description: str
    resource: NotRequired[Dict[str, Any]]
    resourceId: NotRequired[str]


@wire
class CdsSuggestion(TypedDict):
    label: str
    uuid: NotRequired[str]
    isRecommended: NotRequired[bool]
    actions: NotRequired[List[CdsAction]]


@wire
class CdsLink(TypedDict):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: NotRequired[str]
    autolaunchable: NotRequired[bool]


@wire
class CdsCard(TypedDict):
    """A card: ``summary`` under 140 characters, ``detail`` in GitHub-flavoured Markdown."""
    uuid: NotRequired[str]
    summary: str
    detail: NotRequired[str]
    indicator: Literal["info", "warning", "critical"]
    source: CdsSource
    suggestions: NotRequired[List[CdsSuggestion]]
    selectionBehavior: NotRequired[Literal["at-most-one", "any"]]
    overrideReasons: NotRequired[List[CdsCoding]]
    links: NotRequired[List[CdsLink]]
    extension: NotRequired[Dict[str, Any]]


@wire
class CdsResponse(TypedDict):
    """``POST /cds-services/{id}``: cards for the user, system actions the client may apply itself."""
    cards: List[CdsCard]
    systemActions: NotRequired[List[CdsAction]]


# -- building them ------------------------------------------------------------------------------

def said(requirement) -> str:
    """The rule's text for the code: one way it applies, or, when it applies once per element (each
    documentation element of a list), its text with the element open and the elements listed."""
    if len(requirement.texts) == 1 or not requirement.elements:
        return requirement.texts[0]
    return f"{requirement.use.because} (for each of: {', '.join(requirement.elements)})"


def coverage_information(members: list[dict]) -> dict:
    return {"url": COVERAGE_INFORMATION, "extension": members}


def code_member(url: str, value: str) -> dict:
    return {"url": url, "valueCode": value}


def reason_member(rule_id: str | None, text: str) -> dict:
    concept = {"text": text}
    if rule_id:
        concept = {"coding": [{"system": RULE_SYSTEM, "code": rule_id}], "text": text}
    return {"url": "reason", "valueCodeableConcept": concept}


def detail_member(category: str, code: str, value: dict, qualification: str | None = None) -> dict:
    members = [{"url": "category", "valueCode": category},
               {"url": "code", "valueCodeableConcept": {"coding": [{"system": CRD_TEMP, "code": code}]}},
               {"url": "value", **value}]
    if qualification:
        members.append({"url": "qualification", "valueString": qualification})
    return {"url": "detail", "extension": members}


def card(order, code, payer, found, covered, excluded, reached, authorization, documentation, modifiers,
         limits, trace) -> dict:
    """The card for one code of one order: what the payer will require, in a summary under 140
    characters and a Markdown detail, each requirement with its rule id; a not-covered code's card
    suggests removing the order."""
    said = []
    if covered == "not-covered":
        why = ("visit limit reached" if not excluded else "provider not eligible" if excluded[0].kind == "ineligible"
               else "maintenance care excluded")
        said.append(f"not covered ({why})")
    if authorization:
        said.append("prior authorization " + ("needed" if authorization[0].kind == "prior_authorization"
                                              else "may be needed"))
    if documentation:
        said.append(f"document {len(documentation)} elements")
    if modifiers:
        said.append("modifier " + " + ".join("/".join(r.elements) for r in modifiers))
    summary = f"{code} under {payer.name}: " + ("; ".join(said) or "no payer requirement found for this code")
    if len(summary) >= 140:
        summary = summary[:136].rstrip() + "..."
    info = found.code.code
    lines = [f"**{code} {info.name}** on {order.on.isoformat()}, {payer.name} (policy version "
             f"`{found.code.policy_version}`).", "",
             "Before the visit nothing is documented yet: this says what the payer will require, not whether "
             "the service will be supportable."]
    for r in excluded + reached:
        lines += ["", f"**Not covered:** {r.texts[0]} (`{r.use.rule.id}`)"]
    for r in authorization:
        lines += ["", f"**Prior authorization{'' if r.kind == 'prior_authorization' else ' (check the plan)'}:** "
                      f"{r.texts[0]} (`{r.use.rule.id}`)"]
    if documentation:
        lines += ["", "**The record must document:** " + ", ".join(documentation)]
    for r in modifiers:
        lines += ["", f"**Modifiers:** one of {', '.join(r.elements)}: {r.texts[0]} (`{r.use.rule.id}`)"]
    for r, used, left in limits:
        count = f"{left} left ({used} in the history given)" if left is not None else "the history was not given"
        lines += ["", f"**Visit limit:** {r.cap} in {r.window_days} days, {count} (`{r.use.rule.id}`)"]
    advised = [e for r in found.of("advised_documentation") if r.always for e in r.elements]
    if advised:
        lines += ["", "**The guidance also advises documenting:** " + ", ".join(dict.fromkeys(advised))]
    circumstantial = [r for r in found.requirements if not r.always and r.kind not in
                      ("limit", "exclusion", "prior_authorization_possible", "advised_documentation")]
    if circumstantial:
        lines += ["", "**When the visit's circumstances call for them:**"]
        lines += [f"- {r.texts[0]} (`{r.use.rule.id}`)" for r in circumstantial[:12]]
    card = {"uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, trace + "/card")), "summary": summary,
            "detail": "\n".join(lines),
            "indicator": "warning" if covered == "not-covered" or any(r.kind == "prior_authorization"
                                                                        for r in authorization) else "info",
            "source": {"label": f"Supportable: {payer.name}",
                       "topic": {"system": CARD_TYPE, "code": "coverage-info", "display": "Coverage Information"}},
            "extension": {ASSOCIATED: [{"reference": order.reference}]}}
    if covered == "not-covered":
        card["suggestions"] = [{"label": f"Remove the order for {code}", "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                trace + "/remove")), "actions": [{"type": "delete", "description":
                                f"Remove {order.reference}: {payer.name} will not cover {code} as ordered",
                                "resourceId": order.reference}]}]
        card["selectionBehavior"] = "at-most-one"
    return card
