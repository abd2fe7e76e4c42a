"""Remittance codes (CARC/RARC) on every reason: the cited table in policies/remittance/, payers'
overrides, its load-time checks (file:line:col) and the codes on decisions, the wire and the text.

Source of every code: ../shared/guidance/domain-notes-2.md §5 (the X12 lists, paraphrased, and the
contractors' observed usage) and §9 C11 (a missing modifier as CARC 16 + N822)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from supportable.cli import main
from supportable.engine.errors import PolicyError
from supportable.engine.policyset import load_policy_set
from supportable.engine.remittance import REASON_KINDS
from supportable.server.wire import decision as decision_document

from conftest import PAYERS, decide_for, make_encounter

ROOT = Path(__file__).resolve().parent.parent
GUIDANCE = ROOT.parent / "shared" / "guidance"
TABLE = ROOT / "policies" / "remittance" / "codes.yaml"
REASON_HEADS = ("deny", "deny_units")   # a supportable_units rule gives a `units` reason when over-billed


def _reason_kinds(rule) -> list[str]:
    """The kinds a reason of ``rule`` can have (engine.decision._kind)."""
    if rule.clause.head.pred == "supportable_units":
        return ["units"]
    if rule.kind:
        return [rule.kind]
    return ["denial", "documentation", "modifier", "coding", "units"]      # by the fix it has, if any


@pytest.mark.parametrize("payer", PAYERS)
def test_every_rule_that_gives_reasons_maps_to_codes_in_the_table(policies, payer):
    policy = policies[payer]
    table = policy.remittance
    producing = [r for r in policy.rules if r.clause.head.pred in (*REASON_HEADS, "supportable_units")]
    assert len(producing) > 20          # the enumeration found the rules
    for rule in producing:
        for kind in _reason_kinds(rule):
            found = table.lookup(rule.id, kind)
            assert found is not None, f"{payer}: {rule.id} ({kind}) has no remittance code"
            assert ("carc", found.carc) in table.codes, (rule.id, found.carc)
            assert found.rarc is None or ("rarc", found.rarc) in table.codes, (rule.id, found.rarc)
    for kind in REASON_KINDS:           # every kind a reason can have, bundled rule or not
        assert table.lookup("no.such.rule", kind) is not None, kind


def test_every_entry_and_code_cites_a_guidance_file_and_paraphrases(policies):
    guidance = {p.name for p in GUIDANCE.iterdir()}
    notes = (GUIDANCE / "domain-notes-2.md").read_text(encoding="utf-8")
    for payer, policy in policies.items():
        table = policy.remittance
        for entry in [*table.by_kind.values(), *table.by_rule.values()]:
            assert entry.source in guidance, (payer, entry.key, entry.source)
            assert entry.section.startswith(("5. Remittance codes", "9. C11")), entry.section
        for (kind, code), found in table.codes.items():
            assert found.source == "domain-notes-2.md"
            assert f"**{code}**" in notes, f"{kind} {code} is not among the codes the guidance lists"
            assert found.meaning not in notes      # a paraphrase, never the guidance's (or X12's) words


def test_decisions_carry_the_codes_of_their_reasons(policies, example):
    base = policies["base"]
    d = decision_document(decide_for(base, example("missing_documentation")), "summary")
    reasons = d["lines"][0]["reasons"]
    assert d["lines"][0]["verdict"] == "needs_documentation"
    assert reasons and {(r["kind"], r["carc"], r["rarc"]) for r in reasons} == {("documentation", "16", "N706")}
    d = decision_document(decide_for(base, example("group_billed_as_97110")), "summary")
    assert [(r["id"], r["carc"], r["rarc"]) for r in d["lines"][0]["reasons"]] == [
        ("base.choice.billed_code_contradicts_intent", "16", "M51"),
        ("base.group.several_patients_only_97150", "16", "M51")]


def test_an_overlays_rule_entry_wins_over_the_kind(policies):
    """Medicare bundles hot/cold packs (97010): CARC 97 + M15 (medicare.yaml), not coding's 16 + M51."""
    data = make_encounter([("97110", 30, 2), {"code": "97010", "units": 1, "minutes": 10}])
    line = next(l for l in decide_for(policies["medicare"], data).lines if l.code == "97010")
    reason = next(r for r in line.reasons if r.rule.id == "medicare.codes.hot_cold_packs_bundled")
    assert (reason.kind, reason.carc, reason.rarc) == ("coding", "97", "M15")
    line = next(l for l in decide_for(policies["base"], data).lines if l.code == "97010")
    assert all(r.rule.id != "medicare.codes.hot_cold_packs_bundled" for r in line.reasons)


def _project(tmp_path: Path, table_extra: str = "", overlay: str | None = None) -> tuple[Path, Path]:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    (tmp_path / "payers").mkdir()
    if table_extra:
        path = tmp_path / "policies" / "remittance" / "codes.yaml"
        path.write_text(path.read_text(encoding="utf-8") + table_extra, encoding="utf-8")
    if overlay is not None:
        (tmp_path / "payers" / "acme.yaml").write_text(overlay, encoding="utf-8")
    return tmp_path / "policies", tmp_path / "payers"


