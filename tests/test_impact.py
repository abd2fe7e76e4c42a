"""`supportable impact`: a candidate overlay decided against a corpus, before and after.

The main test builds a small corpus whose expected changes are computed here, from the visit
cap's definition (a 97112 line is denied when at least `cap` earlier 97112 visits fall in the last
42 days, for dates of service before 2025-10-29), not from the engine: raising the cap from 18 to
24 must flip exactly the lines with 18 to 23 such visits before that date, and nothing else.
"""
import json
import re
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from conftest import ROOT, make_encounter
from supportable.engine.impact import CHANGE_TYPES, read_corpus
from supportable.cli.impact import impact

CANDIDATE = ROOT / "examples" / "candidates" / "aetna_cap_24.yaml"
CORPUS = ROOT / "examples" / "corpus" / "encounters.jsonl"
CAP_ENDS = "2025-10-29"
OLD_CAP, NEW_CAP, WINDOW = 18, 24, 42


def run(*args):
    return CliRunner().invoke(impact, [str(a) for a in args])


def nmr_visit(enc_id, prior_nmr, dos="2025-06-02", diagnoses=("I69.351",)):
    """A clean Aetna 97112 visit (neurologic diagnosis, deficit documented, improving patient) after
    ``prior_nmr`` 97112 visits on distinct days within the last 42 days."""
    day = date.fromisoformat(dos)
    history = [{"date": (day - timedelta(days=k)).isoformat(), "codes": ["97112"]} for k in range(prior_nmr, 0, -1)]
    assert prior_nmr <= WINDOW
    data = make_encounter([{"code": "97112", "minutes": 30, "units": 2, "documentation": ["neuro_deficit"],
                            "intended_outcomes": ["balance"]}], id=enc_id, date_of_service=dos,
                          diagnoses=list(diagnoses))
    data["plan_of_care"] = {"certified_by": "physician", "certified_on": (day - timedelta(days=44)).isoformat(),
                            "start_of_care": (day - timedelta(days=45)).isoformat()}
    data["patient"]["history"] = history
    return data


# (encounter id, earlier 97112 visits in 42 days, date of service, neurologic diagnosis?)
NMR_CASES = [
    ("nmr-10", 10, "2025-06-02", True),
    ("nmr-18", 18, "2025-06-02", True),     # the old cap itself: denied before, paid after
    ("nmr-19", 19, "2025-06-02", True),
    ("nmr-23", 23, "2025-06-02", True),
    ("nmr-24", 24, "2025-06-02", True),     # the new cap itself: still denied
    ("nmr-25", 25, "2025-06-02", True),
    ("nmr-23-after", 23, "2025-11-12", True),   # the cap is not in force after 2025-10-29
    ("nmr-21-non-neuro", 21, "2025-06-02", False),  # denied anyway, for the diagnosis
]


def denied_by_cap(prior, dos, cap):
    return dos < CAP_ENDS and prior >= cap


EXPECTED_FLIPS = {enc for enc, prior, dos, neuro in NMR_CASES
                  if neuro and denied_by_cap(prior, dos, OLD_CAP) and not denied_by_cap(prior, dos, NEW_CAP)}
EXPECTED_RULES_ONLY = {enc for enc, prior, dos, neuro in NMR_CASES
                       if not neuro and denied_by_cap(prior, dos, OLD_CAP) != denied_by_cap(prior, dos, NEW_CAP)}


