"""`supportable test [PATH]`: run the policy tests written in YAML next to the policies.

PATH is a test file or a folder of them; by default every ``payers/tests/**/*.yaml`` and
``policies/tests/**/*.yaml``. Prints one PASS/FAIL/ERROR line per case (``file:line name``), a
diff of expected against actual for each failing line, and the summary ``N passed, N failed``
(with ``, N errors`` when there are any). ``--coverage`` adds, per policy file, the rules no case
exercised. Exit code 0 when every case passed, 1 when any failed or could not run.

The command object is ``policy_test``; cli/__init__.py adds it to the ``supportable`` group. It takes
the same ``--policies``, ``--payers``, ``--format`` and ``--engine`` options as the other commands
(from cli/common.py, so that this module does not import supportable.cli, which imports it).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from supportable.engine import run_tests
from supportable.cli.common import engine_option, format_option, policies_options
from supportable.cli.render_policytest import render_text
from supportable.server.wire.tools import policy_test_run


@click.command("test")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--coverage", is_flag=True, help="Also list, per policy file, the rules no case exercised.")
@format_option
@policies_options
@engine_option
def policy_test(path: Path | None, coverage: bool, fmt: str, policies: Path, payers_dir: Path | None,
                engine: str) -> None:
    """Run the policy tests in PATH (a YAML test file or a folder; default: payers/tests/ and
    policies/tests/): each case's encounter is decided under the file's payer and every line
    compared with what the case expects."""
    # A caller invoking the command many times in one process (the test suite) may hand it a
    # PolicyCache as ``obj={"policy_cache": ...}``, so payers over unchanged files are built once.
    obj = click.get_current_context().obj
    cache = obj.get("policy_cache") if isinstance(obj, dict) else None
    try:
        run = run_tests([path] if path is not None else None, Path(policies), payers_dir, coverage=coverage,
                        cache=cache, engine=engine)
    except Exception as exc:  # a fault in the runner itself: reported plainly, never as a traceback
        message = f"the policy tests could not run ({type(exc).__name__}: {exc})"
        if fmt == "json":
            click.echo(json.dumps({"error": "internal_error", "message": message}, indent=2))
        else:
            click.echo(f"error: {message}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps(policy_test_run(run), indent=2, default=str))
    else:
        click.echo(render_text(run, coverage))
    sys.exit(0 if run.ok else 1)
