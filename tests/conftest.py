import json
import shutil
from pathlib import Path

import pytest

from supportable.engine.policyset import load_policy_set

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


PAYERS = ("base", "commercial", "medicare", "aetna", "aetna_medicare")


@pytest.fixture(scope="session")
def policies():
    """Every shipped payer's policy set, loaded once."""
    return {payer: load_policy_set(ROOT / "policies", payer) for payer in PAYERS}


VISIT_DOCUMENTATION = ["functional_goals", "goal_linkage", "objective_findings", "skilled_intervention",
                       "progress_toward_goals", "time_recorded", "medical_necessity", "treatment_parameters",
                       "plan_of_care_signed"]


def payers_with(tmp_path, overlays: dict[str, str]):
    """A copy of the shipped payers/ folder under tmp_path with extra overlay files (id -> YAML text),
    for tests of a payer built on the shipped ones; returns the folder."""
    folder = tmp_path / "payers"
    shutil.copytree(ROOT / "payers", folder)
    for name, text in overlays.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


# The intended outcome a clean line of each outcome-coded code states (one that fits the code).
CLEAN_OUTCOMES = {"97110": ["strength"], "97112": ["balance"], "97116": ["gait"], "97530": ["functional_activity"],
                  "97535": ["self_care"]}


def make_encounter(lines, **changes) -> dict:
    """A complete, clean encounter: a physical therapist's visit under a physician-certified plan, every
    visit-level element documented, an improving patient. ``lines`` are (code, minutes, units) or dicts;
    each line gets GP and its own time block. ``changes`` replace top-level fields."""
    built = []
    for i, spec in enumerate(lines, start=1):
        line = {"id": str(i), "modifiers": ["GP"], "time_block": f"B{i}"}
        if isinstance(spec, dict):
            line.update(spec)
        else:
            code, minutes, units = spec
            line.update(code=code, minutes=minutes, units=units)
        line.setdefault("id", str(i))
        if line.get("code") in CLEAN_OUTCOMES:     # codes chosen by outcome state one (give [] to test without)
            line.setdefault("intended_outcomes", CLEAN_OUTCOMES[line["code"]])
        built.append(line)
    data = {
        "id": "enc-test",
        "date_of_service": "2025-06-02",
        "provider": {"type": "physical_therapist"},
        "diagnoses": ["M54.50"],
        "documentation": list(VISIT_DOCUMENTATION),
        "plan_of_care": {"certified_by": "physician", "certified_on": "2025-05-20", "start_of_care": "2025-05-19"},
        "patient": {"id": "pt-1", "condition_status": "improving", "history": [],
                    "year_to_date": {"pt_slp": 0, "ot": 0}},
        "lines": built,
    }
    data.update(changes)
    return data


def decide_for(policy, data, explain="full"):
    return policy.decide(policy.parse(data), explain)


def walk(node):
    """Every node of a proof tree (wire.ProofNode documents, as server.wire.proof_node builds them)."""
    yield node
    for child in node.get("premises", []):
        yield from walk(child)


def plan_text(method: str) -> str:
    """An overlay, `plan`, that sets only the unit method: reload tests change it to see a swap."""
    return ("id: plan\nname: A plan that changes its unit method\nextends: base\nparameters:\n"
            f"  unit_method:\n    value: {method}\n    description: how this plan counts units\n"
            "    source: {file: domain-notes.md, section: '1.3'}\n")


def plan_project(tmp_path: Path, method: str) -> Path:
    """A copy of the policies with two payers: commercial, and `plan` with the given unit method."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    (tmp_path / "payers").mkdir()
    shutil.copy(ROOT / "payers" / "commercial.yaml", tmp_path / "payers" / "commercial.yaml")
    (tmp_path / "payers" / "plan.yaml").write_text(plan_text(method))
    return tmp_path
