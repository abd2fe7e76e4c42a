"""Rule text -> abstract syntax (engine.parser, engine/rules.lark, engine.syntax)."""
from __future__ import annotations

from pathlib import Path

import pytest

from supportable.engine.errors import Location
from supportable.engine.parser import ParseFailure, TextOrigin, parse_clause
from supportable.engine.syntax import (Aggregate, Arith, Atom, Call, Clause, Compare, Const, Negative, Positive,
                           Var)
from supportable.engine.yamlsource import load_yaml

ROOT = Path(__file__).resolve().parent.parent
FILE = "policies/base/x.yaml"


def parse(text: str, line: int = 1, column: int = 1) -> Clause:
    return parse_clause(text, TextOrigin(FILE, line, column))


def syntax_error(text: str, line: int = 1, column: int = 1):
    with pytest.raises(ParseFailure) as info:
        parse(text, line, column)
    problem = info.value.problem
    assert problem.code == "syntax_error"
    assert problem.level == "error"
    assert problem.location.file == FILE
    return problem


def loc(line: int, column: int) -> Location:
    return Location(FILE, line, column)


# --- TextOrigin -----------------------------------------------------------------------------------

def test_text_origin_first_line_is_offset_by_start_column():
    origin = TextOrigin("a.yaml", 7, 11)
    assert origin.at(1, 1) == Location("a.yaml", 7, 11)
    assert origin.at(1, 5) == Location("a.yaml", 7, 15)


def test_text_origin_later_lines_keep_their_own_column():
    origin = TextOrigin("a.yaml", 7, 11)
    assert origin.at(2, 1) == Location("a.yaml", 8, 1)
    assert origin.at(4, 9) == Location("a.yaml", 10, 9)


# --- Facts and atoms ------------------------------------------------------------------------------

def test_fact_with_string_and_symbol_constants():
    clause = parse('code_kind("97110", procedure).')
    assert clause == Clause(Atom("code_kind", (Const("97110"), Const("procedure"))), ())
    assert clause.body == ()
    assert clause.head.key == "code_kind/2"
    assert clause.head.loc == loc(1, 1)


def test_fact_location_comes_from_text_origin():
    clause = parse("unit_method(cpt_per_code).", line=9, column=11)
    assert clause.head.loc == loc(9, 11)


def test_number_constants_are_ints_including_negative():
    clause = parse("limit(8, -3, 0).")
    assert clause.head.args == (Const(8), Const(-3), Const(0))
    assert all(isinstance(a.value, int) for a in clause.head.args)


def test_string_constant_with_escaped_quote_and_spaces():
    clause = parse(r'label("say \"hi\" now").')
    assert clause.head.args == (Const('say "hi" now'),)


def test_string_constant_with_escaped_backslash():
    clause = parse(r'label("a\\b").')
    assert clause.head.args == (Const("a\\b"),)


def test_quoted_and_bare_symbol_are_the_same_constant():
    assert parse('p("strength").') == parse("p(strength).")


def test_zero_argument_atom():
    clause = parse("flag() :- line(L).")
    assert clause.head == Atom("flag", ())
    assert clause.head.key == "flag/0"


def test_variables_and_anonymous_variables():
    clause = parse("p(L) :- line_code(L, _), q(L, _Code).")
    assert clause.head.args == (Var("L"),)
    underscore = clause.body[0].atom.args[1]
    named_anon = clause.body[1].atom.args[1]
    assert underscore == Var("_") and underscore.anonymous
    assert named_anon == Var("_Code") and named_anon.anonymous
    assert not Var("L").anonymous
    assert clause.body[1].atom.vars() == {"L"}


def test_keyword_prefixed_names_are_plain_names():
    clause = parse("min_units(X) :- notable(X), count_lines(X, N), not maxed(X), summary(N).")
    assert clause.head.pred == "min_units"
    assert [lit.atom.pred for lit in clause.body] == ["notable", "count_lines", "maxed", "summary"]
    assert isinstance(clause.body[2], Negative)


