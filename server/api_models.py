"""The API's response documents as pydantic models.

The request document is :class:`engine.encounter.Encounter`, the very model the server validates
with. These models describe the responses; ``server.openapi`` turns both into the OpenAPI
document, and the tests validate real responses against them, so the published schema and the
behaviour cannot drift apart.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from supportable.engine import VERDICTS

Verdict = Literal[VERDICTS]   # the tuple spelled out: Literal["supportable", "needs_documentation", ...]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemItem(_Doc):
    code: str = Field(description="stable machine-readable code, e.g. `unknown_code`")
    message: str
    path: Optional[str] = Field(None, description="field path in the request (`lines[2].code`)")
    level: Optional[str] = None
    file: Optional[str] = Field(None, description="policy file, for policy problems")
    line: Optional[int] = None
    column: Optional[int] = None


class Problem(_Doc):
    """RFC 7807 problem details (`application/problem+json`)."""
    type: str = Field(description="relative URI of the kind of problem, e.g. `/problems/invalid-encounter`")
    title: str
    status: int
    detail: str
    problems: Optional[list[ProblemItem]] = None
    request_id: Optional[str] = None


class Source(_Doc):
    file: str
    section: str


class EditRow(_Doc):
    table: str = Field(description="`ptp` or `mue`")
    layer: str = Field(description="`base`, `cms_import` or the payer overlay that added or changed the row")
    location: str
    confidence: str
    source: Source


class Reason(_Doc):
    id: str
    kind: str
    message: str
    layer: str = Field(description="`base` or the payer overlay that wrote the rule")
    location: str
    source: Source
    edits: Optional[list[EditRow]] = Field(None, description="the edit-table rows the denial rests on (absent when "
                                           "none)")


class Units(_Doc):
    billed: int
    supportable: int
    method: Optional[str]


class SuggestedCode(_Doc):
    code: str
    rule: str
    message: str


class Advice(_Doc):
    id: str = Field(description="the rule that gave the advice")
    topic: str = Field(description="what the advice is about (e.g. `prior_authorization`, or a documentation "
                       "element)")
    kind: str
    message: str
    layer: str
    location: str
    source: Source


class LineDecision(_Doc):
    line: str
    code: str
    verdict: Verdict
    overbilled: bool = Field(description="supportable, but for fewer units than billed (units.supportable < "
                             "units.billed); the verdict stays `supportable`")
    units: Units
    reasons: list[Reason]
    missing_documentation: list[str]
    suggested_codes: list[SuggestedCode]
    fixes: list[dict[str, Any]]
    advice: list[Advice] = Field(default_factory=list, description="information that denies nothing: a review "
                                 "threshold crossed, a prior authorization a plan may ask for, an element the "
                                 "guidance advises documenting")
    proof: Optional[dict[str, Any]] = Field(None, description="absent with explain=none; see docs/decisions.md")


class Summary(_Doc):
    supportable: int
    needs_documentation: int
    not_supportable: int
    overbilled: int = Field(description="how many supportable lines are billed for more units than they support")


class Decision(_Doc):
    decision_id: str = Field(description="identifies this decision in the decision log")
    decided_at: str = Field(description="UTC time, ISO 8601")
    encounter: str
    payer: str
    policy_version: str
    date_of_service: str
    summary: Summary
    lines: list[LineDecision]


class BatchItem(_Doc):
    index: int = Field(description="position of the encounter in the batch (0-based)")
    decision: Optional[Decision] = None
    error: Optional[Problem] = None


class BatchResult(_Doc):
    results: list[BatchItem]
    summary: dict[str, int]


class PayerSummary(_Doc):
    model_config = ConfigDict(extra="allow")
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
    parameters: dict[str, dict[str, Any]] = {}
    disabled: list[dict[str, Any]] = []
    edit_changes: list[dict[str, Any]] = Field([], description="edit-table rows the payer's overlays override or "
                                               "disable")
    edits_imported: Optional[str] = Field(None, description="digest of the imported CMS edit table, if any")


class CodeRequirements(_Doc):
    model_config = ConfigDict(extra="allow")
    payer: str
    chain: list[str]
    policy_version: str
    code: dict[str, Any]
    requirements: list[dict[str, Any]]
    units: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    disabled: list[dict[str, Any]]
    parameters: list[dict[str, Any]]


class Vocabulary(_Doc):
    model_config = ConfigDict(extra="allow")
    codes: list[dict[str, Any]]
    documentation: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    provider_types: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    modifiers: list[dict[str, Any]]


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
    problems: dict[str, list[dict[str, Any]]] = Field(description="by payer (`*`: every payer): problems "
                                                      "(code, level, message, file, line, column)")
    retired: list[str] = Field(default_factory=list, description="payers retired by this reload "
                                "(a `payers/<id>.retired` marker)")
