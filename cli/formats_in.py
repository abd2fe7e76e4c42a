"""The input formats ``supportable check --format-in`` reads besides the encounter JSON: each turns the
parsed document into an encounter document, or stops the command with its own error document. Add a
format by adding a reader to ``READERS`` (and its name to ``cli.common.INPUT_FORMATS``)."""
from __future__ import annotations

import json
import sys

import click

from supportable.cli.common import fail

EXIT_INPUT = 1


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


def read_fhir(fmt: str, document, name: str, payer: str | None = None) -> Front:
    """A FHIR R4 Claim (docs/fhir.md); its errors are an OperationOutcome (json) or FHIRPath lines."""
    from supportable.server.wire import fhir
    try:
        claim = fhir.read_claim(document, payer)
    except fhir.ClaimError as exc:
        _fhir_fail(fmt, name, exc.issues)

    def render(decision: dict) -> dict:
        return fhir.claim_response(decision, claim.claim, claim.sequences)

    front = Front(claim.encounter, lambda path: fhir.fhirpath_of(claim.paths, path), render)
    front.fail = lambda problems, code=EXIT_INPUT: _fhir_fail(fmt, name, fhir.from_problems(problems, front.locate),
                                                              code)
    return front


READERS = {"fhir": read_fhir}


def read(format_in: str, fmt: str, document, name: str, payer: str | None = None) -> Front | None:
    """The front of ``format_in``; None for the encounter JSON itself."""
    reader = READERS.get(format_in)
    if reader is None and format_in != "json":
        fail(fmt, 2, "invalid_option", f"unknown input format `{format_in}`")
    return reader(fmt, document, name, payer) if reader else None
