"""What the route groups share: the app's state, the error that answers with a problem document,
reading a JSON body within its limits and deadlines, the explain level, and a payer's policies."""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Response, g, has_request_context, request
from gunicorn.http.errors import ParseException as BodyFramingError
from werkzeug.exceptions import RequestEntityTooLarge

from supportable.engine import EXPLAIN_LEVELS, PolicySet

from .. import wire
from ..decision_log import DecisionLog
from ..observability import Metrics
from ..problems import problem, problem_response
from ..registry import Registry
from ..reload import PolicyStore
from ..settings import Settings


class ProblemError(Exception):
    """An error to answer with a problem document."""

    def __init__(self, kind: str, status: int, detail: str, problems: list[dict] | None = None):
        super().__init__(detail)
        self.kind, self.status, self.detail, self.problems = kind, status, detail, problems

    def body(self) -> dict:
        return problem(self.kind, self.status, self.detail, self.problems)


@dataclass
class State:
    settings: Settings
    store: PolicyStore
    metrics: Metrics
    decision_log: DecisionLog
    spec: dict

    @property
    def registry(self) -> Registry:
        """The policies this request is served with: read once when it starts (a reload during the
        request does not change them), or the current ones outside a request."""
        if has_request_context() and "registry" in g:
            return g.registry
        return self.store.current()


def answer_problem(kind: str, status: int, detail: str, problems: list[dict] | None = None, headers=None) -> Response:
    return problem_response(kind, status, detail, problems, headers=headers, request_id=getattr(g, "request_id", None))


def is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def read_body() -> bytes:
    """The whole body, at most ``request.max_content_length`` bytes whether its length is announced or it
    comes chunked (413 past it), read within the worker's deadlines (408 if it does not arrive)."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.content_length is None and not request.environ.get("wsgi.input_terminated"):
        return b""                             # as werkzeug does: no length, and a server that does not end it
    stream = request.environ["wsgi.input"]     # gunicorn's: ends at the body's end, chunked or not
    parts, total = [], 0
    try:
        while True:
            chunk = stream.read(1 << 20 if limit is None else min(1 << 20, limit + 1 - total))
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise RequestEntityTooLarge()
    except OSError:  # the worker's read timeout or deadline (server.worker), or the client went away
        raise ProblemError("request-timeout", 408, "the body did not arrive in time; send it again") from None
    except BodyFramingError as exc:  # gunicorn's: a malformed chunk of a chunked body
        raise ProblemError("bad-request", 400, f"the body's chunked framing is broken: {exc}") from None


def json_document(what: str = "the encounter"):
    if not is_json(request.mimetype):
        raise ProblemError("unsupported-media-type", 415, f"send {what} as application/json, not "
                           f"`{request.mimetype or 'no content type'}`")
    raw = read_body()
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise ProblemError("invalid-json", 400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ProblemError("invalid-json", 400, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") \
            from None
    except RecursionError:
        raise ProblemError("invalid-json", 400, "the JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise ProblemError("invalid-json", 400, f"invalid JSON: {exc}") from None


def explain_level() -> str:
    explain = request.args.get("explain", "summary")
    if explain not in EXPLAIN_LEVELS:
        raise ProblemError("invalid-parameter", 422, f"`explain` must be one of {', '.join(EXPLAIN_LEVELS)}",
                           [{"path": "explain", "code": "invalid_value", "message": f"`{explain}` is not one of "
                             f"{', '.join(EXPLAIN_LEVELS)}"}])
    return explain


def policy_for(state: State, payer: str, path: str) -> PolicySet:
    policy = state.registry.policies.get(payer)
    if policy is not None:
        return policy
    if payer in state.registry.failed:
        raise ProblemError("payer-unavailable", 503, f"payer `{payer}`'s policies did not load; other payers are "
                           "served", wire.problem_items(state.registry.failed[payer]))
    known = ", ".join(state.registry.known)
    raise ProblemError("unknown-payer", 422 if path else 404, f"unknown payer `{payer}`; known: {known}",
                       [{"path": path, "code": "unknown_payer", "message": f"unknown payer `{payer}`"}] if path else None)
