#!/usr/bin/env python3
"""HTTP load benchmark of the Supportable server (the Flask API under gunicorn).

Stdlib only (plus the project, for the encounter generator). What it does:

1. Builds a deterministic pool of realistic encounters with bench_engine's ``EncounterGenerator``
   (``random.Random(seed)``, every value drawn from ``policies/vocabulary/``), assigning payers
   round-robin from ``--payers`` (the document's ``payer`` field names it). Each encounter is
   checked with its payer's ``PolicySet.parse`` (``load_policy_set(policies, payer)``); one its
   payer refuses is skipped (and counted) and the next one generated. Bodies are compact JSON bytes.
2. Unless ``--url`` is given, starts the real server itself:
   ``python -m supportable.cli serve --host 127.0.0.1 --port <free> --workers W --threads T
   --decision-log <temp file>`` (cwd and PYTHONPATH = the repository), in its own session, its
   output to a temp file; waits until every worker logged ``policies_loaded`` (or, forked from a
   preloading master, ``policies_inherited``/``policies_reloaded``) and ``/readyz``
   answers 200; stops it at the end (SIGTERM, then SIGKILL of its process group after a grace
   period) and checks nothing of it is left.
3. For each level of ``--concurrency`` (e.g. 1,4,8) against the same server: C client threads,
   each with its own persistent ``http.client.HTTPConnection`` (HTTP/1.1 keep-alive), closed loop
   (next request as soon as the answer is read), POST ``/v1/check?explain=...``; with
   ``--batch-size N`` every ``--batch-every``-th request of a client is a ``/v1/check/batch`` of
   the next N pool encounters instead. Client k starts at pool offset k * pool / C and walks the
   pool in order (wrapping), so each client's request sequence is deterministic. A warm-up of
   ``--warmup`` seconds (not measured; it also builds each server thread's pyDatalog engines)
   precedes ``--seconds`` measured. With ``--rate R`` the clients run open loop instead: request i
   of the level is due at R per second (client k sends i = k, k + C, ...) and its latency is counted
   from when it was due, so a server that falls behind shows it in the percentiles.
4. Reports per level: requests started in the measured window (every one of them is waited for),
   errors by status (non-200 HTTP status, or the exception name for timeouts / dropped
   connections), throughput (requests/s and encounters/s, decided encounters of 200 answers),
   latency p50/p90/p95/p99/max (nearest rank, ms, client-side, request written to body read) of
   single requests and, separately, of batches, per payer p50/p99; CPU used by the server's
   processes (each worker separately) and by this client process in the window; the server's peak
   RSS (VmHWM of the gunicorn master and each worker, from /proc, sampled every 0.5 s and at the
   end of the level, so restarted workers are seen too) and the summed PSS of those processes at
   the end of the level; and the decision log's new lines in the level (warm-up included) against
   the decided encounters the client saw, as a check that every decision was logged. Every request
   carries ``X-Request-ID: bench-C<level>-c<client>-<n>``; the first non-200 answers are listed
   with that id, payer and pool index, and the server's tracebacks (its output names the request
   id) are printed after it stops. CPU of other processes on the machine in the window is shown
   (from /proc/stat), since it distorts every figure on a shared machine.

Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/bench_http.py                             # C=8, 3 s warm-up + 20 s
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --seconds 10 --concurrency 1,4,8
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --workers 2 --concurrency 16 --rate 200  # p99 at 200 req/s
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --workers 1 --threads 4 --concurrency 4
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --explain full --batch-size 20
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --url http://127.0.0.1:8080 \\
        --decision-log var/decisions.jsonl                                        # a running server
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --json out.json             # also write figures
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --slow-clients 100          # load with 100 slow clients open
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --workers 1 --batch-memory 1000   # RSS after a max batch
    PYTHONPATH=. .venv/bin/python bench/bench_http.py --faults --concurrency 4    # the fault run

Scenarios beyond plain load (``bench/bench_http_faults.py``): ``--slow-clients N`` holds N slow or
idle connections open during each level (half send a request head one byte every 2 s, half send
nothing; each one the server closes is opened again); ``--batch-memory N`` reports a worker's RSS
before, at the peak of and 2 s after JSON batches of N encounters; ``--faults`` keeps C clients
going while, in turn, a broken overlay (an unknown YAML tag) is written into the server's own copy
of the payers folder, an alias bomb is written, 100 slow clients connect, and a worker is killed
(SIGKILL) with the broken overlay on disk, and reports per phase the requests, errors (5xx,
connection errors), p50/p99 and the reload outcomes (refusals) from /metrics and /readyz.

The client runs on the same machine as the server and competes with it for CPU (its own CPU use
is reported): on a 2-core machine the figures are those of server + client together.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
for _p in (REPO, REPO / "bench"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from bench_engine import EncounterGenerator, contention, cpu_times, machine, pct  # noqa: E402
from bench_http_faults import SlowClients, batch_memory, copy_payers, fault_run, print_batch_memory, print_faults  # noqa: E402,E501
from supportable.engine.errors import InputError  # noqa: E402
from supportable.engine.overlay import BASE  # noqa: E402
from supportable.engine.policyset import load_policy_set, payer_ids  # noqa: E402

POLICIES = REPO / "policies"
DEFAULT_PAYERS = "base,commercial,medicare,aetna,aetna_medicare"
DEFAULT_SEED = 2026
DEFAULT_POOL = 1000
DEFAULT_CONCURRENCY = "8"
DEFAULT_WORKERS, DEFAULT_THREADS = 2, 4        # supportable serve's defaults
SKIP_LIMIT = 10                                # give up once refused encounters exceed this many per pool entry
READY_TIMEOUT = 120.0                          # seconds to wait for a started server to be ready
STOP_GRACE = 30.0                              # seconds between SIGTERM and SIGKILL (gunicorn graceful_timeout is 20)
FAILURES_KEPT = 5                              # per client: non-200 answers kept with their request id
SAMPLE_EVERY = 0.5                             # seconds between /proc samples of the server's memory
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ------------------------------------------------------------------------------------------------
# Workload
# ------------------------------------------------------------------------------------------------

def build_pool(payers: list[str], count: int, seed: int) -> tuple[list[tuple[str, bytes]], dict]:
    """``count`` (payer, JSON body) pairs, payers round-robin, each accepted by its payer's parse."""
    t = time.perf_counter()
    pss = {p: load_policy_set(POLICIES, p) for p in payers}
    load_s = time.perf_counter() - t
    gen = EncounterGenerator(pss[BASE] if BASE in pss else load_policy_set(POLICIES, BASE), seed)
    pool: list[tuple[str, bytes]] = []
    skipped = {p: 0 for p in payers}
    lines = []
    t = time.perf_counter()
    while len(pool) < count:
        if sum(skipped.values()) > SKIP_LIMIT * count:
            raise SystemExit(f"workload: {skipped} generated encounters refused; the generator does not fit "
                             f"these payers")
        payer = payers[len(pool) % len(payers)]
        doc = gen.encounter()
        doc["payer"] = payer
        try:
            pss[payer].read_encounter(doc)
        except InputError:
            skipped[payer] += 1
            continue
        pool.append((payer, json.dumps(doc, separators=(",", ":")).encode()))
        lines.append(len(doc["lines"]))
    sizes = [len(b) for _, b in pool]
    stats = {"encounters": count, "seed": seed, "payers": payers,
             "per_payer": {p: sum(1 for q, _ in pool if q == p) for p in payers},
             "skipped_refused_by_payer": skipped, "lines_per_encounter_mean": statistics.fmean(lines),
             "body_bytes_mean": statistics.fmean(sizes), "body_bytes_max": max(sizes),
             "policy_load_s": load_s, "generate_and_parse_s": time.perf_counter() - t}
    return pool, stats


