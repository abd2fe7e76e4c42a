"""The edit tables: CMS's files imported (`supportable edits import`), held once per process, layered
under the payers' overlays, and read by the NCCI/MUE rules. The CMS-format files under
tests/data/ncci/ are small ones written for these tests in the published layouts
(domain-notes-2.md §2.1-2.2); their codes are real, their rows are not CMS's."""
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, decide_for, line_of, make_encounter, walk
from supportable.engine.edits_store import StoreError, load_imported
from supportable.engine.errors import PolicyError
from supportable.engine.ncci_import import import_files, mue_effective_from_name
from supportable.engine.policyset import load_policy_set
from supportable.cli import main
from supportable.server import wire

DATA = Path(__file__).parent / "data" / "ncci"
PTP = DATA / "ccipra-test-f1.txt"
MUE = DATA / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("edits") / "table"
    result = import_files([PTP], [MUE], out, imported_on="2026-11-29")
    assert result.ok, result.problems
    return out


# --- the importer ----------------------------------------------------------------------------------

def test_import_reads_cms_layouts(table):
    loaded = load_imported(table)
    assert (loaded.ptp_rows, loaded.mue_rows) == (5, 3)
    # the header block is skipped; a row keeps its file and line for the proofs
    [row] = loaded.ptp_pair("97140", "97530")
    assert (row.value, row.effective_from, row.effective_to) == (1, "2020-01-01", None)
    assert (row.source_file, row.source_line, row.rationale) == ("ccipra-test-f1.txt", 7, "Mutually exclusive procedures")
    # a deletion date is the last day an edit applied (U10): in force up to and including it
    old, new = loaded.ptp_pair("97530", "97116")
    assert (old.effective_from, old.effective_to, old.value) == ("2010-01-01", "2024-01-01", 1)
    assert (new.effective_from, new.effective_to, new.value) == ("2024-01-01", None, 0)
    # MUE: the adjudication indicator's digit; the release date from the file name
    [mue] = loaded.mue("97140")
    assert (mue.value, mue.adjudication, mue.effective_from) == (2, 1, "2026-01-01")
    assert {r.codes[1] for r in loaded.ptp_involving("97140") if r.codes[0] == "97140"} == {"97530"}
    assert {r.codes[0] for r in loaded.ptp_involving("97140") if r.codes[1] == "97140"} == {"97161"}
    manifest = json.loads((table / "manifest.json").read_text())
    assert manifest["format"] == "supportable-edits/1" and manifest["digest"].startswith("sha256:")
    assert [s["kind"] for s in manifest["sources"]] == ["ptp", "mue"]


def test_import_reads_zips_and_chains_mue_releases(tmp_path):
    archive = tmp_path / "ptp.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(PTP, "ccipra-v321r0-f1.txt")
    later = tmp_path / "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv"
    later.write_text(MUE.read_text().replace("97140,2,", "97140,3,"))
    result = import_files([archive], [MUE, later], tmp_path / "out")
    assert result.ok, result.problems
    loaded = load_imported(tmp_path / "out")
    assert loaded.ptp_pair("97140", "97530")[0].source_file == "ptp.zip!ccipra-v321r0-f1.txt"
    first, second = loaded.mue("97140")
    assert (first.value, first.effective_from, first.effective_to) == (2, "2026-01-01", "2026-04-01")
    assert (second.value, second.effective_from, second.effective_to) == (3, "2026-04-01", None)


