"""``supportable edits``: CMS's NCCI files as an edit table the server and the other commands load.

``supportable edits import --ptp F [--ptp F ...] [--mue F] --out DIR`` reads the practitioner PTP
files (tab-delimited text, or the zips CMS publishes) and the practitioner MUE file (CSV) a user
downloaded from CMS, checks every row (problems as ``file:line``, nothing written if there is
one), and writes a table to DIR. ``--edits DIR`` (or ``SUPPORTABLE_EDITS``) then applies it over
the bundled edit tables. ``supportable edits info DIR`` says what a folder holds.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from supportable.engine import StoreError, import_files, load_imported
from supportable.cli.common import fail, format_option
from supportable.server.wire import problem_items

EXIT_INPUT = 1


@click.group()
def edits() -> None:
    """Import CMS's NCCI procedure-to-procedure and medically unlikely edit files."""


@edits.command("import")
@click.option("--ptp", "ptp_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A practitioner PTP file (.txt, or a CMS .zip of them); repeat for each part (f1..f4).")
@click.option("--mue", "mue_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A practitioner MUE file (.csv, or a .zip); its effective date comes from its name.")
@click.option("--mue-effective", default=None, metavar="YYYY-MM-DD",
              help="Effective date of the MUE release when the file name does not carry it.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the table to (give it to --edits / SUPPORTABLE_EDITS).")
@format_option
def import_command(ptp_files: tuple[Path, ...], mue_files: tuple[Path, ...], mue_effective: str | None, out: Path,
                   fmt: str) -> None:
    """Check CMS's files and write them as an edit table to OUT (nothing is written on any problem)."""
    if mue_effective is not None:
        try:
            from datetime import date
            date.fromisoformat(mue_effective)
        except ValueError:
            fail(fmt, EXIT_INPUT, "invalid_option", f"--mue-effective `{mue_effective}` is not a YYYY-MM-DD date")
    started = time.perf_counter()
    result = import_files(list(ptp_files), list(mue_files), out, mue_effective)
    if not result.ok:
        fail(fmt, EXIT_INPUT, "invalid_edit_files", f"the files were not imported ({len(result.problems)} problem(s))",
             problem_items(result.problems), text_lines=[str(p) for p in result.problems[:200]])
    seconds = round(time.perf_counter() - started, 2)
    if fmt == "json":
        click.echo(json.dumps({"out": str(out), "ptp_rows": result.ptp_rows, "mue_rows": result.mue_rows,
                               "seconds": seconds, "manifest": result.manifest}, indent=2))
    else:
        click.echo(f"imported {result.ptp_rows} PTP and {result.mue_rows} MUE row(s) into {out} in {seconds} s "
                   f"(table {result.manifest['digest']}); use it with --edits {out}")


@edits.command("info")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@format_option
def info_command(folder: Path, fmt: str) -> None:
    """What an imported folder holds: its sources, row counts and digest."""
    try:
        table = load_imported(folder)
    except StoreError as exc:
        fail(fmt, EXIT_INPUT, "invalid_edits", f"`{folder}` is not a usable edit table",
             problem_items(exc.problems), text_lines=[str(p) for p in exc.problems])
    if fmt == "json":
        click.echo(json.dumps({"folder": str(folder), **table.manifest, "ptp_rows": table.ptp_rows,
                               "mue_rows": table.mue_rows}, indent=2))
    else:
        click.echo(f"{folder}: {table.ptp_rows} PTP and {table.mue_rows} MUE row(s), {table.manifest.get('digest')}, "
                   f"imported {table.manifest.get('imported_on')}")
        for src in table.manifest.get("sources", []):
            eff = f", effective {src['effective']}" if src.get("effective") else ""
            click.echo(f"  {src['kind']}: {src['file']} ({src['rows']} row(s){eff})")
