"""A lint run: load every payer, index the files, walk the table of checks, merge what several
payers report alike, and keep the problems of the files asked about."""
from __future__ import annotations

from pathlib import Path

from ..build import build
from ..errors import Location, PolicyError, Problem, Problems
from ..overlay import BASE
from ..parsed import parse
from ..policyset import PolicySet
from ..sources import PolicySources
from .checks import CHECKS
from .index import Index, index_doc
from .report import LintReport
from .scope import Scope, definitions, names, raw_chain


def default_guidance_dir(policies_dir: Path) -> Path:
    """``shared/guidance`` beside the repository that holds ``policies/``."""
    return Path(policies_dir).resolve().parent.parent / "shared" / "guidance"


def lint(policies_dir: Path, payers_dir: Path | None = None, guidance_dir: Path | None = None,
         files: list[str | Path] | tuple = ()) -> LintReport:
    """Lint every payer of ``policies_dir`` (and ``payers_dir``); restrict to ``files`` if given."""
    return lint_sources(PolicySources.from_dirs(policies_dir, payers_dir), guidance_dir, files)


def lint_sources(sources: PolicySources, guidance_dir: Path | None = None,
                 files: list[str | Path] | tuple = ()) -> LintReport:
    """Lint every payer of ``sources``: each file is read and parsed once, for the payers' builds
    and for the locations the checks report alike."""
    root = sources.root
    guidance = default_guidance_dir(sources.policies_dir) if guidance_dir is None else Path(guidance_dir)
    overlay_files = sources.overlays()
    payers = sources.payer_ids()

    found: list[list[Problem]] = []         # per payer
    sets: dict[str, PolicySet] = {}
    failed: dict[str, list[Problem]] = {}
    parsed = parse(sources, keep_docs=True)
    for payer in payers:
        try:
            sets[payer] = build(parsed, payer)
            found.append(sets[payer].warnings)
        except PolicyError as exc:
            failed[payer] = exc.problems
            found.append(exc.problems)
    misplaced = sources.misplaced_base()
    if misplaced is not None:
        found.append([Problem("invalid_payer_id", f"`{BASE}` is the base CPT guidance in policies/{BASE}/; this "
                             "overlay file is never loaded: give it another id and file name",
                             Location(misplaced.shown, 1, 1))])

    parsed.parse_all()
    docs = parsed.docs
    index = Index({name: index_doc(doc) for name, doc in docs.items()},
                  {payer: index_doc(docs[f.shown]) for payer, f in overlay_files.items() if f.shown in docs})
    unsafe: set[str] = set()
    for payer in failed:
        unsafe |= raw_chain(payer, index)
    out = Problems()
    if failed:
        out.items.append(Problem(
            "lint_checks_skipped", f"{names(sorted(failed))} {'does' if len(failed) == 1 else 'do'} not load, so "
            f"rule_never_fires, rule_shadowed and parameter_unused are not checked for layer(s) "
            f"{names(sorted(unsafe))}; fix the errors first", None, "info"))
    scope = Scope(index, definitions(parsed, sets), [sets[p] for p in payers if p in sets], unsafe, guidance, root)
    for check in CHECKS:
        check.run(scope, out)

    problems = _merge(found) + out.items
    if files:
        problems = _only_files(problems, files, root, [sources.path_of(f.name) for f in sources
                                                       if f.name.endswith(".yaml") and f.data is not None])
    problems.sort(key=lambda p: (p.location or Location(""), p.code, p.message))
    return LintReport(problems, payers, sorted(failed))


def _merge(per_payer: list[list[Problem]]) -> list[Problem]:
    """One report of the problems several payers share. Problems with the same level, code and location
    are one problem seen by several payers (a message may differ by payer, as a did-you-mean hint drawn
    from that payer's parameters): the most informative payer's version is kept (the most problems at
    that place, then the longest messages). Within one payer every distinct problem is kept."""
    def key(p: Problem) -> tuple:
        return (p.level, p.code, p.location) if p.location else (p.level, p.code, p.message)
    best: dict[tuple, list[Problem]] = {}
    for problems in per_payer:
        mine: dict[tuple, list[Problem]] = {}
        for p in problems:
            if p not in mine.setdefault(key(p), []):
                mine[key(p)].append(p)
        for k, group in mine.items():
            rank = (len(group), sum(len(p.message) for p in group))
            old = best.get(k)
            if old is None or rank > (len(old), sum(len(p.message) for p in old)):
                best[k] = group
    return [p for group in best.values() for p in group]


def _only_files(problems: list[Problem], files, root: Path, known: list[Path | None]) -> list[Problem]:
    """Problems located in ``files`` (paths relative to the working directory or the repository root,
    or absolute), plus those that have no file at all (they concern every file)."""
    def candidates(name: str) -> set[Path]:
        p = Path(name)
        if p.is_absolute():
            return {p.resolve()}
        return {(Path.cwd() / p).resolve(), (root / p).resolve()}
    wanted: dict[str, set[Path]] = {str(f): candidates(str(f)) for f in files}
    every = set().union(*wanted.values())
    keep = [p for p in problems if p.location is None or candidates(p.location.file) & every]
    known_paths = {k.resolve() for k in known if k is not None}
    for name, paths in wanted.items():
        if not paths & known_paths:
            keep.append(Problem("not_a_policy_file", f"`{name}` is not a rule, overlay or vocabulary file that "
                                "the policies load; nothing is reported for it", Location(name), "info"))
    return keep
