"""Production serving: the Flask app under gunicorn (``supportable serve``, ``make serve``).

Each worker process loads the policies itself (pyDatalog's state is per thread and per process)
and answers with several threads. SIGHUP to the master asks every worker to reload the policies
safely in place (server.reload), instead of gunicorn's restart of the workers. With more than one worker, the Prometheus client runs in its
multiprocess mode so ``/metrics`` adds up every worker.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from .settings import Settings


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("supportable", "supportable.request"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


class _Server(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings, self.options = settings, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        _configure_logging()
        return create_app(self.settings)

    def run(self) -> None:
        from gunicorn.arbiter import Arbiter

        class _Arbiter(Arbiter):
            def handle_hup(self):
                # gunicorn's own HUP restarts the workers, which would lose the last good policies if
                # the new ones are broken; instead each worker reloads them safely in place.
                self.log.info("SIGHUP: asking %d worker(s) to reload the policies", len(self.WORKERS))
                for pid in list(self.WORKERS):
                    try:
                        os.kill(pid, signal.SIGHUP)
                    except ProcessLookupError:
                        pass

        _Arbiter(self).run()


class ReloadingThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, taking SIGHUP as "reload the policies safely" from the moment
    its signals are set up (while it still loads the policies, the default would kill it)."""

    def init_signals(self) -> None:
        super().init_signals()
        signal.signal(signal.SIGHUP, self._on_hup)

    _hup_while_loading = False

    def _on_hup(self, *_) -> None:
        state = self._state()
        if state is None:          # still loading: check the files again once loaded
            self._hup_while_loading = True
        else:
            state.store.request_reload()

    def _state(self):
        app = getattr(self, "wsgi", None)
        return app.extensions.get("supportable") if app is not None else None

    def load_wsgi(self) -> None:
        super().load_wsgi()
        state = self._state()
        if self._hup_while_loading and state is not None:
            state.store.request_reload()


def _child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


def serve(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="supportable-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    _configure_logging()
    logging.getLogger("supportable").info(json.dumps({
        "event": "starting", "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "policies": str(settings.policies), "payers": str(settings.payers) if settings.payers else None,
        "decision_log": str(settings.decision_log) if settings.decision_log else None}))
    options = {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
               "worker_class": "supportable.server.serve.ReloadingThreadWorker",
               "timeout": 60, "graceful_timeout": 20, "accesslog": None, "errorlog": "-", "loglevel": "warning",
               "child_exit": _child_exit}
    try:
        _Server(settings, options).run()
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
