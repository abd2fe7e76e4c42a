"""Loading and checking policy directories (engine.loader, engine.checker, engine.policyset).

Each test writes a small policy set into tmp_path (the bundled vocabulary plus its own rule files)
and checks the exact problems reported: code, file, line and column.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from supportable.engine.errors import PolicyError
from supportable.engine.policyset import load_policy_set

ROOT = Path(__file__).resolve().parent.parent
FILE = "policies/base/x.yaml"  # as shown in problems: relative to the policies directory's parent


def make_policies(tmp_path: Path, files: dict[str, str]) -> Path:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "vocabulary", policies / "vocabulary")
    (policies / "base").mkdir(parents=True)
    for name, text in files.items():
        (policies / "base" / name).write_text(text, encoding="utf-8")
    return policies


def problems_for(tmp_path: Path, text: str, **more_files: str):
    policies = make_policies(tmp_path, {"x.yaml": text, **more_files})
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies)
    return info.value.problems


def where(problem):
    loc = problem.location
    return (problem.code, loc.file, loc.line, loc.column)


def one_rule(rule: str, because: str = "x", rid: str = "t.a") -> str:
    # line 2: id (value at column 9); line 5: rule (text at column 11)
    return (f"rules:\n"
            f"  - id: {rid}\n"
            f"    because: \"{because}\"\n"
            f"    source: {{file: f.md, section: s}}\n"
            f"    rule: {rule}\n")


def only(problems):
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- A valid policy set loads -------------------------------------------------------------------

VALID = """\
description: a small valid policy set
rules:
  - id: t.units.method
    because: "units are counted per code"
    source: {file: notes.md, section: "1.2"}
    rule: unit_method(cpt_per_code).

  - id: t.units.timed
    kind: units
    because: "{Code}: {Minutes} minute(s) support {Units} unit(s)"
    source: {file: notes.md, section: "1.2"}
    effective: {from: 2024-01-01, to: 2026-01-01}
    rule: |
      supportable_units(L, Units) :-
          line_code(L, Code), timed_code(Code), line_minutes(L, Minutes),
          @timed_units(Minutes, Units).

  - id: t.docs.time
    kind: documentation
    because: "{Code} is timed and the note does not record the minutes"
    source: notes.md
    rule: >
      deny(L) :- line_code(L, Code), timed_code(Code),
                 not documented(L, time_recorded).

  - id: t.choice.several
    kind: coding
    because: "{N} movement parameters call for 97530"
    source: {file: notes.md, section: "2.2"}
    rule: |
      suggest(L, "97530") :- line_code(L, "97110"),
          N = count : { intended_outcome(L, O), O != strength }, N >= 2,
          T = sum M : { line_minutes(L, M) }, U = T - 1, U > 0.