def test_every_bad_row_is_located_and_nothing_is_written(tmp_path):
    bad = tmp_path / "ccipra-bad.txt"
    lines = PTP.read_text().splitlines()
    lines[7] = "97161\t97140\t\t2020013X\t*\t1\tx"          # not a date
    lines[8] = "97530\t97116\t\t20100101\t20091231\t1\tx"   # deleted before it took effect
    lines[9] = "9753\t97116\t\t20240101\t*\t7\tx"           # not a code, indicator 7
    lines.append("97110\t97110\t\t20200101\t*\t1\tx")       # a code paired with itself
    lines.append("97110")                                   # too few fields
    bad.write_text("\n".join(lines) + "\n")
    mue = tmp_path / "mue.csv"
    mue.write_text(MUE.read_text().replace("97530,3,", "97530,three,"))
    out = tmp_path / "out"
    result = import_files([bad], [mue], out, mue_effective="2026-01-01")
    located = {(p.location.file, p.location.line): (p.code, p.message) for p in result.problems}
    assert located[("ccipra-bad.txt", 8)][1] == "effective date `2020013X` is not a YYYYMMDD date"
    assert "deletion date 20091231 is before the effective date 20100101" in located[("ccipra-bad.txt", 9)][1]
    assert located[("ccipra-bad.txt", 10)][1] == ("column 1 `9753` is not a CPT/HCPCS code; modifier indicator `7` "
                                                  "is not 0, 1 or 9")
    assert "the same code `97110`" in located[("ccipra-bad.txt", 12)][1]
    assert located[("ccipra-bad.txt", 13)][0] == "invalid_ptp_row"
    assert located[("mue.csv", 5)][1] == "MUE value `three` is not a whole number of units (0 to 999999)"
    assert not out.exists()


def test_rows_the_header_scan_could_swallow_are_reported(tmp_path):
    # a malformed first edit is an error, not a header line; so is a row of codes before the MUE titles
    lines = PTP.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("97140\t"))
    lines[first] = "97140\t97530\t\t2020-01-01\t*\t1\tx"
    bad = tmp_path / "ccipra-first.txt"
    bad.write_text("\n".join(lines) + "\n")
    early = tmp_path / "early.csv"
    early.write_text("97110,4,1 Line Edit,x\n" + MUE.read_text())
    result = import_files([bad], [early], tmp_path / "out", mue_effective="2026-01-01")
    located = {(p.location.file, p.location.line): (p.code, p.message) for p in result.problems}
    assert located[("ccipra-first.txt", first + 1)] == ("invalid_ptp_row",
                                                        "effective date `2020-01-01` is not a YYYYMMDD date")
    assert located[("early.csv", 1)][0] == "invalid_mue_file"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1000000", "-1", "2.0"])
def test_an_mue_value_is_ascii_digits_in_range(tmp_path, value):
    mue = tmp_path / "mue.csv"
    mue.write_text(MUE.read_text().replace("97530,3,", f"97530,{value},"))
    result = import_files([], [mue], tmp_path / "out", mue_effective="2026-01-01")
    assert [(p.code, p.location.line) for p in result.problems] == [("invalid_mue_row", 5)]


def test_a_far_future_deletion_date_means_still_in_force_and_text_round_trips(tmp_path):
    header = PTP.read_text().splitlines()[:6]
    ptp = tmp_path / "ccipra-open-f1.txt"
    ptp.write_text("\n".join(header + ['97112\t97110\t\t20200101\t99991231\t1\tSays "mutually\texclusive"']) + "\n")
    mue = tmp_path / "mue.csv"
    mue.write_text(MUE.read_text().replace('97530,3,"2 Date of Service Edit: Policy","Clinical: Data"',
                                           '97530,3,"2 Date of Service Edit: Policy","a, b ""c"""'))
    assert import_files([ptp], [mue], tmp_path / "out", mue_effective="2026-01-01").ok
    loaded = load_imported(tmp_path / "out")
    [row] = loaded.ptp_pair("97112", "97110")
    assert (row.effective_from, row.effective_to) == ("2020-01-01", None)
    assert row.rationale == 'Says "mutually'     # CMS files are tab-separated: the tab ends the field
    assert loaded.mue("97530")[0].rationale == 'a, b "c"'


def test_rationale_with_tabs_quotes_and_line_breaks_is_stored_as_written(tmp_path):
    from supportable.engine.edits_store import write_table
    text = 'one\ttwo "three"\nfour'
    write_table(tmp_path / "t", [("97140", "97530", "2020-01-01", None, 1, "f.txt", 7, text)],
                [("97110", 4, 1, "2026-01-01", None, "m.csv", 5, text)], {})
    loaded = load_imported(tmp_path / "t")
    assert loaded.ptp_pair("97140", "97530")[0].rationale == text
    assert loaded.mue("97110")[0].rationale == text


