"""The routes that describe the loaded payers: ``GET /v1/payers``, ``/v1/payers/<payer>``, what one
code requires under a payer (``/v1/payers/<payer>/codes/<code>``) and ``/v1/vocabulary``."""
from __future__ import annotations

from flask import Flask, jsonify

from supportable.engine import InputError, explain_code

from .. import wire
from .common import ProblemError, State, policy_for

VOCABULARY_NAMES = {"code": "codes", "documentation": "documentation", "outcome": "outcomes",
                    "provider_type": "provider_types", "region": "regions", "modifier": "modifiers",
                    "diagnosis": "diagnoses"}


def install(app: Flask, state: State) -> None:
    @app.get("/v1/payers")
    def payers():
        rows = [_payer_summary(state, p) for p in state.registry.known]
        return jsonify({"payers": rows})

    @app.get("/v1/payers/<payer>")
    def payer(payer: str):
        policy = policy_for(state, payer, "")
        return jsonify({**_payer_summary(state, payer), **{k: v for k, v in wire.payer_description(policy).items()
                                                           if k in ("parameters", "disabled", "edit_changes",
                                                                    "edits_imported")}})

    @app.get("/v1/payers/<payer>/codes/<code>")
    def payer_code(payer: str, code: str):
        policy = policy_for(state, payer, "")
        try:
            return jsonify(wire.code_requirements(explain_code(policy, code)))
        except InputError:
            raise ProblemError("unknown-code", 404, f"unknown code `{code}`; GET /v1/vocabulary lists the codes") \
                from None

    @app.get("/v1/vocabulary")
    def vocabulary():
        policy = next(iter(state.registry.policies.values()), None)
        if policy is None:
            raise ProblemError("payer-unavailable", 503, "no policies are loaded")
        entries = wire.vocabulary(policy.vocabulary)
        return jsonify({VOCABULARY_NAMES.get(name, name): items for name, items in entries.items()})


def _payer_summary(state: State, payer: str) -> dict:
    policy = state.registry.policies.get(payer)
    if policy is None:
        return {"id": payer, "loaded": False, "problems": wire.problem_items(state.registry.failed.get(payer, []))}
    described = wire.payer_description(policy)
    return {"id": payer, "name": described["name"], "extends": described["extends"], "chain": described["chain"],
            "effective": described["effective"], "policy_version": described["policy_version"],
            "rules": described["rules"], "loaded": True}
