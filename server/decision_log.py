"""The decision log: one JSON line per decision, appended, so an auditor can later see what was
decided, when, for which payer and on which policy version.

Each entry: ``id``, ``time`` (UTC), ``payer``, ``policy_version``, ``encounter``, ``input_hash``
(SHA-256 of the encounter as received, canonical JSON) and ``lines`` (line id, code, verdict,
supportable units and, since issue 14, ``reasons``: each reason's rule id, kind, CARC and RARC). No
patient id and no diagnosis: ``input`` (the whole encounter as received, for replay) is added only
when ``SUPPORTABLE_LOG_INPUTS`` opts in.

``find(id)`` gives a logged entry back (``GET /v1/decisions/{id}``) through the index beside the log
(server.decision_index: a SQLite file every worker shares), never by reading the whole log.

A line is written whole or not at all: under an exclusive ``flock`` on the file (held across
threads and worker processes), the entry is appended; if the write fails or stops short (a full
disk, a file size limit), the file is cut back to its size before the write, so no fragment
remains and the next entry starts on a clean line (a fragment left by something else gets a
line break before the next entry). When the log cannot be written the service keeps answering,
as OPA does with its decision logs: the entry is dropped and counted
(``supportable_decision_log_entries_total{outcome="dropped"}``), ``/readyz`` reports the log as
``failing`` (status ``degraded``) with the count and the last error, and the log recovers by
itself at the next write that succeeds.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from .decision_index import DecisionIndex

LOG = logging.getLogger("supportable")


def input_hash(document) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class DecisionLog:
    def __init__(self, path: Path | None, metrics=None, log_inputs: bool = False):
        """``metrics``: a ``server.observability.Metrics`` to count written and dropped entries;
        ``log_inputs``: keep each whole encounter as received (patient data; opt-in, for replay)."""
        self.path = Path(path) if path else None
        self.metrics = metrics
        self.log_inputs = log_inputs
        self._lock = threading.Lock()
        self.written = self.dropped = 0     # this process's counts
        self.failing = False
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.index = DecisionIndex(self.path) if self.path is not None else None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:   # reported by /readyz; the service still answers
                self._failed(exc)

    def append(self, decision: dict, document, decided_at: str) -> bool:
        """Append the decision's entry; False (and counted as dropped) if it could not be written.
        Never raises."""
        if self.path is None:
            return True
        entry = {"id": decision["decision_id"], "time": decided_at, "payer": decision["payer"],
                 "policy_version": decision["policy_version"], "encounter": decision["encounter"],
                 "input_hash": input_hash(document),
                 "lines": [{"line": l["line"], "code": l["code"], "verdict": l["verdict"],
                            "units": l["units"]["supportable"],
                            "reasons": [{"id": r["id"], "kind": r["kind"], "carc": r["carc"], "rarc": r["rarc"]}
                                        for r in l.get("reasons", ())]} for l in decision["lines"]]}
        if self.log_inputs:
            entry["input"] = document
        return self.write_line((json.dumps(entry, separators=(",", ":")) + "\n").encode(), entry["id"])

    def find(self, entry_id: str) -> dict | None:
        """The logged entry ``entry_id`` (as written), or None: no such entry, or no log."""
        if self.index is None:
            return None
        return self.index.find(entry_id)

    def write_line(self, data: bytes, entry_id: str | None = None) -> bool:
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                return self._failed(exc)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)    # released when fd closes
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data           # never append onto a fragment
                done = 0
                try:
                    while done < len(data):
                        n = os.write(fd, data[done:])
                        if n <= 0:
                            raise OSError(errno.EIO, "the write made no progress")
                        done += n
                except OSError as exc:
                    if done:
                        self._cut_back(fd, size)
                    return self._failed(exc, done, len(data))
                if entry_id is not None and self.index is not None:   # still under the flock: in log order
                    line = data[1:] if data[:1] == b"\n" else data
                    self.index.added(fd, entry_id, size + len(data) - len(line), len(line))
            except OSError as exc:
                return self._failed(exc)
            finally:
                os.close(fd)
            self.written += 1
            self.failing = False
        if self.metrics is not None:
            self.metrics.decision_logged("written")
        return True

    def _cut_back(self, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
        except OSError as exc:
            LOG.error(json.dumps({"event": "decision_log_fragment", "path": str(self.path), "at_byte": size,
                                  "error": str(exc)}))

    def _failed(self, exc: OSError, done: int = 0, size: int = 0) -> bool:
        self.dropped += 1
        first = not self.failing
        self.failing = True
        self.last_error = f"{exc.strerror or exc}" + (f" after {done} of {size} bytes" if done else "")
        self.last_error_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if first:   # once per failing spell; the metric counts every dropped entry
            LOG.error(json.dumps({"event": "decision_log_failing", "path": str(self.path), "error": self.last_error}))
        if self.metrics is not None:
            self.metrics.decision_logged("dropped")
        return False

    def status(self) -> dict:
        """For /readyz: ``off``, ``ok`` or ``failing``, with this worker process's counts."""
        if self.path is None:
            return {"status": "off"}
        out = {"status": "failing" if self.failing else "ok", "written": self.written, "dropped": self.dropped}
        if self.last_error is not None:
            out.update(last_error=self.last_error, last_error_at=self.last_error_at)
        return out
