"""Background jobs for the pages (a day's claims, the analyst's runs): started by one request, run in
a thread of the worker that took it, their progress and result written to files under
``SUPPORTABLE_WEB_JOBS`` so that whichever worker answers the next poll can read them.

A job folder holds ``status.json`` (``status``: queued, running, done or failed; ``done`` and
``total``; a ``message`` for people) and, once done, ``result.json``. Each file is written whole
(a temporary file renamed over it), so a reader never sees half of one. Jobs older than a day are
removed when a new one starts. A job's id is random (128 bits): knowing it is what lets a person see it.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

LOG = logging.getLogger("supportable")
KEEP_SECONDS = 24 * 3600
STALE_SECONDS = 300      # a job that reported nothing for this long stopped with its worker (a restart)
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobError(Exception):
    """A job failed in a way a person can act on: the message is shown on the page."""


class Progress:
    """What a running job reports: ``step(done, total, message)``."""

    def __init__(self, store: "JobStore", job_id: str):
        self.store, self.job_id = store, job_id
        self._last = 0.0

    def step(self, done: int, total: int, message: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last > 0.2 or done == total:     # a few writes a second at most
            self._last = now
            self.store._write(self.job_id, "status.json", {"status": "running", "done": done, "total": total,
                                                           "message": message})


class JobStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def start(self, kind: str, work: Callable[[Progress], dict], total: int = 0, meta: dict | None = None) -> str:
        """Start ``work(progress) -> result`` in a thread; the job's id."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._expire()
        job_id = uuid.uuid4().hex
        (self.folder / job_id).mkdir()
        self._write(job_id, "meta.json", {"kind": kind, "started": time.time(), **(meta or {})})
        self._write(job_id, "status.json", {"status": "queued", "done": 0, "total": total, "message": "waiting to start"})

        def run():
            try:
                result = work(Progress(self, job_id))
            except JobError as exc:
                self._write(job_id, "status.json", {"status": "failed", "done": 0, "total": total, "message": str(exc)})
                return
            except Exception:  # a fault: logged in full, the page says only that it failed
                LOG.exception("web job %s (%s) failed", job_id, kind)
                self._write(job_id, "status.json", {"status": "failed", "done": 0, "total": total,
                                                    "message": f"the job failed in the server (job {job_id}; the log "
                                                               "has the details)"})
                return
            self._write(job_id, "result.json", result)
            status = self.status(job_id) or {}
            self._write(job_id, "status.json", {"status": "done", "done": status.get("total", total),
                                                "total": status.get("total", total), "message": "done"})

        threading.Thread(target=run, name=f"web-job-{job_id[:8]}", daemon=True).start()
        return job_id

    def status(self, job_id: str) -> dict | None:
        status = self._read(job_id, "status.json")
        if status is not None and status.get("status") in ("queued", "running"):
            try:
                quiet = time.time() - (self.folder / job_id / "status.json").stat().st_mtime
            except OSError:
                quiet = 0.0
            if quiet > STALE_SECONDS:
                return {**status, "status": "failed", "message": "the job stopped when the server restarted; "
                        "start it again"}
        return status

    def meta(self, job_id: str) -> dict | None:
        return self._read(job_id, "meta.json")

    def result(self, job_id: str) -> dict | None:
        return self._read(job_id, "result.json")

    def _read(self, job_id: str, name: str) -> dict | None:
        if not JOB_ID.match(job_id or ""):
            return None
        try:
            return json.loads((self.folder / job_id / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write(self, job_id: str, name: str, data: dict) -> None:
        path = self.folder / job_id / name
        tmp = path.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
        os.replace(tmp, path)

    def _expire(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        for entry in self.folder.iterdir():
            try:
                if JOB_ID.match(entry.name) and entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass


# -- what the job pages share (the day's claims, the analyst) -------------------------------------------

GONE = "There is no such job (jobs are kept for a day)."


def status_answer(store: JobStore, job_id: str):
    """A job's progress as JSON, polled by its page; 404 for a job that is not (or no longer) kept."""
    from flask import abort, jsonify
    status = store.status(job_id)
    if status is None:
        abort(404, description=GONE)
    return jsonify(status)


def finished(store: JobStore, job_id: str, title: str, status_endpoint: str):
    """(status, meta, None) for a finished job; else (status, meta, the page that shows it running or
    failed, polling ``status_endpoint``). 404 for a job that is not kept."""
    from flask import abort, url_for
    from .pages import page
    status, meta = store.status(job_id), store.meta(job_id)
    if status is None or meta is None:
        abort(404, description=GONE)
    if status["status"] == "done":
        return status, meta, None
    return status, meta, page("job.html", title, status=status, meta=meta, job_id=job_id,
                              poll=url_for(status_endpoint, job_id=job_id),
                              errors=[status["message"]] if status["status"] == "failed" else [])
