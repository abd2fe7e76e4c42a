"""The HTTP service: a Flask app over the engine.

:func:`create_app` builds the app (policies loaded, routes installed) and starts nothing: no
thread, no change to the garbage collector, so tests build as many as they like.
:func:`serving_app` is the app as a server worker runs it (``server.serve``): built, then the
loaded policies frozen out of the garbage collector's sight (``tune_gc``) and the reload watcher
started.

Endpoints are listed in the OpenAPI document (``/openapi.json``, browsable at ``/docs``) and
installed by route group (``server.routes``). Every error is an RFC 7807 problem
(``server.problems``); nothing ever answers with a traceback. Every decision gets an id, is
counted in the metrics and appended to the decision log.
"""
from __future__ import annotations

import gc
import json
import logging

from flask import Flask

from supportable.engine import icd10

from .decision_log import DecisionLog
from .observability import Metrics
from .openapi import build_spec
from .registry import Registry, use_engine
from .reload import PolicyStore
from .routes import install
from .routes.common import State
from .wire import fhir
from .settings import Settings

LOG = logging.getLogger("supportable")
VERSION = "0.4.0"
GC_THRESHOLDS = (50_000, 50, 50)


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> Flask:
    """The app over ``registry`` (by default the policies the settings name, or the last good set if
    those would be refused); it starts nothing (see :func:`serving_app`)."""
    settings = settings or Settings.from_env()
    use_engine(settings.engine)       # every registry this process loads from now on (reloads too)
    metrics = Metrics()
    on_outcome = lambda outcome: metrics.reloaded(outcome.outcome)  # noqa: E731
    if registry is None:   # the files on disk, or the last good set if they would be refused
        store = PolicyStore.open(settings.policies, settings.payers, settings.edits, settings.snapshot,
                                 settings.reload_timeout, on_outcome=on_outcome)
        registry = store.current()
    else:
        store = PolicyStore(registry, settings.policies, settings.payers, on_outcome=on_outcome,
                            edits=settings.edits, snapshot=settings.snapshot, reload_timeout=settings.reload_timeout)
    _log_loaded(settings, registry)
    app = Flask("supportable")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_batch_bytes
    state = State(settings, store, metrics, DecisionLog(settings.decision_log, metrics,
                                                               log_inputs=settings.log_inputs), build_spec(VERSION))
    app.extensions["supportable"] = state
    install(app, state)
    return app


def serving_app(settings: Settings | None = None, watch: bool = True) -> Flask:
    """The app as a server serves it: :func:`create_app` and the ICD-10-CM index and the FHIR models
    loaded (so the first request does not pay for them, and with preload the workers share them), then,
    with ``tune_gc``, the loaded policies kept out of the collector's sight (no collection touches their pages, so a
    forked worker shares them) and collections made rarer (measured with bench/bench_engine.py: p99
    down by about 60%), and, with ``watch``, the reload watcher started (file changes every
    ``reload_interval`` seconds; SIGHUP and admin requests wake it). gunicorn's master builds it
    with ``watch=False`` and each worker starts its own watcher (``server.worker``): a thread does
    not survive a fork."""
    settings = settings or Settings.from_env()
    app = create_app(settings)
    icd10.warm()
    fhir.warm()           # the FHIR models /fhir/Claim/$check reads with
    if settings.tune_gc:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
    if watch:
        app.extensions["supportable"].store.start_watching(settings.reload_interval)
    return app


def _log_loaded(settings: Settings, registry: Registry) -> None:
    LOG.info(json.dumps({"event": "policies_loaded", "policies": str(settings.policies),
                         "payers_dir": str(settings.payers) if settings.payers else None,
                         "edits_dir": str(settings.edits) if settings.edits else None,
                         "engine": registry.engine,
                         "loaded": {p: {"rules": len(ps.rules), "policy_version": ps.version, "chain": ps.chain}
                                    for p, ps in registry.policies.items()},
                         "failed": {p: [str(x) for x in problems] for p, problems in registry.failed.items()}}))
    for payer, problems in registry.failed.items():
        LOG.error(json.dumps({"event": "payer_not_loaded", "payer": payer, "problems": [str(p) for p in problems]}))
