"""Batch answers, written as each encounter is decided: a JSON array batch's ``{"results": [...],
"summary": {...}}`` and NDJSON's one result line per input line; and giving memory back after a
large request.

``decide(index, document)`` is the app's decision of one item: ``{"index", "decision"}`` or
``{"index", "error"}`` (a problem). Once the answer has started, an unexpected failure on one item
is reported in place of that item and the rest go on.
"""
from __future__ import annotations

import gc
import json
import logging
from typing import Callable

from flask import g, request
from gunicorn.http.errors import ParseException as BodyFramingError
from werkzeug.exceptions import RequestEntityTooLarge

from .problems import problem

LOG = logging.getLogger("supportable")
LARGE_BATCH = 50           # encounters: after a JSON batch at least this large, memory is given back
_FLUSH_BYTES = 1 << 16     # a JSON batch answer is written about this much at a time

Decide = Callable[[int, object], dict]


def _safe(decide: Decide, index: int, document, where: str) -> dict:
    try:
        return decide(index, document)
    except Exception:
        LOG.exception("unhandled error on %s of batch request %s", where, g.request_id)
        return {"index": index, "error": problem("internal-error", 500, "the server failed on this encounter; the "
                                                 f"failure is logged with request id {g.request_id}")}


def json_results(documents: list, decide: Decide):
    """The JSON batch answer, exactly as ``jsonify({"results": [...], "summary": {...}})`` would write it,
    but written as the encounters are decided; each input document is let go once decided."""
    decided = failed = 0
    pending, size = ['{"results":['], 0
    for index in range(len(documents)):
        document, documents[index] = documents[index], None
        item = _safe(decide, index, document, f"item {index}")
        if "decision" in item:
            decided += 1
        else:
            failed += 1
        text = ("," if index else "") + json.dumps(item, separators=(",", ":"))
        pending.append(text)
        size += len(text)
        if size >= _FLUSH_BYTES:
            yield "".join(pending)
            pending, size = [], 0
    summary = {"encounters": len(documents), "decided": decided, "failed": failed}
    pending.append('],"summary":' + json.dumps(summary, separators=(",", ":")) + "}\n")
    yield "".join(pending)


def ndjson_results(decide: Decide, max_bytes: int):
    """One result line per input line, in order, as each is decided (the input is read as it comes)."""
    index = 0
    try:
        for number, raw in enumerate(request.stream, start=1):
            if not raw.strip():
                continue
            try:
                document = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                why = "nested too deeply" if isinstance(exc, RecursionError) else getattr(exc, "msg", str(exc))
                item = {"index": index, "error": problem("invalid-json", 400, f"line {number} is not a JSON "
                                                         f"document: {why}")}
            else:
                item = _safe(decide, index, document, f"line {number}")
            index += 1
            yield json.dumps(item) + "\n"
    except RequestEntityTooLarge:
        yield json.dumps({"index": index, "error": problem("body-too-large", 413, "the stream passed the limit of "
                                                           f"{max_bytes} bytes; the encounters above were decided, "
                                                           "the rest were not read")}) + "\n"
    except BodyFramingError as exc:  # gunicorn's: a malformed chunk of a chunked body
        yield json.dumps({"index": index, "error": problem("bad-request", 400, f"the body's chunked framing is broken "
                                                           f"({exc}); the encounters above were decided, the rest "
                                                           "were not read")}) + "\n"
    except OSError:  # the worker's read timeout or body deadline (server.worker), or the client went away
        yield json.dumps({"index": index, "error": problem("request-timeout", 408, "the rest of the stream did not "
                                                           "arrive in time; the encounters above were decided, the "
                                                           "rest were not read")}) + "\n"


def release_memory() -> None:
    """Give back what a large request used: collect the garbage it left, then ask glibc to return the
    freed heap to the system (measured with ``bench/bench_http.py --batch-memory``)."""
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim():
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):     # not glibc: nothing to trim
        return None


_MALLOC_TRIM = _malloc_trim()
