"""What runs on a Dask worker: the policies, loaded once per worker process, and the decision of a
partition of encounters.

The policies are read from the paths the audit names (``Settings``) by each worker process itself,
once: :data:`_LOADED` caches them for the life of the process, keyed by the paths and the engine, so
every later task of the audit (and of later audits on the same cluster) finds them built. Each
worker checks that what it read is what the client read (the sources' digest) and reports the
policy version of every payer; the client compares those versions across workers before the run
(``prepare``) and every task compares its worker's versions with the agreed ones, so a worker that
joins later with other policies or another engine build is refused by name.

A partition's result is one JSON text per encounter, in order (``{"index", "source", "decision"}``
or ``{"index", "source", "error"}``, the error a problem document with field paths), and the
partition's :class:`~supportable.audit.summary.Tally`. Nothing about one encounter stops the others.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from supportable import engine as facade
from supportable.server import wire
from supportable.server.problems import problem
from supportable.server.wire.audit import audit_result

from .summary import Tally

BASE = "base"


class PolicyMismatch(Exception):
    """A worker's policies differ from the client's or from the other workers'."""


@dataclass(frozen=True)
class Settings:
    """What every task needs to know, the same for the whole audit (small: sent with each task)."""
    policies: str
    payers: str | None
    edits: str | None
    engine: str
    payer: str | None            # decide every encounter under this payer, else each one's own `payer`
    explain: str                 # "summary" or "full", as `check --format json [--explain]`
    digest: str                  # the client's digest of the policy sources
    versions: dict = field(default_factory=dict)   # payer -> policy version the workers agreed on


class _Policies:
    """One process's policies for one set of sources: every payer built once, when first asked."""

    def __init__(self, settings: Settings):
        self.sources = facade.PolicySources.from_dirs(Path(settings.policies),
                                                      Path(settings.payers) if settings.payers else None,
                                                      Path(settings.edits) if settings.edits else None)
        self.digest = self.sources.digest()
        self.known = set(self.sources.payer_ids())
        self.parsed = facade.parse_sources(self.sources)
        self.engine = settings.engine
        self.built: dict[str, object] = {}     # payer -> PolicySet, or the PolicyError it raised

    def get(self, payer: str):
        if payer not in self.built:
            try:
                self.built[payer] = facade.build_policy_set(self.parsed, payer, self.engine)
            except facade.PolicyError as exc:
                self.built[payer] = exc
        return self.built[payer]

    def versions(self) -> dict[str, str]:
        out = {}
        for payer in sorted(self.known):
            got = self.get(payer)
            out[payer] = got.version if not isinstance(got, Exception) else "does-not-load"
        return out


_LOADED: dict[tuple, _Policies] = {}
LOADS = {"count": 0}       # how many times this process read and parsed policy sources (tests read it)


def worker_name() -> str:
    """This Dask worker's address, else the process id (a program deciding in its own process, such
    as a web worker, which never imports distributed for it)."""
    if "distributed" not in sys.modules:
        return f"pid {os.getpid()}"
    try:
        from distributed import get_worker
        return get_worker().address
    except ValueError:
        return f"pid {os.getpid()}"


def policies(settings: Settings) -> _Policies:
    key = (settings.policies, settings.payers, settings.edits, settings.engine)
    loaded = _LOADED.get(key)
    if loaded is None:
        loaded = _Policies(settings)
        LOADS["count"] += 1
        _LOADED[key] = loaded
    if loaded.digest != settings.digest:
        raise PolicyMismatch(f"worker {worker_name()} reads other policy files than the client (sources digest "
                             f"{loaded.digest}, the client's {settings.digest}): give every worker the same "
                             f"policies at `{settings.policies}`")
    return loaded


def prepare(settings: Settings) -> dict:
    """Load the policies in this worker process (run on every worker before the audit): its digest,
    the version of every payer, and how many loads this process has made."""
    loaded = policies(settings)
    return {"worker": worker_name(), "pid": os.getpid(), "versions": loaded.versions(), "loads": LOADS["count"]}


def load_count() -> int:
    return LOADS["count"]


def _error(item, kind: str, status: int, detail: str, problems: list | None = None) -> dict:
    return audit_result(item.index, item.source, error=problem(kind, status, detail, problems))


def decide_item(loaded: _Policies, settings: Settings, item, patient: dict | None = None
                ) -> tuple[dict, str | None, dict | None]:
    """The result document of one encounter, the payer it was decided under and its lines' charges.
    ``patient`` replaces fields of the encounter's ``patient`` (the history derived from the corpus)."""
    if item.unreadable:
        status = 400 if item.problem in ("not-utf8", "invalid-x12") else 422
        return _error(item, item.problem, status, item.unreadable), settings.payer, None
    try:
        document = json.loads(item.text)
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else getattr(exc, "msg", str(exc))
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return _error(item, "invalid-json", 400, f"{item.source} is not a JSON document{where}: {why}"), settings.payer, None
    own = document.get("payer") if isinstance(document, dict) else None
    payer = settings.payer or (own if isinstance(own, str) and own else BASE)
    if payer not in loaded.known:
        return _error(item, "unknown-payer", 422, f"unknown payer `{payer}`; known: {', '.join(sorted(loaded.known))}",
                      [{"path": "payer", "code": "unknown_payer", "message": f"unknown payer `{payer}`"}]), payer, None
    policy = loaded.get(payer)
    if isinstance(policy, Exception):
        return _error(item, "payer-unavailable", 503, f"payer `{payer}`'s policies did not load",
                      wire.problem_items(policy.problems)), payer, None
    expected = settings.versions.get(payer)
    if expected is not None and policy.version != expected:
        raise PolicyMismatch(f"worker {worker_name()} has policy version {policy.version} for payer `{payer}`; "
                             f"the audit's workers agreed on {expected}")
    if patient and isinstance(document, dict) and isinstance(document.get("patient"), dict):
        document = {**document, "patient": {**document["patient"], **patient}}
    try:
        encounter = policy.read_encounter(document)
    except facade.InputError as exc:
        return _error(item, "invalid-encounter", 422, f"the encounter is not valid: {len(exc.problems)} problem(s)",
                      wire.problem_items(exc.problems)), payer, None
    try:
        body = wire.decision(policy.decide(encounter, settings.explain), settings.explain)
    except Exception as exc:  # an engine fault on this encounter: reported in its place, the run goes on
        return _error(item, "internal-error", 500, f"the engine failed on this encounter ({type(exc).__name__}: "
                      f"{exc}); it was not decided"), payer, None
    charges = {line.id: line.charge for line in encounter.lines if line.charge is not None}
    return audit_result(item.index, item.source, decision=body), payer, charges


def decide_partition(settings: Settings, items: list, patients: dict | None = None, loaded=None) -> dict:
    """Decide a partition: its result lines (JSON text, in order), its tally, who decided it.
    ``loaded``: policies already built in this process (anything with ``known``, ``get(payer)`` and
    ``versions()``, such as a web server's; run_audit's ``AuditJob.here``), else this worker's own."""
    loaded = loaded if loaded is not None else policies(settings)
    tally, lines = Tally(), []
    for item in items:
        started = time.perf_counter()
        result, payer, charges = decide_item(loaded, settings, item, (patients or {}).get(item.index))
        elapsed = (time.perf_counter() - started) * 1000
        tally.add(result, payer, elapsed, charges)
        lines.append(json.dumps(result, separators=(",", ":"), default=str))
    return {"first": items[0].index if items else None, "lines": lines, "tally": tally, "worker": worker_name(),
            "loads": LOADS["count"]}