# --- Rules: negation, comparison, unification, arithmetic, builtins, aggregates --------------------

def test_rule_with_positive_and_negative_literals():
    clause = parse("deny(L) :- line_code(L, Code), timed_code(Code), not documented(L, time_recorded).")
    assert clause.head == Atom("deny", (Var("L"),))
    assert clause.body == (
        Positive(Atom("line_code", (Var("L"), Var("Code")))),
        Positive(Atom("timed_code", (Var("Code"),))),
        Negative(Atom("documented", (Var("L"), Const("time_recorded")))),
    )
    # columns: `deny(L) :- ` is 11 characters, `not ` 4
    assert clause.body[0].loc == loc(1, 12)
    assert clause.body[1].loc == loc(1, 32)
    assert clause.body[2].loc == loc(1, 54)  # a negation is located at its atom, after `not `


@pytest.mark.parametrize("op", ["==", "!=", "<=", ">=", "<", ">"])
def test_comparisons(op):
    clause = parse(f"p(L) :- line_minutes(L, M), M {op} 8.")
    assert clause.body[1] == Compare(Var("M"), op, Const(8))
    assert clause.body[1].loc == loc(1, 29)


def test_comparison_between_string_and_variable():
    clause = parse('p(L) :- line_code(L, C), C != "97110".')
    assert clause.body[1] == Compare(Var("C"), "!=", Const("97110"))


def test_unification_with_constant_on_the_left_is_equality():
    clause = parse('p(L) :- line_code(L, C), "97110" = C.')
    assert clause.body[1] == Compare(Const("97110"), "==", Var("C"))
    assert clause.body[1].loc == loc(1, 26)


@pytest.mark.parametrize("text, literal", [
    ("p(X) :- q(X, Y), X = Y.", Compare(Var("X"), "==", Var("Y"))),
    ('p(L) :- line_code(L, C), C = "97110".', Compare(Var("C"), "==", Const("97110"))),
    ("p(L) :- line_minutes(L, M), M = 8.", Compare(Var("M"), "==", Const(8))),
    ("p(X) :- q(X), X = maxed.", Compare(Var("X"), "==", Const("maxed"))),
])
def test_unification_with_variable_on_the_left(text, literal):
    # `X = Y` is documented (engine/syntax.py, Compare) as parsed to `==`.
    clause = parse(text)
    assert clause.body[-1] == literal


@pytest.mark.parametrize("op", ["+", "-", "*", "//"])
def test_arithmetic(op):
    clause = parse(f"p(L, U) :- billed_units(L, B), q(L, S), U = B {op} S.")
    assert clause.body[2] == Arith(Var("U"), Var("B"), op, Var("S"))
    assert clause.body[2].loc == loc(1, 41)


def test_arithmetic_with_number_operands():
    clause = parse("p(U) :- q(B), U = B - 1, V = 2 * B.")
    assert clause.body[1] == Arith(Var("U"), Var("B"), "-", Const(1))
    assert clause.body[2] == Arith(Var("V"), Const(2), "*", Var("B"))


def test_builtin_call():
    clause = parse("supportable_units(L, U) :- line_minutes(L, M), @timed_units(M, U).")
    call = clause.body[1]
    assert call == Call("timed_units", (Var("M"), Var("U")))
    assert call.loc == loc(1, 48)
    assert str(call) == "@timed_units(M, U)"


def test_builtin_call_with_constants():
    clause = parse('p(D) :- @days_between("2025-01-01", "2025-03-01", D).')
    assert clause.body[0] == Call("days_between", (Const("2025-01-01"), Const("2025-03-01"), Var("D")))


def test_count_aggregate():
    clause = parse("p(L, N) :- line(L), N = count : { intended_outcome(L, X) }.")
    agg = clause.body[1]
    assert agg == Aggregate(Var("N"), "count", None,
                            (Positive(Atom("intended_outcome", (Var("L"), Var("X")))),))
    assert agg.loc == loc(1, 21)
    assert agg.body[0].loc == loc(1, 35)
    assert agg.inner_vars() == {"L", "X"}


