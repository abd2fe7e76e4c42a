"""`supportable check --format-in FORMAT`: inputs other than the encounter JSON.

Two kinds of reader (each format's name is also in ``cli.common.INPUT_FORMATS``):

- one encounter in another shape (``FRONTS``; ``fhir``, a FHIR R4 Claim): the reader turns the parsed
  document into an encounter document and gives a :class:`Front`, with which the check command
  decides it as usual, locates problems in the input's own terms and writes the answer in the
  format (a ClaimResponse, or an OperationOutcome for bad input);
- a file of many encounters (``WHOLE_FILE_READERS``; ``x12``): the reader receives the bytes read and
  the command's options (:class:`CheckOptions`) and prints the answer itself.

``x12``: an 837P (005010X222A1) with pyx12 (docs/x12.md). Every claim and date of service is an
encounter, decided under the payer the payer-identifier table names (``--payer`` decides them all
under one payer instead); the answer is a batch's: one result per encounter, then the summary.
Exit 0 when every encounter was decided, 1 when the file cannot be read (every problem at its
segment) or some claim or encounter could not be decided (the others are still shown).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from supportable import engine as facade
from supportable.cli.common import INPUT_FORMATS, fail

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
    return click.option("--format-in", "format_in", type=click.Choice(list(INPUT_FORMATS)), default="json",
                        show_default=True, help="What the input is: " + "; ".join(
                            f"`{k}`, {v}" for k, v in INPUT_FORMATS.items()) + ".")(f)


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


WHOLE_FILE_READERS: dict[str, Callable[[bytes, CheckOptions], None]] = {"x12": check_x12}


# -- one encounter in another shape -----------------------------------------------------------

class Front:
    """What a format's reader gives: the encounter document, how to locate an encounter field in the
    input (for errors), how to write the decision in the format (None: the decision document), and
    ``fail(problems, exit_code)``, which reports problems (located by encounter field path) in the
    format's own error document and exits."""

    def __init__(self, encounter: dict, locate, render_json=None):
        self.encounter, self.locate, self.render_json = encounter, locate, render_json


def _fhir_fail(fmt: str, name: str, issues, code: int = EXIT_INPUT) -> None:
    from supportable.server.wire import fhir
    if fmt == "json":
        click.echo(json.dumps(fhir.operation_outcome(issues), indent=2))
    else:
        click.echo(f"error: `{name}` is not a Claim Supportable can check", err=True)
        for issue in issues:
            click.echo(f"  {issue.expression or 'Claim'}: {issue.message}", err=True)
    sys.exit(code)


def read_fhir(fmt: str, document, name: str, payer: str | None = None, payer_ids=None) -> Front:
    """A FHIR R4 Claim (docs/fhir.md); its errors are an OperationOutcome (json) or FHIRPath lines."""
    from supportable.server.wire import fhir
    try:
        claim = fhir.read_claim(document, payer, payer_ids)
    except fhir.ClaimError as exc:
        _fhir_fail(fmt, name, exc.issues)

    def render(decision: dict) -> dict:
        return fhir.claim_response(decision, claim.claim, claim.sequences)

    front = Front(claim.encounter, lambda path: fhir.fhirpath_of(claim.paths, path), render)
    front.fail = lambda problems, code=EXIT_INPUT: _fhir_fail(fmt, name, fhir.from_problems(problems, front.locate),
                                                              code)
    return front


FRONTS = {"fhir": read_fhir}


def read(format_in: str, fmt: str, document, name: str, payer: str | None = None,
         options: CheckOptions | None = None) -> Front | None:
    """The front of ``format_in``; None for the encounter JSON itself. Without ``payer`` the payer
    comes from the input, through the payer-identifier table (``options``: where it is)."""
    reader = FRONTS.get(format_in)
    if reader is None and format_in != "json":
        fail(fmt, 2, "invalid_option", f"unknown input format `{format_in}`")
    if reader is None:
        return None
    payer_ids = _payer_table(options).payer_for if options is not None and payer is None else None
    return reader(fmt, document, name, payer, payer_ids)
