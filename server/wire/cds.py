"""The CDS Hooks 2.0 documents the coverage service sends (server/cds, docs/cds-hooks.md): discovery
and a hook's response (cards, suggestions, actions, links, system actions), as the specification
defines them. A FHIR resource in an action is an object validated with fhir.resources (R4B) by the
service before it is sent; the card's ``extension`` is the CDS Hooks extension object (CRD's
``davinci-crd.associated-resource``)."""
from __future__ import annotations

from typing import Any, Dict, List, Literal

from typing_extensions import NotRequired, TypedDict

from .common import wire


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