def _problems(policies: Path, payers: Path, payer: str = "base"):
    with pytest.raises(PolicyError) as info:
        load_policy_set(policies, payer, payers)
    return [(p.code, str(p.location)) for p in info.value.problems]


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_unknown_rule_kind_and_code_are_load_errors_with_their_position(tmp_path):
    n = _lines(TABLE)
    extra = ("  base.no_such.rule:\n    carc: \"16\"\n    rarc: N706\n    source: {file: domain-notes-2.md}\n"
             "  base.units.once_per_session:\n    carc: \"999\"\n    source: {file: domain-notes-2.md}\n")
    policies, payers = _project(tmp_path, extra)
    shown = "policies/remittance/codes.yaml"
    assert _problems(policies, payers) == [("unknown_rule_id", f"{shown}:{n + 2}:5"),
                                          ("unknown_remittance_code", f"{shown}:{n + 6}:5")]


def test_unknown_kind_in_an_overlay_and_a_rule_it_cannot_see(tmp_path):
    overlay = ("id: acme\nname: Acme\nextends: base\nremittance:\n  by_kind:\n    denials:\n      carc: \"50\"\n"
               "      source: {file: domain-notes-2.md}\n  by_rule:\n    medicare.kx.modifier_required:\n"
               "      carc: \"16\"\n      rarc: N822\n      source: {file: domain-notes-2.md}\n")
    policies, payers = _project(tmp_path, overlay=overlay)
    assert _problems(policies, payers, "acme") == [("unknown_reason_kind", "payers/acme.yaml:7:7"),
                                                  ("unknown_rule_id", "payers/acme.yaml:11:7")]


def test_an_overlay_overrides_a_kind_and_the_policy_version_follows(tmp_path):
    overlay = ("id: acme\nname: Acme\nextends: base\nremittance:\n  by_kind:\n    documentation:\n"
               "      carc: \"16\"\n      rarc: N822\n      source: {file: domain-notes-2.md, section: \"5\"}\n")
    policies, payers = _project(tmp_path, overlay=overlay)
    acme = load_policy_set(policies, "acme", payers)
    (payers / "acme.yaml").write_text(overlay.split("remittance:")[0], encoding="utf-8")
    plain = load_policy_set(policies, "acme", payers)
    data = json.loads((ROOT / "examples" / "encounters" / "missing_documentation.json").read_text())
    data.pop("payer", None)
    codes = {(r.carc, r.rarc) for r in decide_for(acme, data).lines[0].reasons}
    assert codes == {("16", "N822")}
    assert {(r.carc, r.rarc) for r in decide_for(plain, data).lines[0].reasons} == {("16", "N706")}
    assert acme.version != plain.version


def test_the_text_shows_the_code_next_to_the_reason():
    result = CliRunner().invoke(main, ["check", str(ROOT / "examples" / "encounters" / "group_billed_as_97110.json")])
    assert result.exit_code == 0
    assert ("97110 is not the code for this service as documented; 97150 is (CARC 16, RARC M51) "
            "[base.choice.billed_code_contradicts_intent;") in result.output


def test_a_policy_test_names_codes_from_the_table(tmp_path):
    """A policy test's `remittance:` must name codes of the payer's table; a wrong one is located."""
    case = (ROOT / "policies" / "tests" / "base" / "remittance.yaml").read_text(encoding="utf-8")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(case.replace("remittance: [16/N706]", "remittance: [16/N999]")
                     .replace("remittance: [16/M51]", "remittance: [16/N706]"), encoding="utf-8")
    result = CliRunner().invoke(main, ["test", str(wrong)])
    assert result.exit_code == 1
    line = next(i for i, l in enumerate(wrong.read_text().splitlines(), 1) if "16/N999" in l)
    assert f"wrong.yaml:{line}:" in result.output and "`16/N999` in `remittance` names a code" in result.output
    assert "expected: [16/N706]" in result.output and "actual:   [16/M51]" in result.output   # a mismatch fails


def test_lint_checks_what_the_remittance_table_cites(tmp_path):
    policies, payers = _project(tmp_path)
    for overlay in (ROOT / "payers").glob("*.yaml"):
        shutil.copy(overlay, payers / overlay.name)
    table = policies / "remittance" / "codes.yaml"
    text = table.read_text(encoding="utf-8")
    table.write_text(text.replace("source: {file: domain-notes-2.md, section: \"5. Remittance codes: benefit",
                                  "source: {file: domain-notes-9.md, section: \"5. Remittance codes: benefit"),
                     encoding="utf-8")
    line = next(i for i, l in enumerate(table.read_text().splitlines(), 1) if "domain-notes-9.md" in l)
    result = CliRunner().invoke(main, ["lint", "--policies", str(policies), "--payers", str(payers),
                                       "--guidance", str(GUIDANCE)])
    assert f"policies/remittance/codes.yaml:{line}:20: warning: the remittance entry `limit` cites " \
           "`domain-notes-9.md`" in result.output, result.output
    assert "1 warning(s)" in result.output
