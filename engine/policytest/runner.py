"""Running policy tests: each case's encounter decided under its payer and every expected line
compared with the decision; the files to run found from the paths given (or the default folders)."""
from __future__ import annotations

from pathlib import Path

from ..decision import decide
from ..errors import Location, Problem
from ..engine_names import check_engine
from ..loader import shown_path
from ..policyset import PolicySet, default_payers_dir
from .cache import Policies, PolicyCache
from .coverage import Coverage
from .exercised import exercised_rules
from .expectations import fix_text, remittance_text
from .file_reader import FileReader
from .model import ERROR, FAILED, PASSED, Case, CaseResult, LineExpectation, LineResult, Mismatch, PolicyTestRun, RunError


def actual_line(line) -> dict:
    return {"verdict": line.verdict, "units": line.supportable_units, "billed_units": line.billed_units,
            "reasons": [r.rule.id for r in line.reasons], "missing_documentation": list(line.missing_documentation),
            "suggested_codes": [c for c, _ in line.suggestions], "overbilled": line.overbilled,
            "fixes": [fix_text(f.action, f.value if isinstance(f.value, list) else [f.value]) for f in line.fixes],
            "advice": [a.rule.id for a in line.advice]}


def compare_line(exp: LineExpectation, line) -> LineResult:
    actual = actual_line(line)
    if "remittance" in exp.fields:      # shown only where a case asks: other cases' results stay as they were
        actual["remittance"] = sorted({remittance_text(r.carc, r.rarc) for r in line.reasons if r.carc})
    fired = actual["reasons"]
    result = LineResult(exp.line, line.code, dict(exp.fields), actual, fired)
    add = result.mismatches.append
    for key, want in exp.fields.items():
        if key == "verdict" and want != actual["verdict"]:
            add(Mismatch(key, want, actual["verdict"], f"expected {want}, got {actual['verdict']}"))
        elif key == "units" and want != actual["units"]:
            add(Mismatch(key, want, actual["units"], f"expected {want} supportable unit(s), got {actual['units']} "
                         f"(of {actual['billed_units']} billed)"))
        elif key == "reasons":
            missing = [r for r in want if r not in fired]
            if missing:
                add(Mismatch(key, want, fired, f"expected {', '.join(missing)} to fire; "
                             f"{'fired: ' + ', '.join(fired) if fired else 'no rule fired'}"))
        elif key == "not_reasons":
            present = [r for r in want if r in fired]
            if present:
                add(Mismatch(key, want, fired, f"expected {', '.join(present)} not to fire; it did"))
        elif key == "advice":
            missing = [r for r in want if r not in actual["advice"]]
            if missing:
                add(Mismatch(key, want, actual["advice"], f"expected advice from {', '.join(missing)}; "
                             f"{'given: ' + ', '.join(actual['advice']) if actual['advice'] else 'none given'}"))
        elif key == "not_advice":
            present = [r for r in want if r in actual["advice"]]
            if present:
                add(Mismatch(key, want, actual["advice"], f"expected no advice from {', '.join(present)}; it gave some"))
        elif key in ("missing_documentation", "suggested_codes", "fixes", "remittance"):
            got = actual[key]
            if sorted(set(want)) != sorted(set(got)):
                add(Mismatch(key, want, got, f"expected [{', '.join(want)}], got [{', '.join(got)}]"))
        elif key == "overbilled" and want != actual["overbilled"]:
            add(Mismatch(key, want, actual["overbilled"], f"expected overbilled {str(want).lower()}, got "
                         f"{str(actual['overbilled']).lower()}"))
    return result


def run_case(case: Case, policy: PolicySet, coverage: "Coverage | None" = None) -> CaseResult:
    try:
        model, explainer = policy.explaining(case.encounter)      # by the policy set's engine
        decision = decide(case.encounter, model, explainer, policy.payer, policy.version, "full", policy.remittance)
        lines = {line.line: line for line in decision.lines}
        results = [compare_line(exp, lines[exp.line]) for exp in case.expect]
        if coverage is not None:
            coverage.record(policy, exercised_rules(decision, explainer))
    except Exception as exc:  # an engine fault: a located error, never a traceback
        return CaseResult(case, ERROR, problems=[Problem("internal_error", f"the engine failed while deciding this "
                                                         f"case ({type(exc).__name__}: {exc})", case.location)])
    return CaseResult(case, FAILED if any(r.mismatches for r in results) else PASSED, results)


def default_test_paths(policies_dir: Path, payers_dir: Path | None = None) -> list[Path]:
    payers_dir = default_payers_dir(policies_dir) if payers_dir is None else Path(payers_dir)
    return [Path(payers_dir) / "tests", Path(policies_dir) / "tests"]


def collect_files(paths: list[Path]) -> tuple[list[Path], list[RunError]]:
    files: list[Path] = []
    errors: list[RunError] = []
    for path in paths:
        path = Path(path)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*.yaml") if p.is_file())
        else:
            errors.append(RunError(Problem("no_such_path", f"`{path}` is neither a test file nor a folder",
                                           Location(str(path)))))
    seen, unique = set(), []
    for f in files:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique, errors


def run_tests(paths: list[Path] | None, policies_dir: Path, payers_dir: Path | None = None,
              coverage: bool = False, examples_dir: Path | None = None, cache: PolicyCache | None = None,
              engine: str | None = None) -> PolicyTestRun:
    """Run the test files at ``paths`` (files or folders; default: every ``payers/tests/**/*.yaml``
    and ``policies/tests/**/*.yaml``). ``cache``: payers built by earlier runs, kept by the policy
    sources' digest (a caller running the tests often holds one). ``engine``: the engine that decides
    the cases (``plan``, ``pydatalog``; None: the default); an unknown name is a ValueError."""
    policies = Policies(policies_dir, payers_dir, cache, check_engine(engine))
    explicit = bool(paths)
    if not paths:
        paths = [p for p in default_test_paths(policies.policies_dir, policies.payers_dir) if p.is_dir()]
    files, errors = collect_files(paths)
    if not files and not errors:
        where = ", ".join(str(p) for p in paths) if explicit else \
            f"{shown_path(policies.payers_dir / 'tests', policies.root)}/ or " \
            f"{shown_path(policies.policies_dir / 'tests', policies.root)}/"
        errors.append(RunError(Problem("no_tests", f"no test files (*.yaml) found in {where}")))
    reader = FileReader(policies, examples_dir or policies.root / "examples" / "encounters")
    cov = Coverage(policies.root) if coverage else None
    results: list[CaseResult] = []
    for path in files:
        try:
            cases, file_errors = reader.read(path)
        except Exception as exc:  # a fault of the runner: reported against the file, never a traceback
            errors.append(RunError(Problem("internal_error", f"the test file could not be read "
                                           f"({type(exc).__name__}: {exc})",
                                           Location(shown_path(path, policies.root)))))
            continue
        errors += file_errors
        for case in cases:
            if case.problems:
                results.append(CaseResult(case, ERROR, problems=sorted(
                    case.problems, key=lambda p: (p.location or Location(""), p.code))))
                continue
            policy = case.policy or policies.get(case.payer)[0]
            results.append(run_case(case, policy, cov))
    return PolicyTestRun([shown_path(f, policies.root) for f in files], results, errors, cov)
