"""The engine's facade (supportable.engine): every name it lists resolves, and importing it loads
nothing a command does not need."""
from __future__ import annotations

import subprocess
import sys

import supportable.engine as engine


def test_every_exported_name_resolves():
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    assert callable(engine.lint_policies) and engine.lint_policies.__name__ == "lint"
    assert engine.impact.__name__ == "supportable.engine.impact"


def test_importing_the_facade_loads_no_engine_module():
    probe = ("import sys, supportable.engine; "
             "print(sorted(m for m in sys.modules if m.startswith(('supportable.engine.', 'pyDatalog', "
             "'simple_icd_10_cm'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_server_and_the_command_line_read_the_engine_only_through_the_facade():
    import ast
    from pathlib import Path
    repo = Path(__file__).resolve().parent.parent
    reaching_in = []
    for path in sorted([*(repo / "server").rglob("*.py"), *(repo / "cli").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            reaching_in += [f"{path.relative_to(repo)}: {n}" for n in names if n.startswith("supportable.engine.")]
    assert reaching_in == []