def test_a_new_import_replaces_the_old_whole_and_never_a_folder_of_other_files(tmp_path):
    out = tmp_path / "table"
    assert import_files([PTP], [], out).ok
    assert import_files([], [MUE], out).ok            # replaces: the PTP rows of the first import are gone
    loaded = load_imported(out)
    assert (loaded.ptp_rows, loaded.mue_rows > 0) == (0, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table"]   # no staging folder left behind
    other = tmp_path / "documents"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    result = import_files([PTP], [], other)
    assert [(p.code, p.location.file) for p in result.problems] == [("invalid_target", str(other))]
    assert (other / "notes.txt").read_text() == "mine" and not (other / "manifest.json").exists()


def test_a_stored_value_out_of_its_column_range_is_a_located_error(tmp_path):
    from supportable.engine.edits_store import write_table
    write_table(tmp_path / "t", [("97140", "97530", "2020-01-01", None, 300, "f.txt", 7, "x")], [], {})
    with pytest.raises(StoreError) as info:
        load_imported(tmp_path / "t")
    [problem] = info.value.problems
    assert (problem.code, problem.location.line) == ("invalid_edits", 2)
    assert "not a number in range" in problem.message


def test_a_code_list_that_is_not_utf8_is_a_located_error_even_with_a_matching_digest(tmp_path):
    from supportable.engine.edits_store import _digest_files, write_table
    folder = tmp_path / "t"
    write_table(folder, [("97140", "97530", "2020-01-01", None, 1, "f.txt", 7, "x")], [], {})
    (folder / "codes.txt").write_bytes(b"97140\n9753\xff\n")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["digest"] = _digest_files(folder)          # edited to match: the reader must still not fail
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError) as info:
        load_imported(folder)
    [problem] = info.value.problems
    assert problem.code == "invalid_edits" and "not UTF-8" in problem.message
    assert problem.location.file.endswith("codes.txt")


def test_duplicates_and_missing_dates_are_refused(tmp_path):
    twice = tmp_path / "f2.txt"
    twice.write_text(PTP.read_text())
    unnamed = tmp_path / "mue.csv"
    unnamed.write_text(MUE.read_text())
    result = import_files([PTP, twice], [unnamed], tmp_path / "out")
    codes = sorted({p.code for p in result.problems})
    assert codes == ["duplicate_edit", "mue_effective_date"]
    dup = next(p for p in result.problems if p.code == "duplicate_edit")
    assert dup.location.file == "f2.txt" and "already at ccipra-test-f1.txt:7" in dup.message
    assert mue_effective_from_name("MCR_MUE_PractitionerServices_Eff_07-01-2025.csv") == "2025-07-01"
    assert import_files([], [], tmp_path / "none").problems[0].code == "nothing_to_import"