"""


def test_valid_small_policy_set_loads(tmp_path):
    ps = load_policy_set(make_policies(tmp_path, {"x.yaml": VALID}))
    assert [r.id for r in ps.rules] == ["t.units.method", "t.units.timed", "t.docs.time", "t.choice.several"]
    assert ps.warnings == []
    by_id = {r.id: r for r in ps.rules}
    timed = by_id["t.units.timed"]
    assert timed.layer == "base"
    assert timed.kind == "units"
    assert (timed.source, timed.section) == ("notes.md", "1.2")
    assert (timed.effective_from, timed.effective_to) == ("2024-01-01", "2026-01-01")
    assert (timed.location.file, timed.location.line, timed.location.column) == (FILE, 8, 9)
    assert timed.head_key == "supportable_units/2"
    # the clause of a `|` block scalar is located in the file
    assert timed.clause.head.loc.line == 14 and timed.clause.head.loc.column == 7
    assert timed.clause.body[3].loc.line == 16 and timed.clause.body[3].loc.column == 11
    docs = by_id["t.docs.time"]
    assert (docs.source, docs.section) == ("notes.md", "")
    # a negation is located at its atom, after `not `
    assert docs.clause.body[2].loc.line == 24 and docs.clause.body[2].loc.column == 22
    assert ps.version.startswith("sha256:")


def test_bundled_policies_load_cleanly():
    ps = load_policy_set(ROOT / "policies")
    assert ps.warnings == []
    assert len(ps.rules) > 10
    ids = [r.id for r in ps.rules]
    assert len(ids) == len(set(ids))
    assert all(r.because and r.source for r in ps.rules)
    assert {"deny/1", "supportable_units/2", "unit_method/1"} <= {r.head_key for r in ps.rules}


def test_a_policy_directory_without_rule_files(tmp_path):
    policies = make_policies(tmp_path, {})
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies)
    p = only(info.value.problems)
    assert p.code == "no_rules"
    assert p.location is None


# --- YAML and rule syntax -----------------------------------------------------------------------

def test_yaml_syntax_error(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: x: y\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("yaml_syntax_error", FILE, 3, 15)
    assert p.message.startswith("invalid YAML: ")


def test_yaml_syntax_error_unclosed_flow_mapping(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s\n"
            "    rule: p(L) :- line(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("yaml_syntax_error", FILE, 5, 9)


def test_yaml_error_in_one_file_and_rule_error_in_another_are_both_reported(tmp_path):
    problems = problems_for(tmp_path, "rules:\n  - id: t.a\n    because: x: y\n",
                            **{"y.yaml": one_rule("p(L) :- line(L) & q(L).", rid="t.b")})
    assert sorted(where(p) for p in problems) == [
        ("syntax_error", "policies/base/y.yaml", 5, 27),
        ("yaml_syntax_error", FILE, 3, 15),
    ]


def test_syntax_error_in_block_scalar(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: |\n"
            "      p(X) :-\n"
            "          line(X),\n"
            "          q(X) & r.\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("syntax_error", FILE, 8, 16)
    assert p.message == "unexpected character `&`"


def test_syntax_error_missing_dot_in_block_scalar(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: |-\n"
            "      p(X) :-\n"
            "          line(X)\n"
            "\n"
            "  - id: t.b\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: p(X) :- line(X).\n")
    p = only(problems_for(tmp_path, text))
    # just past the end of `line(X)` on line 7
    assert where(p) == ("syntax_error", FILE, 7, 18)
    assert "ends too early" in p.message


def test_syntax_error_bad_token_in_block_scalar(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: |\n"
            "      deny(L) :- line(L)\n"
            "                 line_code(L, C).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("syntax_error", FILE, 7, 18)
    assert p.message.startswith("unexpected `line_code`")


def test_syntax_error_in_folded_scalar(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: >\n"
            "      p(X) :- line(X),\n"
            "        q(X) & r.\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("syntax_error", FILE, 7, 14)


def test_syntax_error_in_plain_scalar(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line(X), q(X) & r.")))
    assert where(p) == ("syntax_error", FILE, 5, 33)


def test_syntax_error_in_plain_multi_line_scalar(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: p(X) :-\n"
            "       line(X) & r.\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("syntax_error", FILE, 6, 16)


def test_syntax_error_in_double_quoted_scalar(tmp_path):
    p = only(problems_for(tmp_path, one_rule('"p(X) :- line(X) & r."')))
    # the text starts one column after the quote (column 12)
    assert where(p) == ("syntax_error", FILE, 5, 28)


def test_unknown_predicate(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- nope(X).")))
    assert where(p) == ("unknown_predicate", FILE, 5, 19)
    assert "`nope/1`" in p.message


def test_unknown_predicate_inside_negation_and_aggregate(tmp_path):
    # an aggregate's ` : ` would end a plain YAML scalar, so aggregates go in block scalars
    p = only(problems_for(tmp_path, one_rule("|\n      p(X, N) :- line(X), N = count : { nope(X, Y) }.")))
    assert where(p) == ("unknown_predicate", FILE, 6, 41)
    p = only(problems_for(tmp_path / "2", one_rule("p(X) :- line(X), not nope(X).")))
    assert where(p) == ("unknown_predicate", FILE, 5, 32)


def test_wrong_arity_input_predicate(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line(X, Y).")))
    assert where(p) == ("wrong_arity", FILE, 5, 19)
    assert p.message.startswith("`line` takes 1 argument(s)")


def test_wrong_arity_catalog_predicate(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line_code(X, C), timed_code(C, X).")))
    assert where(p) == ("wrong_arity", FILE, 5, 36)


def test_wrong_arity_derived_predicate_in_body(tmp_path):
    text = one_rule("helper(L) :- line(L).") + \
        ("  - id: t.b\n"
         "    because: \"x\"\n"
         "    source: {file: f.md, section: s}\n"
         "    rule: deny(L) :- line(L), helper(L, 2).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("wrong_arity", FILE, 9, 31)
    assert p.message.startswith("`helper` is defined with 1 argument(s)")


def test_wrong_arity_derived_predicate_defined_twice(tmp_path):
    text = one_rule("helper(L) :- line(L).") + \
        ("  - id: t.b\n"
         "    because: \"x\"\n"
         "    source: {file: f.md, section: s}\n"
         "    rule: helper(L, C) :- line_code(L, C).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("wrong_arity", FILE, 9, 11)


def test_wrong_arity_decision_predicate(tmp_path):
    p = only(problems_for(tmp_path, one_rule("deny(X, Y) :- line(X), line(Y).")))
    assert where(p) == ("wrong_arity", FILE, 5, 11)
    assert p.message == "`deny` takes 1 argument(s), not 2"


def test_wrong_arity_builtin(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line(X), @timed_units(X).")))
    assert where(p) == ("wrong_arity", FILE, 5, 28)
    assert p.message.startswith("`@timed_units` takes 2 argument(s)")


def test_unknown_builtin(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line(X), @nope(X, Y).")))
    assert where(p) == ("unknown_builtin", FILE, 5, 28)
    assert p.message.startswith("unknown builtin `@nope`")


def test_defines_input_predicate(tmp_path):
    p = only(problems_for(tmp_path, one_rule('line_code(L, "97110") :- line(L).')))
    assert where(p) == ("defines_input_predicate", FILE, 5, 11)
    assert "`line_code`" in p.message


def test_defines_catalog_predicate(tmp_path):
    p = only(problems_for(tmp_path, one_rule('timed_code("97161").')))
    assert where(p) == ("defines_input_predicate", FILE, 5, 11)


# --- Safety -------------------------------------------------------------------------------------

def test_unsafe_head_variable(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X, Y) :- line(X).")))
    assert where(p) == ("unsafe_variable", FILE, 5, 11)
    assert "`Y`" in p.message


def test_unsafe_variable_only_in_negation(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line(X), not line_code(X, Y).")))
    assert where(p) == ("unsafe_variable", FILE, 5, 32)
    assert "`Y`" in p.message


def test_unsafe_variable_only_in_comparison(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line_minutes(X, M), M < Limit.")))
    assert where(p) == ("unsafe_variable", FILE, 5, 39)
    assert "`Limit`" in p.message


def test_unsafe_variable_in_builtin_input(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X, U) :- line(X), @timed_units(M, U).")))
    assert where(p) == ("unsafe_variable", FILE, 5, 31)
    assert "`M`" in p.message


def test_anonymous_variable_in_negation_is_safe(tmp_path):
    ps = load_policy_set(make_policies(tmp_path, {"x.yaml": one_rule("p(X) :- line(X), not has_modifier(X, _).")}))
    assert [r.id for r in ps.rules] == ["t.a"]


# --- Stratification -----------------------------------------------------------------------------

def test_negation_cycle(tmp_path):
    text = ("rules:\n"
            "  - id: t.p\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: p(L) :- line(L), not q(L).\n"
            "  - id: t.q\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: q(L) :- p(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("negation_cycle", FILE, 2, 9)
    assert "`p`" in p.message and "`q`" in p.message


def test_negation_of_itself_is_a_cycle(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(L) :- line(L), not p(L).")))
    assert where(p) == ("negation_cycle", FILE, 2, 9)


def test_aggregate_cycle(tmp_path):
    text = one_rule("|\n      p(L, N) :- line(L), N = count : { q(L, X) }.", rid="t.p") + \
        ("  - id: t.q\n"
         "    because: \"x\"\n"
         "    source: {file: f.md, section: s}\n"
         "    rule: q(L, N) :- p(L, N).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("negation_cycle", FILE, 2, 9)


def test_positive_recursion_is_allowed(tmp_path):
    text = one_rule("reach(L) :- line(L).", rid="t.a") + \
        ("  - id: t.b\n"
         "    because: \"x\"\n"
         "    source: {file: f.md, section: s}\n"
         "    rule: reach(L) :- reach(L), line_code(L, _).\n")
    ps = load_policy_set(make_policies(tmp_path, {"x.yaml": text}))
    assert len(ps.rules) == 2


# --- Rule metadata ------------------------------------------------------------------------------

def test_duplicate_rule_id(tmp_path):
    text = ("rules:\n"
            "  - id: t.p\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: p(L) :- line(L).\n"
            "  - id: t.p\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: p(L) :- line_code(L, _).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("duplicate_rule_id", FILE, 6, 9)
    assert f"{FILE}:2:9" in p.message


def test_duplicate_rule_id_across_files(tmp_path):
    problems = problems_for(tmp_path, one_rule("p(L) :- line(L).", rid="t.same"),
                            **{"y.yaml": one_rule("q(L) :- line(L).", rid="t.same")})
    p = only(problems)
    assert where(p) == ("duplicate_rule_id", "policies/base/y.yaml", 2, 9)
    assert f"{FILE}:2:9" in p.message


def test_unknown_constant(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(L) :- intended_outcome(L, strenght).")))
    assert where(p) == ("unknown_constant", FILE, 5, 19)
    assert p.message == "`strenght` is not a known outcome"


def test_unknown_code_constant_in_negation(tmp_path):
    p = only(problems_for(tmp_path, one_rule('p(L) :- line(L), not line_code(L, "99999").')))
    assert where(p) == ("unknown_constant", FILE, 5, 32)
    assert "`99999`" in p.message


def test_unknown_template_variable(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(X) :- line(X).", because="{X} and {Nope}")))
    # located at the rule (its `id`), the message names the template variable
    assert where(p) == ("unknown_template_variable", FILE, 2, 9)
    assert "`{Nope}`" in p.message
    assert "{X}" not in p.message.replace("`{Nope}`", "")


def test_missing_source(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    rule: p(L) :- line(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("missing_source", FILE, 2, 5)


def test_source_without_file(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {section: s}\n"
            "    rule: p(L) :- line(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("missing_source", FILE, 4, 13)


def test_missing_because(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    source: {file: f.md, section: s}\n"
            "    rule: p(L) :- line(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("missing_because", FILE, 2, 5)


def test_empty_because(tmp_path):
    p = only(problems_for(tmp_path, one_rule("p(L) :- line(L).", because="")))
    assert where(p) == ("missing_because", FILE, 2, 5)


@pytest.mark.parametrize("dates", ["{from: 2025-01-01, to: 2024-01-01}", "{from: 2025-01-01, to: 2025-01-01}"])
def test_invalid_effective_range(tmp_path, dates):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            f"    effective: {dates}\n"
            "    rule: p(L) :- line(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("invalid_effective_range", FILE, 5, 16)


def test_effective_date_that_is_not_a_date(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    effective: {from: 2025-01-01, to: soon}\n"
            "    rule: p(L) :- line(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("invalid_date", FILE, 5, 39)
    assert "`soon`" in p.message


def test_effective_date_that_does_not_exist(tmp_path):
    # YAML reads 2025-02-30 as a timestamp; building it fails, which must be a located problem
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    effective: {from: 2025-02-30}\n"
            "    rule: p(L) :- line(L).\n")
    p = only(problems_for(tmp_path, text))
    assert where(p) == ("invalid_date", FILE, 5, 23)


@pytest.mark.parametrize("rid", ["T-Bad", "nodots", "t.", "t..a", "1t.a", "t.a-b"])
def test_invalid_rule_id(tmp_path, rid):
    p = only(problems_for(tmp_path, one_rule("p(L) :- line(L).", rid=rid)))
    assert where(p) == ("invalid_rule_id", FILE, 2, 9)
    assert f"`{rid}`" in p.message


def test_invalid_kind_and_unknown_rule_key(tmp_path):
    text = ("rules:\n"
            "  - id: t.a\n"
            "    because: \"x\"\n"
            "    source: {file: f.md, section: s}\n"
            "    kind: nope\n"
            "    colour: red\n"
            "    rule: p(L) :- line(L).\n")
    problems = problems_for(tmp_path, text)
    assert sorted(where(p) for p in problems) == [
        ("invalid_kind", FILE, 5, 11),
        ("policy_format", FILE, 6, 13),
    ]


# --- Several problems at once -------------------------------------------------------------------

LOAD_STAGE_PROBLEMS = """\
rules:
  - id: T-Bad
    because: "x"
    source: {file: f.md, section: s}
    rule: p(L) :- line(L).
  - id: t.nob
    source: {file: f.md, section: s}
    rule: p(L) :- line(L).
  - id: t.nos
    because: "x"
    rule: p(L) :- line(L).
  - id: t.eff
    because: "x"
    source: {file: f.md}
    effective: {from: 2025-01-01, to: 2024-01-01}
    rule: p(L) :- line(L).
  - id: t.syn
    because: "x"
    source: {file: f.md}
    rule: p(L) :- line(L) & q.
