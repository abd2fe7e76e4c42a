"""Safe hot reload of the policies: load the new set off to the side, swap only if it loads.

The store holds the registry being served. A reload loads every payer again from the files; the
new set replaces the current one in a single reference assignment only if no payer that loads now
would stop loading (a payer already broken, or new and not loading yet, is reported but does not
hold back the others). Otherwise the server goes on serving
the last good set and the failure is recorded (``/readyz`` shows it, the log says why, a metric
counts it). A request reads the registry once, when it starts, so in-flight requests finish on
the set they started with, and every decision carries the policy version it was made on.

Triggers, in every worker process: a change to the policy files (polled: a content hash of every
YAML file under the policies and payers folders), ``POST /admin/reload`` (with the admin token),
and SIGHUP (``supportable serve`` forwards the master's SIGHUP to each worker).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from supportable.engine.policyset import default_payers_dir

from .registry import Registry

LOG = logging.getLogger("supportable")


def fingerprint(policies: Path, payers: Path | None, edits: Path | None = None) -> str:
    """A content hash of the files the loader reads: the vocabulary, the base rules, the edit tables,
    the payer overlays (not the policy tests beside them) and an imported table's manifest (which
    carries the digest of its table files)."""
    h = hashlib.sha256()
    payers = Path(payers) if payers is not None else default_payers_dir(policies)
    files = [*sorted(Path(policies).glob("vocabulary/*.yaml")), *sorted(Path(policies).glob("base/*.yaml")),
             *sorted(Path(policies).glob("edits/*.yaml")), *sorted(payers.glob("*.yaml"))]
    if edits is not None:
        files.append(Path(edits) / "manifest.json")
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        h.update(str(path).encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


@dataclass
class ReloadOutcome:
    outcome: str                 # applied, unchanged, refused
    at: str
    reason: str
    versions: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "at": self.at, "reason": self.reason, "versions": self.versions,
                "problems": self.problems}


class PolicyStore:
    def __init__(self, registry: Registry, policies: Path, payers: Path | None, on_outcome=None,
                 loaded_fingerprint: str | None = None, edits: Path | None = None):
        """``loaded_fingerprint``: the files' fingerprint taken *before* ``registry`` was loaded from
        them, so a change made while it loaded is noticed."""
        self._current = registry
        self.policies, self.payers, self.edits = Path(policies), payers, edits
        self._fingerprint = loaded_fingerprint or fingerprint(self.policies, payers, edits)
        self._lock = threading.Lock()
        self.last: ReloadOutcome | None = None
        self.on_outcome = on_outcome
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> Registry:
        return self._current

    def reload(self, reason: str, force: bool = False) -> ReloadOutcome:
        """Check the files; load, verify and swap if they changed (or ``force``)."""
        with self._lock:
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            seen = fingerprint(self.policies, self.payers, self.edits)
            if seen == self._fingerprint and not force:
                return self._record(ReloadOutcome("unchanged", now, reason))
            started = time.perf_counter()
            candidate = Registry.load(self.policies, self.payers, self.edits)
            current = self._current
            # Refused if a payer serving now would stop loading; a new payer that does not load yet
            # is reported but does not hold back the others.
            broken = {p: [str(x) for x in problems] for p, problems in candidate.failed.items()
                      if p in current.policies}
            versions = {p: ps.version for p, ps in candidate.policies.items()}
            if not broken and versions == {p: ps.version for p, ps in current.policies.items()} \
                    and set(candidate.failed) == set(current.failed):
                self._fingerprint = seen  # same policies (a comment or layout change): keep the engines
                return self._record(ReloadOutcome("unchanged", now, reason, versions))
            if broken or not candidate.policies:
                outcome = ReloadOutcome("refused", now, reason, versions, broken or
                                        {"*": ["no payer loads from the new files"]})
                self._fingerprint = seen  # do not retry the same broken files on every poll
                return self._record(outcome)
            self._current = candidate  # one reference assignment: requests see the old or the new set
            self._fingerprint = seen
            outcome = ReloadOutcome("applied", now, reason, versions,
                                    {p: [str(x) for x in problems] for p, problems in candidate.failed.items()})
            LOG.info(json.dumps({"event": "reload_timing", "seconds": round(time.perf_counter() - started, 3)}))
            return self._record(outcome)

    def _record(self, outcome: ReloadOutcome) -> ReloadOutcome:
        if outcome.outcome != "unchanged":
            self.last = outcome
            level = logging.ERROR if outcome.outcome == "refused" else logging.INFO
            LOG.log(level, json.dumps({"event": f"reload_{outcome.outcome}", **outcome.to_dict()}))
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    # -- the watcher ------------------------------------------------------------------------
    def request_reload(self) -> None:
        """Ask the watcher to check now (safe from a signal handler)."""
        self._wake.set()

    def start_watching(self, interval: float) -> None:
        """Check the files every ``interval`` seconds, and whenever asked (admin request, SIGHUP);
        with ``interval`` 0 only when asked."""
        if self._thread is not None:
            return

        def watch():
            while not self._stop.is_set():
                woken = self._wake.wait(interval if interval > 0 else None)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    self.reload("signal or admin request" if woken else "files changed")
                except Exception:  # a reload must never kill the watcher, nor the server
                    LOG.exception("policy reload failed")

        self._thread = threading.Thread(target=watch, name="policy-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
