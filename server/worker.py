"""The gunicorn worker of ``supportable serve``: gunicorn's threaded worker (``gthread``), made to
keep serving through slow and idle clients, and to answer protocol errors as problem documents.

Why gthread and not gevent or an ASGI worker: the engine keeps one pyDatalog engine per thread
(``engine/evaluator.py``, ``threading.local``), built once and reused; gevent's monkey-patching
makes that per greenlet (an engine built per request), and an ASGI front still hands the WSGI app
to a pool of threads that a slow body would hold. Instead, here a thread is committed to a
connection only once its whole request head (and a body of known length up to
``PREBUFFER_BODY_BYTES``) has arrived: until then the worker's poller (its main thread) reads
whatever bytes come, without blocking, under a deadline (``REQUEST_READ_TIMEOUT``). So any number
of slow or idle connections (up to gunicorn's ``worker_connections``) cost a file descriptor and a
buffer each, never a thread. Once a thread has the request, every socket read or write has a
timeout (``IO_TIMEOUT``) and a body streamed in chunks (NDJSON) must arrive within
``BODY_DEADLINE``. A request that does not arrive in time gets 408 and the connection is closed.

Errors gunicorn answers itself (a malformed request line or header, a URI or head too long, an
unknown transfer coding) are RFC 7807 problem documents like every other error
(``handle_error``), instead of gunicorn's HTML page.

SIGHUP asks the worker to reload the policies safely in place (``server.reload``), from the moment
its signals are set up (while it still loads the policies, the default would kill it). A worker
forked from a master that preloaded the app checks that the policies it inherits are still the set
in force before it serves (``PolicyStore.after_fork``), and starts its own reload watcher.
"""
from __future__ import annotations

import errno
import json
import selectors
import signal
import time
from collections import deque
from functools import partial

from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker, TConn

from .problems import PROBLEM_JSON, problem

# Defaults; the worker takes them from Settings.request_timeout (SUPPORTABLE_REQUEST_TIMEOUT) when it starts.
REQUEST_READ_TIMEOUT = 10.0        # seconds for a request's head (and small body) to arrive, from its first byte
#                                   # (a new connection: from its accept)
IO_TIMEOUT = 10.0                  # seconds any one socket read or write may wait once a thread serves it
BODY_DEADLINE = 60.0               # seconds for a whole body a thread reads (a streamed NDJSON batch)
HEAD_LIMIT_BYTES = 64 << 10        # a request head larger than this is refused with 431
PREBUFFER_BODY_BYTES = 1 << 20     # a body of known length up to this is read before a thread is committed
PREBUFFER_TOTAL_BYTES = 64 << 20   # past this much held by the poller (all connections), bodies go to threads
REQUESTS_PER_CONNECTION = 100      # then "Connection: close": kept-alive clients reconnect and spread over the
#                                   # workers again (a worker restarted after a crash gets its share back)


class _DeadlineSocket:
    """The socket as gunicorn's request parser reads it: every read waits at most IO_TIMEOUT, and none
    starts after the body's deadline (a client sending one byte every few seconds is cut off)."""

    def __init__(self, sock):
        self._sock = sock
        self.deadline: float | None = None

    def recv(self, size: int) -> bytes:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request body did not arrive in time")
            self._sock.settimeout(min(IO_TIMEOUT, left))
        return self._sock.recv(size)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _Conn(TConn):
    """A connection whose request head (and small body) was read by the poller before a thread got it."""

    prebuffered = b""
    reading: bytearray | None = None
    read_deadline = 0.0
    served = 0

    def init(self) -> None:       # runs in the thread, before each request is parsed
        super().init()
        if self.prebuffered:
            self.parser.unreader.unread(self.prebuffered)
            self.prebuffered = b""
        self.sock.settimeout(IO_TIMEOUT)
        unreader = getattr(self.parser, "unreader", None)
        if unreader is not None and hasattr(unreader, "sock"):
            if not isinstance(unreader.sock, _DeadlineSocket):
                unreader.sock = _DeadlineSocket(unreader.sock)
            unreader.sock.deadline = time.monotonic() + BODY_DEADLINE


