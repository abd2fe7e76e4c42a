"""The `supportable impact` command: what a candidate payer overlay would change on a corpus.

    supportable impact --payer aetna --candidate examples/candidates/aetna_cap_24.yaml \\
        --encounters examples/corpus/encounters.jsonl

Every encounter of the corpus is decided under the payer's current policy and under the policy it
would have with the candidate as its overlay file; every line whose verdict or supportable units
change is reported with the rules responsible on each side (see engine/impact/). Exit codes as
the other commands: 0 done, 1 unreadable candidate or corpus, 2 usage, 3 unknown payer, 4 the
current policy or the candidate does not load (problems located in the candidate's own file), or a
payer extending the candidate's payer would not load with it (after the report), 5 an engine failure
on some encounter (after the report).

``impact`` is a click command object; cli/__init__.py adds it to the ``supportable`` group.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from supportable.cli.common import cluster_options, engine_option, fail, format_option, policies_options
from supportable.server import wire
from supportable.server.wire import tools as wire_tools
from supportable.cli.render_text import param_text

from supportable.engine import (CHANGE_TYPES, Change, Impact, ImpactError, NOW_ACCEPTED, NOW_REFUSED, RULES_CHANGED,
                                VERDICTS, compare, load_candidate, read_corpus)

EXIT_INPUT, EXIT_UNKNOWN, EXIT_POLICY, EXIT_INTERNAL = 1, 3, 4, 5
EXIT_FOR = {"unknown_payer": EXIT_UNKNOWN, "unreadable_candidate": EXIT_INPUT, "unreadable_corpus": EXIT_INPUT,
            "current_does_not_load": EXIT_POLICY, "candidate_does_not_load": EXIT_POLICY}
DEFAULT_LIMIT = 20


@click.command("impact")
@click.option("--payer", required=True, help="The payer the candidate is for (its overlay file is replaced).")
@click.option("--candidate", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The candidate overlay file (YAML), a complete replacement for payers/<PAYER>.yaml.")
@click.option("--encounters", "corpus", required=True, type=click.Path(path_type=Path),
              help="A .jsonl file (one encounter per line), or a folder of *.json / *.jsonl files.")
@click.option("--limit", type=click.IntRange(0), default=DEFAULT_LIMIT, show_default=True,
              help="Changes listed per change type in text output (0: all). JSON lists every change.")
@click.option("--max-encounters", type=click.IntRange(1), default=None,
              help="Read only the first N encounters of the corpus.")
@click.option("--with-dependents", is_flag=True,
              help="Also decide the corpus under each payer that extends PAYER, before and after.")
@cluster_options("Compare", "Encounters", 100)
@format_option
@policies_options
@engine_option
def impact(payer: str, candidate: Path, corpus: Path, limit: int, max_encounters: int | None,
           with_dependents: bool, workers: int | None, scheduler: str | None, partition_size: int, fmt: str,
           policies: Path,
           payers_dir: Path | None, engine: str) -> None:
    """Decide a corpus of encounters under PAYER's current policy and under a CANDIDATE overlay for
    it, and report every line whose decision changes, with the rules responsible on each side.

    Each encounter is decided under PAYER whatever its own `payer` field says. Invalid encounters
    are counted and listed, not fatal. With --workers or --scheduler the encounters are compared on
    Dask workers, with the same report."""
    if workers and scheduler:
        fail(fmt, 2, "invalid_option", "--workers sizes a local cluster; a cluster at --scheduler has its own")
    try:
        _run(payer, candidate, corpus, limit, max_encounters, with_dependents, fmt, policies, payers_dir, engine,
             (workers, scheduler, partition_size) if workers or scheduler else None)
    except SystemExit:
        raise
    except ImpactError as exc:
        fail(fmt, EXIT_FOR.get(exc.kind, EXIT_INTERNAL), exc.kind, exc.message,
              wire.problem_items(exc.problems), [str(p) for p in exc.problems])
    except Exception as exc:  # an engine fault: said plainly, never as a traceback
        fail(fmt, EXIT_INTERNAL, "internal_error", f"the impact run failed ({type(exc).__name__}: {exc})")


def _run(payer, candidate, corpus_path, limit, max_encounters, with_dependents, fmt, policies, payers_dir,
         engine=None, dask=None):
    pair = load_candidate(Path(policies), payer, candidate, payers_dir, engine=engine)
    corpus = read_corpus(corpus_path, max_encounters)
    if not corpus.items and not corpus.invalid:
        raise ImpactError("unreadable_corpus", f"no encounters in `{corpus_path}` (a .jsonl file, or a folder "
                          "of *.json / *.jsonl files)")
    parallel = None
    if dask is not None:
        parallel = _parallel(pair, payer, candidate, policies, payers_dir, engine, *dask, fmt)
    try:
        _report(pair, corpus, with_dependents, fmt, limit, payer, parallel)
    finally:
        if parallel is not None:
            parallel.close()


def _parallel(pair, payer, candidate, policies, payers_dir, engine, workers, scheduler, partition_size, fmt):
    from supportable.audit import AuditError, PolicyMismatch
    from supportable.audit.impact import ImpactSpec, ParallelCompare
    spec = ImpactSpec(str(Path(policies).resolve()), str(Path(payers_dir).resolve()) if payers_dir else None, payer,
                      str(Path(candidate).resolve()), engine, pair.current.version, pair.candidate.version)
    try:
        return ParallelCompare(spec, scheduler, workers, partition_size)
    except PolicyMismatch as exc:
        fail(fmt, EXIT_POLICY, "policy_mismatch", str(exc))
    except AuditError as exc:
        fail(fmt, 6, exc.kind, exc.message)


def _report(pair, corpus, with_dependents, fmt, limit, payer, parallel):
    def judge(current, candidate, dependent=None):
        if parallel is None:
            return compare(current, candidate, corpus)
        return parallel.compare(current, candidate, corpus, dependent)

    result = judge(pair.current, pair.candidate)
    dependents = []
    for dep in pair.dependents:
        entry = wire_tools.dependent(dep)
        if with_dependents and dep.current is not None and dep.candidate is not None:
            sub = judge(dep.current, dep.candidate, dep.payer)
            entry["impact"] = {"summary": sub.summary(), "changes": [wire_tools.change(c) for c in sub.changes],
                               "timing": wire_tools.impact_timing(sub)}
        dependents.append(entry)
    report = {
        "payer": payer, "name": pair.current.name,
        "current": {"path": pair.current_path, "chain": pair.current.chain, "policy_version": pair.current.version},
        "candidate": {"path": pair.candidate_path, "name": pair.candidate.name, "chain": pair.candidate.chain,
                      "policy_version": pair.candidate.version,
                      "warnings": wire.problem_items(pair.warnings)},
        "policy_diff": wire.policy_diff(pair.policy_diff),
        "dependents": dependents,
        "corpus": {"source": corpus.source, "files": corpus.files, "encounters_read": corpus.read,
                   "encounters_decided": result.decided, "invalid": len(result.invalid), "lines": result.lines},
        "summary": result.summary(),
        "changes": [wire_tools.change(c) for c in result.changes],
        "invalid_encounters": [wire_tools.invalid_encounter(i) for i in result.invalid],
        "errors": result.errors,
        "timing": {**wire_tools.impact_timing(result), "load_seconds": round(pair.load_seconds, 4)},
    }
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(render_impact(report, result, limit, pair.warnings))
    if result.errors:
        sys.exit(EXIT_INTERNAL)
    if any(not d.loads for d in pair.dependents):
        sys.exit(EXIT_POLICY)


# ------------------------------------------------------------------------------------------------
# Text
# ------------------------------------------------------------------------------------------------

def _rate(t: dict) -> str:
    return f"{t['encounters_per_s']:.0f}/s" if t.get("encounters_per_s") else "-"


def _units(side: dict) -> str:
    return f"{side['supportable_units']}/{side['billed_units']}"


def _change_line(c: Change) -> list[str]:
    if c.line is None:
        side = "the candidate refuses it" if c.type == NOW_REFUSED else "the current policy refuses it"
        return [f"  {c.encounter or '(no id)'} ({c.location}): {side}: {c.problem}"]
    a, b = c.current, c.candidate
    who = c.responsible
    out = [f"  {c.encounter} line {c.line} {c.code} ({c.location}): "
           f"{a['verdict']} {_units(a)} -> {b['verdict']} {_units(b)} unit(s)",
           f"      current: {', '.join(who['current']) or '-'} | candidate: {', '.join(who['candidate']) or '-'}"]
    return out


def _diff_lines(diff: dict) -> list[str]:
    s = diff["summary"]
    out = [f"  policy changes: {s['added']} added, {s['replaced']} replaced, {s['removed']} disabled or absent, "
           f"{s['parameters']} parameter(s) differ, {s.get('edits', 0)} edit table change(s)"]
    out += [f"    + {r['id']} ({r['layer']}; {r['location']})" for r in diff["added"]]
    out += [f"    ~ {r['id']} ({r['after']['layer']}; {r['after']['location']})" for r in diff["replaced"]]
    out += [f"    - {r['rule']['id']} ({r['rule']['layer']})" + (" disabled" if r["change"] == "disabled" else "")
            for r in diff["removed"]]
    for p in diff["parameters"]:
        out.append(f"    * {p['name']}: {param_text(p['before'])} -> {param_text(p['after'])}")
    return out


def _type_counts(by_type: dict, indent: str = "  ") -> list[str]:
    rows = [(t, n) for t, n in by_type.items() if n and t != RULES_CHANGED]
    if not rows:
        return [f"{indent}(none)"]
    width = max(len(t) for t, _ in rows)
    return [f"{indent}{t:<{width}}  {n}" for t, n in rows]


def render_impact(report: dict, result: Impact, limit: int, warnings) -> str:
    cur, cand, summ, corpus, timing = (report["current"], report["candidate"], report["summary"], report["corpus"],
                                       report["timing"])
    out = [f"Impact of a candidate overlay for payer {report['payer']} ({report['name']})",
           f"  current:   {cur['policy_version']}  {' > '.join(cur['chain'])}  ({cur['path']})",
           f"  candidate: {cand['policy_version']}  {' > '.join(cand['chain'])}  ({cand['path']})"]
    if cur["policy_version"] == cand["policy_version"]:
        out.append("  the candidate's policy is the same as the current one")
    out += _diff_lines(report["policy_diff"])
    out += [f"  warning: {w}" for w in warnings]
    deps = report["dependents"]
    if not deps:
        out.append(f"  other payers built on {report['payer']}: none")
    for d in deps:
        if not d["loads_with_candidate"]:
            out.append(f"  {d['payer']} ({' > '.join(d['chain'])}) extends {report['payer']} and DOES NOT LOAD "
                       "with the candidate:")
            out += [f"      {_problem_text(p)}" for p in d["problems_with_candidate"]]
        elif d["policy_changes"]:
            out.append(f"  {d['payer']} ({' > '.join(d['chain'])}) extends {report['payer']} and would change too: "
                       f"{d['current_version']} -> {d['candidate_version']}")
        else:
            out.append(f"  {d['payer']} ({' > '.join(d['chain'])}) extends {report['payer']}; its policy would not "
                       "change")
        if "impact" in d:
            s = d["impact"]["summary"]
            out.append(f"      on the corpus: {s['lines_changed']} line(s) in {s['encounters_changed']} encounter(s) "
                       "change")
            out += _type_counts(s["by_type"], "        ")
    out.append(f"Corpus: {corpus['source']} ({corpus['files']} file(s)): {corpus['encounters_read']} encounter(s) "
               f"read, {corpus['encounters_decided']} decided under both policies, {corpus['invalid']} invalid; "
               f"{corpus['lines']} line(s)")
    out.append(f"Timing: {corpus['encounters_decided']} encounters in {timing['wall_seconds']:.2f} s, "
               f"{timing['encounters_per_s'] or 0:.1f} encounters/s under both policies (current "
               f"{_rate(timing['current'])}, candidate {_rate(timing['candidate'])} alone); policies loaded in "
               f"{timing['load_seconds']:.2f} s")
    share = f" ({100 * summ['lines_changed'] / summ['lines_decided']:.2f}% of lines)" if summ["lines_decided"] else ""
    out += ["", f"Decisions that change: {summ['lines_changed']} line(s){share} in {summ['encounters_changed']} "
                f"encounter(s)"]
    if summ["encounters_refused_or_accepted"]:
        out.append(f"  and {summ['encounters_refused_or_accepted']} encounter(s) only one of the two policies accepts "
                   f"({NOW_REFUSED}: the candidate refuses it; {NOW_ACCEPTED}: only the candidate accepts it)")
    out += _type_counts(summ["by_type"])
    if summ["lines_same_decision_other_rules"]:
        out.append(f"  and {summ['lines_same_decision_other_rules']} line(s) keep their decision but rest on other "
                   f"rules ({RULES_CHANGED})")
    v = summ["verdicts"]
    out.append("Verdicts (lines), current -> candidate: " +
               ", ".join(f"{k} {v['current'][k]} -> {v['candidate'][k]}" for k in VERDICTS))
    groups: dict[str, list[Change]] = {t: [] for t in CHANGE_TYPES}
    for c in result.changes:
        groups[c.type].append(c)
    for t in CHANGE_TYPES:
        changes = groups[t]
        if not changes:
            continue
        shown = changes if limit == 0 else changes[:limit]
        what = "encounter(s)" if changes[0].line is None else "line(s)"
        out += ["", f"{t}: {len(changes)} {what}" + (f", first {len(shown)}" if len(shown) < len(changes) else "")]
        for c in shown:
            out += _change_line(c)
        if len(shown) < len(changes):
            out.append(f"  ... {len(changes) - len(shown)} more (--limit 0 shows all; --format json lists everything)")
    invalid = report["invalid_encounters"]
    if invalid:
        shown = invalid if limit == 0 else invalid[:limit]
        out += ["", f"Invalid encounters: {len(invalid)} (not decided)"]
        out += [f"  {i['location']}{' (' + i['encounter'] + ')' if i['encounter'] else ''}: {i['problem']}"
                for i in shown]
        if len(shown) < len(invalid):
            out.append(f"  ... {len(invalid) - len(shown)} more")
    if report["errors"]:
        out += ["", f"Engine failures: {len(report['errors'])} encounter(s) could not be decided"]
        out += [f"  {e['location']} ({e['encounter']}) under the {e['policy']} policy: {e['error']}"
                for e in report["errors"]]
    return "\n".join(out)


def _problem_text(p: dict) -> str:
    where = f"{p['file']}:{p['line']}:{p['column']}: " if p.get("file") else ""
    return f"{where}{p['level']}: {p['message']} [{p['code']}]"


if __name__ == "__main__":
    impact()
