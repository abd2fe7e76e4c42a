"""Decisions you can find again: the decision log keeps reasons and the policy version,
``GET /v1/decisions/{id}`` finds an entry through the log's index from any worker (the real gunicorn
server, several workers, and a second server process that never wrote the entries), and
``supportable replay`` decides the logged inputs again under the current or a candidate policy."""
from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from conftest import ROOT, VISIT_DOCUMENTATION, make_encounter
from serving import running_server
from supportable.cli import main
from supportable.server import api_models as m
from supportable.server import decision_index
from supportable.server.decision_log import DecisionLog

KEY = "k-decisions-0123456789abcdef"
AUTH = {"SUPPORTABLE_AUTH": "required", "SUPPORTABLE_API_KEYS": KEY, "SUPPORTABLE_SNAPSHOT": "",
        "SUPPORTABLE_RELOAD_INTERVAL": "0"}
PARTIAL = [e for e in VISIT_DOCUMENTATION if e != "objective_findings"]   # 97110 then needs documentation


def call(port: int, method: str, path: str, body=None, key: str | None = KEY) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)   # a new connection: any worker may answer
    try:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["X-API-Key"] = key
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read() or b"null")
    finally:
        conn.close()


def encounters() -> list[dict]:
    out = []
    for i in range(8):
        docs = PARTIAL if i % 2 else list(VISIT_DOCUMENTATION)
        out.append(make_encounter([("97110", 30 + i, 2), ("97112", 15, 1)], id=f"enc-{i}", documentation=docs))
    return out


def test_a_logged_decision_is_found_by_any_worker_and_by_another_server(tmp_path):
    posted = []
    with running_server(tmp_path, workers=3, env={**AUTH, "SUPPORTABLE_LOG_INPUTS": "1"}) as (port, _):
        for doc in encounters():
            status, _, body = call(port, "POST", "/v1/check?payer=medicare", doc)
            assert status == 200
            posted.append(body)
        for body in posted:          # each on a new connection, to whichever worker takes it
            status, headers, found = call(port, "GET", f"/v1/decisions/{body['decision_id']}")
            assert status == 200, found
            m.validate(m.LoggedDecision, found)
            assert found["id"] == body["decision_id"] and found["payer"] == "medicare"
            assert found["policy_version"] == body["policy_version"] and found["replayable"] is True
            assert "input" not in found             # the encounter is never sent back
            assert [(l["line"], l["verdict"], l["units"]) for l in found["lines"]] == \
                [(l["line"], l["verdict"], l["units"]["supportable"]) for l in body["lines"]]
            assert [[(r["id"], r["kind"], r["carc"], r["rarc"]) for r in l["reasons"]] for l in found["lines"]] == \
                [[(r["id"], r["kind"], r["carc"], r["rarc"]) for r in l["reasons"]] for l in body["lines"]]
        denied = [l for b in posted for l in b["lines"] if l["verdict"] == "needs_documentation"]
        assert denied and all(r["carc"] == "16" and r["rarc"] == "N706" for l in denied for r in l["reasons"])
        status, headers, problem = call(port, "GET", "/v1/decisions/0123456789abcdef0123456789abcdef")
        assert status == 404 and headers["Content-Type"] == "application/problem+json"
        assert problem["type"] == "/problems/unknown-decision" and "0123456789abcdef" in problem["detail"]
        assert call(port, "GET", "/v1/decisions/..%2F..%2Fetc")[0] == 404
        status, _, problem = call(port, "GET", f"/v1/decisions/{posted[0]['decision_id']}", key=None)
        assert status == 401 and problem["type"] == "/problems/unauthorized"     # the API-key gate holds
    # A new server: none of its processes wrote these entries; the index beside the log finds them.
    (tmp_path / "decisions.jsonl.index").unlink()        # and without the index, a catch-up rebuilds it
    with running_server(tmp_path, workers=2, env=AUTH) as (port, _):
        for body in posted:
            status, _, found = call(port, "GET", f"/v1/decisions/{body['decision_id']}")
            assert status == 200 and found["id"] == body["decision_id"]
        status, _, late = call(port, "POST", "/v1/check", encounters()[1])       # logged without its input
        assert status == 200
        status, _, found = call(port, "GET", f"/v1/decisions/{late['decision_id']}")
        assert status == 200 and found["replayable"] is False and found["payer"] == "base"
    assert (tmp_path / "decisions.jsonl.index").is_file()
    replay_after_the_servers(tmp_path, posted, late)


