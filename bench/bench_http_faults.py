"""Scenarios of bench/bench_http.py beyond plain load (stdlib only; run through bench_http.py):

* ``SlowClients``: N slow or idle connections held open during a load level (``--slow-clients N``):
  half send a request head one byte every ``TRICKLE_EVERY`` seconds, half connect and send nothing;
  one the server closes is opened again, so N stay open. Counted: opened, closed by the server,
  answered 408.
* ``batch_memory``: a worker's RSS before, at the peak of, and after a maximum-size JSON batch
  (``--batch-memory``).
* ``fault_run``: the load keeps going while, in turn, a broken overlay (an unknown YAML tag) is
  written into the server's own copy of the payers folder, an alias bomb is written, slow clients
  connect, and a worker is killed (SIGKILL) with a broken overlay on disk (``--faults``); per phase:
  requests, errors (5xx, connection errors, other non-200), p50/p99, and the reload outcomes
  (refusals) counted by /metrics and reported by /readyz.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

TRICKLE_EVERY = 2.0          # seconds between the bytes of a trickling client
BROKEN_OVERLAY = "\nbroken_by_the_fault_run: !ref 18\n"


# ------------------------------------------------------------------------------------------------
# Slow clients
# ------------------------------------------------------------------------------------------------

class SlowClients(threading.Thread):
    def __init__(self, host: str, port: int, n: int):
        super().__init__(name="slow-clients", daemon=True)
        self.host, self.port, self.n = host, port, n
        self.stop_event = threading.Event()
        self.opened = self.closed_by_server = self.answered_408 = self.connect_errors = 0
        self.socks: dict[socket.socket, bool] = {}       # socket -> trickles (else idle)

    def _open(self, trickle: bool) -> None:
        try:
            s = socket.create_connection((self.host, self.port), timeout=5)
        except OSError:
            self.connect_errors += 1
            return
        s.setblocking(False)
        if trickle:
            try:
                s.send(b"POST /v1/check HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
            except OSError:
                pass
        self.socks[s] = trickle
        self.opened += 1

    def _reap(self, s: socket.socket) -> bool:
        """True if the server closed ``s`` (counted)."""
        try:
            data = s.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if data.startswith(b"HTTP/1.1 408"):
            self.answered_408 += 1
        self.closed_by_server += 1
        s.close()
        return True

    def run(self) -> None:
        for i in range(self.n):
            self._open(trickle=i % 2 == 0)
        while not self.stop_event.wait(TRICKLE_EVERY):
            for s, trickle in list(self.socks.items()):
                if self._reap(s):
                    del self.socks[s]
                    self._open(trickle)
                elif trickle:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
        for s in self.socks:
            s.close()

    def stop(self) -> dict:
        self.stop_event.set()
        self.join(TRICKLE_EVERY + 10)
        return {"slow_clients": self.n, "opened": self.opened, "closed_by_server": self.closed_by_server,
                "answered_408": self.answered_408, "connect_errors": self.connect_errors}


# ------------------------------------------------------------------------------------------------
# Memory after a large batch
# ------------------------------------------------------------------------------------------------

def _status_kb(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def batch_memory(server, pool, size: int, explain: str, repeats: int = 2) -> dict:
    """Send ``repeats`` JSON batches of ``size`` encounters (explain=``explain``) to a one-worker server;
    the worker's RSS before, its peak, and 2 s after each answer was read."""
    _, workers = server.pids()
    if len(workers) != 1:
        raise SystemExit("--batch-memory needs a server with one worker (--workers 1)")
    pid = workers[0]
    body = b"[" + b",".join(pool[i % len(pool)][1] for i in range(size)) + b"]"
    out = {"encounters": size, "explain": explain, "body_mb": round(len(body) / 2**20, 2),
           "rss_before_mb": round(_status_kb(pid)["VmRSS"] / 1024, 1), "runs": []}
    for _ in range(repeats):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
        t0 = time.perf_counter()
        conn.request("POST", f"/v1/check/batch?explain={explain}", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer = resp.read()
        seconds = time.perf_counter() - t0
        conn.close()
        summary = json.loads(answer).get("summary") if resp.status == 200 else answer[:300].decode()
        time.sleep(2.0)
        st = _status_kb(pid)
        out["runs"].append({"status": resp.status, "seconds": round(seconds, 2), "answer_mb": round(len(answer) / 2**20, 1),
                            "summary": summary, "rss_after_mb": round(st["VmRSS"] / 1024, 1),
                            "peak_rss_mb": round(st["VmHWM"] / 1024, 1)})
    return out


def print_batch_memory(r: dict) -> None:
    print(f"== memory after a maximum-size batch: {r['encounters']} encounters, explain={r['explain']}, "
          f"body {r['body_mb']} MB; worker RSS before {r['rss_before_mb']} MB")
    for i, run in enumerate(r["runs"], 1):
        print(f"  run {i}: {run['status']} in {run['seconds']} s, answer {run['answer_mb']} MB; worker RSS 2 s after "
              f"{run['rss_after_mb']} MB (peak {run['peak_rss_mb']} MB); summary {run['summary']}")
    print(flush=True)


# ------------------------------------------------------------------------------------------------
# The fault run
# ------------------------------------------------------------------------------------------------

def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A payer overlay that is a YAML alias bomb: ``levels`` levels of ``width`` aliases each."""
    lines = ["id: bomb", "name: alias bomb", "extends: base", "bomb0: &b0 [x]"]
    for i in range(1, levels + 1):
        lines.append(f"bomb{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _metric_counts(host: str, port: int) -> dict:
    try:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
    except (OSError, http.client.HTTPException):
        return {}
    out: dict = {}
    for m in re.finditer(r'^supportable_policy_reloads_total\{outcome="(\w+)"\} ([0-9.e+]+)$', text, re.M):
        out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
    return out


def _readyz(host: str, port: int) -> dict:
    try:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/readyz")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return {"http": type(exc).__name__}
    last = body.get("last_reload") or {}
    return {"http": resp.status, "status": body.get("status"),
            "payers_not_loaded": sorted(p for p, v in body.get("payers", {}).items() if not v.get("loaded")),
            "last_reload": last.get("outcome"), "last_reload_reason": str(last.get("reason", ""))[:120]}


class Phases:
    """The fault run's phases: apply(), hold for the phase's seconds, undo()."""

    def __init__(self, server, payers_dir: Path, seconds: float, slow_clients: int, bomb_levels: int):
        self.server, self.dir, self.seconds = server, payers_dir, seconds
        self.slow_clients, self.bomb_levels = slow_clients, bomb_levels
        self.aetna = (payers_dir / "aetna.yaml").read_text(encoding="utf-8")
        self._slow: SlowClients | None = None

    def _break_aetna(self) -> str:
        (self.dir / "aetna.yaml").write_text(self.aetna + BROKEN_OVERLAY, encoding="utf-8")
        return "aetna.yaml gets an unknown YAML tag (`!ref 18`)"

    def _restore(self) -> None:
        (self.dir / "aetna.yaml").write_text(self.aetna, encoding="utf-8")
        (self.dir / "bomb.yaml").unlink(missing_ok=True)

    def plan(self):
        return [
            ("steady", lambda: "no fault", lambda: None),
            ("broken overlay", self._break_aetna, self._restore),
            ("restored", lambda: "aetna.yaml restored", lambda: None),
            ("alias bomb", lambda: (self.dir / "bomb.yaml").write_text(alias_bomb(self.bomb_levels)) and
             f"payers/bomb.yaml: {self.bomb_levels} levels of 9 aliases", self._restore),
            ("slow clients", self._start_slow, self._stop_slow),
            ("worker kill", self._kill_worker, self._restore),
            ("after", lambda: "files restored, no fault", lambda: None),
        ]

    def _start_slow(self) -> str:
        self._slow = SlowClients(self.server.host, self.server.port, self.slow_clients)
        self._slow.start()
        return f"{self.slow_clients} slow clients (half trickle a byte every {TRICKLE_EVERY:g} s, half idle)"

    def _stop_slow(self) -> None:
        self.slow_stats = self._slow.stop()

    def _kill_worker(self) -> str:
        self._break_aetna()
        time.sleep(0.5)
        _, workers = self.server.pids()
        if not workers:
            return "no worker to kill"
        os.kill(workers[0], signal.SIGKILL)
        return f"aetna.yaml broken again, then SIGKILL to worker {workers[0]} (it restarts with the broken file on disk)"


def fault_run(server, start_clients, stop_clients, payers_dir: Path, args) -> list[dict]:
    """Run the phases while the clients started by ``start_clients()`` keep the load going; returns one
    report per phase. ``stop_clients()`` returns every client's records (t0, t1, kind, payer, status, ...)."""
    phases = Phases(server, payers_dir, args.phase_seconds, args.fault_slow_clients, args.bomb_levels)
    start_clients()
    time.sleep(args.warmup)
    marks = []
    for name, apply, undo in phases.plan():
        before = _metric_counts(server.host, server.port)
        t0 = time.perf_counter()
        what = apply()
        # slow clients: long enough for the server's read deadline (10 s by default) to close some
        time.sleep(args.phase_seconds * (1.5 if name == "slow clients" else 1))
        t1 = time.perf_counter()
        ready = _readyz(server.host, server.port)
        undo()
        after = _metric_counts(server.host, server.port)
        marks.append({"phase": name, "fault": what, "t0": t0, "t1": t1, "readyz_at_end": ready,
                      "reloads": {k: int(after.get(k, 0) - before.get(k, 0)) for k in sorted(set(after) | set(before))
                                  if after.get(k, 0) - before.get(k, 0)},
                      **({"slow": phases.slow_stats} if name == "slow clients" else {})})
    records = stop_clients()
    reports = []
    for m in marks:
        rs = [r for r in records if m["t0"] <= r[0] < m["t1"]]
        lat = sorted(r[1] - r[0] for r in rs if r[4] == 200)
        statuses: dict = {}
        for r in rs:
            statuses[str(r[4])] = statuses.get(str(r[4]), 0) + 1
        five = sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500)
        conn_errors = sum(n for s, n in statuses.items() if not s[:3].isdigit())
        reports.append({**{k: v for k, v in m.items() if k not in ("t0", "t1")}, "seconds": round(m["t1"] - m["t0"], 1),
                        "requests": len(rs), "ok": statuses.get("200", 0), "errors_5xx": five,
                        "connection_errors": conn_errors, "by_status": statuses,
                        "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "max_ms": round(lat[-1] * 1000, 1) if lat else None})
    return reports


def _pct(sorted_s: list[float], p: float):
    if not sorted_s:
        return None
    k = max(0, min(len(sorted_s) - 1, round(p / 100 * len(sorted_s) + 0.5) - 1))
    return round(sorted_s[k] * 1000, 1)


def print_faults(reports: list[dict], workers_seen: int) -> None:
    print("== fault run: per phase (latency of 200 answers, ms; reloads: outcomes counted by /metrics in the phase)")
    print(f"  {'phase':<15} {'req':>5} {'ok':>5} {'5xx':>4} {'conn':>4} {'p50':>7} {'p99':>8} {'max':>8}  reloads / "
          "readyz at the end / other statuses")
    for r in reports:
        other = {s: n for s, n in r["by_status"].items() if s != "200"}
        ready = r["readyz_at_end"]
        print(f"  {r['phase']:<15} {r['requests']:>5} {r['ok']:>5} {r['errors_5xx']:>4} {r['connection_errors']:>4} "
              f"{_f(r['p50_ms']):>7} {_f(r['p99_ms']):>8} {_f(r['max_ms']):>8}  "
              f"{r['reloads'] or '-'} / {ready.get('http')} {ready.get('status')} last={ready.get('last_reload')}"
              f"{' not loaded=' + ','.join(ready['payers_not_loaded']) if ready.get('payers_not_loaded') else ''}"
              f"{' / ' + json.dumps(other) if other else ''}")
        print(f"  {'':<15} fault: {r['fault']}" + (f"; {r['slow']}" if "slow" in r else ""))
    print(f"  workers seen over the run: {workers_seen}")
    print(flush=True)


def _f(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def copy_payers(repo: Path, tmpdir: Path) -> Path:
    target = tmpdir / "payers"
    shutil.copytree(repo / "payers", target, ignore=shutil.ignore_patterns("tests"))
    return target
