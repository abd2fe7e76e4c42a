"""An audit on the wire (``supportable audit``, docs/audit.md): each result line of its output and its
summary document.

A result is ``audit_result(index, source, decision=...)`` or ``audit_result(index, source,
error=...)``: the decision exactly as ``check --format json`` sends it, or the API's problem
document. The summary is what the audit writes as ``NAME.summary.json`` and prints with
``--summary-json``; ``audit_summary`` puts the run's facts and the counts together in the order sent.
"""
from __future__ import annotations

from typing import Any, Optional

from typing_extensions import NotRequired, TypedDict

from .common import wire
from .decision import DecisionBody


@wire
class AuditProblem(TypedDict):
    type: str
    title: str
    status: int
    detail: str
    problems: NotRequired[list[dict[str, Any]]]


@wire
class AuditResult(TypedDict):
    index: int
    source: str
    decision: NotRequired[DecisionBody]
    error: NotRequired[AuditProblem]


def audit_result(index: int, source: str, decision: dict | None = None, error: dict | None = None) -> AuditResult:
    return {"index": index, "source": source, "decision": decision} if error is None else \
        {"index": index, "source": source, "error": error}


@wire
class AuditUnits(TypedDict):
    billed: int
    supportable: int
    not_supportable: int


@wire
class AuditMoney(TypedDict):
    lines_with_charge: int
    charged: float
    at_risk: float
    at_risk_by_payer: dict[str, float]


@wire
class AuditReason(TypedDict):
    id: str
    lines: int


@wire
class AuditSlowest(TypedDict):
    index: int
    source: str
    encounter: Optional[str]
    ms: float


@wire
class AuditSummary(TypedDict):
    corpus: list[str]
    output: str
    format: str
    payer: str
    explain: str
    engine: str
    policy_versions: dict[str, str]
    cluster: str
    workers: dict[str, int]
    policy_loads_by_worker: dict[str, int]
    partition_size: int
    history: str                    # "encounter" or "corpus"
    history_note: str
    elapsed_s: float
    encounters_per_s: Optional[float]
    encounters: int
    decided: int
    invalid: int
    lines: int
    by_verdict: dict[str, int]
    by_payer: dict[str, dict[str, int]]
    by_code: dict[str, dict[str, int]]
    by_reason: dict[str, int]
    top_reasons: list[AuditReason]
    invalid_by_problem: dict[str, int]
    units: AuditUnits
    money: AuditMoney
    slowest: list[AuditSlowest]
    summary_file: NotRequired[str]
    report_file: NotRequired[str]


def audit_summary(run: dict, counts: dict) -> AuditSummary:
    """The run's facts (where, how, with which policies), then the counts (``Tally.document``)."""
    return {**run, **counts}