def test_sum_aggregate_with_target():
    clause = parse("total(L, T) :- line(L), T = sum M : { line_minutes(L, M) }.")
    agg = clause.body[1]
    assert agg == Aggregate(Var("T"), "sum", Var("M"), (Positive(Atom("line_minutes", (Var("L"), Var("M")))),))
    assert agg.loc == loc(1, 25)


@pytest.mark.parametrize("func", ["min", "max"])
def test_min_max_aggregates(func):
    clause = parse(f"p(T) :- T = {func} M : {{ line_minutes(_, M) }}.")
    assert clause.body[0].func == func
    assert clause.body[0].target == Var("M")


def test_aggregate_with_several_literals_and_negation():
    clause = parse("p(L, N) :- line(L), N = count : { intended_outcome(L, P), movement_parameter(P), "
                   "not excluded(P) }, N >= 2.")
    agg = clause.body[1]
    assert [type(lit) for lit in agg.body] == [Positive, Positive, Negative]
    assert clause.body[2] == Compare(Var("N"), ">=", Const(2))


# --- Comments, whitespace and multi-line text -----------------------------------------------------

def test_percent_comments_are_ignored():
    text = ("% leading comment: p(X) :- nothing.\n"
            "p(L) :- % the line\n"
            "    line(L). % trailing, with a . and :- inside\n")
    assert parse(text) == Clause(Atom("p", (Var("L"),)), (Positive(Atom("line", (Var("L"),))),))


def test_comment_only_lines_between_literals_keep_locations():
    text = "p(L) :-\n    % why\n    line(L),\n    not q(L)."
    clause = parse(text, line=20, column=7)
    assert clause.head.loc == loc(20, 7)
    assert clause.body[0].loc == loc(22, 5)
    assert clause.body[1].loc == loc(23, 9)


def test_multi_line_rule_locations_map_through_origin():
    text = ("deny(L) :-\n"
            "    line_code(L, Code), timed_code(Code),\n"
            "    line_minutes(L, Minutes), Minutes < 8.")
    clause = parse(text, line=30, column=11)
    assert clause.head.loc == loc(30, 11)
    assert clause.body[0].loc == loc(31, 5)
    assert clause.body[1].loc == loc(31, 25)
    assert clause.body[2].loc == loc(32, 5)
    assert clause.body[3].loc == loc(32, 31)


def test_whitespace_is_insignificant():
    assert parse("p(X):-q(X),X>=8,not r(X).") == parse("p( X ) :-\n\n  q( X ) ,\tX >= 8 , not r( X ) .")


def test_equality_ignores_locations():
    assert parse("p(L) :- line(L).", line=1, column=1) == parse("p(L) :- line(L).", line=50, column=3)


# --- Round trip ---------------------------------------------------------------------------------