def test_a_table_changed_after_its_import_is_refused(table, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(table, copy)
    with (copy / "ptp.tsv").open("a") as f:
        f.write("99999\t99998\t2020-01-01\t\t1\tx\t1\tx\n")
    with pytest.raises(StoreError) as info:
        load_imported(copy)
    assert "do not match the digest" in info.value.problems[0].message
    (copy / "manifest.json").write_text("{}")
    with pytest.raises(StoreError) as info:
        load_imported(copy)
    assert "supportable-edits/1" in info.value.problems[0].message


def test_the_table_is_held_once_per_process(table):
    one = load_policy_set(ROOT / "policies", "medicare", edits_dir=table)
    two = load_policy_set(ROOT / "policies", "aetna", edits_dir=table)
    assert one.edits.imported is two.edits.imported is load_imported(table)
    assert one.version != load_policy_set(ROOT / "policies", "medicare").version   # the version covers it


# --- the imported layer in decisions ---------------------------------------------------------------

def test_an_imported_edit_decides_and_its_proof_names_the_file_and_line(table):
    policy = load_policy_set(ROOT / "policies", "commercial", edits_dir=table)
    visit = make_encounter([{"code": "97530", "minutes": 15, "units": 1,
                             "intended_outcomes": ["balance", "strength", "functional_activity"]},
                            {"code": "97116", "minutes": 15, "units": 1, "documentation": ["gait_impairment"]}])
    line = line_of(decide_for(policy, visit), "2")
    assert [r.rule.id for r in line.reasons] == ["base.ncci.column2_never_paid"]     # indicator 0 since 2024
    edit = next(n for n in walk(wire.proof_node(line.proofs[0])) if n.get("origin") == "edit_table")
    assert edit["edit"]["layer"] == "cms_import" and edit["edit"]["location"] == "ccipra-test-f1.txt:10:1"
    # the CMS file carries no ground; the base table's row for the pair (unverified) gives it
    assert edit["edit"]["distinct_by"] == ["separate_time_block"]
    # before 2024 the pair had indicator 1: a fitting modifier and separate blocks let both be paid
    old = make_encounter(visit["lines"], date_of_service="2023-06-01")
    old["lines"][1]["modifiers"] = ["GP", "59"]
    assert line_of(decide_for(policy, old), "2").verdict == "supportable"
    # without the import, the base row is unverified and not applied
    assert line_of(decide_for(load_policy_set(ROOT / "policies", "commercial"), visit), "2").verdict == "supportable"


def test_an_imported_pair_with_no_bundled_row_can_be_distinct_either_way_and_the_modifier_must_fit(tmp_path):
    # A CMS row does not say how its services can be distinct; the modifier's ground must be what
    # the record shows (domain-notes.md §4.2): XU against a shared block is misused even when the
    # regions differ, XS with the separate regions is paid, unless both codes are timed one-on-one
    # services, whose shared block settles the pair (§4.2's CMS example; §1.1 rules 8-9).
    header = PTP.read_text().splitlines()[:6]
    ptp = tmp_path / "ccipra-one-f1.txt"
    ptp.write_text("\n".join(header + ["98943\t97110\t\t20200101\t*\t1\tMutually exclusive procedures",
                                       "97112\t97110\t\t20200101\t*\t1\tMutually exclusive procedures"]) + "\n")
    assert import_files([ptp], [], tmp_path / "out", imported_on="2026-11-29").ok
    policy = load_policy_set(ROOT / "policies", "commercial", edits_dir=tmp_path / "out")
    for pair in (("98943", "97110"), ("97112", "97110")):
        [row] = policy.edits.rows("ptp", pair)
        assert row.grounds == ("separate_structure", "separate_time_block")

    def second_line(first, modifier, block2, region2):
        region1 = "upper_extremity" if first == "98943" else "lumbar"
        visit = make_encounter([
            {"code": first, "minutes": 15, "units": 1, "documentation": ["neuro_deficit"], "time_block": "A",
             "regions": [region1]},
            {"code": "97110", "minutes": 15, "units": 1, "modifiers": ["GP", modifier], "time_block": block2,
             "regions": [region2]}])
        return line_of(decide_for(policy, visit), "2")

    misused = second_line("98943", "XU", "A", "lumbar")
    assert misused.verdict == "not_supportable"
    assert {r.rule.id for r in misused.reasons} == {"base.ncci.column2_needs_modifier", "base.ncci.modifier_misused"}
    assert [(f.action, f.value) for f in misused.fixes] == [("add_modifier", ["59", "XS"]), ("remove_modifier", "XU")]
    assert second_line("98943", "XS", "A", "lumbar").verdict == "supportable"
    assert second_line("98943", "XU", "B", "upper_extremity").verdict == "supportable"
    assert {r.rule.id for r in second_line("98943", "59", "A", "upper_extremity").reasons} == {
        "base.ncci.column2_not_distinct", "base.ncci.modifier_misused"}
    timed = second_line("97112", "XS", "A", "upper_extremity")
    assert {r.rule.id for r in timed.reasons} == {"base.ncci.column2_not_distinct", "base.ncci.modifier_misused"}
    assert second_line("97112", "XU", "B", "lumbar").verdict == "supportable"


def test_an_imported_mue_applies_from_its_release(table):
    policy = load_policy_set(ROOT / "policies", "commercial", edits_dir=table)
    lines = [{"code": "97140", "minutes": 45, "units": 3}]
    after = line_of(decide_for(policy, make_encounter(lines, date_of_service="2026-02-01")), "1")
    assert [r.rule.id for r in after.reasons] == ["base.mue.line_edit"]
    assert [(f.action, f.value) for f in after.fixes] == [("reduce_units", 2)]
    before = line_of(decide_for(policy, make_encounter(lines, date_of_service="2025-12-31")), "1")
    assert before.verdict == "supportable"


def test_overlays_change_imported_rows(table, tmp_path):
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    payers = tmp_path / "payers"
    payers.mkdir()
    (payers / "plan.yaml").write_text(
        "id: plan\nname: Plan\nextends: base\n"
        "edits:\n"
        "  ptp:\n"
        "    override:\n"
        "      - {column1: \"97530\", column2: \"97116\", modifier_indicator: 1, reason: r, confidence: B,\n"
        "         source: {file: domain-notes.md, section: x}}\n"
        "    disable:\n"
        "      - {column1: \"97161\", column2: \"97140\", reason: r, source: domain-notes.md}\n")
    policy = load_policy_set(tmp_path / "policies", "plan", payers, edits_dir=table)
    [row] = [r for r in policy.edits.rows("ptp", ("97530", "97116")) if r.effective_from == "2024-01-01"]
    assert (row.value, row.layer, row.overrides.layer, row.confidence) == (1, "plan", "cms_import", "B")
    assert policy.edits.rows("ptp", ("97161", "97140")) == []
    assert policy.edits.in_force("ptp", ("97161", "97140"), "2025-01-01") is None


# --- the bundled tables and the overlays' blocks: located errors --------------------------------------

def _project(tmp_path, overlay: str | None = None, table: str | None = None) -> tuple[Path, Path]:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    payers = tmp_path / "payers"
    payers.mkdir()
    if overlay is not None:
        (payers / "acme.yaml").write_text("id: acme\nname: Acme\nextends: base\n" + overlay)
    if table is not None:
        (tmp_path / "policies" / "edits" / "extra.yaml").write_text(table)
    return tmp_path / "policies", payers


def _problems(policies: Path, payers: Path, payer: str = "acme"):
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies, payer, payers)
    return [(p.code, p.location.file if p.location else None, p.location.line if p.location else None, p.message)
            for p in info.value.problems]


