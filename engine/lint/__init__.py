"""`supportable lint`: every problem the loader finds, for every payer at once, plus warnings
about policies that load but cannot mean what their author intended.

Errors are the :class:`~engine.errors.PolicyError` problems of loading each payer (``base`` and
every overlay in the payers folder), each built from one read and one parse of the policy sources
(``engine.sources``, ``engine.parsed``, ``engine.build``), reported once
however many payers hit them (same level, code and location: the fullest payer's message is
kept), plus a ``base.yaml`` among the overlays (never loaded).

Warnings (``Problem`` with ``level="warning"``), each with a stable code and a ``file:line:col``,
come from the checks listed in :data:`engine.lint.checks.CHECKS`.

Modules: ``runner`` (the run: build, index, walk the checks, merge, filter by file; ``lint`` from the
folders, ``lint_sources`` from a ``PolicySources``), ``report`` (the result), ``index`` (the YAML
nodes by location, from the trees the parse composed), ``scope`` (what the checks look at),
``checks`` (the table) and one module per kind of check (``across_payers``, ``sources``,
``because``, ``versions``).
"""
from .checks import CHECKS, WARNING_CODES, Check
from .report import LintReport
from .runner import default_guidance_dir, lint, lint_sources

__all__ = ["CHECKS", "Check", "LintReport", "WARNING_CODES", "default_guidance_dir", "lint", "lint_sources"]