"""


def test_several_load_problems_in_one_file_are_all_reported(tmp_path):
    problems = problems_for(tmp_path, LOAD_STAGE_PROBLEMS)
    assert len(problems) == 5
    assert sorted(where(p) for p in problems) == sorted([
        ("invalid_rule_id", FILE, 2, 9),
        ("missing_because", FILE, 6, 5),
        ("missing_source", FILE, 9, 5),
        ("invalid_effective_range", FILE, 15, 16),
        ("syntax_error", FILE, 20, 27),
    ])


CHECK_STAGE_PROBLEMS = """\
rules:
  - id: t.a
    because: "{Nope}"
    source: {file: f.md, section: s}
    rule: p(X) :- nope(X).
  - id: t.b
    because: "x"
    source: {file: f.md, section: s}
    rule: deny(L, C) :- line_code(L, C).
  - id: t.c
    because: "x"
    source: {file: f.md, section: s}
    rule: q(X, Y) :- line(X), intended_outcome(X, strenght), @nope(X).
  - id: t.c
    because: "x"
    source: {file: f.md, section: s}
    rule: line(X) :- line_code(X, _).
"""


def test_several_check_problems_in_one_file_are_all_reported(tmp_path):
    problems = problems_for(tmp_path, CHECK_STAGE_PROBLEMS)
    assert len(problems) == 8
    assert sorted(where(p) for p in problems) == sorted([
        ("unknown_predicate", FILE, 5, 19),
        ("unknown_template_variable", FILE, 2, 9),
        ("wrong_arity", FILE, 9, 11),
        ("unknown_constant", FILE, 13, 31),
        ("unknown_builtin", FILE, 13, 62),
        ("unsafe_variable", FILE, 13, 11),
        ("duplicate_rule_id", FILE, 14, 9),
        ("defines_input_predicate", FILE, 17, 11),
    ])


def test_problems_are_listed_in_file_order(tmp_path):
    problems = problems_for(tmp_path, LOAD_STAGE_PROBLEMS)
    lines = [p.location.line for p in problems]
    # line 20 comes after line 9, not before it (numbers, not strings)
    assert lines == [2, 6, 9, 15, 20]


def test_policy_error_message_lists_every_problem(tmp_path):
    policies = make_policies(tmp_path, {"x.yaml": LOAD_STAGE_PROBLEMS})
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies)
    text = str(info.value)
    assert len(text.splitlines()) == 5
    assert f"{FILE}:20:27: error: unexpected character `&` [syntax_error]" in text.splitlines()
