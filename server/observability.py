"""Metrics (Prometheus) and structured request logs.

Metrics: requests by endpoint, method (a method outside RFC 9110's and PATCH counts as `other`) and status; request latency by endpoint; decisions by payer
and verdict (one count per line); policy reloads by outcome; decision log entries written
and dropped. Each app has its own registry; under gunicorn with several
workers, ``PROMETHEUS_MULTIPROC_DIR`` makes ``/metrics`` add up every worker (set by
``supportable serve``).

Request logs: one JSON line per request on the ``supportable.request`` logger: time, request id,
method, route, path, status, duration in ms and the caller's principal id (never a key). Never the
query string, a header or the body: patient data stays out of the logs.
"""
from __future__ import annotations

import json
import logging
import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

REQUEST_LOG = logging.getLogger("supportable.request")
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("supportable_http_requests", "HTTP requests", ["endpoint", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("supportable_http_request_duration_seconds", "HTTP request latency",
                                 ["endpoint"], registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.decisions = Counter("supportable_decision_lines", "Decided lines by payer and verdict",
                                 ["payer", "verdict"], registry=self.registry)

        self.reloads = Counter("supportable_policy_reloads", "Policy reload checks by outcome (applied, "
                               "refused, unchanged)", ["outcome"], registry=self.registry)

        self.decision_log_entries = Counter("supportable_decision_log_entries", "Decision log entries by outcome "
                                            "(written, dropped: the log could not be written)", ["outcome"],
                                            registry=self.registry)

    def decision_logged(self, outcome: str) -> None:
        self.decision_log_entries.labels(outcome).inc()

    def reloaded(self, outcome: str) -> None:
        self.reloads.labels(outcome).inc()

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        # Any other method is one series, `other`: a client inventing methods must not add series.
        method = method if method in STANDARD_METHODS else "other"
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def decided(self, payer: str, lines) -> None:
        for line in lines:
            self.decisions.labels(payer, line["verdict"]).inc()

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)
            return generate_latest(combined)
        return generate_latest(self.registry)


def log_request(request_id: str, method: str, route: str, path: str, status: int, started: float, **extra) -> None:
    if not REQUEST_LOG.isEnabledFor(logging.INFO):
        return
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": "request", "request_id": request_id,
             "method": method, "route": route, "path": path, "status": status,
             "duration_ms": round((time.perf_counter() - started) * 1000, 3), **extra}
    REQUEST_LOG.info(json.dumps(entry))
