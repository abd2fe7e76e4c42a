"""`supportable audit` on a local Dask cluster of 2 worker processes: the results are exactly what one
process decides, in input order; invalid encounters are reported in place; policies are loaded once
per worker process; the summary counts what the results hold; workers that disagree on the policy
version are refused by name."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from supportable import engine as facade
from supportable.audit import AuditJob, PolicyMismatch, Settings, run_audit
from supportable.audit.run import agreed_versions
from supportable.audit.worker import policies as worker_policies
from supportable.server import wire

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"
CORPUS = REPO / "examples" / "corpus" / "encounters.jsonl"
PAYERS = ("base", "commercial", "medicare", "aetna", "aetna_medicare")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=50)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """36 encounters of the shipped corpus under a payer each (round-robin, some with a charge), with
    an unknown payer, a line that is not JSON, one that is not UTF-8 and an invalid encounter among them."""
    lines = CORPUS.read_text().splitlines()[:36]
    out = []
    for n, text in enumerate(lines):
        doc = json.loads(text)
        doc["payer"] = PAYERS[n % len(PAYERS)]
        if n % 3 == 0:
            for k, line in enumerate(doc["lines"]):
                line["charge"] = 40.0 + 12.5 * k
        out.append(json.dumps(doc).encode())
    out.insert(5, b'{"id": "broken", ')
    out.insert(9, b'{"id": "latin1 \xe9"}')
    bad = json.loads(lines[0])
    bad["lines"][0]["code"] = "99999"
    del bad["date_of_service"]
    out.insert(14, json.dumps(bad).encode())
    nowhere = json.loads(lines[1])
    nowhere["payer"] = "nobody"
    out.insert(20, json.dumps(nowhere).encode())
    path = tmp_path_factory.mktemp("audit") / "corpus.ndjson"
    path.write_bytes(b"\n".join(out) + b"\n\n")
    return path


def closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]          # free, and nothing listens on it once the socket closes


def settings(payer=None, explain="summary") -> Settings:
    sources = facade.PolicySources.from_dirs(POLICIES)
    return Settings(str(POLICIES), None, None, facade.DEFAULT_ENGINE, payer, explain, sources.digest())


def one_process(path: Path, payer=None, explain="summary") -> list[dict]:
    """What deciding the corpus in this process, encounter by encounter, gives."""
    parsed = facade.parse_sources(facade.PolicySources.from_dirs(POLICIES))
    built = {}
    out = []
    for n, raw in enumerate(l for l in path.read_bytes().splitlines() if l.strip()):
        try:
            doc = json.loads(raw)
        except ValueError:
            out.append(None)
            continue
        chosen = payer or doc.get("payer") or "base"
        if chosen not in PAYERS:
            out.append(None)
            continue
        policy = built.setdefault(chosen, facade.build_policy_set(parsed, chosen))
        try:
            encounter = policy.read_encounter(doc)
        except facade.InputError:
            out.append(None)
            continue
        out.append(wire.decision(policy.decide(encounter, explain), explain))
    return out


def read_results(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_results_are_one_process_decisions_in_input_order(client, corpus, tmp_path):
    out = tmp_path / "results.ndjson"
    summary = run_audit(AuditJob([corpus], out, settings(), partition_size=4, client=client))
    results = read_results(out)
    expected = one_process(corpus)
    assert [r["index"] for r in results] == list(range(len(expected))) == list(range(40))
    for result, decision in zip(results, expected):
        if decision is None:
            assert "decision" not in result and result["error"]["type"].startswith("/problems/")
        else:
            assert result["decision"] == decision, result["source"]
    assert results[6]["source"] == f"{corpus}:7"
    # invalid encounters in place, each with its problem
    assert results[5]["error"]["type"] == "/problems/invalid-json"
    assert results[9]["error"]["type"] == "/problems/not-utf8"
    paths = {p["path"]: p["code"] for p in results[14]["error"]["problems"]}
    assert paths["date_of_service"] == "missing_field" and paths["lines[0].code"] == "unknown_code"
    assert results[20]["error"]["problems"] == [{"path": "payer", "code": "unknown_payer",
                                                 "message": "unknown payer `nobody`"}]
    # both worker processes decided, each loaded the policies once for all its partitions
    assert len(summary["workers"]) == 2 and sum(summary["workers"].values()) == 10
    assert set(summary["policy_loads_by_worker"].values()) == {1}
    # the summary counts what the results hold
    decided = [r["decision"] for r in results if "decision" in r]
    verdicts = Counter(line["verdict"] for d in decided for line in d["lines"])
    assert summary["by_verdict"] == dict(verdicts) and summary["invalid"] == 4 and summary["decided"] == 36
    assert summary["units"]["billed"] == sum(l["units"]["billed"] for d in decided for l in d["lines"])
    reasons = Counter(r["id"] for d in decided for l in d["lines"] for r in {x["id"]: x for x in l["reasons"]}.values())
    assert summary["by_reason"] == dict(reasons)
    assert summary["by_payer"]["nobody"]["invalid"] == 1
    assert summary["by_payer"]["medicare"]["encounters"] == sum(1 for d in decided if d["payer"] == "medicare")
    assert json.loads((tmp_path / "results.summary.json").read_text())["by_verdict"] == summary["by_verdict"]
    assert len(summary["slowest"]) == 10 and summary["slowest"][0]["ms"] >= summary["slowest"][-1]["ms"]
    # both are wire documents (server/wire/audit.py), validated as declared
    from pydantic import TypeAdapter
    from supportable.server.wire.audit import AuditResult, AuditSummary
    TypeAdapter(AuditSummary).validate_python(summary)
    for result in results:
        TypeAdapter(AuditResult).validate_python(result)


def test_money_at_risk_counts_the_charges_of_units_not_supported(client, corpus, tmp_path):
    out = tmp_path / "r.ndjson"
    summary = run_audit(AuditJob([corpus], out, settings("medicare"), partition_size=7, client=client))
    charges = {}
    for n, raw in enumerate(l for l in corpus.read_bytes().splitlines() if l.strip()):
        try:
            charges[n] = {line["id"]: line["charge"] for line in json.loads(raw)["lines"] if "charge" in line}
        except (ValueError, KeyError):
            pass
    at_risk = charged = 0
    for result in read_results(out):
        for line in result.get("decision", {}).get("lines", []):
            charge = charges.get(result["index"], {}).get(line["line"])
            if charge is None:
                continue
            charged += charge
            billed, ok = line["units"]["billed"], line["units"]["supportable"]
            if ok < billed:
                at_risk += charge * (billed - ok) / billed
    assert charged > 0 and summary["money"]["charged"] == pytest.approx(charged)
    assert summary["money"]["at_risk"] == pytest.approx(at_risk, abs=0.05) and at_risk > 0
    assert set(summary["money"]["at_risk_by_payer"]) == {"medicare"}


def test_parquet_holds_the_same_results(client, corpus, tmp_path):
    import pyarrow.parquet as pq
    run_audit(AuditJob([corpus], tmp_path / "r.ndjson", settings(), partition_size=9, client=client))
    run_audit(AuditJob([corpus], tmp_path / "r.parquet", settings(), fmt="parquet", partition_size=5, client=client))
    table = pq.read_table(tmp_path / "r.parquet").to_pydict()
    assert table["index"] == list(range(40))
    assert [json.loads(t) for t in table["result"]] == read_results(tmp_path / "r.ndjson")
    assert table["ok"][5] is False and table["payer"][0] == "base"
    # Parquet in: a string column `encounter`, one encounter's JSON per row (all but the non-UTF-8 line)
    import pyarrow as pa
    texts = [line.decode() for n, line in enumerate(l for l in corpus.read_bytes().splitlines() if l.strip()) if n != 9]
    pq.write_table(pa.table({"encounter": texts}), tmp_path / "in.parquet")
    run_audit(AuditJob([tmp_path / "in.parquet"], tmp_path / "p.ndjson", settings(), partition_size=6, client=client))
    from_parquet, from_ndjson = read_results(tmp_path / "p.ndjson"), read_results(tmp_path / "r.ndjson")
    del from_ndjson[9]
    assert [r.get("decision") for r in from_parquet] == [r.get("decision") for r in from_ndjson]
    assert from_parquet[12]["source"] == f"{tmp_path / 'in.parquet'}[row 12]" and len(from_parquet) == 39


RUN_FACTS = ("corpus", "output", "cluster", "workers", "policy_loads_by_worker", "partition_size", "elapsed_s",
             "encounters_per_s", "slowest", "summary_file")


def test_given_items_decided_in_this_process_are_the_clusters_results(client, corpus, tmp_path):
    # The web's day of claims (server/web/day_audit.py) hands the audit items it holds and the policies its
    # worker serves (AuditJob.items, AuditJob.here): the same partitions and decisions as on the cluster.
    from supportable.audit.corpus import items
    from supportable.audit.worker import _Policies
    on_cluster = run_audit(AuditJob([corpus], tmp_path / "c.ndjson", settings(), partition_size=4, client=client))
    seen = []
    here = run_audit(AuditJob([], tmp_path / "h.ndjson", settings(), partition_size=4, items=list(items([corpus])),
                              here=_Policies(settings()), corpus_label="the upload", on_progress=seen.append))
    assert read_results(tmp_path / "h.ndjson") == read_results(tmp_path / "c.ndjson")
    assert {k: v for k, v in here.items() if k not in RUN_FACTS} == \
        {k: v for k, v in on_cluster.items() if k not in RUN_FACTS}
    assert here["cluster"] == "this process" and here["corpus"] == ["the upload"] and sum(here["workers"].values()) == 10
    assert seen == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]      # progress after each partition, in order
    assert here["policy_versions"] == on_cluster["policy_versions"]


def test_workers_that_disagree_on_a_version_are_named():
    same = {"versions": {"base": "sha256:a", "medicare": "sha256:b"}}
    assert agreed_versions({"tcp://w1": same, "tcp://w2": same}) == same["versions"]
    odd = {"versions": {"base": "sha256:a", "medicare": "sha256:c"}}
    with pytest.raises(PolicyMismatch) as caught:
        agreed_versions({"tcp://w1": same, "tcp://w2": same, "tcp://w3": odd})
    assert "tcp://w3" in str(caught.value) and "`medicare` sha256:c (others sha256:b)" in str(caught.value)


def test_a_worker_reading_other_policy_files_is_refused():
    wrong = Settings(str(POLICIES), None, None, facade.DEFAULT_ENGINE, None, "summary", "sha256:not-the-same")
    with pytest.raises(PolicyMismatch, match="other policy files than the client"):
        worker_policies(wrong)


def test_the_command_line_audit(corpus, tmp_path):
    out = tmp_path / "cli.ndjson"
    run = subprocess.run([sys.executable, "-m", "supportable", "audit", str(corpus), "--payer", "aetna", "--output",
                          str(out), "--workers", "2", "--partition-size", "10", "--summary-json",
                          "--report", str(tmp_path / "report.html")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    from pydantic import TypeAdapter
    from supportable.server.wire.audit import AuditSummary
    TypeAdapter(AuditSummary).validate_python(summary)
    assert summary["cluster"] == "local (2 worker processes)" and summary["encounters"] == 40
    assert set(summary["by_payer"]) == {"aetna"} and summary["policy_versions"]["aetna"].startswith("sha256:")
    assert [r["index"] for r in read_results(out)] == list(range(40))
    assert run.stderr == ""          # no progress bar when standard error is not a terminal
    # the HTML report: three inline charts, the counts, nothing fetched from anywhere
    page = (tmp_path / "report.html").read_text()
    assert summary["report_file"] == str(tmp_path / "report.html")
    assert page.count("<svg") == 3 and "<script" not in page and "<link" not in page and "<img" not in page
    assert not re.findall(r"(?:src|href)=[\"'](?!#)", page)          # internal references only
    assert not re.findall(r"https?://(?!www\.w3\.org/)", page)        # XML namespaces only
    for reason in summary["top_reasons"][:5]:
        assert f"<td>{reason['id']}</td><td>{reason['lines']}</td>" in page
    assert f"<td>aetna</td><td>{summary['by_payer']['aetna']['encounters']}</td>" in page
    unknown = subprocess.run([sys.executable, "-m", "supportable", "audit", str(corpus), "--payer", "nobody",
                              "--output", str(tmp_path / "x.ndjson")], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 3 and "unknown payer `nobody`" in unknown.stderr
    missing = subprocess.run([sys.executable, "-m", "supportable", "audit", str(tmp_path / "none.ndjson"),
                              "--output", str(tmp_path / "y.ndjson"), "--workers", "1"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no file or folder" in missing.stderr
    nowhere = subprocess.run([sys.executable, "-m", "supportable", "audit", str(corpus), "--output",
                              str(out / "under" / "a-file.ndjson")], capture_output=True, text=True, timeout=60)
    assert nowhere.returncode == 1 and "cannot make the folder of" in nowhere.stderr
    both = subprocess.run([sys.executable, "-m", "supportable", "audit", str(corpus), "--output", str(out),
                           "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], capture_output=True, text=True,
                          timeout=60)
    assert both.returncode == 2 and "--workers sizes the local cluster" in both.stderr
    unreachable = subprocess.run([sys.executable, "-m", "supportable", "audit", str(corpus), "--output", str(out),
                                  "--scheduler", f"tcp://127.0.0.1:{closed_port()}"], capture_output=True, text=True,
                                 timeout=120)
    assert unreachable.returncode == 6 and "cannot reach the Dask scheduler" in unreachable.stderr


def nmr_episode(tmp_path: Path) -> Path:
    """Aetna's NMR visit-cap example as a corpus: one encounter per earlier visit of its history, then
    the visit itself, each with an empty history of its own."""
    example = json.loads((REPO / "examples" / "encounters" / "aetna_nmr_visit_cap.json").read_text())
    example["plan_of_care"].update({"start_of_care": "2025-04-20", "certified_on": "2025-04-21"})
    docs = []
    for n, visit in enumerate(example["patient"]["history"]):
        doc = json.loads(json.dumps(example))
        doc.update({"id": f"visit-{n}", "date_of_service": visit["date"]})
        docs.append(doc)
    docs.append(example)
    for doc in docs:
        doc["patient"]["history"] = []
    path = tmp_path / "episode.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def test_history_from_the_corpus_feeds_the_visit_cap(client, tmp_path):
    from supportable.audit.corpus import Item
    from supportable.audit.history import derive
    corpus = nmr_episode(tmp_path)
    own = run_audit(AuditJob([corpus], tmp_path / "own.ndjson", settings(), partition_size=5, client=client))
    derived = run_audit(AuditJob([corpus], tmp_path / "derived.ndjson", settings(), partition_size=5, client=client,
                                 history_from_corpus=True))
    assert own["history"] == "encounter" and derived["history"] == "corpus"
    assert derived["history_note"].startswith("derived from the corpus for 19 encounter(s)")
    last_own, last_derived = read_results(tmp_path / "own.ndjson")[-1], read_results(tmp_path / "derived.ndjson")[-1]
    reasons = [r["id"] for r in last_derived["decision"]["lines"][0]["reasons"]]
    assert "aetna.nmr.visit_cap" in reasons and last_derived["decision"]["lines"][0]["verdict"] == "not_supportable"
    assert "aetna.nmr.visit_cap" not in [r["id"] for l in last_own["decision"]["lines"] for r in l["reasons"]]
    assert derived["by_reason"]["aetna.nmr.visit_cap"] >= 1 and "aetna.nmr.visit_cap" not in own["by_reason"]
    # the year's amounts: GP/GN lines toward pt_slp, GO toward ot, earlier visits of the same year only
    def visit(index, date, modifier, amount, pid="p1"):
        return Item(index, f"c:{index}", json.dumps({"date_of_service": date, "patient": {"id": pid}, "lines": [
            {"code": "97110", "modifiers": [modifier], "allowed_amount": amount}]}))
    patients, _ = derive([visit(0, "2024-12-30", "GP", 500.0), visit(1, "2025-01-05", "GP", 40.5),
                          visit(2, "2025-01-09", "GO", 30.0), visit(3, "2025-01-09", "GN", 7.0),
                          visit(4, "2025-02-01", "GP", 10.0), visit(5, "2025-02-01", "GP", 1.0, pid="p2")])
    assert patients[4]["year_to_date"] == {"pt_slp": 47.5, "ot": 30.0}
    assert [v["date"] for v in patients[4]["history"]] == ["2024-12-30", "2025-01-05", "2025-01-09", "2025-01-09"]
    assert patients[1]["year_to_date"] == {"pt_slp": 0.0, "ot": 0.0} and 0 not in patients and 5 not in patients
    assert patients[2]["history"] == patients[3]["history"] and len(patients[3]["history"]) == 2


def test_a_progress_bar_on_a_terminal(tmp_path):
    import os
    import pty
    corpus = tmp_path / "four.ndjson"
    corpus.write_text("".join(line + "\n" for line in CORPUS.read_text().splitlines()[:4]))
    import fcntl
    import struct
    import termios
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))      # a terminal 100 wide
    run = subprocess.Popen([sys.executable, "-m", "supportable", "audit", str(corpus), "--output",
                            str(tmp_path / "r.ndjson"), "--workers", "1", "--partition-size", "1"],
                           stdin=child, stdout=subprocess.PIPE, stderr=child)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:          # the terminal closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = run.communicate(timeout=120)
    os.close(main)
    assert run.returncode == 0
    assert b"audit:" in seen and b"4/4" in seen and b"enc" in seen     # tqdm's bar, on the terminal only
    assert b"audited 4 encounter(s)" in stdout


def test_an_837_in_the_corpus_is_audited_as_the_x12_front_door_checks_it(client, tmp_path):
    # An 837P file is part of a corpus: each claim and date of service an encounter, its payer through the
    # payer-identifier table, decided as `supportable check --format-in x12` decides it; a claim that cannot
    # be checked stays in its place, with why (docs/x12.md, docs/audit.md).
    import subprocess
    import sys
    from supportable.server.payer_ids import default_path, load_payer_ids
    from conftest import ROOT
    source = ROOT / "examples" / "x12" / "therapy.837"
    table = load_payer_ids(default_path(ROOT / "payers"))
    out = tmp_path / "x12.ndjson"
    run_audit(AuditJob([source], out, settings(), partition_size=2, client=client, payer_ids=table))
    results = read_results(out)
    check = subprocess.run([sys.executable, "-m", "supportable.cli", "check", "--format-in", "x12", str(source),
                            "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    front_door = json.loads(check.stdout)["results"]
    assert len(results) == len(front_door) > 0
    for audited, checked in zip(results, front_door):
        assert f"claim {checked['claim']} (CLM at segment {checked['segment']})" in audited["source"]
        if "decision" in checked:
            mine, theirs = audited["decision"], checked["decision"]
            assert mine["payer"] == theirs["payer"] == checked["payer"]
            assert [(l["line"], l["verdict"], l["units"]) for l in mine["lines"]] == \
                [(l["line"], l["verdict"], l["units"]) for l in theirs["lines"]]
            assert [[r["id"] for r in l["reasons"]] for l in mine["lines"]] == \
                [[r["id"] for r in l["reasons"]] for l in theirs["lines"]]
        else:
            assert "decision" not in audited and audited["error"]
    # a file that is not a readable 837P is one result in its place, saying why; the next file goes on
    broken = ROOT / "tests" / "data" / "x12" / "malformed-missing-isa.837"
    out = tmp_path / "broken.ndjson"
    run_audit(AuditJob([broken, source], out, settings(), client=client, payer_ids=table))
    results = read_results(out)
    assert results[0]["error"]["type"] == "/problems/invalid-x12" and results[0]["source"] == str(broken)
    assert len(results) == len(front_door) + 1 and [r["index"] for r in results] == list(range(len(results)))
    # an 837 without the table is refused plainly, before any encounter is sent
    with pytest.raises(Exception, match="payer-identifier table"):
        run_audit(AuditJob([source], tmp_path / "no-table.ndjson", settings(), client=client))
