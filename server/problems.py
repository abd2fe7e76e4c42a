"""RFC 7807 problem details: every error the API returns, as ``application/problem+json``.

``type`` is a relative URI naming the kind of problem (``/problems/invalid-encounter``); the
``problems`` member lists every individual problem with its field path (or file:line:column for
policy problems) and a stable code.
"""
from __future__ import annotations

import json

from flask import Response

PROBLEM_JSON = "application/problem+json"

TITLES = {
    "invalid-json": "The body is not valid JSON",
    "invalid-encounter": "The encounter is not valid",
    "invalid-parameter": "A query parameter is not valid",
    "unknown-payer": "Unknown payer",
    "payer-unavailable": "The payer's policies did not load",
    "unknown-code": "Unknown code",
    "unknown-decision": "Unknown decision",
    "unsupported-media-type": "Unsupported media type",
    "body-too-large": "The body is too large",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "internal-error": "Internal error",
    "bad-request": "Bad request",
    "unauthorized": "Unauthorized",
    "invalid-x12": "The body is not a readable X12 837P",
    "invalid-sidecar": "The sidecar does not fit the 837",
    "invalid-claim": "The claim cannot be checked",
    "payer-table-unavailable": "The payer-identifier table does not load",
    "invalid-cds-request": "The CDS Hooks request is not valid",
    "precondition-failed": "The data the service needs was not sent",
    # kinds only the command line meets (its JSON errors are problem documents too)
    "policy-error": "The policies do not load",
    "unreadable-input": "The input cannot be read",
    "not-utf8": "The input is not UTF-8 text",
    "invalid-option": "An option is not valid",
    "invalid-edits": "The imported edit table is not valid",
    "invalid-edit-files": "The edit files are not valid",
}


def problem(kind: str, status: int, detail: str, problems: list[dict] | None = None, **extra) -> dict:
    body = {"type": f"/problems/{kind}", "title": TITLES.get(kind, kind.replace("-", " ")), "status": status,
            "detail": detail}
    if problems is not None:
        body["problems"] = problems
    body.update(extra)
    return body


def problem_response(kind: str, status: int, detail: str, problems: list[dict] | None = None,
                     headers: dict | None = None, **extra) -> Response:
    body = problem(kind, status, detail, problems, **extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON, headers=headers)
