"""What every `supportable` command shares: the --policies/--payers/--format/--engine options and the
way a command fails (a JSON error document, or a message on standard error, and an exit code)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from supportable.engine import DEFAULT_ENGINE, ENGINES   # engine_names only: no evaluator is imported
from supportable.server.paths import BUNDLED_POLICIES


def package_version() -> str:
    """The installed package's version (``supportable.__version__``, from its metadata), else the
    app's VERSION when run from a source tree that is not installed."""
    from supportable import __version__
    if __version__ != "0+unknown":
        return __version__
    from supportable.server.app import VERSION
    return VERSION


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"supportable {package_version()}")
        ctx.exit(0)


version_option = click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
                              help="Print the version and exit.")


def policies_options(f):
    """--policies and --payers, with SUPPORTABLE_POLICIES and SUPPORTABLE_PAYERS as defaults."""
    f = click.option("--payers", "payers_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=lambda: os.environ.get("SUPPORTABLE_PAYERS") or None,
                     show_default="payers/ beside the policies", help="Payer overlay directory.")(f)
    f = click.option("--policies", type=click.Path(file_okay=False, path_type=Path),
                     default=lambda: os.environ.get("SUPPORTABLE_POLICIES", str(BUNDLED_POLICIES)),
                     show_default="bundled policies/", help="Policy directory (vocabulary/ and base/).")(f)
    return f


edits_option = click.option(
    "--edits", "edits_dir", type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("SUPPORTABLE_EDITS") or None, show_default="none",
    help="A folder written by `supportable edits import` (CMS's PTP and MUE tables), applied over the bundled "
         "edit tables (also SUPPORTABLE_EDITS).")

class _Engine(click.Choice):
    """An engine's name; a bad one names the variable it may have come from (click names the option)."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not one of {', '.join(map(repr, ENGINES))} (the option, or SUPPORTABLE_ENGINE)",
                      param, ctx)


engine_option = click.option(
    "--engine", type=_Engine(ENGINES), envvar="SUPPORTABLE_ENGINE", default=DEFAULT_ENGINE, show_default=True,
    help="The engine that evaluates the policy: `plan` (the evaluation plan, proofs read from what it derived) or "
         "`pydatalog` (the reference); decisions are identical (also SUPPORTABLE_ENGINE).")

# The formats `check --format-in` reads (cli/formats_in.py has their readers).
INPUT_FORMATS = {"json": "an encounter (docs/encounter.md)", "fhir": "a FHIR R4 Claim (docs/fhir.md)",
                 "x12": "an X12 837P, every claim and date of service (docs/x12.md)"}

format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True)


def fail(fmt: str, code: int, kind: str, message: str, problems: list | None = None,
         text_lines: list[str] | None = None) -> None:
    """Stop the command with exit ``code``. As JSON: the HTTP API's problem document (``type``,
    ``title``, ``detail``, ``problems``; the kind spelled as over HTTP, `invalid-encounter`) with the
    exit code, and the command line's first members, ``error`` (the kind as a code,
    `invalid_encounter`) and ``message``, kept for readers written before."""
    if fmt == "json":
        from supportable.server.problems import problem   # one problem document for HTTP and the command line
        document = problem(kind.replace("_", "-"), code, message, problems or [])
        document.pop("status")
        click.echo(json.dumps({"error": kind, "message": message, **document, "exit_code": code}, indent=2))
    else:
        click.echo(f"error: {message}", err=True)
        for line in text_lines or []:
            click.echo(f"  {line}", err=True)
    sys.exit(code)


def cluster_options(what: str, unit: str, partition_default: int):
    """``--workers N``, ``--scheduler ADDRESS`` and ``--partition-size K``: run ``what`` on Dask, the
    audit's path (docs/audit.md), for the commands that can (impact, replay)."""
    def decorate(f):
        f = click.option("--partition-size", type=click.IntRange(1, 100_000), default=partition_default,
                         show_default=True, help=f"{unit} per task with --workers or --scheduler.")(f)
        f = click.option("--scheduler", default=None, metavar="ADDRESS",
                         help=f"{what} on the Dask cluster at this scheduler address (tcp://host:8786).")(f)
        return click.option("--workers", type=click.IntRange(1, 256), default=None,
                            help=f"{what} on a local Dask cluster of N worker processes (docs/audit.md).")(f)
    return decorate
