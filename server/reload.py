"""Safe hot reload of the policies: load the new set off to the side, swap only if it loads.

The store holds the registry being served. A reload copies the policy files aside and loads the
copy in a child process with a deadline (``server.policyfiles``); the new set replaces the current
one in a single reference assignment only if no payer that serves now would stop loading or
disappear (a payer already broken, or new and not loading yet, is reported but does not hold back
the others; a payer leaves only when retired explicitly with a ``payers/<id>.retired`` marker).
Otherwise the server goes on serving the last good set and the refusal is recorded (``/readyz``
shows it under ``refused`` until the files change, ``POST /admin/reload`` answers it, the log
says why, a metric counts it). Every applied set is kept on disk as the last good set; a worker
that starts while the files on disk would be refused serves that set instead, so every worker
answers the same whatever the order of restarts. A request reads the registry once, when it
starts, so in-flight requests finish on the set they started with, and every decision carries
the policy version it was made on.

Triggers, in every worker process: a change to the policy files (polled: the digest of the
policy sources, ``engine.sources``), ``POST /admin/reload`` (with the admin token),
and SIGHUP (``supportable serve`` forwards the master's SIGHUP to each worker).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from supportable.engine import Location, PolicySources, Problem, payer_ids

from .policyfiles import (CheckTimeout, Staged, check, current_manifest, load, publish, read_snapshot, stage,
                          summarize)
from .registry import Registry, unexpected_problem
from .wire import problem_item, problem_items

LOG = logging.getLogger("supportable")
# A worker's start loads the files twice (the bounded check, then its own load) before gunicorn's
# worker timeout (60 s, server/serve.py) would kill it; the check at start gets at most this much.
START_TIMEOUT_CAP = 25.0


def fingerprint(policies: Path, payers: Path | None, edits: Path | None = None) -> str:
    """The digest of the policy sources (``PolicySources.digest``, as hex): the vocabulary, the base
    rules, the edit tables, the payer overlays and retirement markers (not the policy tests beside
    them) and an imported table's manifest (which carries the digest of its table files)."""
    return PolicySources.from_dirs(policies, payers, edits).digest().removeprefix("sha256:")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ReloadOutcome:
    outcome: str                 # applied, unchanged, refused
    at: str
    reason: str
    versions: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[dict]] = field(default_factory=dict)   # payer ("*": every payer) -> problems (wire.ProblemItem)
    retired: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "at": self.at, "reason": self.reason, "versions": self.versions,
                "problems": self.problems, "retired": self.retired}


def _all(problem: Problem) -> dict[str, list[dict]]:
    return {"*": [problem_item(problem)]}


