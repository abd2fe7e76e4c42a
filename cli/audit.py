"""The `supportable audit` command: decide a corpus of encounters on Dask and summarise it.

    supportable audit examples/corpus/encounters.jsonl --payer medicare --output var/audit.ndjson
    supportable audit claims/ --output var/audit.parquet --format parquet --scheduler tcp://10.0.0.5:8786

Every encounter gets the decision document ``supportable check --format json`` gives it (``--explain``:
with full proofs), written in input order; an invalid one gets a problem document with field paths
in its place. The summary is printed and written beside the output (``NAME.summary.json``);
``--report`` also writes an HTML report. See docs/audit.md. Exit codes: 0 done (invalid encounters
included), 1 the corpus cannot be read, 2 usage, 3 unknown payer, 4 workers whose policies differ,
5 a partition that could not be decided, 6 no scheduler at the address given.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import click

from supportable import engine as facade
from supportable.audit.corpus import X12_SUFFIXES
from supportable.cli.common import edits_option, engine_option, fail, policies_options
from supportable.cli.formats_in import payer_ids_option

EXIT_INPUT, EXIT_UNKNOWN, EXIT_POLICY, EXIT_INTERNAL, EXIT_SCHEDULER = 1, 3, 4, 5, 6
EXIT_FOR = {"unreadable_corpus": EXIT_INPUT, "policy_mismatch": EXIT_POLICY, "task_failed": EXIT_INTERNAL,
            "no_scheduler": EXIT_SCHEDULER}


@click.command("audit")
@click.argument("corpus", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--payer", default=None, help="Decide every encounter under this payer (default: each encounter's "
              "own `payer`, else base).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The results file (one result per encounter, in input order).")
@click.option("--format", "fmt", type=click.Choice(["ndjson", "parquet"]), default="ndjson", show_default=True,
              help="The results file's format.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="A Dask scheduler's address (tcp://host:8786); default: a local cluster started for the run.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes of the local cluster (default: one per core); not with --scheduler.")
@click.option("--partition-size", type=click.IntRange(1, 100_000), default=250, show_default=True,
              help="Encounters per task.")
@click.option("--explain", is_flag=True, help="Full proof trees in each decision (as `check --explain`).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write an HTML report of the audit (self-contained: charts inline).")
@click.option("--history-from-corpus", is_flag=True,
              help="Derive each patient's prior visits and year-to-date amounts from the corpus's earlier "
                   "encounters instead of each encounter's own patient.history / year_to_date.")
@click.option("--summary-json", is_flag=True, help="Print the summary as JSON instead of text.")
@payer_ids_option
@policies_options
@edits_option
@engine_option
def audit(corpus: tuple[Path, ...], payer: str | None, output: Path, fmt: str, scheduler: str | None,
          workers: int | None, partition_size: int, explain: bool, report: Path | None, history_from_corpus: bool,
          summary_json: bool, payer_ids: Path | None, policies: Path, payers_dir: Path | None, edits_dir: Path | None,
          engine: str) -> None:
    """Decide every encounter of CORPUS (.ndjson/.jsonl/.json/.parquet files, X12 837P files, or folders of
    them) on Dask workers."""
    from supportable.audit import AuditError, AuditJob, PolicyMismatch, Settings, run_audit
    out_fmt = "json" if summary_json else "text"
    if scheduler and workers:
        fail(out_fmt, 2, "invalid_option", "--workers sizes the local cluster; a cluster at --scheduler has its own")
    try:                        # the output's folder is made if missing (var/ in a fresh clone)
        Path(output).resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(out_fmt, EXIT_INPUT, "unwritable_output", f"cannot make the folder of `{output}`: "
             f"{exc.strerror or exc}")
    for wanted, module in ((fmt == "parquet" or any(Path(c).suffix == ".parquet" for c in corpus), "pyarrow"),
                           (report is not None, "matplotlib")):
        if wanted and importlib.util.find_spec(module) is None:
            fail(out_fmt, 2, "invalid_option", f"this needs the {module} package: pip install "
                 "'supportable[audit-extras]' (requirements.lock pins it)")
    sources = facade.PolicySources.from_dirs(Path(policies), payers_dir, edits_dir)
    if payer is not None and payer not in sources.payer_ids():
        fail(out_fmt, EXIT_UNKNOWN, "unknown_payer", f"unknown payer `{payer}`; available: "
             f"{', '.join(sources.payer_ids())}")
    settings = Settings(policies=str(Path(policies).resolve()),
                        payers=str(Path(payers_dir).resolve()) if payers_dir else None,
                        edits=str(Path(edits_dir).resolve()) if edits_dir else None, engine=engine, payer=payer,
                        explain="full" if explain else "summary", digest=sources.digest())
    table = None
    if any(f.suffix in X12_SUFFIXES for f in _files_or_none(corpus)):     # 837s: payers by identifier
        from supportable.server.payer_ids import PayerIdTableError, default_path, load_payer_ids
        path = payer_ids or default_path(payers_dir or facade.default_payers_dir(Path(policies)))
        try:
            table = load_payer_ids(path)
        except PayerIdTableError as exc:
            from supportable.server import wire
            fail(out_fmt, EXIT_POLICY, "payer_table_error", f"the payer table `{path}` does not load",
                 wire.problem_items(exc.problems))
    job = AuditJob(corpus=list(corpus), output=output, settings=settings, fmt=fmt, scheduler=scheduler,
                   workers=workers, partition_size=partition_size, progress=sys.stderr.isatty(),
                   history_from_corpus=history_from_corpus, payer_ids=table)
    try:
        summary = run_audit(job)
    except PolicyMismatch as exc:
        fail(out_fmt, EXIT_POLICY, "policy_mismatch", str(exc))
    except AuditError as exc:
        fail(out_fmt, EXIT_FOR.get(exc.kind, EXIT_INTERNAL), exc.kind, exc.message)
    except OSError as exc:     # the output cannot be written
        fail(out_fmt, EXIT_INPUT, "unwritable_output", f"cannot write the results: {exc.strerror or exc}"
             f"{f' ({exc.filename})' if exc.filename else ''}")
    except Exception as exc:  # said plainly, never as a traceback
        fail(out_fmt, EXIT_INTERNAL, "internal_error", f"the audit failed ({type(exc).__name__}: {exc})")
    if report is not None:
        from supportable.audit.report import write_report
        write_report(summary, report)
        summary["report_file"] = str(report)
    if summary_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        from supportable.audit.text import render_summary
        click.echo(render_summary(summary))


def _files_or_none(corpus) -> list[Path]:
    """The corpus's files, for a look at their kinds (a corpus that cannot be listed is reported by the run)."""
    from supportable.audit.corpus import CorpusError, corpus_files
    try:
        return corpus_files(corpus)
    except CorpusError:
        return []