def replay_after_the_servers(tmp_path: Path, posted: list[dict], late: dict) -> None:
    log = tmp_path / "decisions.jsonl"
    runner = CliRunner()
    result = runner.invoke(main, ["replay", str(log), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["entries"] == 9 and report["replayed"] == 8 and report["unchanged"] == 8
    assert report["changes"] == [] and report["not_replayable"]["no_input"] == 1
    assert report["not_replayed"] == [{"entry": 9, "decision_id": late["decision_id"], "reason": "no_input",
                                       "message": "logged without its input (SUPPORTABLE_LOG_INPUTS was off)"}]
    assert report["versions"]["medicare"] == {"logged": [posted[0]["policy_version"]],
                                              "now": posted[0]["policy_version"]}
    # A candidate that files missing documentation under another remark code, for Medicare only.
    cand = tmp_path / "cand"
    shutil.copytree(ROOT / "policies", cand / "policies")
    shutil.copytree(ROOT / "payers", cand / "payers", ignore=shutil.ignore_patterns("tests"))
    table = cand / "policies" / "remittance" / "codes.yaml"
    table.write_text(table.read_text().replace("    N95: {", "    M127: {meaning: \"the medical record is missing\"}\n"
                                               "    N95: {"))
    medicare = cand / "payers" / "medicare.yaml"
    medicare.write_text(medicare.read_text().replace("remittance:\n  by_rule:", "remittance:\n  by_kind:\n"
                        "    documentation: {carc: \"16\", rarc: M127, source: {file: domain-notes-2.md, section: \"5\"}}\n"
                        "  by_rule:"))
    result = runner.invoke(main, ["replay", str(log), "--payer", "medicare", "--policies", str(cand / "policies"),
                                  "--payers", str(cand / "payers"), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["selected"] == 8 and report["replayed"] == 8 and report["not_replayable"]["no_input"] == 0
    changed = [c for c in report["changes"]]
    assert changed and {c["type"] for c in changed} == {"reasons_changed"}
    assert report["by_type"]["reasons_changed"] == len(changed) == sum(
        1 for b in posted for l in b["lines"] if l["verdict"] == "needs_documentation")
    for c in changed:
        assert c["logged"]["verdict"] == c["now"]["verdict"] == "needs_documentation"
        assert {r["rarc"] for r in c["logged"]["reasons"]} == {"N706"}
        assert {r["rarc"] for r in c["now"]["reasons"]} == {"M127"}
    assert report["versions"]["medicare"]["now"] != posted[0]["policy_version"]
    text = runner.invoke(main, ["replay", str(log), "--policies", str(cand / "policies"),
                                "--payers", str(cand / "payers")]).output
    assert "Not replayable: 1 no_input" in text and f"entry 9 ({late['decision_id']}): no_input" in text
    assert "(CARC 16, RARC N706)" in text and "(CARC 16, RARC M127)" in text


def _entry(did: str, payer: str, verdict: str, units: int, reasons: list | None, document=None) -> dict:
    line = {"line": "1", "code": "97110", "verdict": verdict, "units": units}
    if reasons is not None:
        line["reasons"] = reasons
    out = {"id": did, "time": "t", "payer": payer, "policy_version": "sha256:old", "encounter": "enc-x",
           "input_hash": "sha256:x", "lines": [line]}
    if document is not None:
        out["input"] = document
    return out


def test_replay_names_each_change_and_every_entry_it_could_not_replay(tmp_path):
    visit = make_encounter([("97110", 30, 2)], documentation=PARTIAL)   # needs documentation today
    log = tmp_path / "d.jsonl"
    lines = [_entry("a", "base", "supportable", 2, [], visit),            # verdict then: supportable
             _entry("b", "base", "needs_documentation", 0, None, visit),  # logged before reasons: same
             _entry("c", "nobody", "supportable", 2, [], visit),
             _entry("d", "base", "supportable", 2, []),                   # no input
             {"id": "e"}]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n\n"
    log.write_text(text)
    result = CliRunner().invoke(main, ["replay", str(log), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["entries"] == 6 and report["replayed"] == 2 and report["unchanged"] == 1
    assert [(c["decision_id"], c["type"], c["logged"]["units"], c["now"]["units"]) for c in report["changes"]] == \
        [("a", "supportable->needs_documentation", 2, 0)]
    assert report["changes"][0]["now"]["reasons"][0]["id"] == "base.documentation.procedure_missing_element"
    assert {k: v for k, v in report["not_replayable"].items() if v} == \
        {"no_input": 1, "unreadable_entry": 2, "unknown_payer": 1}
    assert [(n["entry"], n["reason"]) for n in report["not_replayed"]] == \
        [(3, "unknown_payer"), (4, "no_input"), (5, "unreadable_entry"), (6, "unreadable_entry")]
    assert report["versions"]["base"]["logged"] == ["sha256:old"]
    bad = CliRunner().invoke(main, ["replay", str(tmp_path / "none.jsonl"), "--format", "json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["error"] == "unreadable_input"
    assert CliRunner().invoke(main, ["replay", str(log), "--payer", "nobody"]).exit_code == 3


def test_the_index_finds_entries_written_by_another_log_object_and_survives_rotation(tmp_path, monkeypatch):
    """Two DecisionLog objects on one file stand for two workers; a rotated log resets the index; a
    lookup reads the log only where the index does not reach yet."""
    path = tmp_path / "d.jsonl"
    writer, reader = DecisionLog(path), DecisionLog(path)
    decision = {"payer": "base", "policy_version": "sha256:v", "encounter": "e",
                "lines": [{"line": "1", "code": "97110", "verdict": "supportable", "units": {"supportable": 1},
                           "reasons": []}]}
    for i in range(50):
        assert writer.append({**decision, "decision_id": f"id{i}"}, {"n": i}, f"t{i}")
    scanned = []
    real_lines = decision_index._lines
    monkeypatch.setattr(decision_index, "_lines", lambda fd, start, size: (scanned.append((start, size)),
                                                                          real_lines(fd, start, size))[1])
    assert reader.find("id37")["time"] == "t37" and reader.find("id0")["time"] == "t0"
    assert reader.find("nope") is None
    assert scanned == []                     # the writers indexed every entry: nothing of the log was read
    with open(path, "a") as f:               # an entry the index does not know (written by an older version)
        f.write(json.dumps({"id": "older", "time": "t-old", "lines": []}) + "\n")
    size = path.stat().st_size
    assert reader.find("older")["time"] == "t-old"
    assert len(scanned) == 1 and scanned[0][1] == size and scanned[0][0] > 0     # only the part not indexed
    path.rename(tmp_path / "old.jsonl")                      # rotated: a new file, another inode
    assert writer.append({**decision, "decision_id": "fresh"}, {}, "t-new")
    assert reader.find("fresh")["time"] == "t-new"
    assert reader.find("id37") is None                       # not in the log any more
