"""The API's response documents as pydantic models.

The request document is :class:`engine.encounter.Encounter`, the very model the server validates
with. These models describe the responses: the documents made from engine results are the wire
types of ``server.wire`` (typed dicts, validated with :func:`validate`), the server's own envelopes
are models here; ``server.openapi`` turns both into the OpenAPI
document, and the tests validate real responses against them, so the published schema and the
behaviour cannot drift apart.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .wire import CodeRequirements, Disabled, EditChange, LineDecision, Parameter, ProblemItem
from .wire.cds import CdsDiscovery, CdsResponse
from .wire.common import wire
from .wire.decision import Advice, Attempt, DecisionBody, Fix, ProofNode, Reason, Summary, Units
from .wire.logged import LoggedDecision

__all__ = ["Advice", "Attempt", "BatchItem", "BatchResult", "CdsDiscovery", "CdsResponse", "X12Item", "X12Result", "CodeRequirements", "Decision", "Fix", "Health",
           "LineDecision", "LoggedDecision", "PayerDetail", "PayerList", "PayerSummary", "Problem", "ProblemItem", "ProofNode",
           "Readiness", "Reason", "ReloadOutcome", "Summary", "Units", "Vocabulary", "validate"]


@lru_cache(maxsize=None)
def _adapter(model) -> TypeAdapter:
    return TypeAdapter(model)


def validate(model, document):
    """``document`` validated as ``model`` (a model class or a wire type); raises ValidationError."""
    return _adapter(model).validate_python(document)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Doc):
    """RFC 7807 problem details (`application/problem+json`)."""
    type: str = Field(description="relative URI of the kind of problem, e.g. `/problems/invalid-encounter`")
    title: str
    status: int
    detail: str
    problems: Optional[list[ProblemItem]] = None
    request_id: Optional[str] = None


@wire
class Decision(DecisionBody):
    """A decision as the HTTP API sends it: the decision (``server.wire.DecisionBody``) with its id in the
    decision log (``decision_id``) and its UTC time, ISO 8601 (``decided_at``)."""
    decision_id: str
    decided_at: str


class BatchItem(_Doc):
    index: int = Field(description="position of the encounter in the batch (0-based)")
    decision: Optional[Decision] = None
    error: Optional[Problem] = None


class BatchResult(_Doc):
    results: list[BatchItem]
    summary: dict[str, int]


class X12Item(BatchItem):
    """One encounter of an 837 (a claim and date of service), or a claim that could not become one."""
    claim: Optional[str] = Field(description="the claim's CLM01")
    segment: int = Field(description="position of the claim's CLM segment in the interchange (ISA = 1)")
    date_of_service: Optional[str] = Field(description="the encounter's date of service (null: the claim could "
                                           "not be made into encounters)")
    payer: Optional[str] = Field(description="the payer overlay the payer-identifier table (or `payer`) named")


class X12Result(_Doc):
    """Every encounter of an 837P: one result each, in file order, and counts (claims, encounters,
    decided, failed)."""
    results: list[X12Item]
    summary: dict[str, int]


class PayerSummary(_Doc):
    id: str
    name: Optional[str] = None
    extends: Optional[str] = None
    chain: Optional[list[str]] = None
    effective: Optional[dict[str, Optional[str]]] = None
    policy_version: Optional[str] = None
    rules: Optional[int] = None
    loaded: bool
    problems: Optional[list[ProblemItem]] = None


class PayerList(_Doc):
    payers: list[PayerSummary]


class PayerDetail(PayerSummary):
    parameters: dict[str, Parameter] = {}
    disabled: list[Disabled] = []
    edit_changes: list[EditChange] = Field([], description="edit-table rows the payer's overlays override or "
                                               "disable")
    edits_imported: Optional[str] = Field(None, description="digest of the imported CMS edit table, if any")


class Vocabulary(_Doc):
    """Each controlled vocabulary's entries as policies/vocabulary/*.yaml state them (their members
    differ by vocabulary and are open: a new member in a vocabulary file is sent as it is)."""
    codes: list[dict[str, Any]]
    documentation: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    provider_types: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    modifiers: list[dict[str, Any]]
    diagnoses: Optional[list[dict[str, Any]]] = None
    credential: Optional[list[dict[str, Any]]] = None
    diagnosis_change: Optional[list[dict[str, Any]]] = None


class Health(_Doc):
    status: Literal["ok"]


class Readiness(_Doc):
    status: Literal["ready", "degraded", "not_ready"]
    payers: dict[str, dict[str, Any]]
    last_reload: Optional[dict[str, Any]] = Field(None, description="the last policy reload that applied or was "
                                                  "refused: outcome, time, reason, versions, problems")
    refused: Optional[dict[str, Any]] = Field(None, description="present while the policy files on disk are refused "
                                              "and the last good set serves: at, reason, problems by payer, serving")
    decision_log: Optional[dict[str, Any]] = Field(None, description="`status` (`ok`, `failing`, `off`), this "
                                                   "worker's `written` and `dropped` entries, `last_error`")
    snapshot: Optional[dict[str, Any]] = Field(None, description="the last good policy set on disk: path, set, "
                                               "written_at, error")


class ReloadOutcome(_Doc):
    outcome: Literal["applied", "unchanged", "refused"]
    at: str
    reason: str
    versions: dict[str, str]
    problems: dict[str, list[ProblemItem]] = Field(description="by payer (`*`: every payer): problems "
                                                      "(code, level, message, file, line, column)")
    retired: list[str] = Field(default_factory=list, description="payers retired by this reload "
                                "(a `payers/<id>.retired` marker)")
