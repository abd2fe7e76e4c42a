"""`supportable lint` (engine.lint, cli.lint): errors from every payer once, and warnings.

Each project is a tmp copy of the bundled policies and payers laid out as the repository is
(tmp/repo/policies, tmp/repo/payers, tmp/shared/guidance), with crafted base files and overlays
written into it; the tests check the exact code, file, line, column and the key words of each
problem. Files are shown relative to tmp/repo, as the loader shows them.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from supportable.engine.lint import lint
from supportable.cli.lint import lint as lint_command

ROOT = Path(__file__).resolve().parent.parent
GUIDANCE = ROOT.parent / "shared" / "guidance"
# What the shipped policies cite; written as empty files when the real folder is not there.
CITED = ["domain-notes.md", "domain-notes-2.md", "000_6b58965ce598d318.txt", "001_649d21cd2997f164.txt", "002_05ca052d0302da2e.txt",
         "003_d7d9c7e0eae8c5ad.txt"]


def shipped_guidance() -> Path:
    """The guidance folder for linting the shipped policies: ../shared/guidance when the checkout
    has it beside it, else stand-in files with the names the policies cite (so the test does not
    depend on where the repository is cloned)."""
    if GUIDANCE.is_dir():
        return GUIDANCE
    folder = Path(tempfile.mkdtemp(prefix="supportable-guidance-"))
    for name in CITED:
        (folder / name).write_text("", encoding="utf-8")
    return folder


def make_project(base: Path, files: dict[str, str] | None = None, guidance: bool = True) -> Path:
    """tmp/repo/{policies,payers} copied from the repository plus ``files`` (path under repo -> text,
    appended to an existing file when the path starts with `+`); tmp/shared/guidance. Returns repo."""
    repo = base / "repo"
    shutil.copytree(ROOT / "policies", repo / "policies")
    shutil.copytree(ROOT / "payers", repo / "payers")
    for name, text in (files or {}).items():
        if name.startswith("+"):
            path = repo / name[1:]
            path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
        else:
            (repo / name).write_text(text, encoding="utf-8")
    if guidance:
        folder = base / "shared" / "guidance"
        if GUIDANCE.is_dir():
            shutil.copytree(GUIDANCE, folder)
        else:
            folder.mkdir(parents=True)
            for name in CITED:
                (folder / name).write_text("", encoding="utf-8")
    return repo


def where(p):
    return (p.code, p.location.file, p.location.line, p.location.column)


def find(report, code, file=None):
    return [p for p in report.problems if p.code == code and (file is None or p.location.file == file)]


def only(problems):
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- a project whose payers all load, with one instance of every warning -----------------------------

BASE_FILE = """\
parameters:
  lint_unused_limit:
    value: 5
    description: "a limit no rule reads"
    source: {file: domain-notes.md, section: "6.2 Commercial"}
rules:
  - id: base.lint.per_visit_only
    because: "{Code} is billed under the per-visit method"
    source: {file: domain-notes.md, section: "1.3 Same input, two methods (differences)"}
    rule: deny(L) :- param(unit_method, per_visit), line_code(L, Code).
  - id: base.lint.outcome_count
    because: "line {L} documents {N} outcomes, the last one {Outcome}"
    source: {file: domain-notes.md, section: "2.2 Code selection by intended outcome"}
    rule: |
      deny(L) :- line_code(L, "97110"), N = count : { intended_outcome(L, Outcome) }, N > 3.
  - id: base.lint.empty_source
    because: "gait training is denied"
    source: ""
    rule: deny(L) :- line_code(L, "97116"), billed_units(L, 9).
"""

ACME = """\
id: acme
name: Acme
extends: base
effective: {from: 2025-01-01}
parameters:
  acme_unused_days:
    value: 30
    description: "days no rule reads"
    source: {file: domain-notes.md, section: "5.3 Plan of care, certification"}