@pytest.fixture(scope="module")
def fixed_corpus(tmp_path_factory):
    docs = [nmr_visit(enc, prior, dos, ("I69.351",) if neuro else ("M25.511",)) for enc, prior, dos, neuro in NMR_CASES]
    docs.append(make_encounter([("97110", 30, 2)], id="exercise-only",
                               patient={"id": "pt-2", "condition_status": "improving",
                                        "history": [{"date": "2025-05-30", "codes": ["97110"]}]}))
    docs.append(make_encounter([("97110", 30, 3)], id="overbilled"))
    lines = [json.dumps(d) for d in docs]
    lines.insert(3, '{"id": "broken", "lines": [')                       # not JSON
    bad = make_encounter([("97999", 15, 1)], id="unknown-code")
    lines.insert(6, json.dumps(bad))                                     # unknown code
    lines.insert(7, "")                                                  # blank lines are skipped
    path = tmp_path_factory.mktemp("corpus") / "fixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def json_report(fixed_corpus):
    result = run("--payer", "aetna", "--candidate", CANDIDATE, "--encounters", fixed_corpus, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_expected_flips_are_the_18_to_23_visit_lines():
    assert EXPECTED_FLIPS == {"nmr-18", "nmr-19", "nmr-23"}
    assert EXPECTED_RULES_ONLY == {"nmr-21-non-neuro"}


def test_cap_24_flips_exactly_the_expected_lines(json_report):
    changed = [c for c in json_report["changes"] if c["type"] != "rules_changed"]
    assert {c["encounter"] for c in changed} == EXPECTED_FLIPS
    for c in changed:
        assert (c["type"], c["line"], c["code"]) == ("not_supportable->supportable", "1", "97112")
        assert c["current"]["verdict"] == "not_supportable" and c["current"]["supportable_units"] == 0
        assert c["candidate"]["verdict"] == "supportable" and c["candidate"]["supportable_units"] == 2
        assert c["current"]["denied_by"] == ["aetna.nmr.visit_cap"]
        assert c["responsible"] == {"current": ["aetna.nmr.visit_cap"], "candidate": ["base.units.line.only_line"]}
    summary = json_report["summary"]
    assert summary["lines_changed"] == summary["encounters_changed"] == len(EXPECTED_FLIPS)
    assert {k: v for k, v in summary["by_type"].items() if v} == {
        "not_supportable->supportable": len(EXPECTED_FLIPS), "rules_changed": len(EXPECTED_RULES_ONLY)}
    assert set(summary["by_type"]) == set(CHANGE_TYPES)


def test_same_decision_on_other_rules_is_reported_apart(json_report):
    (c,) = [c for c in json_report["changes"] if c["type"] == "rules_changed"]
    assert c["encounter"] in EXPECTED_RULES_ONLY
    assert c["current"]["denied_by"] == ["aetna.nmr.needs_neurologic_diagnosis", "aetna.nmr.visit_cap"]
    assert c["candidate"]["denied_by"] == ["aetna.nmr.needs_neurologic_diagnosis"]
    assert c["responsible"]["current"] == ["aetna.nmr.visit_cap"]


def test_report_names_versions_policy_diff_corpus_and_timing(json_report):
    assert json_report["current"]["path"] == "payers/aetna.yaml"
    assert json_report["candidate"]["path"] == "examples/candidates/aetna_cap_24.yaml"
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", json_report["current"]["policy_version"])
    assert json_report["current"]["policy_version"] != json_report["candidate"]["policy_version"]
    (param,) = json_report["policy_diff"]["parameters"]
    assert (param["name"], param["before"]["value"], param["after"]["value"]) == ("nmr_visit_cap", 18, 24)
    assert json_report["dependents"] == []
    corpus = json_report["corpus"]
    assert (corpus["encounters_read"], corpus["encounters_decided"], corpus["invalid"]) == (12, 10, 2)
    assert corpus["lines"] == 10
    timing = json_report["timing"]
    assert timing["encounters_per_s"] > 0 and timing["current"]["encounters"] == 10


def test_invalid_encounters_are_counted_and_located(json_report, fixed_corpus):
    invalid = json_report["invalid_encounters"]
    assert [(i["location"], i["code"]) for i in invalid] == [
        (f"{fixed_corpus}:4", "invalid_json"), (f"{fixed_corpus}:7", "unknown_code")]
    assert invalid[0]["problem"].startswith("invalid JSON at column")
    assert invalid[1]["encounter"] == "unknown-code" and "97999" in invalid[1]["problem"]
    assert invalid[1]["problem"].startswith("lines[0].code")


def test_text_report_summary_first_then_changes_by_type(fixed_corpus):
    result = run("--payer", "aetna", "--candidate", CANDIDATE, "--encounters", fixed_corpus, "--limit", "2")
    assert result.exit_code == 0, result.output
    out = result.output
    head = out.split("\n\n")[0]
    assert head.startswith("Impact of a candidate overlay for payer aetna (Aetna (commercial plans))")
    assert re.search(r"current: +sha256:[0-9a-f]{16} +base > commercial > aetna +\(payers/aetna.yaml\)", head)
    assert "candidate: " in head and "(examples/candidates/aetna_cap_24.yaml)" in head
    assert "* nmr_visit_cap: 18 (aetna) -> 24 (aetna)" in head
    assert "12 encounter(s) read, 10 decided under both policies, 2 invalid; 10 line(s)" in head
    assert re.search(r"Timing: 10 encounters in [0-9.]+ s, [0-9.]+ encounters/s", head)
    assert "Decisions that change: 3 line(s) (30.00% of lines) in 3 encounter(s)" in out
    assert re.search(r"\n  not_supportable->supportable +3\n", out)
    assert "and 1 line(s) keep their decision but rest on other rules (rules_changed)" in out
    assert out.index("Decisions that change") < out.index("not_supportable->supportable: 3 line(s), first 2")
    assert "nmr-18 line 1 97112" in out and "nmr-19 line 1 97112" in out and "nmr-23 line 1" not in out
    assert "not_supportable 0/2 -> supportable 2/2 unit(s)" in out
    assert "current: aetna.nmr.visit_cap | candidate: base.units.line.only_line" in out
    assert "... 1 more (--limit 0 shows all; --format json lists everything)" in out
    assert "Invalid encounters: 2 (not decided)" in out and f"{fixed_corpus}:7 (unknown-code): lines[0].code" in out


def test_candidate_that_does_not_load_exits_4_with_located_problems(tmp_path, fixed_corpus):
    text = CANDIDATE.read_text()
    bad = text.replace("\nedits:", "\nedit:")
    assert bad != text
    path = tmp_path / "broken-aetna.yaml"
    path.write_text(bad)
    line = bad.splitlines().index("edit:") + 1
    result = run("--payer", "aetna", "--candidate", path, "--encounters", fixed_corpus)
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    assert f"error: the candidate `{path}` for payer `aetna` does not load" in result.output
    where = re.search(rf"{re.escape(str(path))}:(\d+):(\d+): error: unknown top-level key `edit`", result.output)
    assert where and int(where[1]) in (line, line + 1)      # the key, or the value under it
    assert "supportable-impact-" not in result.output       # never the temporary copy's path

    rule_bad = text.replace('deny(L) :- treatment_line(L, Code), condition_status(plateau).',
                            'deny(L) :- treatment_line(L, Code), condition_stat(plateau).')
    assert rule_bad != text
    path.write_text(rule_bad)
    line = next(i for i, l in enumerate(rule_bad.splitlines(), 1) if "condition_stat(plateau)" in l)
    result = run("--payer", "aetna", "--candidate", path, "--encounters", fixed_corpus, "--format", "json")
    assert result.exit_code == 4
    out = json.loads(result.stdout)
    assert out["error"] == "candidate_does_not_load"
    assert any(p["file"] == str(path) and p["line"] == line and p["code"] == "unknown_predicate"
               for p in out["problems"]), out["problems"]


def test_candidate_with_another_id_is_refused_in_its_own_words(tmp_path, fixed_corpus):
    path = tmp_path / "aetna-new.yaml"
    path.write_text(CANDIDATE.read_text().replace("\nid: aetna\n", "\nid: aetna_2026\n"))
    result = run("--payer", "aetna", "--candidate", path, "--encounters", fixed_corpus)
    assert result.exit_code == 4
    assert "payer id `aetna_2026` is not `aetna`, the payer this file is a candidate for" in result.output


def test_unknown_payer_base_and_unreadable_inputs(tmp_path, fixed_corpus):
    result = run("--payer", "northwind", "--candidate", CANDIDATE, "--encounters", fixed_corpus)
    assert result.exit_code == 3 and "no payer `northwind`" in result.output
    result = run("--payer", "base", "--candidate", CANDIDATE, "--encounters", fixed_corpus, "--format", "json")
    assert result.exit_code == 3 and json.loads(result.stdout)["error"] == "unknown_payer"
    result = run("--payer", "aetna", "--candidate", tmp_path / "missing.yaml", "--encounters", fixed_corpus)
    assert result.exit_code == 1 and "cannot read the candidate" in result.output
    result = run("--payer", "aetna", "--candidate", CANDIDATE, "--encounters", tmp_path / "nothing")
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_a_candidate_for_a_payer_others_extend_names_them(tmp_path):
    medicare = (ROOT / "payers" / "medicare.yaml").read_text()
    candidate = tmp_path / "medicare-45.yaml"
    candidate.write_text(medicare.replace("poc_certification_days:\n    value: 30", "poc_certification_days:\n    value: 45"))
    late = make_encounter([("97110", 30, 2)], id="certified-late",
                          plan_of_care={"certified_by": "physician", "start_of_care": "2025-04-01",
                                        "certified_on": "2025-05-10"})
    corpus = tmp_path / "late.jsonl"
    corpus.write_text(json.dumps(late) + "\n")
    result = run("--payer", "medicare", "--candidate", candidate, "--encounters", corpus, "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    (dep,) = out["dependents"]
    assert (dep["payer"], dep["chain"], dep["policy_changes"], dep["loads_with_candidate"]) == \
        ("aetna_medicare", ["base", "medicare", "aetna_medicare"], True, True)
    (change,) = out["changes"]                    # certified 39 days after the start of care: 30 < 39 <= 45
    assert change["type"] == "needs_documentation->supportable"     # the delay needed its justification
    assert change["responsible"]["current"] == ["medicare.plan.certified_late"]

    # A candidate that breaks a payer built on it: the report, then exit 4, located in the real file.
    candidate.write_text(medicare.replace("\nadd:\n", "\nadd:\n  - id: aetna_medicare.authorization.required\n"
                                          "    because: \"x\"\n    source: domain-notes.md\n"
                                          "    rule: deny(L) :- line_code(L, \"97010\").\n", 1))
    result = run("--payer", "medicare", "--candidate", candidate, "--encounters", corpus)
    assert result.exit_code == 4, result.output
    assert "aetna_medicare (base > medicare > aetna_medicare) extends medicare and DOES NOT LOAD" in result.output
    assert re.search(r"payers/aetna_medicare\.yaml:\d+:\d+: error: rule `aetna_medicare.authorization.required` "
                     r"already exists in layer `medicare`", result.output)
    assert "supportable-impact-" not in result.output


def test_corpus_folder_of_json_and_jsonl(tmp_path):
    (tmp_path / "b.jsonl").write_text('{"id": "b1"}\n\n{"id": "b2"}\n')
    (tmp_path / "a.json").write_text('{\n  "id": "a"\n}\n')
    (tmp_path / "notes.txt").write_text("not an encounter")
    corpus = read_corpus(tmp_path)
    assert [i.location for i in corpus.items] == [str(tmp_path / "a.json"), f"{tmp_path / 'b.jsonl'}:1",
                                                  f"{tmp_path / 'b.jsonl'}:3"]
    assert corpus.files == 2 and read_corpus(tmp_path, max_encounters=2).read == 2


def test_shipped_corpus_runs_under_the_candidate():
    assert CORPUS.stat().st_size < 10_000_000
    result = run("--payer", "aetna", "--candidate", CANDIDATE, "--encounters", CORPUS, "--max-encounters", 150,
                 "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["corpus"]["encounters_decided"], out["corpus"]["invalid"]) == (150, 0)
    changed = [c for c in out["changes"] if c["type"] != "rules_changed"]
    assert changed, "the first encounters of the shipped corpus include visits the cap decides"
    by_line = {int(c["location"].rsplit(":", 1)[1]): c for c in out["changes"]}
    docs = CORPUS.read_text().splitlines()
    for n, c in by_line.items():
        doc = json.loads(docs[n - 1])
        assert doc["id"] == c["encounter"] and doc["date_of_service"] < CAP_ENDS
        recent = {v["date"] for v in doc["patient"]["history"] if "97112" in v["codes"] and
                  (date.fromisoformat(doc["date_of_service"]) - date.fromisoformat(v["date"])).days <= WINDOW}
        assert OLD_CAP <= len(recent) < NEW_CAP, (c, len(recent))
        assert c["code"] == "97112" and "aetna.nmr.visit_cap" in c["current"]["denied_by"]
        assert "aetna.nmr.visit_cap" not in c["candidate"]["denied_by"]
    assert all(t.startswith("not_supportable->") or t == "rules_changed"
               for t, n in out["summary"]["by_type"].items() if n)


def test_an_encounter_only_one_policy_accepts_is_reported(tmp_path, fixed_corpus):
    candidate = tmp_path / "aetna-from-july.yaml"
    candidate.write_text(CANDIDATE.read_text().replace("\nextends: commercial\n",
                                                       "\nextends: commercial\neffective: {from: 2025-07-01}\n"))
    result = run("--payer", "aetna", "--candidate", candidate, "--encounters", fixed_corpus, "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    refused = {c["encounter"] for c in out["changes"] if c["type"] == "now_refused"}
    assert refused == {enc for enc, _, dos, _ in NMR_CASES if dos < "2025-07-01"} | {"exercise-only", "overbilled"}
    assert out["corpus"]["encounters_decided"] == 1 and out["summary"]["encounters_refused_or_accepted"] == 9
    assert all("outside it" in c["problem"] for c in out["changes"])


def test_corpus_script_is_deterministic_and_matches_the_shipped_corpus(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location("corpus_generate", CORPUS.parent / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "c.jsonl"
    assert module.main(["--count", "25", "--out", str(out)]) == 0
    assert "every encounter parses under base, aetna, aetna_medicare, commercial, medicare" in capsys.readouterr().out
    assert out.read_text().splitlines() == CORPUS.read_text().splitlines()[:25]
