"""X12 837P in (docs/x12.md): read the interchange with pyx12 (``reader``), make each claim's
encounters (``encounters``), decide each with the payer the payer-identifier table names, and
answer as a batch does: ``{"results": [...], "summary": {...}}``, one result per encounter (or per
claim that could not become encounters), each saying which claim and segment it came from.

``check_837`` is the one way through for the command line and the HTTP API; they differ only in
how an encounter is decided (``decide``) and how the answer is sent.
"""
from __future__ import annotations

from typing import Callable

from ..payer_ids import PayerIdTable
from ..problems import problem
from .encounters import Built, Issue, build, sidecar_problems
from .reader import X12Error, X12Problem, read_837

__all__ = ["X12Error", "X12Problem", "SidecarError", "check_837", "x12_problem_items", "DecisionFailed"]


class SidecarError(ValueError):
    """The sidecar does not fit the 837 (unknown claims, lines or keys): every problem."""

    def __init__(self, items: list[dict]):
        super().__init__(f"{len(items)} sidecar problem(s)")
        self.items = items


class DecisionFailed(Exception):
    """What ``decide`` raises for an encounter it cannot decide: a problem document whose items carry
    encounter field paths (they are located in the 837 here)."""

    def __init__(self, body: dict):
        super().__init__(body.get("detail", ""))
        self.body = body


Decide = Callable[[str, dict], dict]     # (payer, encounter document) -> decision document


def x12_problem_items(problems: list[X12Problem]) -> list[dict]:
    return [{"path": p.where, "code": p.code, "level": "error", "message": p.message, "segment": p.segment,
             **({"segment_id": p.segment_id} if p.segment_id else {}),
             **({"element": p.element} if p.element else {})} for p in problems]


def _issue_item(issue: Issue) -> dict:
    out = {"code": issue.code, "level": "error", "message": issue.message}
    if issue.path is not None:
        out["path"] = issue.path
    if issue.at is not None:
        out.update(segment=issue.at.segment, segment_id=issue.at.segment_id)
        if issue.at.element:
            out["element"] = issue.at.element
        out.setdefault("path", X12Problem("", "", issue.at.segment, issue.at.segment_id, issue.at.element).where)
    if issue.sidecar is not None:
        out["sidecar"] = issue.sidecar
        out.setdefault("path", f"sidecar {issue.sidecar}")
    return out


def _located(built: Built, items: list[dict]) -> list[dict]:
    """The encounter check's problems, each also at the segment (or sidecar key) its field came from."""
    out = []
    for item in items:
        item = dict(item)
        if "path" in item:
            at, sidecar = built.locate(item["path"])
            if at is not None:
                item.update(segment=at.segment, segment_id=at.segment_id)
                if at.element:
                    item["element"] = at.element
            if sidecar is not None:
                item["sidecar"] = sidecar
        out.append(item)
    return out


def check_837(text: str, table: PayerIdTable, decide: Decide, sidecar: dict | None = None,
              payer: str | None = None) -> dict:
    """Decide every encounter of an 837P. Raises :class:`X12Error` when the text is not a readable
    837P and :class:`SidecarError` when the sidecar does not fit it; a claim that cannot become
    encounters (an unmapped payer identifier, ICD-9 diagnoses...) and an encounter that cannot be
    decided are results with an ``error``, and the others are decided."""
    claims = read_837(text)
    issues = sidecar_problems(sidecar, claims)
    if issues:
        raise SidecarError([_issue_item(i) for i in issues])
    results, decided = [], 0
    for index, built in enumerate(build(claims, table, sidecar, payer)):
        item: dict = {"index": index, "claim": built.claim.claim_id, "segment": built.claim.at.segment,
                      "date_of_service": built.date_of_service, "payer": built.payer}
        if built.document is None:
            items = [_issue_item(i) for i in built.issues]
            item["error"] = problem("invalid-claim", 422, f"claim `{built.claim.claim_id}` (CLM at segment "
                                    f"{built.claim.at.segment}) cannot be checked: {len(items)} problem(s)", items)
        else:
            try:
                item["decision"] = decide(built.payer, built.document)
                decided += 1
            except DecisionFailed as exc:
                body = dict(exc.body)
                if body.get("problems"):
                    body["problems"] = _located(built, body["problems"])
                item["error"] = body
        results.append(item)
    return {"results": results, "summary": {"claims": len(claims), "encounters": len(results), "decided": decided,
                                            "failed": len(results) - decided}}