def test_overlay_edit_errors_are_located(tmp_path):
    # the file's shape first (loading stops there, as for rules: docs/rules.md, "Checks at load time")
    overlay = (
        "edits:\n"
        "  ptp:\n"
        "    override:\n"
        "      - {column1: \"97140\", column2: \"97530\", reason: r, source: s.md}\n"                          # 7
        "    disable:\n"
        "      - {column1: \"97140\", column2: \"97530\", source: s.md}\n"                                     # 9
        "    add:\n"
        "      - {column1: \"97110\", column2: \"9999\", modifier_indicator: 2, confidence: D}\n"             # 11
        "  mue:\n"
        "    add:\n"
        "      - {code: \"97110\", units: 2, adjudication: 4, confidence: A, source: s.md}\n")               # 14
    found = _problems(*_project(tmp_path, overlay))
    by_line: dict = {}
    for code, file, line, message in found:
        assert file == "payers/acme.yaml"
        by_line.setdefault(line, []).append((code, message))
    assert any(c == "edit_format" and "changes at least one of" in m for c, m in by_line[7])
    assert ("missing_reason", "an edit `disable` needs a `reason`") in by_line[9]
    assert {c for c, _ in by_line[11]} >= {"edit_format", "missing_source"}
    assert ("edit_format", "`modifier_indicator` is `2`; use 0, 1, 9") in by_line[11]
    assert any(m.startswith("`column2` `9999` is not a CPT/HCPCS code") for _, m in by_line[11])
    assert any("`adjudication` is `4`" in m for _, m in by_line[14])