add:
  - id: acme.before_contract
    effective: {to: 2024-01-01}
    because: "group therapy before the contract"
    source: {file: domain-notes.md, section: "4.5 Group vs individual (CMS)"}
    rule: deny(L) :- line_code(L, "97150").
  - id: acme.cap
    effective: {to: 2026-01-01}
    because: "{Code} is billed for more than 4 units"
    source: {file: domain-notes.md, section: "6.2 Commercial"}
    rule: deny(L) :- line_code(L, Code), billed_units(L, U), U > 4.
  - id: acme.cap_v2
    effective: {from: 2025-06-01}
    because: "{Code} is billed for more than 3 units"
    source: {file: domain-notes.md, section: "6.2 Commercial"}
    rule: deny(L) :- line_code(L, Code), billed_units(L, U), U > 3.
  - id: acme.copy_a
    because: "97530 with 59"
    source: {file: domain-notes.md, section: "4.2 Modifier 59 and X{EPSU}"}
    rule: deny(L) :- line_code(L, "97530"), has_modifier(L, "59").
  - id: acme.copy_b
    because: "97530 with 59, again"
    source: {file: domain-notes.md, section: "4.2 Modifier 59 and X{EPSU}"}
    rule: deny(Line) :- line_code(Line, "97530"), has_modifier(Line, "59").
  - id: acme.limit_2024
    effective: {to: 2025-07-01}
    because: "97140 over 2 units"
    source: {file: domain-notes.md, section: "6.2 Commercial"}
    rule: deny(L) :- line_code(L, "97140"), billed_units(L, U), U > 2.
  - id: acme.limit_2025
    effective: {from: 2025-07-01}
    because: "97140 over 1 unit"
    source: {file: domain-notes.md, section: "6.2 Commercial"}
    rule: deny(L) :- line_code(L, "97140"), billed_units(L, U), U > 1.
  - id: acme.plan_source
    because: "self-care training needs the plan's form"
    source: {file: plan.md, section: "Acme plan"}
    rule: deny(L) :- line_code(L, "97535"), not documented(L, functional_goals).
"""

PARENTCO = """\
id: parentco
name: Parent Co
extends: base
add:
  - id: parentco.gone
    because: "97112 with 59"
    source: {file: domain-notes.md, section: "4.3 Specific pairs found"}
    rule: deny(L) :- line_code(L, "97112"), has_modifier(L, "59").
  - id: parentco.swapped
    because: "97116 with 59"
    source: {file: domain-notes.md, section: "4.3 Specific pairs found"}
    rule: deny(L) :- line_code(L, "97116"), has_modifier(L, "59").
"""

CHILDCO = """\
id: childco
name: Child Co
extends: parentco
disable:
  - id: parentco.gone
    reason: "the child pays 97112 with 59"
    source: {file: domain-notes.md, section: "4.3 Specific pairs found"}
replace:
  - id: parentco.swapped
    because: "97116 with XS"
    source: {file: domain-notes.md, section: "4.3 Specific pairs found"}
    rule: deny(L) :- line_code(L, "97116"), has_modifier(L, "XS").
