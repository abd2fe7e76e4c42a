"""The peers' small claim policy in clingo (ASP), Rego (regopy) and Cedar (cedarpy), each behind the
same two calls the runner times and checks (bench/bench_peers.py):

    engine.run(claim)      -> the engine's own output for one claim (timed: the claim's conversion to
                              the engine's input, evaluation, and reading the result out)
    engine.answer(output)  -> {line id: (supportable, sorted reasons)}, as workload.reference gives

The policy is compiled once per engine (clingo: the rules parsed to an AST once, a fresh Control per
claim fed that AST and the claim's facts; Rego: one bundle built for the query; Cedar: one parsed
PolicySet and one empty Entities handle). Nothing here evaluates policy text as Python: each peer's
text goes to the peer's own parser. A peer whose package is missing raises ImportError from
``make_engine``; the runner reports it as not installed.
"""
from __future__ import annotations

import json
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from workload import AETNA, CAP_VISITS, CAP_WINDOW, NMR, NMR_CONFLICTS, REQUIRES

PACKAGES = {"clingo": "clingo", "rego": "regopy", "cedar": "cedarpy"}


def package_version(engine: str) -> str | None:
    try:
        return version(PACKAGES[engine])
    except PackageNotFoundError:
        return None


# ------------------------------------------------------------------------------------------------
# clingo
# ------------------------------------------------------------------------------------------------

ASP = "\n".join(f'requires("{code}","{e}").' for code, els in REQUIRES.items() for e in els) + f"""
nmr_conflicts("{NMR_CONFLICTS[0]}"). nmr_conflicts("{NMR_CONFLICTS[1]}").
missing(L,E) :- line(L,C,_), requires(C,E), not documented(L,E).
conflict(L) :- aetna, line(L,"{NMR}",D), line(_,C,D), nmr_conflicts(C).
conflict(L) :- aetna, line(L,C,D), nmr_conflicts(C), line(_,"{NMR}",D).
cap(L) :- aetna, line(L,"{NMR}",D), #count{{ H : visit(H), H >= D-{CAP_WINDOW}, H < D }} > {CAP_VISITS}.
#show missing/2. #show conflict/1. #show cap/1.
"""


class Clingo:
    name = "clingo"
    strategy = "rules parsed once (AST), fresh Control per claim"

    def __init__(self):
        self.clingo = import_module("clingo")
        ast = import_module("clingo.ast")
        self._ast = ast
        self.rules: list = []
        ast.parse_string(ASP, self.rules.append)

    def run(self, claim: dict) -> list[str]:
        facts = ["aetna."] if claim["payer"] == AETNA else []
        for line in claim["lines"]:
            facts.append(f'line({line["id"]},"{line["code"]}",{line["day"]}).')
            facts.extend(f'documented({line["id"]},"{e}").' for e in line["documented"])
        facts.extend(f"visit({h})." for h in claim["visits"])
        ctl = self.clingo.Control(["--warn=none"])
        with self._ast.ProgramBuilder(ctl) as builder:
            for statement in self.rules:
                builder.add(statement)
        ctl.add("base", [], "".join(facts))
        ctl.ground([("base", [])])
        shown: list = []
        ctl.solve(on_model=lambda m: shown.extend(m.symbols(shown=True)))
        return [str(s) for s in shown]

    def answer(self, output: list[str], claim: dict) -> dict:
        reasons: dict = {line["id"]: [] for line in claim["lines"]}
        for atom in output:
            pred, _, args = atom.partition("(")
            parts = [a.strip('"') for a in args.rstrip(")").split(",")]
            reasons[parts[0]].append({"missing": f"missing:{parts[-1]}", "conflict": "same_day_conflict",
                                      "cap": "visit_cap_exceeded"}[pred])
        return {lid: (not rs, tuple(sorted(rs))) for lid, rs in reasons.items()}


# ------------------------------------------------------------------------------------------------
# Rego (regopy)
# ------------------------------------------------------------------------------------------------

REGO = """package anchors

requires := %s

conflicting := %s

missing(l) := {concat("", ["missing:", e]) | some e in requires[l.code]; not e in l.documented}

conflict(l) := {"same_day_conflict" |
    input.payer == "%s"; l.code == "%s"; some o in input.lines; o.day == l.day; o.code in conflicting}

conflict_other(l) := {"same_day_conflict" |
    input.payer == "%s"; l.code in conflicting; some o in input.lines; o.day == l.day; o.code == "%s"}

cap(l) := {"visit_cap_exceeded" |
    input.payer == "%s"; l.code == "%s"
    count([h | some h in input.visits; h >= l.day - %d; h < l.day]) > %d}

result := {l.id: sort(((missing(l) | conflict(l)) | conflict_other(l)) | cap(l)) | some l in input.lines}
""" % (json.dumps({c: list(e) for c, e in REQUIRES.items()}), json.dumps(sorted(NMR_CONFLICTS)), AETNA, NMR,
       AETNA, NMR, AETNA, NMR, CAP_WINDOW, CAP_VISITS)