def request_complete(buf: bytes | bytearray, bodies: bool = True) -> bool | tuple[int, str, str, str]:
    """Whether ``buf`` holds a request ready for a thread: its head, and its body if that has a known
    length up to PREBUFFER_BODY_BYTES. False: wait for more. A tuple: refuse (status, reason, kind,
    detail). Anything unusual (chunked, Expect, a malformed length) goes to gunicorn's parser."""
    end = buf.find(b"\r\n\r\n")
    if end < 0 and len(buf) <= HEAD_LIMIT_BYTES:
        return False
    if end < 0 or end > HEAD_LIMIT_BYTES:
        return (431, "Request Header Fields Too Large", "header-fields-too-large",
                f"the request line and headers are larger than {HEAD_LIMIT_BYTES} bytes")
    if not bodies:
        return True
    length = None
    for line in bytes(buf[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"transfer-encoding", b"expect"):
            return True
        if name == b"content-length":
            if length is not None or not value.strip().isdigit():
                return True
            length = int(value.strip())
    if length is None or length > PREBUFFER_BODY_BYTES:
        return True
    return len(buf) - (end + 4) >= length


_TITLES = {"unsupported-transfer-coding": "Unsupported transfer coding", "uri-too-long": "The URI is too long",
           "header-fields-too-large": "The request headers are too large",
           "request-timeout": "The request did not arrive in time", "expectation-failed": "Expectation failed",
           "forbidden": "Forbidden"}


def problem_bytes(status: int, reason: str, kind: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer carrying a problem document (``server.problems``); the connection closes."""
    extra = {"title": _TITLES[kind]} if kind in _TITLES else {}
    body = json.dumps(problem(kind, status, detail, **extra)).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_JSON}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def classify(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, reason, problem kind, detail) for an error gunicorn met reading a request."""
    e = http_errors
    if isinstance(exc, (e.InvalidResponseHeader, e.InvalidResponseHeaderName)):
        return 500, "Internal Server Error", "internal-error", "the server failed to answer this request"
    if isinstance(exc, e.UnsupportedTransferCoding):    # RFC 9112 §6.1: an unrecognised coding is 501
        return (501, "Not Implemented", "unsupported-transfer-coding",
                f"{exc}; this server understands the transfer coding `chunked` only")
    if isinstance(exc, e.LimitRequestLine):
        return 414, "URI Too Long", "uri-too-long", f"the request line is too long: {exc}"
    if isinstance(exc, e.LimitRequestHeaders):
        return 431, "Request Header Fields Too Large", "header-fields-too-large", str(exc)
    if isinstance(exc, e.ExpectationFailed):
        return 417, "Expectation Failed", "expectation-failed", str(exc)
    if isinstance(exc, e.ForbiddenProxyRequest):
        return 403, "Forbidden", "forbidden", "request forbidden"
    if isinstance(exc, (TimeoutError, e.NoMoreData)):
        return 408, "Request Timeout", "request-timeout", "the request did not arrive in time"
    what = {e.InvalidRequestLine: "invalid request line", e.InvalidRequestMethod: "invalid method",
            e.InvalidHTTPVersion: "invalid HTTP version", e.InvalidHeader: "invalid header",
            e.InvalidHeaderName: "invalid header name", e.ObsoleteFolding: "obsolete header line folding",
            e.InvalidChunkSize: "invalid chunk size", e.ChunkMissingTerminator: "chunk missing its terminator",
            e.InvalidChunkExtension: "invalid chunk extension", e.InvalidProxyLine: "invalid PROXY line",
            e.InvalidSchemeHeaders: "contradictory scheme headers"}
    for cls, text in what.items():
        if isinstance(exc, cls):
            return 400, "Bad Request", "bad-request", f"{text}: {_printable(str(exc))}"
    if isinstance(exc, e.ParseException):
        return 400, "Bad Request", "bad-request", _printable(str(exc))
    return 500, "Internal Server Error", "internal-error", "the server failed to answer this request"


def _printable(text: str, limit: int = 200) -> str:
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


class ReloadingThreadWorker(ThreadWorker):
    """gthread with the request read by the poller (see the module's docstring), problem documents for
    protocol errors, and SIGHUP as "reload the policies safely"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading_conns: deque[_Conn] = deque()      # ordered by read_deadline
        self.buffered = 0                                # bytes the poller holds for them

    def init_process(self) -> None:
        global REQUEST_READ_TIMEOUT, IO_TIMEOUT, BODY_DEADLINE
        settings = getattr(self.app, "settings", None)
        if settings is not None and (getattr(settings, "request_timeout", None) or 0) > 0:
            REQUEST_READ_TIMEOUT = IO_TIMEOUT = float(settings.request_timeout)
            BODY_DEADLINE = 6 * REQUEST_READ_TIMEOUT
        super().init_process()

    # -- SIGHUP ----------------------------------------------------------------------------------
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
        """The app: loaded here, or (with preload) inherited from the master, in which case the
        policies it holds are checked against the set in force first; then the reload watcher."""
        super().load_wsgi()
        state = self._state()
        if state is None:
            return
        if self.cfg.preload_app:
            state.store.after_fork()
        state.store.start_watching(state.settings.reload_interval)
        if self._hup_while_loading:
            state.store.request_reload()

    # -- spreading kept-alive connections ---------------------------------------------------------
    def handle_request(self, req, conn):
        """A connection's 100th request is answered with ``Connection: close`` (as nginx's and Apache's
        keep-alive request limits do): a client that keeps its connections alive would otherwise stay
        on the worker it first reached, and after a worker restart every such client sits on the
        survivor, leaving one process (one interpreter lock) to do the work of all."""
        conn.served = getattr(conn, "served", 0) + 1
        if conn.served >= REQUESTS_PER_CONNECTION:
            req.must_close = True
        return super().handle_request(req, conn)

    # -- reading requests in the poller -----------------------------------------------------------
    def accept(self, listener) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = _Conn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self.cfg.is_ssl:
            # TLS is unwrapped in the thread (gunicorn's TConn.init): the poller cannot read the
            # request before the handshake, so a TLS connection goes the gthread way, with the read
            # timeouts of _Conn; many slow clients over TLS want a terminating proxy in front.
            client_sock.setblocking(True)
            self.enqueue_req(conn)
        else:
            self._read_request(conn)

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection has bytes: its next request is read by the poller too."""
        if self.cfg.is_ssl:
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_request(conn)

    def _read_request(self, conn: _Conn) -> None:
        conn.sock.setblocking(False)
        conn.reading = bytearray()
        conn.read_deadline = time.monotonic() + REQUEST_READ_TIMEOUT
        self.reading_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_request_bytes, conn))
        self._on_request_bytes(conn, conn.sock)      # often already there: no extra turn of the loop

    def _on_request_bytes(self, conn: _Conn, _sock) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:                                   # the client went away
            self._stop_reading(conn)
            self._close(conn)
            return
        conn.reading += data
        self.buffered += len(data)
        ready = request_complete(conn.reading, bodies=self.buffered <= PREBUFFER_TOTAL_BYTES)
        if ready is False:
            return
        self._stop_reading(conn)
        if ready is True:
            conn.prebuffered, conn.reading = bytes(conn.reading), None
            conn.data_ready = True
            self.enqueue_req(conn)
        else:
            self._refuse(conn, *ready)

    def _stop_reading(self, conn: _Conn) -> None:
        self.buffered -= len(conn.reading or b"")
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.reading_conns.remove(conn)
        except ValueError:
            pass

    def _close(self, conn: _Conn) -> None:
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn: _Conn, status: int, reason: str, kind: str, detail: str) -> None:
        try:
            conn.sock.send(problem_bytes(status, reason, kind, detail))   # best effort: never blocks
        except OSError:
            pass
        self._close(conn)

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time (called every turn of the loop):
        408 if some of it came, silently if nothing did."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading_conns and self.reading_conns[0].read_deadline <= now:
            conn = self.reading_conns[0]
            self._stop_reading(conn)
            if conn.reading:
                self._refuse(conn, 408, "Request Timeout", "request-timeout",
                             f"the request did not arrive within {REQUEST_READ_TIMEOUT:g} s")
            else:
                self._close(conn)

    # -- errors gunicorn answers itself -----------------------------------------------------------
    def handle_error(self, req, client, addr, exc) -> None:
        status, reason, kind, detail = classify(exc)
        if status >= 500 and kind == "internal-error":
            self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request from %s: %s", (addr or ("",))[0], _printable(str(exc)))
        try:
            client.settimeout(IO_TIMEOUT)
            client.sendall(problem_bytes(status, reason, kind, detail))
        except OSError:
            self.log.debug("Failed to send error message.")