ROUND_TRIP = [
    'code_kind("97110", procedure).',
    "limit(8, -3).",
    "flag() :- line(L).",
    "deny(L) :- line_code(L, Code), timed_code(Code), not documented(L, time_recorded).",
    "p(L) :- line_code(L, _), q(L, _Code).",
    "p(L) :- line_minutes(L, M), M >= 8, M < 100, M != 15, M <= 99, M > 0, M == 10.",
    'p(L) :- line_code(L, C), "97110" = C.',
    "p(L, U) :- billed_units(L, B), q(L, S), U = B - S, V = U * 2, W = V // 3, Z = W + 1.",
    "supportable_units(L, U) :- line_minutes(L, M), @timed_units(M, U).",
    "p(L, N) :- line(L), N = count : { intended_outcome(L, X), not bad(X) }, N >= 2.",
    "total(L, T) :- line(L), T = sum M : { line_minutes(L, M) }.",
    "p(T) :- T = max M : { line_minutes(_, M) }.",
    r'label("say \"hi\" now", "x y", "Upper", "_under", "97110").',
    "p(not, count, sum).",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_str_round_trips(text):
    clause = parse(text)
    assert parse(str(clause)) == clause


@pytest.mark.parametrize("value", ["café", "a\\", "back\\slash", "tab\there"])
def test_str_round_trips_unusual_strings(value):
    clause = Clause(Atom("label", (Const(value),)), ())
    assert parse(str(clause)) == clause


def test_str_round_trips_unification_with_variable_on_the_left():
    clause = parse("p(X) :- q(X, Y), X = Y.")
    assert parse(str(clause)) == clause


def _bundled_rule_texts():
    out = []
    for path in sorted((ROOT / "policies" / "base").glob("*.yaml")):
        doc, problems = load_yaml(path)
        assert problems == []
        for item in doc.get("rules").children():
            text, start = item.get("rule").source_span()
            out.append(pytest.param(text, start, id=item.get("id").scalar_text()))
    return out


@pytest.mark.parametrize("text, start", _bundled_rule_texts())
def test_bundled_rules_round_trip(text, start):
    clause = parse_clause(text, TextOrigin(start.file, start.line, start.column))
    again = parse(str(clause))
    assert again == clause
    assert str(again) == str(clause)


# --- Syntax errors --------------------------------------------------------------------------------

def test_missing_final_dot():
    problem = syntax_error("p(X) :- q(X)", line=10, column=12)
    # the text is 12 characters long; the error points just past its end
    assert problem.location == loc(10, 24)
    assert "ends too early" in problem.message


def test_missing_final_dot_on_a_later_line():
    problem = syntax_error("p(X) :-\n  q(X),\n  r(X)\n", line=10, column=12)
    assert problem.location == loc(12, 7)
    assert "ends too early" in problem.message


def test_empty_text_is_a_syntax_error_at_the_origin():
    problem = syntax_error("", line=4, column=11)
    assert problem.location == loc(4, 11)


def test_stray_character():
    problem = syntax_error("p(X) :- q(X) # r(X).", line=10, column=12)
    assert problem.location == loc(10, 25)
    assert problem.message == "unexpected character `#`"


def test_stray_character_on_line_three():
    problem = syntax_error("p(X) :-\n  q(X),\n  r(X) & s(X).", line=10, column=12)
    assert problem.location == loc(12, 8)
    assert problem.message == "unexpected character `&`"


def test_unterminated_string():
    problem = syntax_error('p("abc).', line=3, column=5)
    assert problem.location == loc(3, 7)
    assert problem.message == "unexpected character `\"`"


def test_bad_token_after_comma():
    problem = syntax_error("p(X) :- q(X), .", line=10, column=12)
    assert problem.location == loc(10, 26)
    assert problem.message.startswith("unexpected `.`; expected ")
    assert "a variable" in problem.message and "a name" in problem.message


def test_bad_token_expected_list_names_builtin_marker():
    problem = syntax_error("p(X) :- q(X), .")
    # a literal may start with `@` (a builtin call); the hint should show the character the user types
    assert "`@`" in problem.message
    assert "`at`" not in problem.message


def test_bad_token_on_line_two():
    problem = syntax_error("p(X) :- q(X)\n  r(X).", line=10, column=12)
    assert problem.location == loc(11, 3)
    assert problem.message.startswith("unexpected `r`")


def test_capitalised_predicate_name():
    problem = syntax_error("P(x).", line=2, column=9)
    assert problem.location == loc(2, 9)
    assert problem.message.startswith("unexpected `P`")


def test_two_clauses_in_one_rule():
    problem = syntax_error("p(X) :- line(X). q(X) :- p(X).", line=5, column=11)
    assert problem.location == loc(5, 28)
    assert problem.message.startswith("unexpected `q`")


def test_aggregate_without_braces():
    problem = syntax_error("p(N) :- N = count q(X).", line=1, column=1)
    assert problem.location == loc(1, 19)
    assert problem.message.startswith("unexpected `q`")


def test_parse_failure_str_names_location_and_code():
    with pytest.raises(ParseFailure) as info:
        parse("p(X) :- q(X)", line=10, column=12)
    assert str(info.value).startswith(f"{FILE}:10:24: error: ")
    assert str(info.value).endswith("[syntax_error]")
