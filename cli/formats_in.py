"""`supportable check --format-in FORMAT`: inputs other than the encounter JSON.

``READERS`` maps each format to the function that checks a file of it; ``json`` is the check
command's own path. A new format adds one entry (and its name to ``FORMATS_IN``). A reader
receives the bytes read and the command's options (:class:`CheckOptions`) and prints the answer.

``x12``: an 837P (005010X222A1) with pyx12 (docs/x12.md). Every claim and date of service is an
encounter, decided under the payer the payer-identifier table names (``--payer`` decides them all
under one payer instead); the answer is a batch's: one result per encounter, then the summary.
Exit 0 when every encounter was decided, 1 when the file cannot be read (every problem at its
segment) or some claim or encounter could not be decided (the others are still shown).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from supportable import engine as facade
from supportable.cli.common import fail

FORMATS_IN = ("json", "x12")
EXIT_INPUT, EXIT_POLICY = 1, 4


@dataclass
class CheckOptions:
    source: str                  # the file name as given (or -)
    fmt: str                     # text or json
    payer: str | None
    explain: bool
    policies: Path
    payers_dir: Path | None
    edits_dir: Path | None
    engine: str | None
    sidecar: Path | None = None
    payer_ids: Path | None = None


def sidecar_option(f):
    return click.option("--sidecar", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="X12: a JSON file of what the 837 does not carry (minutes, documentation, intended "
                             "outcomes...), keyed by CLM01 and LX01 (docs/x12.md).")(f)


def payer_ids_option(f):
    return click.option("--payer-ids", "payer_ids", type=click.Path(dir_okay=False, path_type=Path),
                        default=lambda: os.environ.get("SUPPORTABLE_PAYER_IDS") or None,
                        show_default="payers/routing/payer_ids.yaml",
                        help="X12: the table from payer identifier (NM1*PR NM109) to payer overlay (also "
                             "SUPPORTABLE_PAYER_IDS).")(f)


def format_in_option(f):
    return click.option("--format-in", "format_in", type=click.Choice(FORMATS_IN), default="json",
                        show_default=True, help="What the input file is: an encounter (json) or an X12 837P (x12).")(f)


def _payer_table(options: CheckOptions):
    from supportable.server.payer_ids import PayerIdTableError, default_path, load_payer_ids
    payers_dir = options.payers_dir or facade.default_payers_dir(Path(options.policies))
    path = options.payer_ids or default_path(payers_dir)
    try:
        return load_payer_ids(path)
    except PayerIdTableError as exc:
        from supportable.server import wire
        fail(options.fmt, EXIT_POLICY, "payer_table_error", f"the payer table `{path}` does not load",
             wire.problem_items(exc.problems), text_lines=[str(p) for p in exc.problems])


def _decider(options: CheckOptions, texts: list) -> Callable[[str, dict], dict]:
    """Decide an encounter document under a payer, each payer built once; every failure a problem.
    For the text rendering, each decision's text document is appended to ``texts``, in order."""
    from supportable.server import wire
    from supportable.server.problems import problem
    from supportable.server.x12 import DecisionFailed
    sources = facade.PolicySources.from_dirs(Path(options.policies), options.payers_dir, options.edits_dir)
    parsed = facade.parse_sources(sources)
    built: dict[str, object] = {}
    level = "full" if options.explain else "summary"

    def decide(payer: str, document: dict) -> dict:
        if payer not in built:
            if payer not in sources.payer_ids():
                raise DecisionFailed(problem("unknown-payer", 404, f"unknown payer `{payer}`; available: "
                                             f"{', '.join(sources.payer_ids())}"))
            try:
                built[payer] = facade.build_policy_set(parsed, payer, options.engine)
            except facade.PolicyError as exc:
                raise DecisionFailed(problem("payer-unavailable", 503, f"the policies for payer `{payer}` do not "
                                             "load", wire.problem_items(exc.problems))) from None
        policy = built[payer]
        try:
            encounter = policy.read_encounter(document)
        except facade.InputError as exc:
            raise DecisionFailed(problem("invalid-encounter", 422, f"the encounter is not valid: "
                                         f"{len(exc.problems)} problem(s)", wire.problem_items(exc.problems))) from None
        decision = policy.decide(encounter, level)
        if options.fmt == "text":
            texts.append(wire.decision_text(decision))
        return wire.decision(decision)
    return decide


def check_x12(data: bytes, options: CheckOptions) -> None:
    from supportable.server.x12 import SidecarError, X12Error, check_837, x12_problem_items
    text, problem = facade.decode_utf8(data, options.source, "an 837 is ASCII text")
    if problem is not None:
        fail(options.fmt, EXIT_INPUT, "not_utf8", f"{problem.location}: {problem.message}")
    sidecar = None
    if options.sidecar is not None:
        try:
            sidecar = json.loads(Path(options.sidecar).read_text(encoding="utf-8"))
        except OSError as exc:
            fail(options.fmt, EXIT_INPUT, "unreadable_input", f"cannot read `{options.sidecar}`: {exc.strerror}")
        except (ValueError, RecursionError) as exc:
            fail(options.fmt, EXIT_INPUT, "invalid_json", f"{options.sidecar}: invalid JSON: {exc}")
    table = _payer_table(options)
    texts: list = []
    try:
        answer = check_837(text, table, _decider(options, texts), sidecar, options.payer)
    except X12Error as exc:
        items = x12_problem_items(exc.problems)
        fail(options.fmt, EXIT_INPUT, "invalid_x12", f"`{options.source}` is not a readable 837P: "
             f"{len(items)} problem(s)", items, text_lines=[str(p) for p in exc.problems])
    except SidecarError as exc:
        fail(options.fmt, EXIT_INPUT, "invalid_sidecar", f"`{options.sidecar}` does not fit the 837", exc.items,
             text_lines=[f"{i['path']}: {i['message']} [{i['code']}]" for i in exc.items])
    if options.fmt == "json":
        click.echo(json.dumps(answer, indent=2, default=str))
    else:
        click.echo(_render(answer, iter(texts), options.explain))
    raise SystemExit(0 if answer["summary"]["failed"] == 0 else EXIT_INPUT)


def _render(answer: dict, texts, explain: bool) -> str:
    from supportable.cli.render_text import render_decision
    out = []
    for item in answer["results"]:
        head = f"Claim {item['claim']} (CLM at segment {item['segment']})"
        if item.get("date_of_service"):
            head += f", date of service {item['date_of_service']}"
        out.append(f"=== {head}, payer {item['payer'] or 'unknown'}")
        if "decision" in item:
            out.append(render_decision(next(texts), explain))
        else:
            error = item["error"]
            out.append(f"NOT CHECKED: {error['detail']}")
            for p in error.get("problems") or []:
                out.append(f"  - {p.get('path', '')}: {p['message']} [{p['code']}]")
        out.append("")
    s = answer["summary"]
    out.append(f"Claims: {s['claims']}; encounters: {s['encounters']}, {s['decided']} decided, {s['failed']} not "
               "checked.")
    return "\n".join(out)


READERS: dict[str, Callable[[bytes, CheckOptions], None]] = {"x12": check_x12}
