"""The web pages: HTML for a billing manager and a policy analyst, served by the same Flask app as
the API (Jinja2 templates and static files in this package; nothing loaded from the internet).

Pages are not API: they are left out of the OpenAPI document on purpose (docs/web.md). They reach
the engine only through the facade and show the wire documents the API sends (a decision is made by
the same function as ``POST /v1/check``, so it gets an id and goes to the decision log).

- ``check``: "Check a claim" (``/``, ``/check``, ``/result``) and the diagnosis search
- ``day``: "A day's claims" (``/day``, background jobs, ``/day/jobs/<id>``)
- ``payers``: "Payers" (``/payers``, one payer, one code, the diff of two)
- ``analyst``: "Analyst" (lint, policy tests and impact of a candidate overlay, as jobs)
- ``pages``: what the groups share (the blueprint, sign-in, error pages, the vocabulary)

Sign-in: where the API needs a key (server/auth.py) the pages do too. A person signs in once on
``/signin`` with an API key; the page keeps it in an HttpOnly, SameSite=Strict cookie (Secure over
TLS) that ``auth.CookieKeyAuthenticator`` checks against the same keys, and every page asks for it.
"""
from __future__ import annotations

from flask import Flask

from ..routes.common import State
from . import analyst, check, day, pages, payers


def install(app: Flask, state: State) -> None:
    blueprint = pages.blueprint(state)
    for group in (check, day, payers, analyst):
        group.install(blueprint, state)
    app.register_blueprint(blueprint)
    app.register_error_handler(404, pages.not_found)
