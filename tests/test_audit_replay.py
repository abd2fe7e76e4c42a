"""`supportable replay --workers N`: a decision log replayed in partitions on a local Dask cluster of
worker processes (audit/replay.py) gives exactly the report one process gives: every change and every
entry not replayed, in log order, the counts and the versions met."""
from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import VISIT_DOCUMENTATION, make_encounter
from supportable.cli import main

PARTIAL = [e for e in VISIT_DOCUMENTATION if e != "objective_findings"]   # 97110 then needs documentation


def _entry(did: str, payer: str, verdict: str, units: int, document=None, reasons=()) -> dict:
    out = {"id": did, "time": "t", "payer": payer, "policy_version": f"sha256:old-{payer}", "encounter": did,
           "input_hash": "sha256:x", "lines": [{"line": "1", "code": "97110", "verdict": verdict, "units": units,
                                                "reasons": list(reasons)}]}
    if document is not None:
        out["input"] = document
    return out


def test_replay_on_workers_is_the_one_process_report(tmp_path):
    needs_docs = make_encounter([("97110", 30, 2)], documentation=PARTIAL)
    complete = make_encounter([("97110", 30, 2)])
    entries = []
    for n in range(24):                 # changes, unchanged entries and the kinds not replayable, spread
        payer = ("base", "medicare", "aetna")[n % 3]
        if n % 5 == 0:
            entries.append(json.dumps(_entry(f"d{n}", payer, "supportable", 2)))                 # no input
        elif n % 7 == 0:
            entries.append("{not json")
        elif n % 11 == 0:
            entries.append(json.dumps(_entry(f"d{n}", "nobody", "supportable", 2, complete)))
        else:
            entries.append(json.dumps(_entry(f"d{n}", payer, "supportable", 2, needs_docs if n % 2 else complete)))
    log = tmp_path / "decisions.jsonl"
    log.write_text("\n".join(entries) + "\n")
    one = CliRunner().invoke(main, ["replay", str(log), "--format", "json"])
    assert one.exit_code == 0, one.output
    expected = json.loads(one.output)
    many = CliRunner().invoke(main, ["replay", str(log), "--format", "json", "--workers", "2",
                                     "--partition-size", "5"])
    assert many.exit_code == 0, many.output
    got = json.loads(many.output)
    assert got == expected
    # the comparison covered changes and every kind of entry not replayed, not only empty reports
    assert got["replayed"] > 5 and got["changes"] and got["unchanged"] > 0
    assert {k for k, v in got["not_replayable"].items() if v} >= {"no_input", "unreadable_entry", "unknown_payer"}
    assert [c["entry"] for c in got["changes"]] == sorted(c["entry"] for c in got["changes"])
    only = CliRunner().invoke(main, ["replay", str(log), "--format", "json", "--workers", "1", "--payer", "aetna"])
    assert only.exit_code == 0 and json.loads(only.output)["selected"] == sum(
        1 for e in entries if e.startswith("{\"") and json.loads(e)["payer"] == "aetna")
    both = CliRunner().invoke(main, ["replay", str(log), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert both.exit_code == 2