def test_one_pair_changed_twice_in_one_overlay(tmp_path):
    overlay = (
        "edits:\n"
        "  ptp:\n"
        "    override:\n"
        "      - {column1: \"97140\", column2: \"97530\", modifier_indicator: 0, reason: r, source: s.md}\n"   # 7
        "    disable:\n"
        "      - {column1: \"97140\", column2: \"97530\", reason: r, source: s.md}\n")                        # 9
    [(code, file, line, message)] = _problems(*_project(tmp_path, overlay))
    assert (code, file, line) == ("conflicting_change", "payers/acme.yaml", 9)
    assert message == "the PTP edit 97140/97530 is changed twice in payer `acme` (first at payers/acme.yaml:7:9)"


def test_overlay_edit_changes_are_checked_against_the_layers_below(tmp_path):
    overlay = (
        "edits:\n"
        "  ptp:\n"
        "    override:\n"
        "      - {column1: \"97110\", column2: \"97112\", modifier_indicator: 0, reason: r, source: s.md}\n"   # 7
        "    add:\n"
        "      - {column1: \"98940\", column2: \"97140\", modifier_indicator: 1, distinct_by: [separate_structure],\n"
        "         confidence: A, source: s.md}\n"                                                               # 9
        "      - {column1: \"97110\", column2: \"12345\", modifier_indicator: 0, confidence: A, source: s.md}\n")  # 11
    found = {(code, line): message for code, file, line, message in _problems(*_project(tmp_path, overlay))}
    assert found[("unknown_edit", 7)] == "cannot override the PTP edit 97110/97112: no layer below has a row for it"
    assert "already exists in layer `base` at policies/edits/ptp.yaml:" in found[("duplicate_edit", 9)]
    assert found[("unknown_constant", 11)] == "`12345` is not a known code (in an edit row)"


def test_an_override_to_indicator_1_must_say_how_the_services_can_be_distinct(tmp_path):
    overlay = (
        "edits:\n"
        "  ptp:\n"
        "    override:\n"
        "      - {column1: \"97150\", column2: \"97110\", modifier_indicator: 1, reason: r, source: s.md}\n")  # 7
    [(code, file, line, message)] = _problems(*_project(tmp_path, overlay))
    assert (code, file, line) == ("edit_format", "payers/acme.yaml", 7)
    assert "97150/97110 has no `distinct_by` below this layer" in message
    fixed = overlay.replace("reason: r,", "distinct_by: [separate_time_block], reason: r,")
    policies, payers = _project(tmp_path / "fixed", fixed)
    [row] = load_policy_set(policies, "acme", payers).edits.rows("ptp", ("97150", "97110"))
    assert (row.value, row.grounds) == (1, ("separate_time_block",))


def test_bundled_table_errors_are_located(tmp_path):
    table = ("ptp:\n"
             "  - {column1: \"97110\", column2: \"97035\", modifier_indicator: 1, confidence: B,\n"    # 2: no distinct_by
             "     source: domain-notes.md}\n"
             "  - {column1: \"97110\", column2: \"97033\", modifier_indicator: 0, confidence: B, source: d.md,\n"
             "     effective: {from: 2020-01-01}}\n"                                                   # 4
             "  - {column1: \"97110\", column2: \"97033\", modifier_indicator: 0, confidence: B, source: d.md,\n"
             "     effective: {from: 2021-01-01}}\n"                                                   # 6: overlaps
             "mue:\n"
             "  - {code: \"97110\", units: 4, adjudication: 1, source: d.md}\n")                        # 9: confidence
    policies, payers = _project(tmp_path, table=table)
    found = _problems(policies, payers, "base")
    shown = {(line, code) for code, file, line, _ in found if file == "policies/edits/extra.yaml"}
    assert shown >= {(2, "edit_format"), (6, "overlapping_edits"), (9, "edit_format")}


