"""The `supportable` command line: the first front door over the engine."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from engine.errors import InputError, PolicyError
from engine.policyset import load_policy_set
from server.render_text import render_decision

DEFAULT_POLICIES = Path(__file__).resolve().parent.parent / "policies"
EXIT_INPUT, EXIT_UNKNOWN_PAYER, EXIT_POLICY = 1, 3, 4  # 2 is click's usage error
PAYERS = ("base",)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Supportable: is each billed physical-medicine code supportable, for how many units, and why."""


@main.command()
@click.argument("encounter", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--payer", default=None, help="Payer policy to apply (default: the encounter's `payer`, else base).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--explain", is_flag=True, help="Include the full proof trees.")
@click.option("--policies", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("SUPPORTABLE_POLICIES", str(DEFAULT_POLICIES)),
              show_default="bundled policies/", help="Policy directory.")
def check(encounter: str, payer: str | None, fmt: str, explain: bool, policies: Path) -> None:
    """Decide every line of ENCOUNTER (a JSON file, or - for standard input)."""
    try:
        raw = sys.stdin.read() if encounter == "-" else Path(encounter).read_text(encoding="utf-8")
    except OSError as exc:
        _fail(fmt, EXIT_INPUT, "unreadable_input", f"cannot read `{encounter}`: {exc.strerror}")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        _fail(fmt, EXIT_INPUT, "invalid_json", f"{encounter}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}")
    chosen = payer or (data.get("payer") if isinstance(data, dict) else None) or "base"
    if chosen not in PAYERS:
        _fail(fmt, EXIT_UNKNOWN_PAYER, "unknown_payer", f"unknown payer `{chosen}`; available: {', '.join(PAYERS)}")
    try:
        policy = load_policy_set(Path(policies), chosen)
    except PolicyError as exc:
        _fail(fmt, EXIT_POLICY, "policy_error", "the policies do not load", [p.to_dict() for p in exc.problems],
              text_lines=[str(p) for p in exc.problems])
    try:
        enc = policy.parse(data)
    except InputError as exc:
        _fail(fmt, EXIT_INPUT, "invalid_encounter", f"`{encounter}` is not a valid encounter",
              [p.to_dict() for p in exc.problems], text_lines=[str(p) for p in exc.problems])
    decision = policy.decide(enc, "full" if explain else "summary")
    if fmt == "json":
        click.echo(json.dumps(decision.to_dict(), indent=2, default=str))
    else:
        click.echo(render_decision(decision, explain))


def _fail(fmt: str, code: int, kind: str, message: str, problems: list | None = None,
          text_lines: list[str] | None = None) -> None:
    if fmt == "json":
        click.echo(json.dumps({"error": kind, "message": message, "problems": problems or []}, indent=2))
    else:
        click.echo(f"error: {message}", err=True)
        for line in text_lines or []:
            click.echo(f"  {line}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
