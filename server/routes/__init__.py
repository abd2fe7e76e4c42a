"""The HTTP service's routes, by group, each installed on the app by :func:`install`:

- ``hooks``: what every request goes through (request id, API key, metrics, access log, problems
  for every error);
- ``decisions``: ``/v1/check`` and ``/v1/check/batch``;
- ``x12``: ``/v1/x12/837/check`` (an X12 837P in, every encounter's decision out);
- ``fhir``: ``/fhir/Claim/$check`` (a FHIR R4 Claim in, a ClaimResponse or OperationOutcome out);
- ``payers``: ``/v1/payers``, one payer, one code's requirements, ``/v1/vocabulary``;
- ``operations``: ``/healthz``, ``/readyz``, ``/admin/reload``, ``/metrics``, ``/openapi.json``, ``/docs``;
- ``cds``: the CDS Hooks coverage service, ``/cds-services`` and ``/cds-services/<id>``;
- the web pages (``server.web``: HTML for people, not API; not in the OpenAPI document);
- ``common``: the app's state and what the groups share (problem errors, reading a JSON body, the
  explain level, the payer's policies).
"""
from __future__ import annotations

from flask import Flask

from . import cds, decisions, fhir, hooks, operations, payers, x12
from .common import State


def install(app: Flask, state: State) -> None:
    hooks.install(app, state)
    decisions.install(app, state)
    x12.install(app, state)
    fhir.install(app, state)
    payers.install(app, state)
    operations.install(app, state)
    cds.install(app, state)
    from ..web import install as install_pages      # the pages use the route groups' decisions
    install_pages(app, state)
