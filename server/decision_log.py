"""The decision log: one JSON line per decision, appended, so an auditor can later see what was
decided, when, for which payer and on which policy version.

Each entry: ``id``, ``time`` (UTC), ``payer``, ``policy_version``, ``encounter``, ``input_hash``
(SHA-256 of the encounter as received, canonical JSON) and ``lines`` (line id, code, verdict,
supportable units). No patient id and no diagnosis: ``input`` (the whole encounter as received, for
replay) is added only when ``SUPPORTABLE_LOG_INPUTS`` opts in. Lines are written with one ``write`` on a file opened for appending, under a
lock, so concurrent threads and worker processes never interleave entries.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


def input_hash(document) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class DecisionLog:
    def __init__(self, path: Path | None, log_inputs: bool = False):
        self.path = Path(path) if path else None
        self.log_inputs = log_inputs
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, decision: dict, document, decided_at: str) -> None:
        if self.path is None:
            return
        entry = {"id": decision["decision_id"], "time": decided_at, "payer": decision["payer"],
                 "policy_version": decision["policy_version"], "encounter": decision["encounter"],
                 "input_hash": input_hash(document),
                 "lines": [{"line": l["line"], "code": l["code"], "verdict": l["verdict"],
                            "units": l["units"]["supportable"]} for l in decision["lines"]]}
        if self.log_inputs:
            entry["input"] = document
        data = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
