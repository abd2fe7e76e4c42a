"""The `supportable replay` command: a decision log's logged inputs decided again, and what changed.

    supportable replay var/decisions.jsonl
    supportable replay var/decisions.jsonl --payer aetna --policies /tmp/cand/policies --payers /tmp/cand/payers

Each entry that kept its input (the server's SUPPORTABLE_LOG_INPUTS, off by default: inputs are
patient data) is decided again under the payer it was logged with, by the policies given (the
bundled ones by default: the policy in force; other folders: a candidate), and every line whose
verdict, supportable units or reasons (rule, CARC, RARC) differ from what the log says is listed.
Entries without an input, unreadable ones and those of payers the policies do not have are counted
and listed as not replayable (engine/impact/replay.py). With ``--workers N`` or ``--scheduler ADDRESS``
the log is replayed in partitions on Dask workers, the audit's path (audit/replay.py), and gives the
same report. Exit codes: 0 done (changes or not), 1 the
log cannot be read, 2 usage, 3 --payer names no payer of the policies, 4 a worker reads other policy
files, 6 no scheduler at the address.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from supportable.cli.common import cluster_options, engine_option, fail, format_option, policies_options
from supportable.server.wire.logged import replay_report

EXIT_INPUT, EXIT_UNKNOWN = 1, 3
LISTED = 20


@click.command("replay")
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--payer", default=None, help="Replay only the entries decided under this payer.")
@click.option("--limit", type=click.IntRange(0), default=LISTED, show_default=True,
              help="Changes and entries not replayed listed in text output (0: all). JSON lists every one.")
@cluster_options("Replay", "Log lines", 200)
@format_option
@policies_options
@engine_option
def replay(log: Path, payer: str | None, limit: int, workers: int | None, scheduler: str | None,
           partition_size: int, fmt: str, policies: Path, payers_dir: Path | None, engine: str) -> None:
    """Decide the inputs kept in a decision LOG again, under the policies given (the current ones by
    default, or a candidate's --policies/--payers folders), and list every line whose verdict, units
    or reasons would change. Only entries logged with their input (SUPPORTABLE_LOG_INPUTS) can be
    replayed; the others are counted and listed, never skipped silently."""
    from supportable import engine as facade
    sources = facade.PolicySources.from_dirs(Path(policies), payers_dir)
    known = sources.payer_ids()
    if payer is not None and payer not in known:
        fail(fmt, EXIT_UNKNOWN, "unknown_payer", f"unknown payer `{payer}`; available: {', '.join(known)}")
    if not log.is_file():
        fail(fmt, EXIT_INPUT, "unreadable_input", f"cannot read `{log}`: no such file")
    parsed = facade.parse_sources(sources)
    built: dict = {}

    def policy_for(p: str):
        if p not in built:
            try:
                built[p] = facade.build_policy_set(parsed, p, engine=engine)
            except facade.PolicyError as exc:
                built[p] = exc
        if isinstance(built[p], Exception):
            raise built[p]
        return built[p]

    if scheduler and workers:
        fail(fmt, 2, "invalid_option", "--workers sizes a local cluster; a cluster at --scheduler has its own")
    try:
        if workers or scheduler:      # the audit's path: partitions of the log on Dask workers
            report = replay_report(_on_cluster(log, sources, payer, engine, workers, scheduler, partition_size, fmt))
        else:
            report = replay_report(facade.replay_log(log, policy_for, known, payer, str(sources.policies_dir),
                                                     str(sources.payers_dir)))
    except OSError as exc:
        fail(fmt, EXIT_INPUT, "unreadable_input", f"cannot read `{log}`: {exc.strerror or exc}")
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render(report, limit))


def _on_cluster(log: Path, sources, payer, engine, workers, scheduler, partition_size: int, fmt: str):
    from supportable.audit import AuditError, PolicyMismatch
    from supportable.audit.replay import ReplaySpec, replay_on_cluster
    spec = ReplaySpec(str(Path(sources.policies_dir).resolve()), str(Path(sources.payers_dir).resolve()), engine,
                      sources.digest(), payer)
    try:
        return replay_on_cluster(log, spec, scheduler, workers, partition_size, policies=str(sources.policies_dir),
                                 payers=str(sources.payers_dir))
    except PolicyMismatch as exc:
        fail(fmt, 4, "policy_mismatch", str(exc))
    except AuditError as exc:
        fail(fmt, 6 if exc.kind == "no_scheduler" else 5, exc.kind, exc.message)


def _side(side: dict | None) -> str:
    if side is None:
        return "-"
    reasons = side["reasons"]
    why = "reasons not logged" if reasons is None else (", ".join(
        r["id"] + (f" (CARC {r['carc']}" + (f", RARC {r['rarc']}" if r["rarc"] else "") + ")" if r["carc"] else "")
        for r in reasons) or "no reason")
    return f"{side['verdict']}, {side['units']} unit(s); {why}"


def render(report: dict, limit: int) -> str:
    out = [f"Replay of {report['log']} under {report['policies']} (payers: {report['payers']})",
           f"{report['entries']} entr(ies) read, {report['selected']} selected, {report['replayed']} replayed: "
           f"{report['unchanged']} unchanged, {len(report['changes'])} change(s)."]
    for payer, v in report["versions"].items():
        out.append(f"  {payer}: logged on {', '.join(str(x) for x in v['logged'])}; now {v['now']}")
    skipped = {k: n for k, n in report["not_replayable"].items() if n}
    if skipped:
        out.append("Not replayable: " + ", ".join(f"{n} {k}" for k, n in skipped.items())
                   + " (only entries logged with SUPPORTABLE_LOG_INPUTS=1 keep their input)")
        for n in report["not_replayed"][:limit or None]:
            out.append(f"  entry {n['entry']} ({n['decision_id'] or 'no id'}): {n['reason']}: {n['message']}")
    counts = {k: n for k, n in report["by_type"].items() if n}
    if counts:
        out.append("What would change: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        for c in report["changes"][:limit or None]:
            where = f"entry {c['entry']} ({c['decision_id']}), {c['encounter'] or 'no id'}, {c['payer']}"
            if c["line"] is None:
                out.append(f"  {where}: {c['type']}: {c.get('problem', '')}")
                continue
            out += [f"  {where}, line {c['line']} {c['code']}: {c['type']}",
                    f"      logged: {_side(c['logged'])}", f"      now:    {_side(c['now'])}"]
    else:
        out.append("Nothing would change.")
    return "\n".join(out)
