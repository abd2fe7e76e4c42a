"""What the page groups share: the blueprint (templates, static files, sign-in, HTML error pages),
the vocabulary with its descriptions, and rendering a page with its navigation."""
from __future__ import annotations

import logging

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .. import wire
from ..auth import COOKIE, CookieKeyAuthenticator, Gate
from ..routes.common import ProblemError, State, answer_problem
from . import labels

LOG = logging.getLogger("supportable")
PAGES = (("web.check_form", "Check a claim"), ("web.day", "A day's claims"), ("web.payers", "Payers"),
         ("web.analyst", "Analyst"))
OPEN_ENDPOINTS = {"web.signin", "web.static"}


def blueprint(state: State) -> Blueprint:
    bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/ui/static")
    gate = Gate.from_settings(state.settings)
    cookie_auth = CookieKeyAuthenticator(gate)

    @bp.before_request
    def signed_in():
        if not gate.required or request.endpoint in OPEN_ENDPOINTS:
            return None
        if getattr(g, "principal", None) is None:
            g.principal = cookie_auth.authenticate(request)
        if g.principal is None:
            return redirect(url_for("web.signin", next=request.full_path if request.query_string else request.path))
        return None

    @bp.route("/signin", methods=["GET", "POST"])
    def signin():
        target = request.values.get("next") or "/"
        if not target.startswith("/") or target.startswith("//"):
            target = "/"                                # never a redirect to another site
        if request.method == "GET":
            return page("signin.html", "Sign in", target=target, required=gate.required)
        key = request.form.get("key", "")
        if not cookie_auth.check_key(key):
            return page("signin.html", "Sign in", target=target, required=gate.required,
                        errors=["That API key is not one this server accepts."]), 401
        response = redirect(target)
        response.set_cookie(COOKIE, key, httponly=True, samesite="Strict", secure=request.is_secure)
        return response

    @bp.errorhandler(ProblemError)
    def on_problem(exc: ProblemError):
        return page("problem.html", "Something is wrong", errors=[exc.detail, *labels.problems_text(exc.problems or [])]), \
            exc.status

    @bp.errorhandler(RequestEntityTooLarge)
    def on_too_large(exc):
        return page("problem.html", "Too large", errors=[f"The file or text is larger than this page takes "
                                                          f"({request.max_content_length} bytes)."]), 413

    @bp.errorhandler(HTTPException)
    def on_http(exc: HTTPException):
        return page("problem.html", "Something is wrong", errors=[exc.description or exc.name]), exc.code or 400

    @bp.errorhandler(Exception)
    def on_error(exc: Exception):
        LOG.exception("unhandled error in page request %s", getattr(g, "request_id", ""))
        return page("problem.html", "The server failed", intro="Sorry:", errors=[
            "The server failed to answer this page; the failure is logged with request id "
            f"{getattr(g, 'request_id', '')}."]), 500

    bp.state = state      # type: ignore[attr-defined]
    return bp


def not_found(exc):
    """A path that is no route: a page for a browser asking for HTML outside ``/v1``, else the API's
    problem document (as before the pages existed)."""
    if request.blueprint == "web":                 # a page's own "not found" (no such job, payer or code)
        return page("problem.html", "Something is wrong", errors=[exc.description]), 404
    wants_page = "text/html" in request.headers.get("Accept", "") and not request.path.startswith("/v1")
    if wants_page:
        return page("problem.html", "There is no such page", intro="Sorry:", errors=[
            f"There is no page at {request.path}. The pages are listed at the top."]), 404
    return answer_problem("not-found", 404, f"no resource at {request.path}; see /openapi.json")


def page(template: str, title: str, **context):
    context.setdefault("labels", labels)
    return render_template(template, title=title, pages=PAGES, **context)


def vocabulary(state: State) -> dict:
    """The vocabulary (``wire.vocabulary``) of the loaded policies, by kind, plus ``describe``."""
    policy = next(iter(state.registry.policies.values()), None)
    if policy is None:
        raise ProblemError("payer-unavailable", 503, "no policies are loaded")
    cached = _CACHE.get("vocabulary")
    if cached is None or cached[0] is not policy.vocabulary:    # a reload brings a new vocabulary
        cached = (policy.vocabulary, _vocabulary(policy.vocabulary))
        _CACHE["vocabulary"] = cached
    return cached[1]


_CACHE: dict = {}


def _vocabulary(vocab) -> dict:
    entries = wire.vocabulary(vocab)
    by_id = {kind: {(e.get("id") or e.get("code")): e for e in items} for kind, items in entries.items()}

    def describe(kind: str, item: str) -> str:
        entry = by_id.get(kind, {}).get(item) or {}
        return entry.get("description") or entry.get("name") or ""

    return {"entries": entries, "by_id": by_id, "describe": describe}


def payer_ids(state: State) -> list[str]:
    return list(state.registry.known)
