"""The HTTP service's routes, by group, each installed on the app by :func:`install`:

- ``hooks``: what every request goes through (request id, API key, metrics, access log, problems
  for every error);
- ``decisions``: ``/v1/check`` and ``/v1/check/batch``;
- ``payers``: ``/v1/payers``, one payer, one code's requirements, ``/v1/vocabulary``;
- ``operations``: ``/healthz``, ``/readyz``, ``/admin/reload``, ``/metrics``, ``/openapi.json``, ``/docs``;
- the web pages (``server.web``: HTML for people, not API; not in the OpenAPI document);
- ``common``: the app's state and what the groups share (problem errors, reading a JSON body, the
  explain level, the payer's policies).
"""
from __future__ import annotations

from flask import Flask

from . import decisions, hooks, operations, payers
from .common import State


def install(app: Flask, state: State) -> None:
    hooks.install(app, state)
    decisions.install(app, state)
    payers.install(app, state)
    operations.install(app, state)
    from ..web import install as install_pages      # the pages use the route groups' decisions
    install_pages(app, state)
