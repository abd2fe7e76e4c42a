"""`supportable lint [FILES...]`: every loading problem of every payer, and warnings (engine.lint).

Output: one line per problem, ``file:line:col: level: message [code]``, sorted by location (a
summary goes to standard error), or with ``--format json`` ``{"problems": [...], "summary":
{"errors": n, "warnings": n}}``. FILES restrict the report to problems located in those files
(relative to the working directory or the repository root, or absolute).

Exit codes: 0 no errors (warnings alone included), 4 errors (the policies of some payer do not
load, as for every other command), 1 warnings under ``--strict``, 5 an internal failure of the
linter (reported, never a traceback); 2 is click's usage error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from supportable.cli.common import format_option, policies_options
from supportable.server.wire.tools import lint_report

from supportable.engine import lint_policies as run_lint

EXIT_WARNINGS, EXIT_POLICY, EXIT_INTERNAL = 1, 4, 5


def as_json(report) -> dict:
    """The ``--format json`` document of an engine LintReport: every problem, and how many errors and
    warnings."""
    return lint_report(report)


@click.command("lint")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@format_option
@click.option("--strict", is_flag=True, help="Exit 1 when there are warnings (and no errors).")
@click.option("--guidance", type=click.Path(file_okay=False, path_type=Path), default=None,
              show_default="shared/guidance beside the repository",
              help="Guidance folder that rule sources must name a file of.")
@policies_options
def lint(files: tuple[str, ...], fmt: str, strict: bool, guidance: Path | None, policies: Path,
         payers_dir: Path | None) -> None:
    """Check every payer's policies: the errors that stop a payer loading, and warnings about rules
    that never fire, are switched off everywhere, overlap another version, cite unknown sources or
    explain with unbound variables, and parameters no rule reads. FILES restrict the report."""
    try:
        report = run_lint(Path(policies), payers_dir, guidance, list(files))
    except Exception as exc:  # an engine fault: say so plainly, never as a traceback
        message = f"the linter failed ({type(exc).__name__}: {exc}); nothing was checked"
        if fmt == "json":
            click.echo(json.dumps({"error": "internal_error", "message": message, "problems": []}, indent=2))
        else:
            click.echo(f"error: {message}", err=True)
        sys.exit(EXIT_INTERNAL)
    if fmt == "json":
        click.echo(json.dumps(as_json(report), indent=2))
    else:
        for problem in report.problems:
            click.echo(str(problem))
        click.echo(f"{report.errors} error(s), {report.warnings} warning(s) in {len(report.payers)} payer(s)"
                   + (f"; {', '.join(report.failed)} do(es) not load" if report.failed else ""), err=True)
    if report.errors:
        sys.exit(EXIT_POLICY)
    if strict and report.warnings:
        sys.exit(EXIT_WARNINGS)
