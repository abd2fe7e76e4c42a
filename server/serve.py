"""Production serving: the Flask app under gunicorn (``supportable serve``, ``make serve``).

The master loads the policies once and forks the workers from it (``preload``, on by default), so
start-up costs one load and the loaded policies' pages are shared; a worker forked later (after a
crash or a kill) keeps what it inherits only if that is still the set in force, and otherwise
starts as a worker that loads its own would (``PolicyStore.after_fork``). pyDatalog's state is per
thread, so each worker's threads build their own engines. Each worker answers with several threads; its requests are read by its poller first, so slow and idle
clients hold no thread (``server.worker``). SIGHUP to the master asks every worker to reload the policies
safely in place (server.reload), instead of gunicorn's restart of the workers. With more than one worker, the Prometheus client runs in its
multiprocess mode so ``/metrics`` adds up every worker.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import socket
import tempfile

from gunicorn.app.base import BaseApplication

from .auth import AuthError, Gate, is_loopback
from .logs import configure_logging, gunicorn_logconfig
from .settings import Settings, SettingsError, unknown_variables
from .worker import ReloadingThreadWorker  # noqa: F401  (gunicorn's worker_class names it here)

LOG = logging.getLogger("supportable")
EXIT_USAGE, EXIT_CANNOT_LISTEN = 2, 6


def _configure_logging(level: str | None = None) -> None:
    configure_logging(level or os.environ.get("SUPPORTABLE_LOG_LEVEL", "info").strip().lower() or "info")


class BindError(OSError):
    """The address cannot be bound (in use, not this machine's, or not allowed)."""


def check_bind(host: str, port: int) -> None:
    """Bind the address once, as gunicorn will, and let it go: a busy port fails at once with a clear
    message instead of gunicorn's five one-second retries."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(errno.EADDRNOTAVAIL, f"cannot resolve host `{host}`: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        why = {errno.EADDRINUSE: "the port is already in use (another server is running there?)",
               errno.EADDRNOTAVAIL: "the address is not one of this machine's",
               errno.EACCES: "binding this port is not allowed (ports below 1024 need privileges)"}
        raise BindError(exc.errno, f"cannot listen on {host}:{port}: {why.get(exc.errno, exc.strerror)}") from None
    finally:
        sock.close()


class _Server(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings, self.options = settings, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # With preload (the default) this runs once, in the master, before the workers are forked;
        # without, in every worker. Either way the worker starts the reload watcher (server.worker).
        from .app import serving_app
        _configure_logging(self.settings.log_level)
        return serving_app(self.settings, watch=False)

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


def _child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


def logging_options(settings: Settings) -> dict:
    """gunicorn's own logs in the app's JSON format, on stderr (see server.logs)."""
    return {"errorlog": "-", "accesslog": None, "loglevel": settings.log_level,
            "logconfig_dict": gunicorn_logconfig(settings.log_level, settings.access_log)}


def tls_options(settings: Settings) -> dict:
    if settings.certfile is None:
        return {}
    return {"certfile": str(settings.certfile), "keyfile": str(settings.keyfile)}


def _folders(settings: Settings) -> dict:
    """The folders and files the server reads and writes, resolved, for the start-up log."""
    def shown(path):
        return str(os.path.abspath(path)) if path else None
    from supportable.engine import default_payers_dir
    folders = {"policies": shown(settings.policies),
               "payers": shown(settings.payers or default_payers_dir(settings.policies)),
               "edits": shown(settings.edits), "decision_log": shown(settings.decision_log)}
    snapshot = getattr(settings, "snapshot", None)   # the last-good snapshot, where settings have one
    if snapshot:
        folders["snapshot"] = shown(snapshot)
    return folders


def serve(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="supportable-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    _configure_logging(settings.log_level)
    logging.getLogger("supportable").info(json.dumps({
        "event": "starting", "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "folders": _folders(settings), "settings": settings.effective()}))
    options = {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
               "worker_class": "supportable.server.serve.ReloadingThreadWorker",
               "timeout": 60, "graceful_timeout": 20, "keepalive": 2, "worker_connections": 1000,
               # the policies (and the ICD-10-CM index) are loaded once, in the master, and the workers
               # forked from it share their pages; a worker forked later checks that what it inherits
               # is still the set in force (server.reload.PolicyStore.after_fork)
               "preload_app": settings.preload,
               "child_exit": _child_exit, **logging_options(settings), **tls_options(settings),
               # gunicorn's control socket (gunicornc) is off: every server on a machine would share one
               # path, and its reload restarts the workers instead of the safe in-place reload
               "control_socket_disable": True}
    try:
        _Server(settings, options).run()
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _refuse(event: str, message: str, code: int, **fields) -> None:
    LOG.error(json.dumps({"event": event, "message": message, **fields}))
    raise SystemExit(code)


def serve_from_cli(**overrides) -> None:
    """``supportable serve``: settings from the environment and the options, checked before gunicorn
    starts; every refusal is one JSON log line on stderr and an exit code (2 settings, 6 address)."""
    _configure_logging()
    try:
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        _refuse("bad_settings", "; ".join(exc.lines), EXIT_USAGE)
    _configure_logging(settings.log_level)
    unknown = unknown_variables()
    if unknown:
        LOG.warning(json.dumps({"event": "unknown_setting", "variables": unknown, "message": "these SUPPORTABLE_* "
                                "variables name no setting and are ignored (docs/operations.md lists the settings)"}))
    problems = settings.folder_problems()
    if problems:
        _refuse("bad_settings", "; ".join(problems), EXIT_USAGE)
    try:
        gate = Gate.from_settings(settings)
    except AuthError as exc:
        _refuse("bad_settings", str(exc), EXIT_USAGE)
    if settings.auth == "off" and not is_loopback(settings.host):
        LOG.warning(json.dumps({"event": "auth_off", "message": f"SUPPORTABLE_AUTH=off: /v1 is open to anyone who "
                                f"reaches {settings.host}:{settings.port}, with no API key"}))
    elif not gate.required:
        LOG.info(json.dumps({"event": "auth_not_required", "message": "bound to loopback: /v1 takes no API key "
                             "(SUPPORTABLE_AUTH=required asks for one)"}))
    try:
        check_bind(settings.host, settings.port)
    except BindError as exc:
        _refuse("cannot_listen", exc.strerror, EXIT_CANNOT_LISTEN, bind=f"{settings.host}:{settings.port}")
    serve(settings, settings.host, settings.port, settings.workers, settings.threads)
