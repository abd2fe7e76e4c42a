"""``supportable cds``: answer one CDS Hooks request from a file, as the coverage service would
(docs/cds-hooks.md) — the same reading, validation and answer, without the server or a JWT."""
from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import click

from supportable import engine as facade
from supportable.cli.common import edits_option, engine_option, fail, policies_options

EXIT_INPUT, EXIT_POLICY = 1, 4
HOOKS = ("order-sign", "appointment-book")


@click.command("cds")
@click.argument("request", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The assertion date and the date of service of orders without one (default: today, UTC).")
@policies_options
@edits_option
@engine_option
def cds(request: str, today, policies: Path, payers_dir: Path | None, edits_dir: Path | None, engine: str) -> None:
    """Answer the CDS Hooks REQUEST (a JSON file, or - for standard input; its `hook` order-sign or
    appointment-book) with the coverage service's cards and system actions, as JSON. Exit 1 for a
    request the service would refuse (the problem document, with its locations)."""
    from supportable.server.cds.answer import Payer, answer, provider_type_problems, validate_emitted
    from supportable.server.cds.payers import overlay_for
    from supportable.server.cds.reading import CdsInputError, read_request
    fmt = "json"
    try:
        raw = sys.stdin.buffer.read() if request == "-" else Path(request).read_bytes()
        document = json.loads(raw)
    except OSError as exc:
        fail(fmt, EXIT_INPUT, "unreadable_input", f"{request}: {exc.strerror or exc}")
    except (UnicodeDecodeError, ValueError) as exc:
        fail(fmt, EXIT_INPUT, "invalid_json", f"{request}: not JSON: {exc}")
    hook = document.get("hook") if isinstance(document, dict) else None
    if hook not in HOOKS:
        fail(fmt, EXIT_INPUT, "invalid_cds_request", f"`hook` must be one of {', '.join(HOOKS)}",
             [{"path": "hook", "code": "wrong_hook", "message": f"`{hook}` is not served"}])
    day: date = today.date() if today is not None else datetime.now(timezone.utc).date()
    try:
        hook_request = read_request(document, hook, day)
    except CdsInputError as exc:
        fail(fmt, EXIT_INPUT, "invalid_cds_request" if exc.status == 400 else "precondition_failed", exc.detail,
             exc.problems)
    sources = facade.PolicySources.from_dirs(Path(policies), payers_dir, edits_dir)
    known = list(sources.payer_ids())
    from supportable.server.payer_ids import PayerIdTableError, default_path, load_payer_ids
    table_path = Path(os.environ.get("SUPPORTABLE_PAYER_IDS") or default_path(
        payers_dir or facade.default_payers_dir(Path(policies))))
    try:
        payer_ids = load_payer_ids(table_path).payer_for
    except PayerIdTableError as exc:
        from supportable.server import wire
        fail(fmt, 4, "payer_table_error", f"the payer table `{table_path}` does not load",
             wire.problem_items(exc.problems))
    payer = Payer(None, ", ".join(str(p.get("display") or (p.get("identifier") or {}).get("value") or "")
                                  for p in hook_request.coverage.get("payor") or []) or "unnamed payer", None)
    for payor in hook_request.coverage.get("payor") or []:
        overlay = overlay_for(payor, known, payer_ids)
        if overlay is not None:
            try:
                policy = facade.build_policy_set(facade.parse_sources(sources), overlay, engine)
            except facade.PolicyError as exc:
                from supportable.server import wire
                fail(fmt, EXIT_POLICY, "policy_error", f"the policies for payer `{overlay}` do not load",
                     wire.problem_items(exc.problems))
            payer = Payer(overlay, policy.name, policy)
            break
    bad = provider_type_problems(hook_request, payer)
    if bad:
        fail(fmt, EXIT_INPUT, "invalid_cds_request", bad[0]["message"], bad)
    body = answer(hook_request, payer, day)
    validate_emitted(body)
    click.echo(json.dumps(body, indent=2))
