"""What a command imports: each pays only for what it needs (``supportable check`` on one file well
under a second, ``--version`` at once). Timings are in bench/bench_startup.py; these check the
imports, which is what the timings rest on."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

HEAVY = ("flask", "gunicorn", "pydantic_settings", "prometheus_client", "werkzeug", "simple_icd_10_cm",
         "supportable.server.settings", "supportable.engine.lint", "supportable.engine.impact",
         "supportable.engine.policytest", "supportable.cli.lint", "supportable.cli.impact")


def imported_by(*args: str) -> set[str]:
    """The top modules (and ours) loaded by ``supportable ARGS``, run in a fresh interpreter."""
    probe = ("import atexit, json, sys\n"
             "atexit.register(lambda: sys.__stderr__.write('MODULES ' + json.dumps(sorted(sys.modules)) + '\\n'))\n"
             f"sys.argv = ['supportable', *{list(args)!r}]\n"
             "from supportable.cli import main\n"
             "main()\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    line = next(l for l in out.stderr.splitlines() if l.startswith("MODULES "))
    return set(json.loads(line[len("MODULES "):]))


def loaded(modules: set[str], names) -> list[str]:
    return sorted(n for n in names if n in modules)


def test_version_imports_no_engine():
    modules = imported_by("--version")       # (--help lists every command: it imports their modules)
    # only the engines' names (a module of constants, for --engine's choices); no stage, no evaluator
    assert [m for m in modules if m.startswith("supportable.engine.") or m == "pyDatalog"] == \
        ["supportable.engine.engine_names"]
    assert loaded(modules, HEAVY + ("pydantic", "lark", "yaml")) == []


def test_check_imports_neither_the_server_nor_the_analyst_tools():
    modules = imported_by("check", "examples/encounters/mixed_visit.json")
    assert "supportable.engine.decision" in modules
    assert loaded(modules, HEAVY) == []