class Rego:
    name = "rego"
    strategy = "module compiled once into a bundle, queried per claim"

    def __init__(self):
        regopy = import_module("regopy")
        self.rego = regopy.Interpreter()
        self.rego.add_module("anchors", REGO)
        self.bundle = self.rego.build("data.anchors.result")

    def run(self, claim: dict) -> str:
        self.rego.set_input_term(json.dumps(claim, separators=(",", ":")))
        out = self.rego.query_bundle(self.bundle)
        if not out.ok():
            raise RuntimeError(f"rego failed on claim {claim['id']}: {out}")
        return str(out)            # the output as JSON text (regopy.Output.__str__)

    def answer(self, output: str, claim: dict) -> dict:
        result = json.loads(output)["expressions"][0]
        return {lid: (not rs, tuple(sorted(rs))) for lid, rs in result.items()}


# ------------------------------------------------------------------------------------------------
# Cedar (cedarpy)
# ------------------------------------------------------------------------------------------------
# Cedar answers one authorisation request at a time and has no aggregates: each line is a request
# (action check, resource the line), each reason a `permit` policy that holds when the reason applies,
# and the reasons of a line are the policies that determined it. The claim's lines are a set of
# {code, day} records in the context, so the same-day conflict is a `contains` in Cedar; the number of
# prior visits in the 42-day window is counted by the caller (in the timed call) and passed in.

def _cedar_policies() -> tuple[str, list[str]]:
    texts, reasons = [], []
    for element in sorted({e for els in REQUIRES.values() for e in els}):
        codes = sorted(c for c, els in REQUIRES.items() if element in els)
        texts.append(f'permit(principal, action == Action::"check", resource) when {{ {json.dumps(codes)}'
                     f'.contains(context.code) && !context.documented.contains("{element}") }};')
        reasons.append(f"missing:{element}")
    for other in sorted(NMR_CONFLICTS):
        texts.append(f'permit(principal, action == Action::"check", resource) when {{ context.aetna && '
                     f'context.code == "{NMR}" && context.lines.contains({{"code": "{other}", "day": context.day}}) }};')
        reasons.append("same_day_conflict")
        texts.append(f'permit(principal, action == Action::"check", resource) when {{ context.aetna && '
                     f'context.code == "{other}" && context.lines.contains({{"code": "{NMR}", "day": context.day}}) }};')
        reasons.append("same_day_conflict")
    texts.append(f'permit(principal, action == Action::"check", resource) when {{ context.aetna && '
                 f'context.code == "{NMR}" && context.visits_in_window > {CAP_VISITS} }};')
    reasons.append("visit_cap_exceeded")
    return "\n".join(texts), reasons


class Cedar:
    name = "cedar"
    strategy = "policies parsed once (PolicySet handle), one batch of requests per claim"

    def __init__(self):
        self.cedarpy = import_module("cedarpy")
        text, self.reasons = _cedar_policies()
        self.policies = self.cedarpy.PolicySet.from_str(text)
        self.entities = self.cedarpy.Entities.from_json_str("[]")

    def run(self, claim: dict) -> list:
        aetna = claim["payer"] == AETNA
        lines = [{"code": line["code"], "day": line["day"]} for line in claim["lines"]]
        requests = []
        for line in claim["lines"]:
            d = line["day"]
            window = sum(1 for h in claim["visits"] if d - CAP_WINDOW <= h < d) if aetna else 0
            requests.append({"principal": 'Claim::"c"', "action": 'Action::"check"',
                             "resource": f'Line::"{line["id"]}"',
                             "context": {"code": line["code"], "day": d, "documented": line["documented"],
                                         "aetna": aetna, "lines": lines, "visits_in_window": window}})
        results = self.cedarpy.is_authorized_batch(requests, self.policies, self.entities)
        return [(line["id"], r.diagnostics.reasons, r.diagnostics.errors) for line, r in zip(claim["lines"], results)]

    def answer(self, output: list, claim: dict) -> dict:
        out = {}
        for lid, policy_ids, errors in output:
            if errors:
                raise RuntimeError(f"cedar errors on claim {claim['id']} line {lid}: {errors}")
            rs = sorted({self.reasons[int(p.removeprefix("policy"))] for p in policy_ids})
            out[lid] = (not rs, tuple(rs))
        return out


PEERS = {"clingo": Clingo, "rego": Rego, "cedar": Cedar}


def make_engine(name: str):
    """The peer ``name``, compiled; ImportError when its package is not installed."""
    return PEERS[name]()