class PolicyStore:
    def __init__(self, registry: Registry, policies: Path, payers: Path | None, on_outcome=None,
                 loaded_fingerprint: str | None = None, edits: Path | None = None,
                 snapshot: Path | None = None, reload_timeout: float = 60.0):
        """``loaded_fingerprint``: the files' fingerprint taken *before* ``registry`` was loaded from
        them, so a change made while it loaded is noticed. ``snapshot``: the folder of the last good
        set (None: not kept). ``reload_timeout``: seconds a load of the files may take (0: unbounded)."""
        self._current = registry
        self.policies, self.payers, self.edits = Path(policies), payers, edits
        self.snapshot = Path(snapshot) if snapshot else None
        self.reload_timeout = reload_timeout
        self._fingerprint = loaded_fingerprint or fingerprint(self.policies, payers, edits)
        self._lock = threading.Lock()
        self.last: ReloadOutcome | None = None
        self.refused: ReloadOutcome | None = None   # set while the files on disk are refused
        self.snapshot_state: dict = {"path": str(self.snapshot) if self.snapshot else None}
        self.on_outcome = on_outcome
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def open(cls, policies: Path, payers: Path | None, edits: Path | None = None, snapshot: Path | None = None,
             reload_timeout: float = 60.0, on_outcome=None) -> "PolicyStore":
        """Start-up: the files on disk, checked like a reload against the last good set on disk; if
        they would be refused (a payer serving in the last good set broken or gone), or checking
        them fails or times out, the last good set serves instead and the refusal is reported.
        Never raises: with nothing to serve, every payer answers 503 with its problems."""
        seen = fingerprint(policies, payers, edits)
        store = cls(Registry(), policies, payers, on_outcome, seen, edits, snapshot, reload_timeout)
        with store._lock:
            try:
                store._start()
            except Exception as exc:  # a worker must boot whatever is on disk
                LOG.exception("policy start-up failed")
                store._current = Registry(failed={"base": [unexpected_problem(exc, store.policies, payers)]})
        return store

    def _start(self) -> None:
        last_good = None
        if self.snapshot is not None:
            try:
                last_good = read_snapshot(self.snapshot, self.policies, self.payers)
            except Exception as exc:
                LOG.error(json.dumps({"event": "snapshot_unreadable", "path": str(self.snapshot), "error": str(exc)}))
                self.snapshot_state["error"] = str(exc)
        bound = min(self.reload_timeout, START_TIMEOUT_CAP) if self.reload_timeout > 0 else 0
        staged, summary, problems = self._stage_and_check(bound, last_good[1] if last_good is not None else None)
        try:
            serving = list(last_good[1]["payers"]) if last_good is not None else []
            if summary is not None:
                problems = self._broken(summary, staged, serving)
                if not summary["policies"]:
                    problems = problems or _all(Problem("nothing_loads", "no payer loads from the files"))
            if not problems or last_good is None:
                if summary is not None:
                    self._current = load(staged, self.edits)
                    if self._current.policies:
                        self._publish(staged, self._current)
                else:   # nothing to fall back on, and the files could not be checked
                    self._current = Registry(failed={p: [Problem(**_problem_args(x)) for x in problems["*"]]
                                                     for p in payer_ids(self.policies, self.payers)})
                    self._refuse(ReloadOutcome("refused", _now(), "start-up", {}, problems), self._fingerprint)
                return
            snap, manifest = last_good
            try:
                self._current = load(snap, self.edits)
            finally:
                snap.remove()
            self.snapshot_state.update(set=manifest.get("set"), written_at=manifest.get("written_at"))
            self._refuse(ReloadOutcome("refused", _now(), "start-up: the files on disk are refused; serving the "
                                       f"last good set from the snapshot written at {manifest.get('written_at')}",
                                       summary["policies"] if summary else {}, problems), self._fingerprint)
        finally:
            staged.remove()
            if last_good is not None:
                last_good[0].remove()

    def current(self) -> Registry:
        return self._current

    def after_fork(self) -> str:
        """In a worker forked from the master that loaded this store at start-up (preload): keep the
        inherited set if it is still the set in force, else start as a worker that loads its own
        would (the files on disk, checked against the last good set). The inherited set is in force
        if the files on disk have the digest it was loaded (or refused) with and the last good set
        on disk is the one it published or served; a worker forked after a reload, or after the
        files broke, finds otherwise. Returns ``inherited`` or ``reloaded``; never raises."""
        self._lock = threading.Lock()           # a fork keeps no other thread: nothing can hold them
        self._wake, self._stop, self._thread = threading.Event(), threading.Event(), None
        with self._lock:
            try:
                seen = fingerprint(self.policies, self.payers, self.edits)
                published = current_manifest(self.snapshot) if self.snapshot is not None else None
                if seen == self._fingerprint and (self.snapshot is None or (published or {}).get("set")
                                                  == self.snapshot_state.get("set")):
                    return self._forked("inherited")
                self._fingerprint, self.refused = seen, None
                self._start()
            except Exception as exc:  # a worker must boot whatever is on disk
                LOG.exception("policy start-up failed")
                self._current = Registry(failed={"base": [unexpected_problem(exc, self.policies, self.payers)]})
            return self._forked("reloaded")

    def _forked(self, how: str) -> str:
        LOG.info(json.dumps({"event": f"policies_{how}", "pid": os.getpid(),
                             "versions": {p: ps.version for p, ps in self._current.policies.items()},
                             "refused": self.refused is not None}))
        return how

    def reload(self, reason: str, force: bool = False, polled: bool = False) -> ReloadOutcome:
        """Check the files; load, verify and swap if they changed (or ``force``). Files that were
        refused and have not changed since are refused again (not "unchanged"; a ``polled`` check by
        the watcher counts as unchanged in the metrics)."""
        with self._lock:
            try:
                return self._reload(reason, force, polled)
            except Exception as exc:   # never a 500, never a dead watcher: refused, and the old set serves
                LOG.exception("policy reload failed")
                outcome = ReloadOutcome("refused", _now(), reason, {}, _all(
                    unexpected_problem(exc, self.policies, self.payers)))
                try:   # not again on every poll: only when the files change
                    return self._refuse(outcome, fingerprint(self.policies, self.payers, self.edits))
                except Exception:
                    return self._record(outcome)

    def _reload(self, reason: str, force: bool, polled: bool) -> ReloadOutcome:
        now = _now()
        seen = fingerprint(self.policies, self.payers, self.edits)
        if seen == self._fingerprint and not force:
            if self.refused is not None:   # asked again: the same refusal (not "unchanged"), logged once
                again = replace(self.refused, at=now, reason=f"{reason}: the files are unchanged since they "
                                f"were refused at {self.refused.at}")
                if self.on_outcome is not None:
                    self.on_outcome(ReloadOutcome("unchanged", now, reason) if polled else again)
                return again
            return self._record(ReloadOutcome("unchanged", now, reason))
        started = time.perf_counter()
        staged, summary, problems = self._stage_and_check()
        try:
            if summary is None:
                return self._refuse(ReloadOutcome("refused", now, reason, {}, problems), seen)
            current = self._current
            versions = summary["policies"]
            broken = self._broken(summary, staged, current.policies)
            if not broken and versions == {p: ps.version for p, ps in current.policies.items()} \
                    and set(summary["failed"]) == set(current.failed):
                self._fingerprint, self.refused = seen, None  # same policies: keep the engines
                return self._record(ReloadOutcome("unchanged", now, reason, versions))
            if broken or not versions:
                return self._refuse(ReloadOutcome("refused", now, reason, versions, broken or _all(
                    Problem("nothing_loads", "no payer loads from the new files"))), seen)
            candidate = load(staged, self.edits)   # the checked copy
            lost = {p: problem_items(candidate.failed[p]) for p in current.policies
                    if p in candidate.failed}
            if lost:
                return self._refuse(ReloadOutcome("refused", now, reason, versions, lost), seen)
            self._current = candidate  # one reference assignment: requests see the old or the new set
            self._fingerprint, self.refused = seen, None
            retired = sorted(p for p in current.policies
                             if p not in candidate.policies and p not in candidate.failed)
            self._publish(staged, candidate)
            failed = {p: problem_items(problems) for p, problems in candidate.failed.items()}
            outcome = ReloadOutcome("applied", now, reason, versions, failed, retired)
            LOG.info(json.dumps({"event": "reload_timing", "seconds": round(time.perf_counter() - started, 3)}))
            return self._record(outcome)
        finally:
            staged.remove()

    def _stage_and_check(self, timeout: float | None = None, last_good: dict | None = None
                         ) -> tuple[Staged, dict | None, dict[str, list[dict]] | None]:
        """Copy the files aside and load the copy with the deadline: (copy, summary or None, problems).
        At start, files that are exactly the last good set (``last_good``: its manifest) were loaded
        and checked when it was saved: its manifest is their summary, and a start (a restart with
        the same files, the usual case) costs one load instead of two."""
        try:
            staged = stage(self.policies, self.payers, self.snapshot)
        except OSError as exc:   # the snapshot folder is not writable: stage in the temp folder
            self.snapshot_state["error"] = f"cannot write to the snapshot folder: {exc}"
            staged = stage(self.policies, self.payers, None)
        if staged.unreadable:
            return staged, None, {"*": [problem_item(Problem("unreadable_file", f"cannot read `{name}`: {why}", Location(name)))
                                        for name, why in sorted(staged.unreadable.items())]}
        if last_good is not None and last_good.get("set") == staged.set_id and self.edits is None:
            return staged, {"policies": {p: v["policy_version"] for p, v in last_good.get("payers", {}).items()},
                            "failed": {p: [] for p in last_good.get("failed", [])}}, None
        try:
            return staged, check(staged, self.edits, self.reload_timeout if timeout is None else timeout), None
        except CheckTimeout as exc:
            return staged, None, _all(Problem("reload_timeout", f"{exc}; the new files are refused and the last "
                                              "good set serves (is a file too large, or full of YAML aliases?)"))
        except Exception as exc:
            LOG.exception("checking the policy files failed")
            return staged, None, _all(unexpected_problem(exc, staged.policies, staged.payers))

    @staticmethod
    def _broken(summary: dict, staged: Staged, serving) -> dict[str, list[dict]]:
        """Problems of every payer serving now that would stop loading, or is gone without being retired."""
        broken = {p: summary["failed"][p] for p in serving if p in summary["failed"]}
        for p in serving:
            if p not in summary["policies"] and p not in summary["failed"] and p not in staged.retired:
                broken[p] = [problem_item(Problem("payer_removed", f"payer `{p}` serves now but its overlay file is "
                                                  f"gone; to retire it, add the marker file `payers/{p}.retired`",
                                                  Location(f"payers/{p}.yaml")))]
        return broken

    def _refuse(self, outcome: ReloadOutcome, seen: str) -> ReloadOutcome:
        self._fingerprint = seen   # do not load the same refused files on every poll
        self.refused = outcome
        return self._record(outcome)

    def _publish(self, staged: Staged, registry: Registry) -> None:
        if self.snapshot is None:
            return
        try:
            manifest = publish(self.snapshot, staged, summarize(registry), self.policies, self.payers)
            self.snapshot_state.update(set=manifest.get("set"), written_at=manifest.get("written_at"))
            self.snapshot_state.pop("error", None)
        except Exception as exc:   # a full disk must not stop a reload: the set serves, unsaved
            self.snapshot_state["error"] = f"the last good set could not be saved: {exc}"
            LOG.error(json.dumps({"event": "snapshot_failed", "path": str(self.snapshot), "error": str(exc)}))

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
                    self.reload("signal or admin request" if woken else "files changed", polled=not woken)
                except Exception:  # a reload must never kill the watcher, nor the server
                    LOG.exception("policy reload failed")

        self._thread = threading.Thread(target=watch, name="policy-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


def _problem_args(d: dict) -> dict:
    location = Location(d["file"], d.get("line", 0), d.get("column", 0)) if "file" in d else None
    return {"code": d["code"], "message": d["message"], "location": location, "level": d.get("level", "error")}