"""


@pytest.fixture(scope="module")
def warned(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("warned"), {
        "policies/base/zz_lint.yaml": BASE_FILE, "payers/acme.yaml": ACME,
        "payers/parentco.yaml": PARENTCO, "payers/childco.yaml": CHILDCO})
    return repo, lint(repo / "policies")


def test_every_payer_loads_and_only_the_crafted_problems_are_reported(warned):
    _, report = warned
    assert report.errors == 0 and report.failed == []
    assert report.payers == ["base", "acme", "aetna", "aetna_medicare", "childco", "commercial", "medicare",
                             "parentco"]
    files = {p.location.file for p in report.problems}
    assert files == {"policies/base/zz_lint.yaml", "payers/acme.yaml", "payers/parentco.yaml"}
    assert sorted(p.code for p in report.problems) == sorted([
        "parameter_unused", "parameter_unused", "rule_never_fires", "rule_never_fires", "because_unbound_variable",
        "missing_source", "unknown_source", "overlapping_versions", "overlapping_versions", "rule_shadowed",
        "rule_shadowed"])
    assert all(p.level == "warning" for p in report.problems)


def test_rule_never_fires_for_a_parameter_value_no_payer_has(warned):
    _, report = warned
    p = only(find(report, "rule_never_fires", "policies/base/zz_lint.yaml"))
    assert where(p) == ("rule_never_fires", "policies/base/zz_lint.yaml", 7, 9)
    assert p.message.startswith("rule `base.lint.per_visit_only` can never fire in any payer that has it: ")
    # grouped by reason, naming the value each payer has and the layer that set it
    assert "under `base`, `acme`, `childco` and `parentco`, `param(unit_method, per_visit)` never holds " \
           "(`unit_method` is `cpt_per_code`, set by `base`)" in p.message
    assert "; under `aetna` and `commercial`, `param(unit_method, per_visit)` never holds (`unit_method` is " \
           "`cpt_per_code`, set by `commercial`)" in p.message
    assert "; under `aetna_medicare` and `medicare`, `param(unit_method, per_visit)` never holds (`unit_method` is " \
           "`total_time`, set by `medicare`)" in p.message


def test_rule_never_fires_before_its_payer_is_in_force(warned):
    _, report = warned
    p = only(find(report, "rule_never_fires", "payers/acme.yaml"))
    assert where(p) == ("rule_never_fires", "payers/acme.yaml", 11, 9)
    assert p.message == ("rule `acme.before_contract` can never fire in any payer that has it: under `acme`, its "
                         "effective range (until 2024-01-01) lies outside the dates `acme` is in force (from "
                         "2025-01-01)")


def test_a_rule_dead_under_some_payers_only_is_not_reported(warned):
    _, report = warned
    # the per-code and total-time unit rules are each dead under half the payers, live under the rest
    assert not [p for p in report.problems if "base.units" in p.message]


def test_rule_shadowed_by_a_disable_and_by_a_replace(warned):
    _, report = warned
    gone, swapped = sorted(find(report, "rule_shadowed"), key=lambda p: p.location)
    assert where(gone) == ("rule_shadowed", "payers/parentco.yaml", 5, 9)
    assert gone.message == ("rule `parentco.gone` of layer `parentco` applies only under `parentco` itself: every "
                            "payer that extends it (`childco`) switches it off (disabled by `childco` at "
                            "payers/childco.yaml:5:9)")
    assert where(swapped) == ("rule_shadowed", "payers/parentco.yaml", 9, 9)
    assert "rule `parentco.swapped` of layer `parentco`" in swapped.message
    assert swapped.message.endswith("(replaced by `childco` at payers/childco.yaml:9:9)")


def test_parameter_unused_at_the_parameter_name(warned):
    _, report = warned
    base = only(find(report, "parameter_unused", "policies/base/zz_lint.yaml"))
    assert where(base) == ("parameter_unused", "policies/base/zz_lint.yaml", 2, 3)
    assert base.message.startswith("parameter `lint_unused_limit` set by `base` is read by no rule of any payer "
                                   "that includes `base` (`base`, `acme`, ")
    acme = only(find(report, "parameter_unused", "payers/acme.yaml"))
    assert where(acme) == ("parameter_unused", "payers/acme.yaml", 6, 3)
    assert "parameter `acme_unused_days` set by `acme`" in acme.message
    assert "no `param(acme_unused_days, ...)` or `param_entry(acme_unused_days, ...)`" in acme.message


def test_missing_source_at_the_source_key(warned):
    _, report = warned
    p = only(find(report, "missing_source"))
    assert where(p) == ("missing_source", "policies/base/zz_lint.yaml", 18, 5)
    assert p.message == "rule `base.lint.empty_source` cites an empty `source`; name the guidance file it rests on"


def test_unknown_source_at_the_file_value(warned):
    _, report = warned
    p = only(find(report, "unknown_source"))
    assert where(p) == ("unknown_source", "payers/acme.yaml", 46, 20)
    assert p.message.startswith("rule `acme.plan_source` cites `plan.md`, which is not a file in the guidance "
                                "folder ../shared/guidance")


def test_because_unbound_variable_at_the_placeholder(warned):
    _, report = warned
    p = only(find(report, "because_unbound_variable"))
    # line 12 is `    because: "line {L} documents {N} outcomes, the last one {Outcome}"`
    assert where(p) == ("because_unbound_variable", "policies/base/zz_lint.yaml", 12, 61)
    assert "`because` of rule `base.lint.outcome_count` names `{Outcome}`" in p.message
    assert "only inside an aggregate's braces" in p.message
    assert "{L}" not in p.message and "{N}" not in p.message   # the group variable and the result are bound


def test_overlapping_versions_by_id_suffix(warned):
    _, report = warned
    p = next(p for p in find(report, "overlapping_versions") if "acme.cap_v2" in p.message)
    assert where(p) == ("overlapping_versions", "payers/acme.yaml", 21, 9)      # the newer version
    assert p.message == ("rules `acme.cap_v2` and `acme.cap` (payers/acme.yaml:16:9) look like versions of one rule "
                         "(ids that differ only by the version suffix `_v2`), but their effective ranges overlap "
                         "(from 2025-06-01 until 2026-01-01), so both fire on those dates under `acme`; end one "
                         "where the other begins")


def test_overlapping_versions_by_identical_clause(warned):
    _, report = warned
    p = next(p for p in find(report, "overlapping_versions") if "acme.copy_b" in p.message)
    assert where(p) == ("overlapping_versions", "payers/acme.yaml", 30, 9)
    assert "rules `acme.copy_b` and `acme.copy_a` (payers/acme.yaml:26:9)" in p.message
    assert "the same clause apart from the effective range" in p.message
    assert "(on every date)" in p.message


def test_versions_that_hand_over_on_one_date_are_fine(warned):
    _, report = warned
    assert not [p for p in report.problems if "acme.limit_" in p.message]


# --- a base rule switched off by every payer that extends the base -------------------------------

def test_rule_shadowed_in_the_base_names_every_overlay_that_switches_it_off(tmp_path):
    repo = make_project(tmp_path, {
        "+payers/commercial.yaml": (
            "\nreplace:\n"
            "  - id: base.group.suggest_97150\n"
            "    because: \"{N} patients shared the session: report 97150\"\n"
            "    source: {file: domain-notes.md, section: \"4.5 Group vs individual (CMS)\"}\n"
            "    rule: suggest(L, \"97150\") :- line_code(L, _), patients_in_session(L, N), N > 1.\n")})
    medicare = repo / "payers/medicare.yaml"      # it has a `disable:` list already: add to it
    medicare.write_text(medicare.read_text().replace(
        "disable:\n", "disable:\n  - id: base.group.suggest_97150\n    reason: \"Medicare's edits say it\"\n", 1))
    commercial_line = (repo / "payers/commercial.yaml").read_text().splitlines().index("replace:") + 2
    medicare_line = medicare.read_text().splitlines().index("disable:") + 2
    report = lint(repo / "policies")
    assert report.errors == 0
    p = only(find(report, "rule_shadowed"))
    line = next(i for i, text in enumerate((repo / "policies/base/group.yaml").read_text().splitlines(), start=1)
                if "- id: base.group.suggest_97150" in text)
    assert where(p) == ("rule_shadowed", "policies/base/group.yaml", line, 9)
    assert p.message == ("rule `base.group.suggest_97150` of layer `base` applies only under `base` itself: every "
                         "payer that extends it (`aetna`, `aetna_medicare`, `commercial` and `medicare`) switches it "
                         f"off (replaced by `commercial` at payers/commercial.yaml:{commercial_line}:9, disabled by "
                         f"`medicare` at payers/medicare.yaml:{medicare_line}:9)")


# --- errors ---------------------------------------------------------------------------------------

BROKEN_BASE = """\
rules:
  - id: base.lint.flagged
    because: "line {L} is flagged"
    source: {file: domain-notes.md}
    rule: deny(L) :- flagged(L).
  - id: base.lint.missing_element
    because: "{Element} is missing"
    source: {file: domain-notes.md}
    rule: deny(L) :- line_code(L, "97110"), not documented(L, Element).
