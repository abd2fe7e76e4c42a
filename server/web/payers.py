""""Payers": every payer and its chain (``/payers``), one payer's parameters with their sources and the
rules it switches off (``/payers/<payer>``), what it requires for a code (``/payers/<payer>/codes/<code>``,
as ``explain-code``) and how two payers differ (``/payers/diff?from=A&to=B``, as ``supportable diff``)."""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from supportable.engine import InputError, diff_policies, explain_code

from .. import wire
from ..routes.common import ProblemError, State, policy_for
from . import labels
from .pages import page, payer_ids, vocabulary


def install(bp: Blueprint, state: State) -> None:

    def summaries() -> list[dict]:
        rows = []
        for payer in payer_ids(state):
            policy = state.registry.policies.get(payer)
            if policy is None:
                rows.append({"id": payer, "loaded": False,
                             "problems": labels.problems_text(wire.problem_items(state.registry.failed.get(payer, [])))})
            else:
                rows.append({**wire.payer_description(policy), "loaded": True})
        return rows

    @bp.get("/payers")
    def payers():
        return page("payers.html", "Payers", rows=summaries(), payers=payer_ids(state))

    @bp.get("/payers/diff")
    def payers_diff():
        before, after = request.args.get("from", ""), request.args.get("to", "")
        errors = [f"Choose the payer to compare {side}." for side, x in (("from", before), ("to", after)) if not x]
        if errors:
            return page("payers.html", "Payers", rows=summaries(), payers=payer_ids(state), errors=errors), 422
        diff = wire.policy_diff(diff_policies(policy_for(state, before, "from"), policy_for(state, after, "to")))
        return page("payer_diff.html", f"How {after} differs from {before}", diff=diff, labels=labels)

    @bp.get("/payers/<payer>")
    def payer_page(payer: str):
        code = request.args.get("code")
        if code:                                     # the "what does it require for a code" form
            return redirect(url_for("web.payer_code", payer=payer, code=code.strip()), code=303)
        policy = policy_for(state, payer, "")
        return page("payer.html", f"Payer: {payer}", payer=wire.payer_description(policy), labels=labels,
                    codes=vocabulary(state)["entries"]["code"])

    @bp.get("/payers/<payer>/codes/<code>")
    def payer_code(payer: str, code: str):
        policy = policy_for(state, payer, "")
        try:
            req = wire.code_requirements(explain_code(policy, code))
        except InputError:
            raise ProblemError("unknown-code", 404, f"There is no code `{code}` in the vocabulary; the payer's page "
                               "lists the codes.") from None
        return page("payer_code.html", f"{payer}: what {code} requires", req=req, labels=labels)
