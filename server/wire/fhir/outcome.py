"""FHIR ``OperationOutcome`` documents: every issue with the input, each located by a FHIRPath
expression (``Claim.item[1].productOrService``), from fhir.resources' validation errors (pydantic
locations turned into FHIRPath), from the Claim mapping, and from the encounter's problems (their
field paths turned back into the Claim's FHIRPath by the mapping's path table)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import systems as s

FHIR_JSON = "application/fhir+json"
_PYDANTIC_TYPES = {"missing": ("required", "missing_field"), "extra_forbidden": ("structure", "unknown_field")}
_SKIP = re.compile(r"^(function-|union\[|list\[|dict\[|json-or-python|lax-or-strict|tagged-union)")


@dataclass(frozen=True)
class Issue:
    """One issue: where (FHIRPath, or "" for the document), what, its FHIR issue type, our problem code."""
    expression: str
    message: str
    code: str = "invalid"             # http://hl7.org/fhir/issue-type
    problem: str = "invalid_value"    # our code, as problems carry it (docs/encounter.md)
    severity: str = "error"


def fhirpath(loc, root: str = "Claim") -> str:
    """A pydantic location (``('item', 1, 'productOrService')``) as FHIRPath
    (``Claim.item[1].productOrService``); a primitive's extension (``servicedDate__ext``) is located at
    the primitive."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not _SKIP.match(part):
            name = part[:-5] if part.endswith("__ext") else part
            out += f".{name}"
    return out


def from_validation_error(exc, root: str = "Claim") -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False):
        code, problem = _PYDANTIC_TYPES.get(err.get("type", ""), ("value", "invalid_value"))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        issues.append(Issue(fhirpath(err.get("loc", ()), root), message, code, problem))
    return issues


_PROBLEM_TO_ISSUE = {"missing_field": "required", "unknown_field": "structure", "invalid_type": "structure",
                     "control_character": "value"}


def from_problems(problems: list[dict], locate) -> list[Issue]:
    """Issues from wire problem items (``{path, code, message}``), each path located by ``locate``
    (an encounter field path -> FHIRPath)."""
    issues = []
    for p in problems:
        path = p.get("path", "")
        code = p.get("code", "invalid_value")
        kind = _PROBLEM_TO_ISSUE.get(code, "code-invalid" if code.startswith("unknown") else "value")
        message = p.get("message", "")
        if path:
            message = f"{message} (encounter field `{path}`)"
        issues.append(Issue(locate(path), message, kind, code))
    return issues


def operation_outcome(issues: list[Issue]) -> dict:
    """The OperationOutcome document of ``issues`` (R4: severity, code, details, diagnostics, expression)."""
    out = []
    for issue in issues:
        entry = {"severity": issue.severity, "code": issue.code,
                 "details": {"coding": [{"system": s.CS_PROBLEM, "code": issue.problem}], "text": issue.message},
                 "diagnostics": issue.message}
        if issue.expression:
            entry["expression"] = [issue.expression]
        out.append(entry)
    return {"resourceType": "OperationOutcome", "issue": out}


_STATUS_TO_ISSUE = {400: "structure", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                    408: "timeout", 413: "too-costly", 415: "not-supported", 422: "invalid", 503: "transient"}


def from_problem_document(body: dict) -> dict:
    """An RFC 7807 problem document (server/problems.py) as an OperationOutcome, for the errors any
    route may give (401, 404, 413, 415, 500...): one issue for the problem, one per item it lists."""
    status = body.get("status", 500)
    kind = str(body.get("type", "/problems/internal-error")).rsplit("/", 1)[-1]
    issues = [Issue("", str(body.get("detail", body.get("title", ""))), _STATUS_TO_ISSUE.get(status, "exception"),
                    kind.replace("-", "_"), "fatal" if status >= 500 else "error")]
    for p in body.get("problems") or []:
        where = f"{p['file']}:{p.get('line', 0)}:{p.get('column', 0)}" if p.get("file") else ""
        issues.append(Issue("", f"{where + ': ' if where else ''}{p.get('message', '')}",
                            _STATUS_TO_ISSUE.get(status, "exception"), p.get("code", "invalid_value")))
    return operation_outcome(issues)