"""


def test_an_error_every_payer_hits_is_reported_once(tmp_path):
    repo = make_project(tmp_path, {"policies/base/zz_broken.yaml": BROKEN_BASE})
    report = lint(repo / "policies")
    assert report.failed == ["aetna", "aetna_medicare", "base", "commercial", "medicare"]
    p = only(find(report, "unknown_predicate"))
    assert where(p) == ("unknown_predicate", "policies/base/zz_broken.yaml", 5, 22)
    assert p.level == "error" and "unknown predicate `flagged/1`" in p.message
    unsafe = only(find(report, "unsafe_variable"))
    assert where(unsafe) == ("unsafe_variable", "policies/base/zz_broken.yaml", 9, 49)
    assert report.errors == 2
    # the `because` check still runs on what parses, and sees the negation
    w = only(find(report, "because_unbound_variable"))
    assert where(w) == ("because_unbound_variable", "policies/base/zz_broken.yaml", 7, 15)
    assert "only inside a negation" in w.message
    # the cross-payer checks are skipped for the layers of the payers that do not load, and say so
    note = only(find(report, "lint_checks_skipped"))
    assert note.level == "info" and note.location is None
    assert "`aetna`, `aetna_medicare`, `base`, `commercial` and `medicare` do not load" in note.message


def test_an_overlay_error_shared_by_its_child_is_reported_once(tmp_path):
    repo = make_project(tmp_path, {
        "payers/broken.yaml": ("id: broken\nname: Broken\nextends: base\ndisable:\n"
                               "  - id: base.units.methd\n    reason: typo\n"),
        "payers/broken_kid.yaml": "id: broken_kid\nname: Broken kid\nextends: broken\n"})
    report = lint(repo / "policies")
    assert report.failed == ["broken", "broken_kid"]
    p = only(find(report, "unknown_rule_id"))
    assert where(p) == ("unknown_rule_id", "payers/broken.yaml", 5, 9)
    assert "did you mean `base.units.method`?" in p.message
    assert "layer(s) `base`, `broken` and `broken_kid`" in only(find(report, "lint_checks_skipped")).message


def test_an_error_whose_message_differs_by_payer_is_reported_once_with_the_fullest_message(tmp_path):
    repo = make_project(tmp_path, {"policies/base/zz_typo.yaml": (
        "rules:\n"
        "  - id: base.lint.typo\n"
        "    because: \"acupuncture window of {W} days\"\n"
        "    source: {file: domain-notes.md}\n"
        "    rule: deny(L) :- line_code(L, \"97810\"), param(acupuncture_window_day, W).\n")})
    report = lint(repo / "policies")
    p = only(find(report, "unknown_parameter"))
    assert where(p) == ("unknown_parameter", "policies/base/zz_typo.yaml", 5, 45)
    # every payer reports it; only medicare's chain has the parameter the hint names
    assert p.message == ("rule `base.lint.typo` reads parameter `acupuncture_window_day` but no layer sets it; "
                         "did you mean `acupuncture_window_days`?")


def test_a_base_yaml_among_the_overlays_is_an_error(tmp_path):
    repo = make_project(tmp_path, {"payers/base.yaml": "id: base\nname: Base\nextends: base\n"})
    report = lint(repo / "policies")
    p = only(find(report, "invalid_payer_id"))
    assert where(p) == ("invalid_payer_id", "payers/base.yaml", 1, 1)
    assert "never loaded" in p.message


# --- guidance folder ------------------------------------------------------------------------------

def test_without_the_guidance_folder_sources_are_not_checked(tmp_path):
    repo = make_project(tmp_path, {"payers/acme.yaml": ACME}, guidance=False)
    report = lint(repo / "policies")
    assert not find(report, "unknown_source")
    note = only(find(report, "guidance_not_found"))
    assert note.level == "info" and note.location is None
    assert "`../shared/guidance` does not exist" in note.message
    # --guidance points elsewhere; a folder without domain-notes.md makes every citation of it unknown
    other = tmp_path / "guidance"
    other.mkdir()
    (other / "plan.md").write_text("", encoding="utf-8")
    report = lint(repo / "policies", guidance_dir=other)
    unknown = find(report, "unknown_source", "payers/acme.yaml")
    assert "acme.plan_source" not in " ".join(p.message for p in unknown)
    assert any("`domain-notes.md`" in p.message for p in unknown)
    # parameters, their table rows and disable entries are citations too, located at the file named
    shown = {(p.location.file, p.location.line, p.location.column): p.message for p in find(report, "unknown_source")}
    assert shown[("payers/medicare.yaml", 36, 20)] == (
        "parameter `poc_certification_days` cites `domain-notes.md`, which is not a file in the guidance folder "
        "../guidance")
    assert shown[("payers/medicare.yaml", 29, 44)].startswith(
        "row `2024` of parameter `kx_threshold_cents` cites `domain-notes.md`")
    # the edit tables' rows and an overlay's edit changes cite their sources too
    override = [(loc, m) for loc, m in shown.items() if m.startswith("override of the PTP edit 97140/97530 cites")]
    assert [loc[0] for loc, _ in override] == ["payers/aetna.yaml"]
    aetna = (repo / "payers/aetna.yaml").read_text().splitlines()
    assert "source: {file: domain-notes.md" in aetna[override[0][0][1] - 1]
    rows = [loc for loc, m in shown.items() if m.startswith("PTP edit 98940/97140 cites `domain-notes.md`")]
    assert [loc[0] for loc in rows] == ["policies/edits/ptp.yaml"]


# --- the shipped policies --------------------------------------------------------------------------

def test_the_shipped_policies_lint_clean():
    report = lint(ROOT / "policies", guidance_dir=shipped_guidance())
    for p in report.problems:
        print(p)
    assert report.errors == 0
    assert report.payers == ["base", "aetna", "aetna_medicare", "commercial", "medicare"]
    assert [str(p) for p in report.problems if p.level == "warning"] == []


# --- the command ----------------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(lint_command, [str(a) for a in args])


def test_command_shipped_policies_exit_0_with_nothing_on_stdout():
    result = run("--guidance", shipped_guidance())
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "0 error(s), 0 warning(s) in 5 payer(s)" in result.stderr


def test_command_text_lines_sorted_by_location_and_strict(warned):
    repo, _ = warned
    result = run("--policies", repo / "policies")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 11
    assert lines[0].startswith("payers/acme.yaml:6:3: warning: parameter `acme_unused_days` set by `acme`")
    assert lines[0].endswith("[parameter_unused]")
    assert lines[-1] == ("policies/base/zz_lint.yaml:18:5: warning: rule `base.lint.empty_source` cites an empty "
                         "`source`; name the guidance file it rests on [missing_source]")
    keys = [(l.split(":")[0], int(l.split(":")[1]), int(l.split(":")[2])) for l in lines]
    assert keys == sorted(keys)
    assert "0 error(s), 11 warning(s) in 8 payer(s)" in result.stderr
    assert run("--policies", repo / "policies", "--strict").exit_code == 1


def test_command_json_format(warned):
    repo, _ = warned
    result = run("--policies", repo / "policies", "--format", "json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["summary"] == {"errors": 0, "warnings": 11}
    first = out["problems"][0]
    assert first == {"code": "parameter_unused", "level": "warning", "file": "payers/acme.yaml", "line": 6,
                     "column": 3, "message": first["message"]}


def test_command_files_restrict_the_report(warned, monkeypatch):
    repo, _ = warned
    out = json.loads(run("--policies", repo / "policies", "--format", "json", "payers/parentco.yaml").stdout)
    assert {(p["file"], p["code"]) for p in out["problems"]} == {("payers/parentco.yaml", "rule_shadowed")}
    assert out["summary"] == {"errors": 0, "warnings": 2}
    # an absolute path works from anywhere; so does a path relative to the working directory
    out = json.loads(run("--policies", repo / "policies", "--format", "json",
                         repo / "policies/base/zz_lint.yaml").stdout)
    assert {p["file"] for p in out["problems"]} == {"policies/base/zz_lint.yaml"}
    assert out["summary"]["warnings"] == 4
    monkeypatch.chdir(repo / "payers")
    out = json.loads(run("--policies", repo / "policies", "--format", "json", "acme.yaml").stdout)
    assert {p["file"] for p in out["problems"]} == {"payers/acme.yaml"}
    # a file the policies do not load is said to be one
    result = run("--policies", repo / "policies", "README.md")
    assert result.exit_code == 0
    assert result.stdout == ("README.md: info: `README.md` is not a rule, overlay or vocabulary file that the "
                             "policies load; nothing is reported for it [not_a_policy_file]\n")


def test_command_errors_exit_4_in_both_formats(tmp_path, monkeypatch):
    repo = make_project(tmp_path, {"policies/base/zz_broken.yaml": BROKEN_BASE})
    result = run("--policies", repo / "policies")
    assert result.exit_code == 4
    assert ("policies/base/zz_broken.yaml:5:22: error: unknown predicate `flagged/1`: no rule defines it and the "
            "encounter does not provide it [unknown_predicate]") in result.stdout.splitlines()
    assert "2 error(s), 1 warning(s) in 5 payer(s); aetna, aetna_medicare, base, commercial, medicare do(es) not " \
           "load" in result.stderr
    out = json.loads(run("--policies", repo / "policies", "--format", "json").stdout)
    assert out["summary"] == {"errors": 2, "warnings": 1}
    assert run("--policies", repo / "policies", "--format", "json").exit_code == 4
    # the environment variables the other commands read select the policies here too
    monkeypatch.setenv("SUPPORTABLE_POLICIES", str(repo / "policies"))
    monkeypatch.setenv("SUPPORTABLE_PAYERS", str(repo / "payers"))
    assert run().exit_code == 4
    # restricted to a file without errors, the run has none to report
    assert run("policies/base/units.yaml").exit_code == 0


def test_command_internal_failure_exit_5_without_a_traceback(monkeypatch):
    import supportable.cli.lint

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(supportable.cli.lint, "run_lint", broken)
    result = run()
    assert result.exit_code == 5
    assert result.stderr == "error: the linter failed (RuntimeError: boom); nothing was checked\n"
    out = json.loads(run("--format", "json").stdout)
    assert out == {"error": "internal_error", "message": "the linter failed (RuntimeError: boom); nothing was checked",
                   "problems": []}
