"""One log format for the app and gunicorn: every line on standard error is one JSON object with
``time`` (UTC, ISO 8601), ``level``, ``logger`` and either the fields of a structured entry (the
app logs JSON objects: ``{"event": ..., ...}``) or a ``message``; an exception adds ``exception``
(its traceback as one string). gunicorn's error log and, if enabled, its access log go through
the same formatter (``logconfig_dict``).
"""
from __future__ import annotations

import json
import logging
import logging.config
import sys
import time

_RESERVED = ("time", "level", "logger")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                 + f".{int(record.msecs):03d}Z", "level": record.levelname.lower(), "logger": record.name}
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry.update(_access_fields(record.args))
        else:
            message = record.getMessage()
            fields = _json_object(message)
            if fields is not None:
                entry.update({k: v for k, v in fields.items() if k not in _RESERVED})   # the record's time wins
            else:
                entry["message"] = message
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.levelno >= logging.WARNING and record.name.startswith("gunicorn"):
            entry.setdefault("pid", record.process)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _json_object(message: str) -> dict | None:
    if not (message.startswith("{") and message.endswith("}")):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _access_fields(atoms) -> dict:
    """gunicorn's access-log atoms as fields (the query string is left out: keep inputs out of logs)."""
    def get(key):
        value = atoms.get(key, "-")
        return None if value in ("-", None) else value
    status = get("s")
    return {"event": "access", "remote": get("h"), "method": get("m"), "path": get("U"),
            "status": int(status) if str(status).isdigit() else status, "bytes": get("B"),
            "duration_ms": round(int(get("D") or 0) / 1000, 3), "user_agent": get("a")}


def gunicorn_logconfig(level: str = "info", access_log: bool = False) -> dict:
    """``logconfig_dict`` for gunicorn: its error log (and access log, if on) as JSON on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"json_stderr": handler},
        "root": {"level": "WARNING", "handlers": ["json_stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["json_stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO" if access_log else "CRITICAL",
                                "handlers": ["json_stderr"] if access_log else [], "propagate": False},
        },
    }


def configure_logging(level: str = "info") -> None:
    """The app's loggers (and the root logger, for warnings and libraries) as JSON on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("supportable", "supportable.request"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO if name == "supportable.request" else level.upper())
        logger.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
