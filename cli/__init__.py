"""The `supportable` command line over the engine.

Commands: ``check`` (decide an encounter), ``payers`` (what is configured), ``explain-code`` (what
a payer requires for a code), ``diff`` (how two payers' policies differ), ``serve`` (the HTTP API
under gunicorn), ``cds`` (answer a CDS Hooks request as the coverage service does), the policy
analyst's ``lint``, ``test`` and ``impact``, and ``audit`` (a corpus decided on Dask) (their own
modules, ``cli/*.py``). Every command takes
``--policies`` and ``--payers`` (also ``SUPPORTABLE_POLICIES`` / ``SUPPORTABLE_PAYERS``) and
``--format text|json``; those that build a policy also ``--engine plan|pydatalog`` (the default
``plan``, or ``SUPPORTABLE_ENGINE``; an unknown engine is a usage error). Exit codes: 0 done, 1 invalid input, 2 usage (click, or a bad setting),
3 unknown payer or code, 4 policies that do not load, 5 an internal engine failure (reported, never
a traceback), 6 ``serve`` cannot listen on its address. ``--version`` prints the version.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from supportable import engine as facade   # the facade: each name is imported when a command first uses it
from supportable.cli.common import edits_option, engine_option, fail, format_option, policies_options, version_option
from supportable.cli.formats_in import WHOLE_FILE_READERS, format_in_option, payer_ids_option, sidecar_option

EXIT_INPUT, EXIT_UNKNOWN, EXIT_POLICY, EXIT_INTERNAL = 1, 3, 4, 5  # 2 is click's usage error
EXIT_UNKNOWN_PAYER = EXIT_UNKNOWN
BASE = "base"   # facade.BASE, spelled here so that --help and --version import no engine module


class _Commands(click.Group):
    """The group, with the policy analyst's commands (each in its own module, ``cli/*.py``) imported
    only when run or listed: ``check`` does not pay for lint's, impact's or the policy tests'
    imports (about 60 ms)."""

    LAZY = {"lint": "lint:lint", "test": "policytest:policy_test", "impact": "impact:impact",
            "edits": "edits:edits", "cds": "cds:cds", "replay": "replay:replay", "audit": "audit:audit"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str):
        command = super().get_command(ctx, name)
        if command is None and name in self.LAZY:
            from importlib import import_module
            module, _, attribute = self.LAZY[name].partition(":")
            command = getattr(import_module(f"supportable.cli.{module}"), attribute)
            self.add_command(command, name)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@version_option
def main() -> None:
    """Supportable: is each billed physical-medicine code supportable, for how many units, and why."""


def _load(fmt: str, policies: Path, payers_dir: Path | None, payer: str, edits_dir: Path | None = None,
          engine: str | None = None, front=None) -> facade.PolicySet:
    from supportable.server import wire
    sources = facade.PolicySources.from_dirs(Path(policies), payers_dir, edits_dir)
    known = sources.payer_ids()
    if payer not in known and front is not None:     # an input format's own error document (exit 3)
        front.fail([{"path": "payer", "code": "unknown_payer", "message": f"unknown payer `{payer}`; available: "
                     f"{', '.join(known)}"}], EXIT_UNKNOWN)
    if payer not in known:
        fail(fmt, EXIT_UNKNOWN, "unknown_payer", f"unknown payer `{payer}`; available: {', '.join(known)}")
    try:
        return facade.build_policy_set(facade.parse_sources(sources), payer, engine)
    except facade.PolicyError as exc:
        fail(fmt, EXIT_POLICY, "policy_error", f"the policies for payer `{payer}` do not load",
              wire.problem_items(exc.problems), text_lines=[str(p) for p in exc.problems])


@main.command()
@click.argument("encounter", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--payer", default=None, help="Payer policy to apply (default: the encounter's `payer`, else base; "
              "for an 837, the payer table's).")
@format_in_option
@format_option
@click.option("--explain", is_flag=True, help="Include the full proof trees.")
@sidecar_option
@payer_ids_option
@policies_options
@edits_option
@engine_option
def check(encounter: str, payer: str | None, format_in: str, fmt: str, explain: bool, sidecar: Path | None,
          payer_ids: Path | None, policies: Path, payers_dir: Path | None, edits_dir: Path | None,
          engine: str) -> None:
    """Decide every line of ENCOUNTER (a JSON file, or - for standard input): an encounter; with
    --format-in fhir a FHIR R4 Claim (then --format json prints a ClaimResponse, docs/fhir.md); with
    --format-in x12 every encounter of an X12 837P (docs/x12.md)."""
    from supportable.server import wire
    try:
        data = (sys.stdin.buffer.read() if encounter == "-" else Path(encounter).read_bytes())
    except OSError as exc:
        fail(fmt, EXIT_INPUT, "unreadable_input", f"cannot read `{encounter}`: {exc.strerror}")
    if format_in in WHOLE_FILE_READERS:       # a file of many encounters: cli/formats_in.py
        from supportable.cli.formats_in import CheckOptions
        WHOLE_FILE_READERS[format_in](data, CheckOptions(encounter, fmt, payer, explain, policies, payers_dir, edits_dir,
                                              engine, sidecar, payer_ids))
        return
    raw, problem = facade.decode_utf8(data, "<stdin>" if encounter == "-" else encounter, "an encounter is UTF-8 JSON")
    if problem is not None:       # a leading byte-order mark is accepted, as over HTTP
        fail(fmt, EXIT_INPUT, "not_utf8", f"{problem.location}: {problem.message}")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        fail(fmt, EXIT_INPUT, "invalid_json", f"{encounter}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}")
    except (ValueError, RecursionError) as exc:  # an over-long integer, or nesting too deep
        fail(fmt, EXIT_INPUT, "invalid_json", f"{encounter}: invalid JSON: {exc or 'nested too deeply'}")
    front = None
    if format_in != "json":
        from supportable.cli.formats_in import CheckOptions, read
        front = read(format_in, fmt, data, encounter, payer, CheckOptions(
            encounter, fmt, payer, explain, policies, payers_dir, edits_dir, engine, sidecar, payer_ids))
        data = front.encounter
    chosen = payer or (data.get("payer") if isinstance(data, dict) else None) or BASE
    policy = _load(fmt, policies, payers_dir, str(chosen), edits_dir, engine, front)
    try:
        enc = policy.read_encounter(data)
    except facade.InputError as exc:
        if front is not None:
            front.fail(wire.problem_items(exc.problems))
        fail(fmt, EXIT_INPUT, "invalid_encounter", f"`{encounter}` is not a valid encounter",
              wire.problem_items(exc.problems), text_lines=[str(p) for p in exc.problems])
    try:
        decision = policy.decide(enc, "full" if explain else "summary")
    except Exception as exc:  # an engine fault: say so plainly, never as a traceback
        fail(fmt, EXIT_INTERNAL, "internal_error", f"the engine failed while deciding `{encounter}` under payer "
              f"`{chosen}` ({type(exc).__name__}: {exc}); the decision was not made")
    if fmt == "json" and front is not None and front.render_json is not None:
        click.echo(json.dumps(front.render_json(wire.decision(decision, "summary")), indent=2, default=str))
    elif fmt == "json":
        click.echo(json.dumps(wire.decision(decision), indent=2, default=str))
    else:
        from supportable.cli.render_text import render_decision
        click.echo(render_decision(wire.decision_text(decision), explain))


@main.command()
@format_option
@policies_options
@edits_option
@engine_option
def payers(fmt: str, policies: Path, payers_dir: Path | None, edits_dir: Path | None, engine: str) -> None:
    """List the payers: what each extends, its effective range and policy version.

    A payer whose overlay does not load is listed with its problems; the others are unaffected.
    Exits 4 if any payer does not load."""
    from supportable.server import wire
    rows, failed = [], False
    sources = facade.PolicySources.from_dirs(Path(policies), payers_dir, edits_dir)   # each file read once
    misplaced = sources.misplaced_base()
    if misplaced is not None:
        failed = True
        rows.append({"id": f"{BASE} ({Path(misplaced.name).name})", "error": "policy_error", "problems": [{
            "code": "invalid_payer_id", "level": "error", "file": misplaced.shown,
            "line": 1, "column": 1,
            "message": f"`{BASE}` is the base CPT guidance in policies/{BASE}/; this overlay file is never loaded: "
                       "give it another id and file name"}]})
    parsed = facade.parse_sources(sources)       # the files every payer shares are parsed once
    for payer in sources.payer_ids():
        try:
            rows.append(wire.payer_description(facade.build_policy_set(parsed, payer, engine)))
        except facade.PolicyError as exc:
            failed = True
            rows.append({"id": payer, "error": "policy_error", "problems": wire.problem_items(exc.problems)})
    if fmt == "json":
        click.echo(json.dumps({"payers": rows}, indent=2, default=str))
    else:
        from supportable.cli.render_text import render_payers
        click.echo(render_payers(rows))
    sys.exit(EXIT_POLICY if failed else 0)


@main.command("explain-code")
@click.argument("code")
@click.option("--payer", default=BASE, show_default=True, help="Payer whose merged policy to read.")
@format_option
@policies_options
@edits_option
@engine_option
def explain_code_command(code: str, payer: str, fmt: str, policies: Path, payers_dir: Path | None,
                         edits_dir: Path | None, engine: str) -> None:
    """What PAYER requires for CODE, merged over all its layers, with sources: its unit basis, the
    edits that pair it with other codes and limit its units, and every rule that can apply to it."""
    from supportable.server import wire
    policy = _load(fmt, policies, payers_dir, payer, edits_dir, engine)
    try:
        report = wire.code_requirements(facade.explain_code(policy, code))
    except facade.InputError as exc:
        fail(fmt, EXIT_UNKNOWN, "unknown_code", str(exc.problems[0].message), wire.problem_items(exc.problems))
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        from supportable.cli.render_text import render_code_requirements
        click.echo(render_code_requirements(report))


@main.command()
@click.argument("before")
@click.argument("after")
@format_option
@policies_options
@edits_option
def diff(before: str, after: str, fmt: str, policies: Path, payers_dir: Path | None, edits_dir: Path | None) -> None:
    """How payer AFTER's policy differs from BEFORE's (for example: diff base aetna): rules added,
    replaced and disabled over the whole extends chain, and parameters that differ."""
    from supportable.server import wire
    old = _load(fmt, policies, payers_dir, before, edits_dir)
    new = _load(fmt, policies, payers_dir, after, edits_dir)
    report = wire.policy_diff(facade.diff_policies(old, new))
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        from supportable.cli.render_text import render_diff
        click.echo(render_diff(report))


@main.command()
@click.option("--host", default=None, show_default="127.0.0.1", help="Address to bind (also SUPPORTABLE_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, show_default="8080",
              help="Port to bind, 1-65535 (also SUPPORTABLE_PORT).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, show_default="2",
              help="Worker processes, each loading the policies (also SUPPORTABLE_WORKERS).")
@click.option("--threads", type=click.IntRange(1, 64), default=None, show_default="4",
              help="Threads per worker (also SUPPORTABLE_THREADS).")
@click.option("--decision-log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Decision log file (JSON lines); default var/decisions.jsonl or SUPPORTABLE_DECISION_LOG.")
@policies_options
@edits_option
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None, decision_log: Path | None,
          policies: Path, payers_dir: Path | None, edits_dir: Path | None) -> None:
    """Serve the HTTP API under gunicorn (see /docs and /openapi.json once it runs).

    Settings come from SUPPORTABLE_* variables, overridden by these options (docs/operations.md).
    A bad setting exits 2, an address that cannot be bound exits 6, each with one JSON log line."""
    from supportable.server.serve import serve_from_cli
    serve_from_cli(host=host, port=port, workers=workers, threads=threads, decision_log=decision_log,
                   policies=Path(policies), payers=payers_dir, edits=edits_dir)


if __name__ == "__main__":
    main()
