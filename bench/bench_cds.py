#!/usr/bin/env python3
"""End-to-end timing of the CDS Hooks coverage service through the real server.

Starts ``python -m supportable.cli serve`` (gunicorn; --workers/--threads) with trusted issuers set
(the CDS Hooks specification's example ES384 key, tests/data/cds/jwks-spec-example.json), so every
call carries a freshly signed JWT that the server verifies; then sends the hook requests of
tests/data/cds (order-sign and appointment-book, derived from the specifications' examples, and the
CRD specification's own order-sign example) round-robin from C client threads, each on its own
keep-alive connection, after a warm-up. Latency is client-side (request written to body read),
nearest-rank percentiles, and includes signing the JWT (the client's work; shown separately).

CRD expects answers within 5 seconds (10 for appointment-book and an order-sign with no recent
call); CDS Hooks asks services to answer "on the order of 500 ms". The figures are compared with both.

Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/bench_cds.py                       # 300 calls, C=1
    PYTHONPATH=. .venv/bin/python bench/bench_cds.py --requests 1000 --concurrency 4 --workers 2 --threads 4
    PYTHONPATH=. .venv/bin/python bench/bench_cds.py --json out.json
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "cds"
BASE = "https://cds.example.org"
ISS = "https://fhir-ehr.example.com/"
REQUESTS = [("coverage-order-sign", "order-sign-aetna-97112"), ("coverage-order-sign", "order-sign-medicare-97110"),
            ("coverage-order-sign", "order-sign-aetna-97110-maintenance"),
            ("coverage-appointment-book", "appointment-book-medicare-97530"),
            ("coverage-order-sign", "CRDServiceRequest")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


@contextlib.contextmanager
def server(workers: int, threads: int):
    keys = json.loads((DATA / "jwks-spec-example.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "jwks.json").write_text(json.dumps({"keys": [keys["public"]]}))
        (tmp / "issuers.json").write_text(json.dumps({"issuers": [{"iss": ISS, "jwks_file": "jwks.json"}]}))
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SUPPORTABLE_CDS_ISSUERS": str(tmp / "issuers.json"),
               "SUPPORTABLE_CDS_BASE_URL": BASE, "SUPPORTABLE_SNAPSHOT": ""}
        log = open(tmp / "server.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "supportable.cli", "serve", "--port", str(port), "--workers",
                                 str(workers), "--threads", str(threads), "--decision-log", str(tmp / "d.jsonl")],
                                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start:\n" + (tmp / "server.log").read_text()[-3000:])
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/readyz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


def client(port: int, private, bodies: list, count: int, offset: int, out: list, signing: list, errors: list):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(count):
        service, body = bodies[(offset + i) % len(bodies)]
        path = f"/cds-services/{service}"
        started = time.perf_counter()
        now = int(time.time())
        token = jwt.encode({"iss": ISS, "aud": BASE + path, "exp": now + 60, "iat": now, "jti": uuid.uuid4().hex},
                           private, algorithm="ES384", headers={"kid": "example-kid", "typ": "JWT"})
        signed = time.perf_counter()
        conn.request("POST", path, body, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        resp.read()
        done = time.perf_counter()
        if resp.status != 200:
            errors.append((service, resp.status))
        out.append((done - started) * 1000)
        signing.append((signed - started) * 1000)
    conn.close()


def measure(port: int, requests: int, concurrency: int, warmup: int) -> dict:
    keys = json.loads((DATA / "jwks-spec-example.json").read_text())
    private = jwt.PyJWK.from_dict(keys["private"], algorithm="ES384").key
    bodies = [(service, (DATA / f"{name}.json").read_bytes()) for service, name in REQUESTS]
    client(port, private, bodies, warmup, 0, [], [], [])
    latencies: list[float] = []
    signing: list[float] = []
    errors: list = []
    per = max(1, requests // concurrency)
    threads = [threading.Thread(target=client, args=(port, private, bodies, per, k * per, latencies, signing, errors))
               for k in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "seconds": elapsed, "throughput": len(latencies) / elapsed,
            "median_ms": statistics.median(latencies), "p90_ms": percentile(latencies, 90),
            "p99_ms": percentile(latencies, 99), "max_ms": max(latencies),
            "signing_median_ms": statistics.median(signing)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    command = "PYTHONPATH=. .venv/bin/python bench/bench_cds.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    print("Supportable CDS Hooks coverage service, end to end through gunicorn")
    print(f"command:  {command.strip()}")
    print(f"workload: {len(REQUESTS)} hook requests round-robin ({', '.join(n for _, n in REQUESTS)}), each with a "
          f"fresh ES384 JWT the server verifies; {args.warmup} warm-up calls, then {args.requests} measured, "
          f"C={args.concurrency}, server {args.workers} worker(s) x {args.threads} thread(s); os.cpu_count()="
          f"{os.cpu_count()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    with server(args.workers, args.threads) as port:
        figures = measure(port, args.requests, args.concurrency, args.warmup)
    print(f"requests  {figures['requests']} in {figures['seconds']:.2f} s ({figures['throughput']:.1f} calls/s), "
          f"errors {len(figures['errors'])} {figures['errors'][:5] if figures['errors'] else ''}")
    print(f"latency   median {figures['median_ms']:.1f} ms, p90 {figures['p90_ms']:.1f} ms, p99 "
          f"{figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms (client-side; signing the JWT: median "
          f"{figures['signing_median_ms']:.2f} ms of it)")
    print(f"against   CRD's 5 s: p99 is {5000 / figures['p99_ms']:.0f}x under it; CDS Hooks' ~500 ms: p99 "
          f"{'within' if figures['p99_ms'] < 500 else 'OVER'} it")
    if args.json:
        args.json.write_text(json.dumps({"command": command, **figures}, indent=2))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