def test_a_payer_cannot_change_an_edit_its_parent_disabled(tmp_path):
    policies, payers = _project(tmp_path)
    (payers / "parent.yaml").write_text(
        "id: parent\nname: P\nextends: base\nedits:\n  ptp:\n    disable:\n"
        "      - {column1: \"97140\", column2: \"97530\", reason: r, source: s.md}\n")
    (payers / "child.yaml").write_text(
        "id: child\nname: C\nextends: parent\nedits:\n  ptp:\n    override:\n"
        "      - {column1: \"97140\", column2: \"97530\", modifier_indicator: 0, reason: r, source: s.md}\n")
    [(code, file, line, message)] = _problems(policies, payers, "child")
    assert (code, file, line) == ("unknown_edit", "payers/child.yaml", 7)
    assert "it was disabled by payer `parent` at payers/parent.yaml:7:9" in message


# --- an edit change switched by a parameter (`when`) ----------------------------------------------

SWITCH = (
    "parameters:\n"
    "  pair_edit: {value: strict, one_of: [strict, ncci], description: d, source: s.md}\n"
    "edits:\n"
    "  ptp:\n"
    "    override:\n"
    "      - {column1: \"97140\", column2: \"97530\", modifier_indicator: 0, reason: r, source: s.md,\n"
    "         when: {parameter: pair_edit, value: strict}}\n"
    "    disable:\n"
    "      - {column1: \"98940\", column2: \"97140\", reason: r, source: s.md, when: {parameter: pair_edit, value: ncci}}\n")


def test_an_edit_change_applies_only_while_its_parameter_has_the_value_it_names(tmp_path):
    policies, payers = _project(tmp_path, SWITCH)
    (payers / "child.yaml").write_text("id: child\nname: C\nextends: acme\nparameters:\n"
                                       "  pair_edit: {value: ncci, description: d, source: s.md}\n")
    acme, child = load_policy_set(policies, "acme", payers), load_policy_set(policies, "child", payers)
    # acme (strict): the override applies, the disable does not
    [row] = acme.edits.rows("ptp", ("97140", "97530"))
    assert (row.value, row.layer, row.overrides.layer) == (0, "acme", "base")
    assert [r.layer for r in acme.edits.rows("ptp", ("98940", "97140"))] == ["base"]
    # child (ncci): the other way round, whatever the layer that wrote the change
    [row] = child.edits.rows("ptp", ("97140", "97530"))
    assert (row.value, row.layer, row.overrides) == (1, "base", None)
    assert child.edits.rows("ptp", ("98940", "97140")) == []
    assert [d.layer for d in child.edits.disabled] == ["acme"]
    visit = make_encounter([{"code": "97530", "minutes": 20, "units": 1, "modifiers": ["GP", "59"]},
                            {"code": "97140", "minutes": 15, "units": 1}])
    assert [r.rule.id for r in line_of(decide_for(acme, visit), "1").reasons] == ["base.ncci.column2_never_paid"]
    assert line_of(decide_for(child, visit), "1").verdict == "supportable"
    # the change says what switches it; the two payers' versions differ
    [change] = [c for c in wire.payer_description(acme)["edit_changes"] if c["action"] == "override"]
    assert change["when"] == {"parameter": "pair_edit", "value": "strict"}
    assert acme.version != child.version


