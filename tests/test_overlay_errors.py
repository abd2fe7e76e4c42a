"""Errors in payer overlays (engine.overlay, and the loader and checker stages overlays reuse).

Each test copies the bundled policies into tmp_path, writes overlay files into tmp_path/payers
and checks the exact problems reported: code, file, line and column (files are shown relative to
tmp_path, the policies directory's parent), plus the key words of the message.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from supportable.engine.errors import PolicyError
from supportable.engine.policyset import load_policy_set
from supportable.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "encounters"
ACME = "payers/acme.yaml"
HEAD = "id: acme\nname: Acme\nextends: base\n"  # lines 1-3: what follows starts on line 4


def make_payers(tmp_path: Path, overlays: dict[str, str]) -> tuple[Path, Path]:
    """The bundled policies and the given overlays (payer id -> YAML text) under tmp_path."""
    policies = tmp_path / "policies"
    if not policies.exists():
        shutil.copytree(ROOT / "policies", policies)
    payers = tmp_path / "payers"
    payers.mkdir(exist_ok=True)
    for payer, text in overlays.items():
        (payers / f"{payer}.yaml").write_text(text, encoding="utf-8")
    return policies, payers


def problems_for(tmp_path: Path, overlays: dict[str, str], payer: str = "acme"):
    policies, payers = make_payers(tmp_path, overlays)
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies, payer, payers)
    return info.value.problems


def line_in(relative: str, text: str) -> int:
    """1-based line of the first line of a shipped file starting with ``text`` (after indentation)."""
    lines = (ROOT / relative).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.strip().startswith(text))


def where(problem):
    loc = problem.location
    return (problem.code, loc.file, loc.line, loc.column)


def only(problems):
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def rule_entry(rid: str, rule: str) -> str:
    """One rule entry, four lines: `id` (value at column 9), because, source, `rule` (text at column 11)."""
    return (f"  - id: {rid}\n"
            f"    because: x\n"
            f"    source: f.md\n"
            f"    rule: {rule}\n")


PARENT_DISABLES = ("id: parent\n"
                   "name: Parent\n"
                   "extends: base\n"
                   "disable:\n"
                   "  - id: base.group.suggest_97150\n"   # line 5, id at column 9
                   "    reason: gone\n")


# --- unknown_rule_id ----------------------------------------------------------------------------

def test_replace_of_an_unknown_rule_id_suggests_the_close_one(tmp_path):
    text = HEAD + "replace:\n" + rule_entry("base.group.several_patients_only_9715",
                                            'deny(L) :- line_code(L, "97110").')
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_rule_id", ACME, 5, 9)
    assert "cannot replace `base.group.several_patients_only_9715`" in p.message
    assert "payer `acme` extends `base`" in p.message
    assert p.message.endswith("did you mean `base.group.several_patients_only_97150`?")


def test_disable_of_an_unknown_rule_id_suggests_the_close_one(tmp_path):
    text = HEAD + ("disable:\n"
                   "  - id: base.group.several_patients_only_9715\n"
                   "    reason: \"not ours\"\n")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_rule_id", ACME, 5, 9)
    assert "cannot disable `base.group.several_patients_only_9715`" in p.message
    assert p.message.endswith("did you mean `base.group.several_patients_only_97150`?")


def test_disable_of_an_unknown_rule_id_with_nothing_close(tmp_path):
    text = HEAD + "disable:\n  - {id: zzz.nothing, reason: r}\n"
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_rule_id", ACME, 5, 10)
    assert "cannot disable `zzz.nothing`" in p.message
    assert "did you mean" not in p.message


def test_unknown_rule_id_is_looked_up_in_the_whole_parent_chain(tmp_path):
    commercial = (ROOT / "payers" / "commercial.yaml").read_text(encoding="utf-8")
    # a rule the parent overlay adds (commercial adds none of its own now: one written here for the test)
    commercial += ("\nadd:\n" + rule_entry("commercial.modifiers.plan_modifier", "plan_modifier(M) :- has_modifier(_, M)."))
    text = ("id: acme\nname: Acme\nextends: commercial\n"
            "replace:\n" + rule_entry("commercial.modifiers.plan_modifer", "plan_modifier(M) :- has_modifier(_, M)."))
    p = only(problems_for(tmp_path, {"acme": text, "commercial": commercial}))
    assert where(p) == ("unknown_rule_id", ACME, 5, 9)
    assert "payer `acme` extends `commercial`" in p.message
    assert p.message.endswith("did you mean `commercial.modifiers.plan_modifier`?")


@pytest.mark.parametrize("action", ["replace", "disable"])
def test_changing_a_rule_an_ancestor_already_disabled(tmp_path, action):
    if action == "replace":
        change = "replace:\n" + rule_entry("base.group.suggest_97150", 'suggest(L, "97150") :- line_code(L, _).')
    else:
        change = "disable:\n  - id: base.group.suggest_97150\n    reason: again\n"
    text = "id: acme\nname: Acme\nextends: parent\n" + change
    p = only(problems_for(tmp_path, {"acme": text, "parent": PARENT_DISABLES}))
    assert where(p) == ("unknown_rule_id", ACME, 5, 9)
    assert p.message == (f"cannot {action} `base.group.suggest_97150`: it was already disabled by payer `parent` "
                         "at payers/parent.yaml:5:9")


# --- duplicate_rule_id and conflicting_change ---------------------------------------------------

def test_add_reusing_a_base_rule_id(tmp_path):
    text = HEAD + "add:\n" + rule_entry("base.group.suggest_97150", 'suggest(L, "97150") :- line_code(L, _).')
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("duplicate_rule_id", ACME, 5, 9)
    line = line_in("policies/base/group.yaml", "- id: base.group.suggest_97150")
    assert f"already exists in layer `base` at policies/base/group.yaml:{line}:9" in p.message
    assert "use `replace` to change it" in p.message


def test_add_reusing_an_id_an_ancestor_overlay_added(tmp_path):
    parent = "id: parent\nname: Parent\nextends: base\nadd:\n" + rule_entry("parent.x.fact", "p_fact(1).")
    text = "id: acme\nname: Acme\nextends: parent\nadd:\n" + rule_entry("parent.x.fact", "p_fact(2).")
    p = only(problems_for(tmp_path, {"acme": text, "parent": parent}))
    assert where(p) == ("duplicate_rule_id", ACME, 5, 9)
    assert "already exists in layer `parent` at payers/parent.yaml:5:9" in p.message
    assert "use `replace`" in p.message


def test_same_rule_replaced_and_disabled_in_one_overlay(tmp_path):
    text = HEAD + ("replace:\n"
                   + rule_entry("base.group.suggest_97150", 'suggest(L, "97150") :- line_code(L, _).')
                   + "disable:\n"                                 # line 9
                   "  - id: base.group.suggest_97150\n"           # line 10
                   "    reason: gone\n")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("conflicting_change", ACME, 10, 9)
    assert p.message == ("rule `base.group.suggest_97150` is changed twice in payer `acme`: replace at "
                         "payers/acme.yaml:5:9 and disable here")


def test_same_rule_added_twice_in_one_overlay(tmp_path):
    text = HEAD + "add:\n" + rule_entry("acme.x.fact", "a_fact(1).") + rule_entry("acme.x.fact", "a_fact(2).")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("conflicting_change", ACME, 9, 9)
    assert "add at payers/acme.yaml:5:9 and add here" in p.message


# --- extends: cycles, unknown parents and payers --------------------------------------------------

def test_two_payers_extending_each_other(tmp_path):
    overlays = {"a": "id: a\nname: A\nextends: b\n", "b": "id: b\nname: B\nextends: a\n"}
    p = only(problems_for(tmp_path, overlays, payer="a"))
    assert where(p) == ("extends_cycle", "payers/b.yaml", 3, 10)
    assert p.message.endswith("a -> b -> a")
    p = only(problems_for(tmp_path, overlays, payer="b"))
    assert where(p) == ("extends_cycle", "payers/a.yaml", 3, 10)
    assert p.message.endswith("b -> a -> b")


def test_payer_extending_itself(tmp_path):
    p = only(problems_for(tmp_path, {"a": "id: a\nname: A\nextends: a\n"}, payer="a"))
    assert where(p) == ("extends_cycle", "payers/a.yaml", 3, 10)
    assert p.message.endswith("a -> a")


def test_payer_whose_parent_is_in_a_cycle(tmp_path):
    overlays = {"a": "id: a\nname: A\nextends: b\n", "b": "id: b\nname: B\nextends: a\n",
                "c": "id: c\nname: C\nextends: a\n"}
    p = only(problems_for(tmp_path, overlays, payer="c"))
    assert where(p) == ("extends_cycle", "payers/b.yaml", 3, 10)
    assert p.message.endswith(": a -> b -> a")


def test_unknown_parent_suggests_the_close_payer(tmp_path):
    commercial = (ROOT / "payers" / "commercial.yaml").read_text(encoding="utf-8")
    text = "id: acme\nname: Acme\nextends: comercial\n"
    p = only(problems_for(tmp_path, {"acme": text, "commercial": commercial}))
    assert where(p) == ("unknown_parent", ACME, 3, 10)
    assert "payer `acme` extends `comercial`" in p.message
    assert p.message.endswith("did you mean `commercial`?")


def test_unknown_payer_requested(tmp_path):
    p = only(problems_for(tmp_path, {"acme": HEAD}, payer="nobody"))
    assert p.code == "unknown_payer"
    assert p.location is None
    assert p.message == "no payer `nobody`; known: base, acme"


# --- the overlay file's own fields ---------------------------------------------------------------

def test_missing_extends(tmp_path):
    p = only(problems_for(tmp_path, {"acme": "id: acme\nname: Acme\n"}))
    assert where(p) == ("missing_extends", ACME, 1, 1)
    assert "payer `acme` does not say what it `extends`" in p.message


def test_payer_id_differs_from_file_name(tmp_path):
    p = only(problems_for(tmp_path, {"acme": "id: acne\nname: Acme\nextends: base\n"}))
    assert where(p) == ("payer_id_mismatch", ACME, 1, 5)
    assert p.message == "payer id `acne` does not match its file name `acme.yaml`"


def test_invalid_payer_id(tmp_path):
    text = "id: Acme!\nname: Acme\nextends: base\n"
    p = only(problems_for(tmp_path, {"Acme!": text}, payer="Acme!"))
    assert where(p) == ("invalid_payer_id", "payers/Acme!.yaml", 1, 5)
    assert "payer id `Acme!` should be lowercase with underscores" in p.message


def test_payer_id_base_is_reserved(tmp_path):
    problems = problems_for(tmp_path, {"acme": "id: base\nname: Acme\nextends: base\n"})
    assert [where(p) for p in problems] == [("invalid_payer_id", ACME, 1, 5), ("payer_id_mismatch", ACME, 1, 5)]
    assert "not `base`" in problems[0].message


@pytest.mark.parametrize("text, line, column, words", [
    (HEAD + "rules: []\n", 4, 8, "unknown top-level key `rules`"),
    (HEAD + "add: {id: acme.x.y}\n", 4, 6, "`add` is a list of rules"),
    (HEAD + "replace: 3\n", 4, 10, "`replace` is a list of rules"),
    (HEAD + "disable: base.group.suggest_97150\n", 4, 10, "`disable` is a list"),
    (HEAD + "disable:\n  - base.group.suggest_97150\n", 5, 5, "each `disable` entry is a mapping"),
    (HEAD + "disable:\n  - {id: base.group.suggest_97150, reason: r, why: w}\n", 5, 52,
     "unknown key `why` in a `disable` entry"),
    (HEAD + "effective: 2025-01-01\n", 4, 12, "`effective` is a mapping"),
    ("- id: acme\n  name: Acme\n", 1, 1, "a payer overlay is a mapping"),
    ("name: Acme\nextends: base\n", 1, 1, "the overlay has no `id`"),
    ("id: acme\nextends: base\n", 1, 1, "payer `acme` has no `name`"),
], ids=["unknown_key", "add_not_list", "replace_not_list", "disable_not_list", "disable_entry_not_mapping",
        "disable_entry_unknown_key", "effective_not_mapping", "document_not_mapping", "no_id", "no_name"])
def test_overlay_format(tmp_path, text, line, column, words):
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("overlay_format", ACME, line, column)
    assert words in p.message


def test_disable_without_reason(tmp_path):
    p = only(problems_for(tmp_path, {"acme": HEAD + "disable:\n  - id: base.group.suggest_97150\n"}))
    assert where(p) == ("missing_reason", ACME, 5, 5)
    assert p.message == "disabling `base.group.suggest_97150` needs a `reason`"


def test_overlay_effective_range_ending_before_it_starts(tmp_path):
    text = HEAD + "effective: {from: 2025-01-01, to: 2024-01-01}\n"
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("invalid_effective_range", ACME, 4, 12)
    assert "payer `acme` is effective from 2025-01-01 to 2024-01-01" in p.message


def test_overlay_effective_dates_that_are_not_dates(tmp_path):
    text = HEAD + ("effective:\n"
                   "  from: 2025-02-30\n"
                   "  to: soon\n")
    problems = problems_for(tmp_path, {"acme": text})
    assert [where(p) for p in problems] == [("invalid_date", ACME, 5, 9), ("invalid_date", ACME, 6, 7)]
    assert "`2025-02-30` is not an ISO date for `effective.from`" in problems[0].message
    assert "`soon` is not an ISO date for `effective.to`" in problems[1].message


# --- parameters ----------------------------------------------------------------------------------

def test_rule_reads_a_parameter_no_layer_sets(tmp_path):
    text = HEAD + "add:\n" + rule_entry("acme.visits.cap", "deny(L) :- line_code(L, _), param(visit_cap, N), N > 3.")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_parameter", ACME, 8, 39)
    assert p.message == "rule `acme.visits.cap` reads parameter `visit_cap` but no layer sets it"


def test_unknown_parameter_suggests_the_close_name(tmp_path):
    text = HEAD + "add:\n" + rule_entry("acme.units.method", "m(M) :- param(unit_methd, M).")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_parameter", ACME, 8, 19)
    assert p.message.endswith("did you mean `unit_method`?")


def test_parameter_set_only_by_a_sibling_payer_is_unknown(tmp_path):
    good = HEAD.replace("acme", "good") + ("parameters:\n"
                                           "  visit_cap: {value: 3, description: d, source: f.md}\n")
    text = HEAD + "add:\n" + rule_entry("acme.visits.cap", "deny(L) :- line_code(L, _), param(visit_cap, N), N > 3.")
    p = only(problems_for(tmp_path, {"acme": text, "good": good}))
    assert where(p) == ("unknown_parameter", ACME, 8, 39)
    assert load_policy_set(tmp_path / "policies", "good", tmp_path / "payers").parameters["visit_cap"].value == 3


def test_table_parameter_read_as_a_value(tmp_path):
    text = HEAD + ("parameters:\n"
                   "  caps:\n"
                   "    table: {\"97110\": 4, \"97112\": 2}\n"     # line 6
                   "    description: caps\n"
                   "    source: f.md\n"
                   "add:\n" + rule_entry("acme.caps.read", "m(M) :- param(caps, M)."))  # rule on line 13
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("parameter_kind", ACME, 13, 19)
    assert "parameter `caps` is a table (set at payers/acme.yaml:5:3)" in p.message
    assert "`param_entry(caps, Key, Value)`" in p.message


def test_value_parameter_read_as_a_table(tmp_path):
    text = HEAD + "add:\n" + rule_entry("acme.units.method", "m(K, M) :- param_entry(unit_method, K, M).")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("parameter_kind", ACME, 8, 22)
    line = line_in("policies/base/units.yaml", "unit_method:")
    assert f"parameter `unit_method` is a single value (set at policies/base/units.yaml:{line}:3)" in p.message
    assert "`param(unit_method, Value)`" in p.message


def test_overlay_overriding_a_value_parameter_with_a_table(tmp_path):
    text = HEAD + ("parameters:\n"
                   "  unit_method:\n"
                   "    table: {a: cpt_per_code}\n"
                   "    description: per code\n"
                   "    source: f.md\n")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("parameter_kind", ACME, 5, 3)
    line = line_in("policies/base/units.yaml", "unit_method:")
    assert f"parameter `unit_method` is a single value in layer `base` (policies/base/units.yaml:{line}:3)" in p.message
    assert "must set the same kind" in p.message


def test_overlay_overriding_an_ancestors_table_parameter_with_a_value(tmp_path):
    parent = ("id: parent\nname: Parent\nextends: base\n"
              "parameters:\n"
              "  caps:\n"
              "    table: {a: 1}\n"
              "    description: d\n"
              "    source: f.md\n")
    text = ("id: acme\nname: Acme\nextends: parent\n"
            "parameters:\n"
            "  caps: {value: 3, description: d, source: f.md}\n")
    p = only(problems_for(tmp_path, {"acme": text, "parent": parent}))
    assert where(p) == ("parameter_kind", ACME, 5, 3)
    assert "parameter `caps` is a table in layer `parent` (payers/parent.yaml:5:3)" in p.message


def test_overlay_parameter_value_outside_the_base_one_of(tmp_path):
    # located at the value (`per_visit`, column 24), as the same check on a base file is
    text = HEAD + "parameters:\n  unit_method: {value: per_visit, description: d, source: f.md}\n"
    p = only(problems_for(tmp_path, {"acme": text}))
    assert p.message == ("parameter `unit_method` is `per_visit`, not one of cpt_per_code, total_time "
                         "(allowed by layer `base`)")
    assert where(p) == ("invalid_parameter", ACME, 5, 24)


def test_overlay_cannot_widen_the_base_one_of(tmp_path):
    # the base's `one_of` lists the values a layer may set; an overlay giving its own, wider `one_of`
    # must not escape it (the base's unit rules only know cpt_per_code and total_time).
    text = HEAD + ("parameters:\n"
                   "  unit_method: {value: per_visit, one_of: [cpt_per_code, total_time, per_visit], "
                   "description: d, source: f.md}\n")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert p.code == "invalid_parameter"
    assert (p.location.file, p.location.line) == (ACME, 5)
    assert "`per_visit`" in p.message and "cpt_per_code, total_time" in p.message


@pytest.mark.parametrize("value, shown", [("2.5", "2.5"), ("true", "True")])
def test_parameter_value_that_is_not_a_string_or_whole_number(tmp_path, value, shown):
    text = HEAD + f"parameters:\n  visit_cap: {{value: {value}, description: d, source: f.md}}\n"
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("invalid_parameter", ACME, 5, 22)
    assert p.message == (f"parameter `visit_cap` must be a string or a whole number (money in cents), "
                         f"not `{shown}`")


@pytest.mark.parametrize("spec", ["{value: 3, table: {a: 1}, description: d, source: f.md}",
                                  "{description: d, source: f.md}"], ids=["both", "neither"])
def test_parameter_needs_exactly_one_of_value_or_table(tmp_path, spec):
    p = only(problems_for(tmp_path, {"acme": HEAD + f"parameters:\n  visit_cap: {spec}\n"}))
    assert where(p) == ("invalid_parameter", ACME, 5, 3)
    assert p.message == "parameter `visit_cap` needs exactly one of `value` or `table`"


def test_parameter_without_source_or_description(tmp_path):
    text = HEAD + "parameters:\n  visit_cap:\n    value: 3\n"
    problems = problems_for(tmp_path, {"acme": text})
    assert [where(p) for p in problems] == [("missing_description", ACME, 5, 3), ("missing_source", ACME, 5, 3)]
    assert problems[0].message == "parameter `visit_cap` has no `description`"
    assert problems[1].message == "parameter `visit_cap` does not cite a `source`"


def test_parameter_name_that_is_a_variable(tmp_path):
    text = HEAD + "add:\n" + rule_entry("acme.units.method", "m(M) :- param(Name, M).")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("parameter_name_not_constant", ACME, 8, 19)
    assert p.message.startswith("`param(Name, M)`: name the parameter (a constant)")


# --- constants passed to builtins ----------------------------------------------------------------

def test_unknown_icd10_group_written_in_the_rule(tmp_path):
    text = HEAD + "add:\n" + rule_entry("acme.nmr.dx", 'nmr_dx(Dx) :- diagnosis(Dx, _), @icd10_within(Dx, "I60-I96").')
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_constant", ACME, 8, 43)
    assert p.message == "`I60-I96` is not an ICD-10-CM chapter range, block, category or code"


def test_unknown_icd10_group_in_a_fact_feeding_the_builtin(tmp_path):
    text = HEAD + ("add:\n"
                   + rule_entry("acme.nmr.group_nervous", 'nmr_group("G00-G99").')     # lines 5-8, fine
                   + rule_entry("acme.nmr.group_circulatory", 'nmr_group("I60-I96").')  # lines 9-12
                   + rule_entry("acme.nmr.dx", "nmr_dx(Dx) :- diagnosis(Dx, _), nmr_group(G), @icd10_within(Dx, G)."))
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_constant", ACME, 12, 11)
    assert p.message == ("`I60-I96` is not an ICD-10-CM chapter range, block, category or code (it is passed "
                         "to `@icd10_within` by rule `acme.nmr.dx`)")


# --- rule-level errors are located in the overlay -------------------------------------------------

def test_syntax_error_in_an_added_rule(tmp_path):
    text = HEAD + ("add:\n"
                   "  - id: acme.group.cap\n"
                   "    because: x\n"
                   "    source: f.md\n"
                   "    rule: |\n"
                   "      deny(L) :- line_code(L, Code),\n"
                   "                 patients_in_session(L, N) N > 4.\n")  # line 10, `N` at column 44
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("syntax_error", ACME, 10, 44)
    assert p.message.startswith("unexpected `N`")


def test_syntax_error_in_an_added_plain_scalar_rule(tmp_path):
    text = HEAD + "add:\n" + rule_entry("acme.a.b", "deny(L) :- line_code(L, _) &.")
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("syntax_error", ACME, 8, 38)
    assert "`&`" in p.message


def test_unknown_predicate_in_a_replaced_rule(tmp_path):
    text = HEAD + ("replace:\n"
                   "  - id: base.group.suggest_97150\n"
                   "    because: x\n"
                   "    source: f.md\n"
                   "    rule: |\n"
                   "      suggest(L, \"97150\") :- line_code(L, Code),\n"
                   "          group_sesion(L, N), N > 1.\n")  # line 10, column 11
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_predicate", ACME, 10, 11)
    assert "`group_sesion/2`" in p.message


# --- a broken overlay stays with its payer --------------------------------------------------------

BROKEN = HEAD + "disable:\n  - id: base.group.several_patients_only_9715\n    reason: r\n"
GOOD = ("id: good\nname: Good\nextends: base\n"
        "parameters:\n"
        "  unit_method: {value: total_time, description: d, source: f.md}\n")


def test_broken_overlay_does_not_affect_other_payers(tmp_path):
    policies, payers = make_payers(tmp_path, {"acme": BROKEN, "good": GOOD})
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies, "acme", payers)
    assert [where(p) for p in info.value.problems] == [("unknown_rule_id", ACME, 5, 9)]
    good = load_policy_set(policies, "good", payers)
    assert good.chain == ["base", "good"]
    assert good.parameters["unit_method"].value == "total_time"
    base = load_policy_set(policies, "base", payers)
    assert base.chain == ["base"]
    assert base.parameters["unit_method"].value == "cpt_per_code"


def test_payer_extending_a_broken_overlay_reports_the_parents_problems(tmp_path):
    child = "id: child\nname: Child\nextends: acme\n"
    p = only(problems_for(tmp_path, {"acme": HEAD + "colour: red\n", "child": child}, payer="child"))
    assert where(p) == ("overlay_format", ACME, 4, 9)


# --- every problem is reported at once -------------------------------------------------------------

def test_all_load_problems_of_one_overlay_are_reported_together(tmp_path):
    text = HEAD + ("colour: red\n"                                                # 4
                   "effective:\n"                                                 # 5
                   "  from: 2025-02-30\n"                                         # 6
                   "parameters:\n"                                                # 7
                   "  visit_cap: {value: 2.5, description: d, source: f.md}\n"    # 8
                   "add:\n"                                                       # 9
                   + rule_entry("acme.a.b", "deny(L) :- line_code(L, _) &.")      # 10-13
                   + "disable:\n"                                                 # 14
                   "  - id: base.group.suggest_97150\n")                          # 15
    problems = problems_for(tmp_path, {"acme": text})
    assert [where(p) for p in problems] == [
        ("overlay_format", ACME, 4, 9),
        ("invalid_date", ACME, 6, 9),
        ("invalid_parameter", ACME, 8, 22),
        ("syntax_error", ACME, 13, 38),
        ("missing_reason", ACME, 15, 5),
    ]


def test_all_layering_and_check_problems_of_one_overlay_are_reported_together(tmp_path):
    text = HEAD + ("disable:\n"
                   "  - {id: base.group.suggest_9715, reason: r}\n"                           # 5
                   "add:\n"
                   + rule_entry("base.group.no_one_on_one_contact", "deny(L) :- line_code(L, _).")  # 7-10
                   + rule_entry("acme.visits.cap", "deny(L) :- line_code(L, _), param(visit_cap, N), N > 3.")  # 11-14
                   + "replace:\n"
                   + rule_entry("base.group.group_code_for_one_patient",
                                'deny(L) :- line_code(L, "97150"), group_size(L, N), N < 2.'))  # 16-19
    problems = problems_for(tmp_path, {"acme": text})
    assert [where(p) for p in problems] == [
        ("unknown_rule_id", ACME, 5, 10),
        ("duplicate_rule_id", ACME, 7, 9),
        ("unknown_parameter", ACME, 14, 39),
        ("unknown_predicate", ACME, 19, 45),
    ]
    assert problems[0].message.endswith("did you mean `base.group.suggest_97150`?")


def test_problems_of_a_payer_and_its_parent_are_reported_together(tmp_path):
    parent = "id: parent\nname: Parent\nextends: base\neffective: {from: soon}\n"
    text = "id: acme\nname: Acme\nextends: parent\ndisable:\n  - id: base.group.suggest_97150\n"
    problems = problems_for(tmp_path, {"acme": text, "parent": parent})
    assert [where(p) for p in problems] == [
        ("missing_reason", ACME, 5, 5),
        ("invalid_date", "payers/parent.yaml", 4, 19),
    ]


def test_repeated_top_level_key_is_not_silently_ignored(tmp_path):
    # YAML composes a repeated key without complaint and only one `add` would be read, so the
    # other section's rules would vanish: it is reported on the repeated key's line.
    text = HEAD + ("add:\n" + rule_entry("acme.a.one", "a_fact(1).")                         # 4-8
                   + "add: [{id: acme.a.two, because: x, source: f.md, rule: \"a_fact(2).\"}]\n")  # 9
    problems = problems_for(tmp_path, {"acme": text})
    assert [(p.code, p.location.file, p.location.line) for p in problems] == [("duplicate_key", ACME, 9)]
    assert "`add`" in problems[0].message and "first at line 4" in problems[0].message


# --- the command line ------------------------------------------------------------------------------

def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_check_with_a_broken_overlay_exits_4_with_located_problems(tmp_path):
    policies, payers = make_payers(tmp_path, {"acme": BROKEN, "good": GOOD})
    result = invoke("check", EXAMPLES / "mixed_visit.json", "--payer", "acme", "--policies", policies,
                    "--payers", payers, "--format", "json")
    assert result.exit_code == 4, result.output
    out = json.loads(result.output)
    assert out["error"] == "policy_error"
    assert out["message"] == "the policies for payer `acme` do not load"
    [problem] = out["problems"]
    assert {k: problem[k] for k in ("code", "level", "file", "line", "column")} == {
        "code": "unknown_rule_id", "level": "error", "file": ACME, "line": 5, "column": 9}
    assert "did you mean `base.group.several_patients_only_97150`?" in problem["message"]
    ok = invoke("check", EXAMPLES / "mixed_visit.json", "--payer", "good", "--policies", policies,
                "--payers", payers, "--format", "json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["lines"]


def test_cli_payers_lists_the_good_payers_and_marks_the_broken_one(tmp_path):
    policies, payers = make_payers(tmp_path, {"acme": BROKEN, "good": GOOD})
    result = invoke("payers", "--policies", policies, "--payers", payers, "--format", "json")
    assert result.exit_code == 4, result.output
    rows = json.loads(result.output)["payers"]
    assert [row["id"] for row in rows] == ["base", "acme", "good"]
    base, acme, good = rows
    assert "error" not in base and base["chain"] == ["base"]
    assert "error" not in good and good["chain"] == ["base", "good"] and good["extends"] == "base"
    assert acme["error"] == "policy_error"
    assert [(p["code"], p["file"], p["line"], p["column"]) for p in acme["problems"]] == [
        ("unknown_rule_id", ACME, 5, 9)]


def test_cli_payers_lists_base_once_when_the_payers_folder_has_a_base_yaml(tmp_path):
    # `payers/base.yaml` is never loaded (the base layer is the policies' base/): it is listed once,
    # as an error, not as a second `base` payer
    policies, payers = make_payers(tmp_path, {"base": "id: base\nname: Not the base\nextends: base\n", "good": GOOD})
    result = invoke("payers", "--policies", policies, "--payers", payers, "--format", "json")
    ids = [row["id"] for row in json.loads(result.output)["payers"]]
    assert ids.count("base") == 1, ids
    rows = {row["id"]: row for row in json.loads(result.output)["payers"]}
    assert result.exit_code == 4
    assert rows["base (base.yaml)"]["problems"][0]["code"] == "invalid_payer_id"
    assert "good" in rows and "error" not in rows["good"]


def test_disabling_a_rule_that_others_still_read(tmp_path):
    text = HEAD + ("disable:\n"
                   "  - id: base.services.therapy_line\n"
                   "    reason: not needed\n")
    problems = problems_for(tmp_path, {"acme": text})
    needed = [p for p in problems if p.code == "disabled_rule_needed"]
    assert [where(p) for p in needed] == [("disabled_rule_needed", ACME, 5, 9)]
    assert "`therapy_line/2`" in needed[0].message and "base.services.treatment_line" in needed[0].message


# --- checks added after review ---------------------------------------------------------------------

def test_disabling_a_rule_and_adding_a_new_definition_in_the_same_overlay_is_fine(tmp_path):
    text = HEAD + ("disable:\n"
                   "  - id: base.ncci.usable_modifier\n"
                   "    reason: this plan accepts only XS\n"
                   "add:\n"
                   "  - id: acme.ncci.usable_modifier\n"
                   "    because: \"{M} marks a distinct service for this plan\"\n"
                   "    source: plan.md\n"
                   "    rule: usable_modifier(L, L1) :- ncci_pair(L, L1, _, _, 1), has_modifier(L, M), M == \"XS\".\n")
    policies, payers = make_payers(tmp_path, {"acme": text})
    policy = load_policy_set(policies, "acme", payers)
    assert [d.id for d in policy.disabled] == ["base.ncci.usable_modifier"]


def test_readding_a_disabled_rule_id_is_refused(tmp_path):
    child = ("id: acme\nname: Acme\nextends: parent\n"
             "add:\n" + rule_entry("base.group.suggest_97150", 'suggest(L, "97150") :- line(L).'))
    p = only(problems_for(tmp_path, {"acme": child, "parent": PARENT_DISABLES}))
    assert where(p) == ("disabled_rule_id", ACME, 5, 9)
    assert "was disabled by payer `parent` at payers/parent.yaml:5:9" in p.message


@pytest.mark.parametrize("where_, text, line, col", [
    ("overlay effective", HEAD + "effective: {from: 2025-01-01, until: 2026-01-01}\n", 4, 38),
    ("rule effective", HEAD + "add:\n  - id: acme.a.b\n    because: x\n    source: f.md\n"
                       "    effective: {until: 2026-01-01}\n    rule: a(1).\n", 8, 24),
    ("rule source", HEAD + "add:\n  - id: acme.a.b\n    because: x\n    source: {file: f.md, sectoin: s}\n"
                    "    rule: a(1).\n", 7, 35),
    ("table row", HEAD + "parameters:\n  caps:\n    description: d\n    source: f.md\n"
                  "    table: {a: {value: 1, sorce: f.md}}\n", 8, 34),
])
def test_misspelt_keys_are_reported(tmp_path, where_, text, line, col):
    # located at the misspelt key's value, as other unknown keys are
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("policy_format", ACME, line, col), where_
    assert "unknown key" in p.message


def test_payer_ranges_that_do_not_overlap(tmp_path):
    parent = "id: parent\nname: Parent\nextends: base\neffective: {to: 2027-01-01}\n"
    child = "id: acme\nname: Acme\nextends: parent\neffective: {from: 2027-06-01}\n"
    p = only(problems_for(tmp_path, {"acme": child, "parent": parent}))
    assert where(p) == ("empty_effective_range", ACME, 1, 5)
    assert "from 2027-06-01 until 2027-01-01" in p.message


def test_overriding_a_number_with_a_string_is_refused(tmp_path):
    parent = ("id: parent\nname: Parent\nextends: base\n"
              "parameters:\n  days: {value: 30, description: d, source: f.md}\n"
              "add:\n" + rule_entry("parent.a.late", "deny(L) :- line(L), param(days, D), D > 20."))
    child = "id: acme\nname: Acme\nextends: parent\nparameters:\n  days: {value: \"30\", description: d, source: f.md}\n"
    p = only(problems_for(tmp_path, {"acme": child, "parent": parent}))
    assert where(p) == ("parameter_kind", ACME, 5, 17)
    assert "holds a int in layer `parent`" in p.message and "here it is a str" in p.message


def test_table_keys_of_mixed_types(tmp_path):
    text = HEAD + "parameters:\n  caps:\n    description: d\n    source: f.md\n    table: {2025: 1, \"2026\": 2}\n"
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("invalid_parameter", ACME, 8, 12)
    assert "mix numbers and strings" in p.message


def test_icd10_group_read_from_a_parameter_is_checked(tmp_path):
    text = HEAD + ("parameters:\n  groups:\n    description: d\n    source: f.md\n"
                   "    table: {stroke: I60-I69, typo: M54.9X}\n"
                   "add:\n" + rule_entry("acme.a.neuro", "neuro(Dx) :- diagnosis(Dx, _), param_entry(groups, _, G), "
                                                          "@icd10_within(Dx, G)."))
    p = only(problems_for(tmp_path, {"acme": text}))
    assert where(p) == ("unknown_constant", ACME, 8, 12)
    assert "`M54.9X` is not an ICD-10-CM chapter range, block, category or code" in p.message


def test_one_of_error_names_the_layer_that_declared_it(tmp_path):
    child = ("id: acme\nname: Acme\nextends: medicare\n"
             "parameters:\n  unit_method: {value: per_visit, description: d, source: f.md}\n")
    policies, payers = make_payers(tmp_path, {"acme": child})
    shutil.copy(ROOT / "payers" / "medicare.yaml", payers / "medicare.yaml")
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies, "acme", payers)
    [p] = info.value.problems
    assert "(allowed by layer `base`)" in p.message


def test_policy_version_follows_a_table_rows_citation(tmp_path):
    policies, payers = make_payers(tmp_path, {})
    shutil.copy(ROOT / "payers" / "medicare.yaml", payers / "medicare.yaml")
    before = load_policy_set(policies, "medicare", payers).version
    text = (payers / "medicare.yaml").read_text()
    (payers / "medicare.yaml").write_text(text.replace("CY 2024 [NGS-KX-2024]", "CY 2024 [NORIDIAN-KX]"))
    assert load_policy_set(policies, "medicare", payers).version != before