# ------------------------------------------------------------------------------------------------
# The server: start, wait, observe (/proc), stop
# ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(host: str, port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def count_lines(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        n = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                n += chunk.count(b"\n")
        return n
    except FileNotFoundError:
        return 0


def proc_status(pid: int) -> dict:
    """VmHWM / VmRSS in kB from /proc/<pid>/status ({} if the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process in seconds, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK     # fields 14 and 15 of stat(5)
    except (OSError, ValueError, IndexError):
        return None


def proc_pss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(out)


class Server:
    """The server under test: started here (``start``), or an external one (``external``)."""

    def __init__(self, host: str, port: int, proc: subprocess.Popen | None = None, command: list[str] | None = None,
                 decision_log: Path | None = None, output: Path | None = None, workers=None, threads=None):
        self.host, self.port, self.proc, self.command = host, port, proc, command
        self.decision_log, self.output = decision_log, output
        self.workers, self.threads = workers, threads
        self.ready_s = None
        self.hwm_kb: dict[int, int] = {}          # pid -> highest VmHWM seen
        self.rss_kb: dict[int, int] = {}          # pid -> highest VmRSS seen
        self.pids_seen: list[int] = []            # workers ever seen (a restarted worker shows up here)
        self._lock = threading.Lock()
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self.proc is not None

    # -- start ---------------------------------------------------------------------------------
    @classmethod
    def start(cls, workers: int, threads: int, tmpdir: Path, payers_dir: Path | None = None) -> "Server":
        port = free_port()
        log = tmpdir / "decisions.jsonl"
        output = tmpdir / "server-output.log"
        cmd = [sys.executable, "-m", "supportable.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--threads", str(threads), "--decision-log", str(log)]
        if payers_dir is not None:
            cmd += ["--payers", str(payers_dir)]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        with open(output, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True)
        server = cls("127.0.0.1", port, proc, cmd, log, output, workers, threads)
        try:
            server._wait_ready(workers)
        except BaseException:
            server.stop()
            raise
        server._start_sampler()
        return server

    def _wait_ready(self, workers: int) -> None:
        t0 = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with status {self.proc.returncode} before it was ready; "
                                 f"its output:\n{self.output_tail(40)}")
            if time.perf_counter() - t0 > READY_TIMEOUT:
                raise SystemExit(f"the server was not ready after {READY_TIMEOUT:.0f} s; its output:\n"
                                 f"{self.output_tail(40)}")
            output = self.output_text()
            # each worker loads its own (no preload), or the master loads once and each worker forked
            # from it logs whether it kept that set or loaded the set in force (preload, the default)
            loaded = output.count('"event": "policies_loaded"')
            forked = output.count('"event": "policies_inherited"') + output.count('"event": "policies_reloaded"')
            if loaded >= workers or forked >= workers:
                try:
                    status, body = http_get(self.host, self.port, "/readyz")
                except OSError:
                    status = None
                if status == 200:
                    self.ready_s = time.perf_counter() - t0
                    self.readyz = json.loads(body)
                    return
                if status == 503:                    # every worker loaded, and no payer did
                    raise SystemExit(f"the server is up but not ready (/readyz 503: {body[:500]!r}); its output:\n"
                                     f"{self.output_tail(10)}")
            time.sleep(0.1)

    @classmethod
    def external(cls, url: str, decision_log: Path | None, workers, threads) -> "Server":
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"--url must be http://host[:port], not {url!r}")
        server = cls(parts.hostname, parts.port or 80, decision_log=decision_log, workers=workers, threads=threads)
        t0 = time.perf_counter()
        try:
            status, body = http_get(server.host, server.port, "/readyz", timeout=10)
        except OSError as exc:
            raise SystemExit(f"{url}/readyz: {exc}")
        if status != 200:
            raise SystemExit(f"{url}/readyz answered {status}: {body[:500]!r}")
        server.ready_s = time.perf_counter() - t0
        server.readyz = json.loads(body)
        return server

    # -- observe -------------------------------------------------------------------------------
    def pids(self) -> tuple[int | None, list[int]]:
        if not self.started or self.proc.poll() is not None:
            return None, []
        return self.proc.pid, children_of(self.proc.pid)

    def sample(self) -> None:
        master, workers = self.pids()
        if master is None:
            return
        with self._lock:
            for pid in [master] + workers:
                st = proc_status(pid)
                if "VmHWM" in st:
                    self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), st["VmHWM"])
                    self.rss_kb[pid] = max(self.rss_kb.get(pid, 0), st.get("VmRSS", 0))
                if pid != master and pid not in self.pids_seen:
                    self.pids_seen.append(pid)

    def _start_sampler(self) -> None:
        def loop():
            while not self._sampling.wait(SAMPLE_EVERY):
                self.sample()
        self.sample()
        self._sampler = threading.Thread(target=loop, name="rss-sampler", daemon=True)
        self._sampler.start()

    def cpu(self) -> dict[int, float]:
        master, workers = self.pids()
        if master is None:
            return {}
        out = {}
        for pid in [master] + workers:
            s = proc_cpu_s(pid)
            if s is not None:
                out[pid] = s
        return out

    def memory(self) -> dict:
        self.sample()
        master, workers = self.pids()
        with self._lock:
            mb = lambda kb: round(kb / 1024, 1)     # noqa: E731
            pss = [proc_pss_kb(p) for p in ([master] + workers if master else [])]
            return {"master_pid": master,
                    "master_peak_rss_mb": mb(self.hwm_kb.get(master, 0)) if master else None,
                    "workers_peak_rss_mb": {str(p): mb(self.hwm_kb[p]) for p in self.pids_seen if p in self.hwm_kb},
                    "peak_rss_sum_mb": mb(sum(self.hwm_kb.values())),
                    "pss_now_sum_mb": mb(sum(pss)) if pss and None not in pss else None,
                    "workers_alive": workers, "workers_ever_seen": list(self.pids_seen)}

    def output_text(self) -> str:
        if self.output is None:
            return ""
        try:
            return self.output.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def output_tail(self, n: int) -> str:
        return "\n".join("    " + line for line in self.output_text().splitlines()[-n:])

    # -- stop ----------------------------------------------------------------------------------
    def stop(self) -> dict:
        """SIGTERM the master, SIGKILL its process group if it lingers; report what was left."""
        self._sampling.set()
        if not self.started:
            return {}
        out = {"signal": "none (already exited)", "exit_status": None, "left_behind": []}
        t0 = time.perf_counter()
        if self.proc.poll() is None:
            out["signal"] = "SIGTERM"
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                out["signal"] = "SIGTERM, then SIGKILL of the process group"
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        out["exit_status"] = self.proc.returncode
        out["stop_s"] = round(time.perf_counter() - t0, 2)
        # Anything of the session left (workers orphaned by a killed master)? It is our own group.
        deadline = time.perf_counter() + 5
        while True:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                break
            if time.perf_counter() > deadline:
                out["left_behind"] = [p for p in self.pids_seen if os.path.exists(f"/proc/{p}")]
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
            time.sleep(0.1)
        return out


# ------------------------------------------------------------------------------------------------
# Clients
# ------------------------------------------------------------------------------------------------

class Client(threading.Thread):
    """One closed-loop client with its own keep-alive connection.

    Records (start, end, kind, payer, status, encounters decided) per request; ``status`` is the
    HTTP status or the exception's name (the connection is then reopened for the next request).
    """

    def __init__(self, index: int, server: Server, pool, offset: int, paths: dict, batch_size: int,
                 batch_every: int, timeout: float, stop: threading.Event, id_prefix: str = "",
                 rate: float = 0.0, clients: int = 1):
        super().__init__(name=f"client-{index}", daemon=True)
        # Open loop (``rate`` > 0): the level's requests are due at a fixed rate from ``base`` (set
        # just before the clients start), request i at base + i / rate, and client k sends requests
        # k, k + C, k + 2C... Its latency is counted from when the request was due, not from when it
        # went out: a client held up by a slow answer does not hide the wait it causes (coordinated
        # omission). ``late`` counts requests sent more than a millisecond after they were due.
        self.index, self.rate, self.clients, self.base, self.late = index, rate, clients, 0.0, 0
        self.id_prefix = f"{id_prefix}c{index}-"
        self.failures: list[dict] = []            # the first FAILURES_KEPT non-200 answers, with their request id
        self.server, self.pool, self.pos, self.paths = server, pool, offset, paths
        self.batch_size, self.batch_every, self.timeout, self.stop_event = batch_size, batch_every, timeout, stop
        self.records: list[tuple] = []
        self.reconnects = 0
        self.failure: str | None = None

    def _next_request(self, n: int):
        pool, at = self.pool, self.pos
        if self.batch_size and n % self.batch_every == 0:
            items = [pool[(at + i) % len(pool)][1] for i in range(self.batch_size)]
            self.pos = (at + self.batch_size) % len(pool)
            return "batch", None, self.paths["batch"], b"[" + b",".join(items) + b"]", self.batch_size, at
        payer, body = pool[at]
        self.pos = (at + 1) % len(pool)
        return "single", payer, self.paths["single"], body, 1, at

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - reported, never silently lost
            self.failure = f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        pc = time.perf_counter
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        n = 0
        while not self.stop_event.is_set():
            n += 1
            kind, payer, path, body, encounters, at = self._next_request(n)
            headers["X-Request-ID"] = request_id = f"{self.id_prefix}{n}"
            decided = 0
            data = b""
            if self.rate:
                due = self.base + (self.index + (n - 1) * self.clients) / self.rate
                wait = due - pc()
                if wait > 0:
                    if self.stop_event.wait(wait):
                        break
                elif wait < -0.001:
                    self.late += 1
                t0 = due
            else:
                t0 = pc()
            try:
                conn.request("POST", path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
                t1 = pc()
                if status == 200:
                    if kind == "single":
                        decided = 1
                    else:
                        decided = json.loads(data)["summary"]["decided"]
                        if decided != encounters:
                            status = f"200 with {encounters - decided} failed item(s)"
                if resp.will_close:
                    self.reconnects += 1                 # http.client reopens on the next request
            except (OSError, http.client.HTTPException) as exc:
                t1 = pc()
                status = type(exc).__name__
                conn.close()
                self.reconnects += 1
            self.records.append((t0, t1, kind, payer, status, decided, encounters))
            if status != 200 and len(self.failures) < FAILURES_KEPT:
                self.failures.append({"t0": t0, "request_id": request_id, "kind": kind, "payer": payer,
                                      "pool_index": at, "status": str(status), "ms": round((t1 - t0) * 1000, 1),
                                      "answer": data[:300].decode("utf-8", "replace")})
        conn.close()


def summarise_latencies(lat_s: list[float]) -> dict:
    if not lat_s:
        return {"n": 0}
    s = sorted(lat_s)
    ms = 1000.0
    return {"n": len(s), "p50_ms": pct(s, 50) * ms, "p90_ms": pct(s, 90) * ms, "p95_ms": pct(s, 95) * ms,
            "p99_ms": pct(s, 99) * ms, "max_ms": s[-1] * ms, "mean_ms": statistics.fmean(s) * ms,
            "min_ms": s[0] * ms}


ACTIVE_STOPS: list[threading.Event] = []      # the running level's stop event, set on an interrupt


def run_faults(server: Server, pool, args, payers_dir: Path) -> list[dict]:
    """The fault run's load: C closed-loop clients of single requests (C = the first --concurrency level)."""
    c = args.levels[0]
    paths = {"single": f"/v1/check?explain={args.explain}", "batch": f"/v1/check/batch?explain={args.explain}"}
    stop = threading.Event()
    ACTIVE_STOPS[:] = [stop]
    clients = [Client(k, server, pool, (k * len(pool)) // c, paths, 0, 1, args.timeout, stop, "bench-faults-")
               for k in range(c)]

    def start():
        for client in clients:
            client.start()

    def finish():
        stop.set()
        for client in clients:
            client.join(args.timeout + 10)
        return [r for client in clients for r in client.records]

    return fault_run(server, start, finish, payers_dir, args)


def run_level(server: Server, pool, payers: list[str], concurrency: int, args) -> dict:
    paths = {"single": f"/v1/check?explain={args.explain}", "batch": f"/v1/check/batch?explain={args.explain}"}
    log_before = count_lines(server.decision_log)
    stop = threading.Event()
    ACTIVE_STOPS[:] = [stop]
    clients = [Client(k, server, pool, (k * len(pool)) // concurrency, paths, args.batch_size, args.batch_every,
                      args.timeout, stop, f"bench-C{concurrency}-", args.rate, concurrency) for k in range(concurrency)]
    slow = SlowClients(server.host, server.port, args.slow_clients) if args.slow_clients else None
    if slow is not None:
        slow.start()
    t_begin = time.perf_counter()
    for c in clients:
        c.base = t_begin + 0.01
    for c in clients:
        c.start()
    time.sleep(args.warmup)
    # -- measured window ---------------------------------------------------------------------
    srv_cpu0, cli0, mach0 = server.cpu(), resource.getrusage(resource.RUSAGE_SELF), cpu_times()
    t_start = time.perf_counter()
    time.sleep(args.seconds)
    t_end = time.perf_counter()
    srv_cpu1, cli1 = server.cpu(), resource.getrusage(resource.RUSAGE_SELF)
    busy = contention(mach0)
    stop.set()
    join_deadline = time.perf_counter() + args.timeout + 10
    for c in clients:
        c.join(max(0.1, join_deadline - time.perf_counter()))
    stuck = [c.name for c in clients if c.is_alive()]
    drained_s = time.perf_counter() - t_end
    slow_stats = slow.stop() if slow is not None else None
    window = t_end - t_start

    records = [r for c in clients for r in c.records]
    measured = [r for r in records if t_start <= r[0] < t_end]
    singles = [r for r in measured if r[2] == "single"]
    batches = [r for r in measured if r[2] == "batch"]
    errors: dict = {}
    for r in measured:
        if r[4] != 200:
            errors[str(r[4])] = errors.get(str(r[4]), 0) + 1
    errors_warmup: dict = {}
    for r in records:
        if r[0] < t_start and r[4] != 200:
            errors_warmup[str(r[4])] = errors_warmup.get(str(r[4]), 0) + 1
    ok_singles = [r for r in singles if r[4] == 200]
    per_payer = {}
    for p in payers:
        per_payer[p] = summarise_latencies([r[1] - r[0] for r in ok_singles if r[3] == p])
    decided_measured = sum(r[5] for r in measured)
    completed_in_window = sum(1 for r in records if t_start <= r[1] < t_end)

    srv_cpu = {}
    for pid, s in srv_cpu1.items():
        if pid in srv_cpu0:
            srv_cpu[pid] = (s - srv_cpu0[pid]) / window
    master = server.proc.pid if server.started else None
    cli_cpu = (cli1.ru_utime + cli1.ru_stime - cli0.ru_utime - cli0.ru_stime) / window

    log_after = count_lines(server.decision_log)
    decided_all = sum(r[5] for r in records)
    log = None
    if log_before is not None:
        added = log_after - log_before
        log = {"lines_added": added, "encounters_decided_seen_by_client": decided_all,
               "match": added == decided_all,
               "client_errors_in_level": sum(1 for r in records if r[4] != 200)}
    res = {
        "concurrency": concurrency,
        "warmup_s": t_start - t_begin, "window_s": window, "drain_after_window_s": drained_s,
        "requests": len(measured), "single_requests": len(singles), "batch_requests": len(batches),
        "requests_completed_in_window": completed_in_window,
        "errors_by_status": errors, "errors_in_warmup_by_status": errors_warmup,
        "reconnects": sum(c.reconnects for c in clients),
        "throughput_req_per_s": len(measured) / window,
        "open_loop_rate_per_s": args.rate or None,
        "sent_late": sum(c.late for c in clients) if args.rate else None,
        "throughput_encounters_per_s": decided_measured / window,
        "encounters_decided": decided_measured,
        "latency_single": summarise_latencies([r[1] - r[0] for r in ok_singles]),
        "latency_batch": summarise_latencies([r[1] - r[0] for r in batches if r[4] == 200]),
        "latency_errors": summarise_latencies([r[1] - r[0] for r in measured if r[4] != 200]),
        "per_payer": per_payer,
        "warmup_requests": sum(1 for r in records if r[0] < t_start),
        "client_cpu_pct": 100 * cli_cpu,
        "machine_during_window": busy,
        "decision_log": log,
        "clients_stuck": stuck,
        "slow_clients": slow_stats,
        "client_failures": [c.failure for c in clients if c.failure],
        "first_errors": sorted(({**{k: v for k, v in f.items() if k != "t0"},
                                 "phase": "warm-up" if f["t0"] < t_start else "measured"}
                                for c in clients for f in c.failures), key=lambda f: f["request_id"])[:10],
    }
    if server.started:
        res["server_cpu_pct"] = {"total": 100 * sum(srv_cpu.values()),
                                 "master": 100 * srv_cpu.get(master, 0.0),
                                 "workers": {str(p): 100 * v for p, v in srv_cpu.items() if p != master}}
        res["server_memory"] = server.memory()
        if "idle_pct" in busy:
            ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            busy["other_processes_cpu_pct"] = round(
                (100 - busy["idle_pct"]) * ncpu - res["server_cpu_pct"]["total"] - res["client_cpu_pct"])
    return res


# ------------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------------

def command_line(args) -> tuple[str, str]:
    env = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""
    as_run = f"cd {shlex.quote(os.getcwd())} && {env}{shlex.join([sys.executable] + sys.argv)}"
    script = os.path.relpath(Path(__file__).resolve(), REPO)
    canonical = [sys.executable, script]
    if args.url:
        canonical += ["--url", args.url]
        if args.decision_log:
            canonical += ["--decision-log", args.decision_log]
    else:
        canonical += ["--workers", str(args.workers), "--threads", str(args.threads)]
    canonical += ["--concurrency", ",".join(map(str, args.levels)), "--warmup", f"{args.warmup:g}",
                  "--seconds", f"{args.seconds:g}", "--payers", ",".join(args.payer_list), "--explain", args.explain,
                  "--batch-size", str(args.batch_size)]
    if args.batch_size:
        canonical += ["--batch-every", str(args.batch_every)]
    canonical += ["--pool", str(args.pool), "--seed", str(args.seed), "--timeout", f"{args.timeout:g}"]
    if args.rate:
        canonical += ["--rate", f"{args.rate:g}"]
    if args.slow_clients:
        canonical += ["--slow-clients", str(args.slow_clients)]
    if args.batch_memory:
        canonical += ["--batch-memory", str(args.batch_memory), "--batch-memory-explain", args.batch_memory_explain]
    if args.faults:
        canonical += ["--faults", "--phase-seconds", f"{args.phase_seconds:g}", "--fault-slow-clients",
                      str(args.fault_slow_clients), "--bomb-levels", str(args.bomb_levels)]
    if args.json:
        canonical += ["--json", args.json]
    return as_run, f"cd {shlex.quote(str(REPO))} && PYTHONPATH=. {shlex.join(canonical)}"


def fmt_lat(s: dict) -> str:
    if not s.get("n"):
        return "none"
    return (f"p50 {s['p50_ms']:7.2f}  p90 {s['p90_ms']:7.2f}  p95 {s['p95_ms']:7.2f}  p99 {s['p99_ms']:7.2f}  "
            f"max {s['max_ms']:8.2f} ms  (mean {s['mean_ms']:.2f}, n {s['n']})")


def fmt_counts(d: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) if d else "none"


def print_level(r: dict, server: Server) -> None:
    print(f"== concurrency {r['concurrency']}: warm-up {r['warmup_s']:.1f} s ({r['warmup_requests']} requests, "
          f"not measured), measured window {r['window_s']:.2f} s")
    print(f"  requests      {r['requests']} started in the window ({r['single_requests']} single, "
          f"{r['batch_requests']} batch), all waited for (last answer {r['drain_after_window_s'] * 1000:.0f} ms "
          f"after the window); {r['requests_completed_in_window']} completed in it")
    print(f"  errors        {fmt_counts(r['errors_by_status'])}"
          + (f"   (warm-up: {fmt_counts(r['errors_in_warmup_by_status'])})" if r["errors_in_warmup_by_status"] else "")
          + f"; reconnects {r['reconnects']}")
    print(f"  throughput    {r['throughput_req_per_s']:.1f} req/s, {r['throughput_encounters_per_s']:.1f} "
          f"encounters/s ({r['encounters_decided']} decided)")
    if r.get("open_loop_rate_per_s"):
        print(f"  open loop     due at {r['open_loop_rate_per_s']:g} req/s; {r['sent_late']} sent more than 1 ms late "
              f"(latency counted from when each was due)")
    print(f"  latency       single {fmt_lat(r['latency_single'])}")
    if r.get("slow_clients"):
        print(f"  slow clients  {r['slow_clients']}")
    if r["latency_batch"].get("n"):
        print(f"                batch  {fmt_lat(r['latency_batch'])}")
    if r["latency_errors"].get("n"):
        print(f"                errors {fmt_lat(r['latency_errors'])}")
    print("  per payer     " + "   ".join(f"{p} p50 {s['p50_ms']:.2f} / p99 {s['p99_ms']:.2f} ms (n {s['n']})"
                                         if s.get("n") else f"{p} none" for p, s in r["per_payer"].items()))
    if "server_cpu_pct" in r:
        c, m = r["server_cpu_pct"], r["server_memory"]
        workers = ", ".join(f"{v:.0f}%" for v in c["workers"].values())
        print(f"  CPU           server {c['total']:.0f}% of one core (workers {workers}; master {c['master']:.0f}%), "
              f"this client {r['client_cpu_pct']:.0f}%")
        wk = ", ".join(f"{v:.0f}" for v in m["workers_peak_rss_mb"].values())
        print(f"  server memory peak RSS (VmHWM): master {m['master_peak_rss_mb']:.0f} MB, workers {wk} MB, "
              f"sum {m['peak_rss_sum_mb']:.0f} MB; PSS now, summed: "
              + (f"{m['pss_now_sum_mb']:.0f} MB" if m["pss_now_sum_mb"] is not None else "n/a")
              + (f"; workers ever seen {len(m['workers_ever_seen'])} (restarts!)"
                 if len(m["workers_ever_seen"]) > (server.workers or 0) else ""))
    else:
        print(f"  CPU           this client {r['client_cpu_pct']:.0f}% of one core (server not started here: not measured)")
    log = r["decision_log"]
    if log is not None:
        verdict = "every decision logged" if log["match"] else "MISMATCH"
        print(f"  decision log  +{log['lines_added']} lines in this level (warm-up included), "
              f"{log['encounters_decided_seen_by_client']} encounters decided per the answers: {verdict}"
              + (f" ({log['client_errors_in_level']} requests without an answer may still have been decided)"
                 if not log["match"] and log["client_errors_in_level"] else ""))
    else:
        print("  decision log  not checked (no --decision-log for an external server)")
    busy = r["machine_during_window"]
    print(f"  machine       {', '.join(f'{k}={v}' for k, v in busy.items())}"
          + ("  (other processes: CPU of all cores not idle, minus server and client, in % of one core; "
             "steal counts as not idle)" if "other_processes_cpu_pct" in busy else ""))
    for f in r["first_errors"]:
        print(f"  error         {f['phase']}: request {f['request_id']} ({f['kind']}, payer {f['payer']}, pool "
              f"#{f['pool_index']}) -> {f['status']} after {f['ms']} ms: {f['answer'][:200]}")
    if r["clients_stuck"] or r["client_failures"]:
        print(f"  CLIENT TROUBLE stuck {r['clients_stuck']}, failures {r['client_failures']}")
    print(flush=True)


def print_table(levels: list[dict]) -> None:
    print("Summary, one row per concurrency level (single-request latency in ms, nearest rank; CPU in % of one "
          "core: server, this client, other processes on the machine)")
    head = (f"  {'conc':>4} {'requests':>8} {'errors':>6} {'req/s':>8} {'enc/s':>8} {'p50':>7} {'p90':>7} "
            f"{'p95':>7} {'p99':>7} {'max':>8} {'srv CPU':>7} {'cli CPU':>7} {'other':>6} {'peak RSS':>8} {'log':>5}")
    print(head)
    for r in levels:
        s = r["latency_single"]
        lat = (f"{s['p50_ms']:7.2f} {s['p90_ms']:7.2f} {s['p95_ms']:7.2f} {s['p99_ms']:7.2f} {s['max_ms']:8.2f}"
               if s.get("n") else f"{'-':>7} {'-':>7} {'-':>7} {'-':>7} {'-':>8}")
        srv = f"{r['server_cpu_pct']['total']:6.0f}%" if "server_cpu_pct" in r else f"{'-':>7}"
        rss = f"{r['server_memory']['peak_rss_sum_mb']:6.0f}MB" if "server_memory" in r else f"{'-':>8}"
        log = "-" if r["decision_log"] is None else ("ok" if r["decision_log"]["match"] else "DIFF")
        other = r["machine_during_window"].get("other_processes_cpu_pct")
        other = f"{other:5.0f}%" if other is not None else f"{'-':>6}"
        print(f"  {r['concurrency']:>4} {r['requests']:>8} {sum(r['errors_by_status'].values()):>6} "
              f"{r['throughput_req_per_s']:>8.1f} {r['throughput_encounters_per_s']:>8.1f} {lat} {srv} "
              f"{r['client_cpu_pct']:6.0f}% {other} {rss} {log:>5}")
    warm = {r["concurrency"]: r["errors_in_warmup_by_status"] for r in levels if r["errors_in_warmup_by_status"]}
    if warm:
        print("  errors in the (unmeasured) warm-ups: " + "; ".join(f"C={c}: {fmt_counts(e)}" for c, e in warm.items()))


def trouble_blocks(text: str) -> list[str]:
    """Error reports in the server's output: each traceback (with the line before it), worker
    timeouts, gunicorn [ERROR]/[CRITICAL] lines. The request log lines (JSON) are skipped."""
    lines = text.splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Traceback"):
            start = i - 1 if i > 0 and not lines[i - 1].startswith("{") else i
            j = i + 1
            while j < len(lines):
                nxt = lines[j]
                if nxt.startswith((" ", "\t", "Traceback")) or not nxt.strip() or nxt.startswith(
                        ("During handling", "The above exception")):
                    j += 1
                    continue
                j += 1                               # the exception line itself
                if j < len(lines) and (lines[j].startswith((" ", "Traceback")) or not lines[j].strip()
                                       or lines[j].startswith(("During handling", "The above exception"))):
                    continue                          # a chained exception follows
                break
            blocks.append("\n".join(lines[start:j]))
            i = j
            continue
        if re.search(r"WORKER TIMEOUT|\[CRITICAL\]|\[ERROR\]", line):
            blocks.append(line)
        i += 1
    return blocks


# ------------------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="benchmark this running server (http://host:port) instead of starting one")
    ap.add_argument("--decision-log", metavar="PATH",
                    help="with --url: the server's decision log, to check that every decision was logged")
    ap.add_argument("--workers", type=int, default=None, help=f"server worker processes (default {DEFAULT_WORKERS})")
    ap.add_argument("--threads", type=int, default=None, help=f"threads per worker (default {DEFAULT_THREADS})")
    ap.add_argument("--concurrency", default=DEFAULT_CONCURRENCY, metavar="C[,C...]",
                    help=f"concurrent clients; a comma list runs each level in turn (default {DEFAULT_CONCURRENCY})")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds per level (default 20)")
    ap.add_argument("--rate", type=float, default=0.0, metavar="R",
                    help="open loop: requests due at R per second in all (spread over the level's C clients), "
                         "latency counted from when each was due; 0 (default): closed loop")
    ap.add_argument("--warmup", type=float, default=3.0, help="unmeasured warm-up seconds per level (default 3)")
    ap.add_argument("--payers", default=DEFAULT_PAYERS, help=f"payers, round-robin (default {DEFAULT_PAYERS})")
    ap.add_argument("--explain", default="summary", choices=("none", "summary", "full"),
                    help="explain= of every request (default summary)")
    ap.add_argument("--batch-size", type=int, default=0, metavar="N",
                    help="encounters per batch request; 0 (default) sends no batches")
    ap.add_argument("--batch-every", type=int, default=10, metavar="K",
                    help="with --batch-size: every K-th request of each client is a batch (default 10)")
    ap.add_argument("--pool", type=int, default=DEFAULT_POOL, help=f"distinct encounters (default {DEFAULT_POOL})")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"generator seed (default {DEFAULT_SEED})")
    ap.add_argument("--timeout", type=float, default=30.0, help="client socket timeout in seconds (default 30)")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    ap.add_argument("--slow-clients", type=int, default=0, metavar="N",
                    help="hold N slow or idle connections open during each level (half trickle a request head, "
                         "half send nothing); default 0")
    ap.add_argument("--batch-memory", type=int, default=0, metavar="N",
                    help="instead of the load levels: a worker's RSS before, at the peak of and after JSON batches "
                         "of N encounters (use --workers 1)")
    ap.add_argument("--batch-memory-explain", default="full", choices=("none", "summary", "full"),
                    help="explain= of those batches (default full)")
    ap.add_argument("--faults", action="store_true",
                    help="instead of the load levels: the fault run (broken overlay, alias bomb, slow clients, worker "
                         "kill in turn under load) at the first --concurrency level")
    ap.add_argument("--phase-seconds", type=float, default=10.0, help="with --faults: seconds per phase (default 10)")
    ap.add_argument("--fault-slow-clients", type=int, default=100, help="with --faults: slow clients (default 100)")
    ap.add_argument("--bomb-levels", type=int, default=9, help="with --faults: alias bomb levels of 9 (default 9)")
    args = ap.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        ap.error("--concurrency is a comma-separated list of integers")
    if not args.levels or min(args.levels) < 1:
        ap.error("--concurrency levels must be at least 1")
    if args.seconds <= 0 or args.warmup < 0:
        ap.error("--seconds must be > 0 and --warmup >= 0")
    if args.batch_size < 0 or args.batch_every < 1 or args.pool < 1:
        ap.error("--batch-size >= 0, --batch-every >= 1, --pool >= 1")
    if args.url and (args.workers or args.threads):
        ap.error("--workers/--threads configure a server started here; not with --url")
    if args.decision_log and not args.url:
        ap.error("--decision-log is for --url (a started server logs to a temp file of its own)")
    if args.url and (args.faults or args.batch_memory):
        ap.error("--faults and --batch-memory need a server started here (they write its files, read its /proc)")
    args.workers = args.workers or DEFAULT_WORKERS
    args.threads = args.threads or DEFAULT_THREADS
    args.payer_list = [p.strip() for p in args.payers.split(",") if p.strip()]
    known = payer_ids(POLICIES)
    unknown = [p for p in args.payer_list if p not in known]
    if unknown or not args.payer_list:
        ap.error(f"unknown payer(s) {unknown}; known: {', '.join(known)}")
    return args


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)       # stop the server on SIGTERM too, as on Ctrl-C
    as_run, canonical = command_line(args)
    print("Supportable HTTP load benchmark")
    print(f"command:    {as_run}")
    if canonical.split("&&", 1)[1].strip() != as_run.split("&&", 1)[1].strip():
        print(f"equivalent: {canonical}")
    mach = machine()
    print("machine:    " + ", ".join(f"{k}={v}" for k, v in mach.items()), flush=True)

    pool, workload = build_pool(args.payer_list, args.pool, args.seed)
    w = workload
    print(f"workload:   {len(pool)} encounters (seed {args.seed}), payers round-robin: "
          f"{', '.join(f'{p} {n}' for p, n in w['per_payer'].items())}; refused by their payer and skipped: "
          f"{sum(w['skipped_refused_by_payer'].values())}; {w['lines_per_encounter_mean']:.2f} lines/enc; body mean "
          f"{w['body_bytes_mean'] / 1024:.1f} KB (max {w['body_bytes_max'] / 1024:.1f} KB); explain={args.explain}; "
          + (f"every {args.batch_every}th request of a client is a batch of {args.batch_size}"
             if args.batch_size else "no batches"))
    loop = f"open loop at {args.rate:g} req/s in all" if args.rate else "closed loop"
    print(f"clients:    per level C threads, one keep-alive http.client.HTTPConnection each, {loop}, "
          f"timeout {args.timeout:g} s; warm-up {args.warmup:g} s (not measured), then {args.seconds:g} s measured",
          flush=True)

    tmp = tempfile.TemporaryDirectory(prefix="supportable-bench-http-")
    server = None
    stopped: dict = {}
    levels: list[dict] = []
    interrupted = False
    try:
        if args.url:
            server = Server.external(args.url, Path(args.decision_log) if args.decision_log else None, None, None)
            print(f"server:     external {args.url} (workers/threads unknown to the benchmark); /readyz: "
                  f"{server.readyz.get('status')}")
        else:
            payers_copy = copy_payers(REPO, Path(tmp.name)) if args.faults else None
            server = Server.start(args.workers, args.threads, Path(tmp.name), payers_copy)
            print(f"server:     started here: {shlex.join(server.command)}")
            env = {k: v for k, v in os.environ.items() if k.startswith(("SUPPORTABLE_", "PROMETHEUS_", "GUNICORN"))}
            if env:
                print(f"            with these variables of the environment in effect: "
                      f"{' '.join(f'{k}={shlex.quote(v)}' for k, v in sorted(env.items()))}")
            print(f"            cwd {REPO}, PYTHONPATH={REPO}; pid {server.proc.pid}; workers {args.workers}, threads "
                  f"{args.threads} (gunicorn gthread); ready in {server.ready_s:.1f} s (every worker logged "
                  f"its policies, /readyz {server.readyz.get('status')})")
        missing = [p for p in args.payer_list if not server.readyz.get("payers", {}).get(p, {}).get("loaded")]
        if missing:
            raise SystemExit(f"the server has not loaded payer(s) {missing}: {server.readyz}")
        print(flush=True)

        if args.batch_memory:
            r = batch_memory(server, pool, args.batch_memory, args.batch_memory_explain)
            levels.append({"batch_memory": r})
            print_batch_memory(r)
        elif args.faults:
            r = run_faults(server, pool, args, payers_copy)
            levels.append({"faults": r})
            print_faults(r, len(server.memory()["workers_ever_seen"]))
        for c in ([] if args.batch_memory or args.faults else args.levels):
            r = run_level(server, pool, args.payer_list, c, args)
            levels.append(r)
            print_level(r, server)
        if len(levels) > 1:
            print_table(levels)
    except KeyboardInterrupt:
        interrupted = True
        for ev in ACTIVE_STOPS:
            ev.set()
        print(f"\ninterrupted; {len(levels)} level(s) completed", flush=True)
        if len(levels) > 1:
            print_table(levels)
    finally:
        if server is not None and server.started:
            stopped = server.stop()
            troubles = trouble_blocks(server.output_text())
            print(f"\nserver stopped: {stopped.get('signal')}, exit status {stopped.get('exit_status')}, in "
                  f"{stopped.get('stop_s')} s; left behind: {stopped.get('left_behind') or 'nothing'}")
            if troubles:
                print(f"server output: {len(troubles)} error report(s) (tracebacks, worker timeouts, errors); "
                      f"the first {min(3, len(troubles))}:")
                for block in troubles[:3]:
                    print("\n".join("    " + line[:300] for line in block.splitlines()[-60:]))
            stopped["server_error_reports"] = troubles[:20]
        tmp.cleanup()

    if args.json:
        report = {"command": as_run, "command_canonical": canonical, "machine": mach, "workload": workload,
                  "server": {"url": args.url, "started_here": server.started,
                             "workers": args.workers if server.started else None,
                             "threads": args.threads if server.started else None,
                             "command": server.command, "ready_s": server.ready_s, "stop": stopped},
                  "settings": {"explain": args.explain, "batch_size": args.batch_size, "batch_every": args.batch_every,
                               "warmup_s": args.warmup, "seconds": args.seconds, "timeout_s": args.timeout,
                               "pool": args.pool, "seed": args.seed},
                  "levels": levels}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