def test_a_when_is_checked_against_the_payers_parameters(tmp_path):
    overlay = (
        "parameters:\n"                                                                                   # 4
        "  pair_edit: {value: strict, one_of: [strict, ncci], description: d, source: s.md}\n"
        "  days: {value: 30, description: d, source: s.md}\n"
        "  rows: {table: {a: 1}, description: d, source: s.md}\n"
        "edits:\n"
        "  ptp:\n"
        "    override:\n"
        "      - {column1: \"97140\", column2: \"97530\", modifier_indicator: 0, reason: r, source: s.md,\n"
        "         when: {parameter: pair_edt, value: strict}}\n"                                          # 12
        "      - {column1: \"97161\", column2: \"97140\", modifier_indicator: 0, reason: r, source: s.md,\n"
        "         when: {parameter: rows, value: a}}\n"                                                   # 14
        "      - {column1: \"97162\", column2: \"97140\", modifier_indicator: 0, reason: r, source: s.md,\n"
        "         when: {parameter: pair_edit, value: loose}}\n"                                          # 16
        "      - {column1: \"97163\", column2: \"97140\", modifier_indicator: 0, reason: r, source: s.md,\n"
        "         when: {parameter: days, value: \"30\"}}\n")                                             # 18
    found = {(code, line): message for code, file, line, message in _problems(*_project(tmp_path, overlay))}
    assert found[("unknown_parameter", 12)] == ("the edit override of PTP 97140/97530 is switched by parameter "
                                                "`pair_edt`, which no layer of this payer sets; did you mean `pair_edit`?")
    assert "`rows`, a table" in found[("parameter_kind", 14)]
    assert found[("invalid_parameter", 16)] == ("the edit override of PTP 97162/97140 is switched on by `pair_edit` = "
                                                "`loose`, which is not one of strict, ncci: the change could never apply")
    assert "= `30`, a string, but `days` holds a whole number" in found[("parameter_kind", 18)]


def test_a_when_has_a_parameter_and_a_value(tmp_path):
    overlay = (
        "edits:\n"
        "  ptp:\n"
        "    override:\n"
        "      - {column1: \"97140\", column2: \"97530\", modifier_indicator: 0, reason: r, source: s.md,\n"
        "         when: strict}\n"                                                                        # 8
        "      - {column1: \"97161\", column2: \"97140\", modifier_indicator: 0, reason: r, source: s.md,\n"
        "         when: {parameter: pair_edit}}\n"                                                        # 10
        "      - {column1: \"97162\", column2: \"97140\", modifier_indicator: 0, reason: r, source: s.md,\n"
        "         when: {parameter: pair_edit, value: [a], if: b}}\n")                                    # 12
    found = _problems(*_project(tmp_path, overlay))
    shown = {(code, line) for code, file, line, _ in found}
    assert shown >= {("edit_format", 8), ("edit_format", 10), ("edit_format", 12), ("policy_format", 12)}
    assert all(file == "payers/acme.yaml" for _, file, _, _ in found)


# --- the command line --------------------------------------------------------------------------------

def test_cli_import_info_and_check_with_edits(tmp_path):
    out = tmp_path / "table"
    result = cli("edits", "import", "--ptp", PTP, "--mue", MUE, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("imported 5 PTP and 3 MUE row(s) into")
    info = cli("edits", "info", out, "--format", "json")
    assert json.loads(info.output)["ptp_rows"] == 5
    encounter = tmp_path / "visit.json"
    encounter.write_text(json.dumps(make_encounter([{"code": "97140", "minutes": 45, "units": 3}],
                                                   date_of_service="2026-03-02")))
    with_table = json.loads(cli("check", encounter, "--payer", "commercial", "--edits", out, "--format", "json").output)
    assert with_table["lines"][0]["verdict"] == "not_supportable"
    assert with_table["lines"][0]["reasons"][0]["id"] == "base.mue.line_edit"
    without = json.loads(cli("check", encounter, "--payer", "commercial", "--format", "json").output)
    assert without["lines"][0]["verdict"] == "supportable" and without["lines"][0]["overbilled"] is False
    assert with_table["policy_version"] != without["policy_version"]
    code = json.loads(cli("explain-code", "97140", "--edits", out, "--format", "json").output)
    assert [(m["units"], m["layer"]) for m in code["edits"]["mue"]] == [(2, "cms_import")]


def test_cli_import_errors_exit_1_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(PTP.read_text().replace("97161\t97140", "9716\t97140"))
    result = cli("edits", "import", "--ptp", bad, "--out", tmp_path / "o", "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["error"] == "invalid_edit_files"
    assert out["problems"][0]["file"] == "bad.txt" and out["problems"][0]["line"] == 8
    assert cli("edits", "import", "--mue", MUE, "--mue-effective", "2026-13-01", "--out", tmp_path / "o").exit_code == 1
    assert cli("check", DATA / "missing.json", "--edits", tmp_path / "nope").exit_code in (1, 2, 4)
