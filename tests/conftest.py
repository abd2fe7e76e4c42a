import json
from pathlib import Path

import pytest

from engine.policyset import load_policy_set

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "encounters"


@pytest.fixture(scope="session")
def base_policy():
    return load_policy_set(ROOT / "policies")


@pytest.fixture
def example():
    def load(name: str) -> dict:
        return json.loads((EXAMPLES / f"{name}.json").read_text())
    return load


def line_of(decision, line_id):
    return next(l for l in decision.lines if l.line == line_id)
