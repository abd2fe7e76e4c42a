"""The engine's facade: the names the server, the command line and other callers use.

Everything outside ``supportable.engine`` imports from here, not from the modules: the modules are
the engine's own business and may be split or renamed. Names are resolved on first use (PEP 562),
so importing the facade loads nothing a command does not need (the ICD-10-CM index, the pyDatalog
engine, the edit-table store).

The stages a policy goes through, in order: read (``sources``: ``PolicySources.from_dirs``, each file
once) -> parse (``parsed``: ``parse_sources``, with ``parser``, ``loader``, ``overlay``) -> build
(``build``: the stage table gather, layer, check, check_edits, compile, solve_static, evaluator) -> evaluate
(``evaluator``) -> explain (``explain``) -> decide (``decision``); ``load_policy_set`` runs read,
parse and build for one payer and returns a :class:`PolicySet`, whose ``read_encounter`` reads an
encounter and ``decide`` decides it. The build's last stage, ``evaluator``, makes the evaluator of the
engine chosen (``engine=``: ``plan``, the default, or ``pydatalog``, the reference; ``ENGINES``).
docs/architecture.md has the picture.
"""
from __future__ import annotations

from importlib import import_module

# name -> the module (under supportable.engine) that defines it, or "module:name" where the facade's
# name differs (a name equal to a submodule's would be replaced by the submodule once imported)
_EXPORTS = {
    # loading a payer's policies
    "PolicySet": "policyset", "load_policy_set": "policyset",
    "PolicySources": "sources", "ParsedPolicies": "parsed", "parse_sources": "parsed:parse",
    "source_files": "sources", "POLICY_FOLDERS": "sources",
    "build_policy_set": "build:build", "STAGE_NAMES": "build",
    # the evaluators by name (``build_policy_set(..., engine=)``, ``PolicySet.engine``)
    "ENGINES": "engine_names", "DEFAULT_ENGINE": "engine_names", "check_engine": "engine_names",
    "payer_ids": "policyset", "default_payers_dir": "policyset", "BASE": "overlay",
    "misplaced_base": "overlay", "shown_path": "sources", "decode_utf8": "yamlsource", "load_yaml": "yamlsource",
    # inputs, problems and decisions
    "Encounter": "encounter", "DERIVED_ELEMENTS": "encounter", "Location": "errors", "Problem": "errors", "PolicyError": "errors",
    "InputError": "errors", "Decision": "decision", "LineDecision": "decision",
    "EXPLAIN_LEVELS": "decision", "Attempt": "explain", "ProofNode": "explain", "VERDICTS": "verdicts",
    "RULE_NOTE": "dateranges",
    # what a loaded policy says
    "explain_code": "requirements", "CodeRequirements": "requirements", "diff_policies": "policydiff",
    "PolicyDiff": "policydiff",
    # what a payer will require for a code before the service (the CDS Hooks coverage service)
    "prospective_requirements": "prospective", "ProspectiveRequirements": "prospective",
    "services_in_window": "prospective",
    # the analyst's tools
    "lint_policies": "lint:lint", "run_tests": "policytest", "import_files": "ncci_import",
    "StoreError": "edits_store", "load_imported": "edits_store",
    # the impact of a candidate overlay (the impact command)
    "load_candidate": "impact", "read_corpus": "impact", "compare": "impact", "Impact": "impact",
    "Change": "impact", "ImpactError": "impact", "CHANGE_TYPES": "impact", "NOW_ACCEPTED": "impact",
    "NOW_REFUSED": "impact", "RULES_CHANGED": "impact",
    # a decision log's inputs decided again (the replay command)
    "replay_log": "impact:replay", "REPLAY_TYPES": "impact",
    # a policy-test run, as the command line renders it
    "PolicyTestRun": "policytest", "PolicyCache": "policytest", "Mismatch": "policytest", "Coverage": "policytest",
    "PASSED": "policytest", "FAILED": "policytest", "ERROR": "policytest",
}
# modules callers use as a whole
_MODULES = {"edits_store", "icd10", "impact"}

__all__ = sorted(_EXPORTS) + sorted(_MODULES)


def __getattr__(name: str):
    if name in _EXPORTS:
        module, _, attribute = _EXPORTS[name].partition(":")
        value = getattr(import_module(f".{module}", __name__), attribute or name)
    elif name in _MODULES:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value       # resolved once
    return value


def __dir__() -> list[str]:
    return __all__
