"""A deterministic, vocabulary-driven generator of realistic encounter documents.

``EncounterGenerator(policy_set, seed).encounter()`` gives one encounter as a plain dict (as
decoded from JSON); every value is drawn from the policy set's vocabulary (``policies/vocabulary/``)
with ``random.Random(seed)``, so the same seed always gives the same encounters. Provider types,
codes, outcomes, documentation and history are weighted like real claims, mis-billed lines
included.

Used by the engine benchmark (``bench/bench_engine.py``, which times decisions on them) and by
the shipped impact corpus (``examples/corpus/generate.py``, which reshapes them per payer). It is
fixture tooling, not part of the installed package: nothing the server or the CLI runs needs it.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

from supportable.engine import icd10
from supportable.engine.encounter import DERIVED_ELEMENTS
from supportable.engine.policyset import PolicySet

# Relative weights of codes on a line; codes of the vocabulary not listed get DEFAULT_CODE_WEIGHT.
CODE_WEIGHTS = {
    "97110": 20, "97112": 10, "97116": 8, "97530": 14, "97140": 14, "97150": 5, "97535": 6,
    "98940": 8, "98941": 6, "98942": 2,
}
EVALUATION_WEIGHT = 1.5
MODALITY_WEIGHT = 2.5
DEFAULT_CODE_WEIGHT = 0.4

PROVIDER_WEIGHTS = {
    "physical_therapist": 42, "physical_therapist_assistant": 12, "occupational_therapist": 12,
    "occupational_therapy_assistant": 5, "chiropractor": 16, "acupuncturist": 3, "physician": 3,
    "nurse_practitioner": 2, "athletic_trainer": 3, "other": 2,
}

# Per provider type, multipliers on code weights (anything not listed x1). Small non-zero
# multipliers keep some mis-billed lines, as real claims have.
PT_EVALS = ("97161", "97162", "97163", "97164")
OT_EVALS = ("97165", "97166", "97167", "97168")
CMT = ("98940", "98941", "98942", "98943")
ACUPUNCTURE = ("97810", "97811", "97813", "97814")
PROVIDER_CODE_BIAS = {
    "physical_therapist": {**{c: 0.05 for c in OT_EVALS + CMT + ACUPUNCTURE}},
    "physical_therapist_assistant": {**{c: 0.05 for c in OT_EVALS + CMT + ACUPUNCTURE},
                                     **{c: 0.2 for c in PT_EVALS}},
    "occupational_therapist": {"97535": 4, "97530": 1.5, **{c: 0.05 for c in PT_EVALS + CMT + ACUPUNCTURE},
                               "97116": 0.2, "97112": 0.6},
    "occupational_therapy_assistant": {"97535": 4, "97530": 1.5, **{c: 0.05 for c in PT_EVALS + CMT + ACUPUNCTURE},
                                       **{c: 0.2 for c in OT_EVALS}, "97116": 0.2},
    "chiropractor": {"98940": 6, "98941": 6, "98942": 4, "98943": 3, "97140": 2, "97112": 1.2,
                     **{c: 0.05 for c in PT_EVALS + OT_EVALS + ACUPUNCTURE}, "97535": 0.1},
    "acupuncturist": {**{c: 25 for c in ACUPUNCTURE}, **{c: 0.05 for c in PT_EVALS + OT_EVALS + CMT}},
}

OUTCOME_HINTS = {
    "97110": ("strength", "endurance", "range_of_motion", "flexibility"),
    "97112": ("balance", "coordination", "kinesthetic_sense", "posture", "proprioception"),
    "97116": ("gait", "gait", "balance"),
    "97530": ("functional_activity", "functional_activity", "balance", "strength", "coordination",
              "range_of_motion"),
    "97535": ("self_care",),
    "97545": ("work_conditioning",),
    "97546": ("work_conditioning",),
    "97150": ("strength", "endurance", "balance", "functional_activity"),
    "97140": ("range_of_motion", "flexibility"),
}

VISIT_DOCUMENTATION = ("functional_goals", "goal_linkage", "objective_findings", "skilled_intervention",
                       "progress_toward_goals", "time_recorded", "medical_necessity", "treatment_parameters",
                       "plan_of_care_signed")
LINE_DOCUMENTATION_HINTS = {
    "97116": ("gait_impairment", "walking_limitation", "balance_deficit"),
    "97112": ("neuro_deficit", "balance_deficit"),
    "97535": ("adl_deficit",),
    "97545": ("work_related_goals",),
    "97546": ("work_related_goals",),
    "97530": ("balance_deficit",),
}
SPINE_DIAGNOSIS_PREFIXES = ("M54", "M51", "M48", "M62.83", "M99", "S13", "S33")
NEUROLOGIC_GROUPS = ("G00-G99", "I60-I69", "S06", "S14.1", "S24.1", "S34.1")


def _weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


class EncounterGenerator:
    """Deterministic, vocabulary-driven encounter documents (plain dicts, as decoded from JSON)."""

    def __init__(self, ps: PolicySet, seed: int):
        self.rng = random.Random(seed)
        self.seed = seed
        v = ps.vocabulary.entries
        self.codes = sorted(v["code"])
        self.code_kind = {c: e["kind"] for c, e in v["code"].items()}
        self.timed = {c for c, e in v["code"].items() if e.get("timed")}
        self.outcomes = sorted(v["outcome"])
        # elements that follow from a field (intended_outcome) cannot be listed: the parser refuses them
        self.documentation = sorted(d for d in v["documentation"] if d not in DERIVED_ELEMENTS)
        self.modifiers = set(v["modifier"])
        self.provider_types = sorted(v["provider_type"])
        self.regions = sorted(v["region"])
        self.spinal = sorted(r for r, e in v["region"].items() if e.get("spinal"))
        self.extraspinal = sorted(r for r, e in v["region"].items() if e.get("extraspinal"))
        self.region_range = {c: e["regions"] for c, e in v["code"].items() if e.get("regions")}
        self.edits = ps.edits
        diags = sorted(v["diagnosis"])
        # nervous-system disease or injury, read from the ICD-10-CM hierarchy as the policies do
        self.neuro_dx = [d for d in diags if any(icd10.is_within(d, g) for g in NEUROLOGIC_GROUPS)]
        self.spine_dx = [d for d in diags if d not in self.neuro_dx and d.startswith(SPINE_DIAGNOSIS_PREFIXES)]
        self.other_dx = [d for d in diags if d not in self.neuro_dx and d not in self.spine_dx]
        self.base_weights = {}
        for c in self.codes:
            if c in CODE_WEIGHTS:
                w = CODE_WEIGHTS[c]
            elif self.code_kind[c] == "evaluation":
                w = EVALUATION_WEIGHT
            elif self.code_kind[c] == "modality":
                w = MODALITY_WEIGHT
            else:
                w = DEFAULT_CODE_WEIGHT
            self.base_weights[c] = w
        self.provider_weights = {p: w for p, w in PROVIDER_WEIGHTS.items() if p in v["provider_type"]}
        self.visit_docs = [d for d in VISIT_DOCUMENTATION if d in v["documentation"]]
        self.counter = 0

    # -- pieces --------------------------------------------------------------------------------
    def _code_weights(self, provider: str) -> dict:
        bias = PROVIDER_CODE_BIAS.get(provider, {})
        return {c: w * bias.get(c, 1.0) for c, w in self.base_weights.items()}

    def _pick_codes(self, n: int, weights: dict) -> list[str]:
        weights = dict(weights)
        out = []
        for _ in range(n):
            c = _weighted(self.rng, weights)
            out.append(c)
            weights.pop(c)
            if self.code_kind[c] == "evaluation":            # at most one evaluation per visit
                for other in [k for k in weights if self.code_kind[k] == "evaluation"]:
                    weights.pop(other)
            if not weights:
                break
        return out

    def _outcomes(self, code: str) -> list[str]:
        r = self.rng
        if code not in OUTCOME_HINTS and r.random() < 0.5:
            return []
        n = r.choices((1, 2, 3), weights=(50, 35, 15))[0]
        hints = [o for o in OUTCOME_HINTS.get(code, ()) if o in self.outcomes]
        chosen: list[str] = []
        for _ in range(n):
            pool = hints if hints and r.random() < 0.8 else self.outcomes
            o = r.choice(pool)
            if o not in chosen:
                chosen.append(o)
        return chosen

    def _regions(self, code: str) -> list[str]:
        """The regions a line lists: for manipulation, as many as the code covers (now and then one
        more or fewer, as real claims have); for other codes one, sometimes two."""
        r = self.rng
        if r.random() < 0.15:
            return []
        spec = self.region_range.get(code)
        if spec:
            pool = self.spinal if spec["kind"] == "spinal" else self.extraspinal
            n = r.randint(spec["min"], spec["max"])
            if r.random() < 0.1:
                n = max(1, min(len(pool), n + r.choice((-1, 1))))
            return sorted(r.sample(pool, n))
        if code == "97116":
            return [r.choice([x for x in ("lower_extremity", "whole_body") if x in self.regions] or self.regions)]
        if code == "97140" and r.random() < 0.6:
            return [r.choice(self.spinal)]
        n = 2 if r.random() < 0.1 else 1
        return sorted(r.sample(self.regions, n))

    def _column2_grounds(self, code: str, others: list[str], day: str) -> list[str] | None:
        """How the line could be distinct from the codes it is the column-2 code of (None if none)."""
        grounds: list[str] = []
        for other in others:
            row = self.edits.in_force("ptp", (other, code), day) if self.edits else None
            if row is not None and row.value == 1:
                grounds += [g for g in row.grounds if g not in grounds]
        return grounds or None

    def _modifiers(self, code: str, provider: str, has_cmt: bool, grounds: list[str] | None = None) -> list[str]:
        r = self.rng
        mods: list[str] = []
        if provider in ("physical_therapist", "physical_therapist_assistant"):
            if r.random() < 0.7:
                mods.append("GP")
            if provider == "physical_therapist_assistant" and r.random() < 0.5:
                mods.append("CQ")
        elif provider in ("occupational_therapist", "occupational_therapy_assistant"):
            if r.random() < 0.7:
                mods.append("GO")
            if provider == "occupational_therapy_assistant" and r.random() < 0.5:
                mods.append("CO")
        elif r.random() < 0.1:
            mods.append("GP")
        if code in CMT and r.random() < 0.7:
            mods.append("AT")
        if grounds is not None:
            # the column-2 line of an edit: usually the modifier that fits, sometimes another one
            if r.random() < 0.75:
                fitting = ["59"] + [m for m, g in (("XS", "separate_structure"), ("XU", "separate_time_block"))
                                    if g in grounds]
                mods.append(r.choice(fitting) if r.random() < 0.9 else r.choice(("59", "XE", "XS", "XU")))
        elif r.random() < (0.3 if has_cmt and code not in CMT else 0.08):
            mods.append(r.choices(("59", "XS", "XU"), weights=(55, 35, 10))[0])
        if r.random() < 0.03:
            mods.append("KX")
        return [m for m in dict.fromkeys(mods) if m in self.modifiers]

    def _diagnoses(self, provider: str, codes: list[str]) -> list[str]:
        r = self.rng
        n = r.choices((1, 2, 3, 4), weights=(30, 35, 25, 10))[0]
        if provider == "chiropractor":
            pools = [(self.spine_dx, 80), (self.other_dx, 15), (self.neuro_dx, 5)]
        elif "97112" in codes or "97116" in codes:
            pools = [(self.neuro_dx, 45), (self.other_dx, 40), (self.spine_dx, 15)]
        else:
            pools = [(self.other_dx, 50), (self.spine_dx, 40), (self.neuro_dx, 10)]
        pools = [(p, w) for p, w in pools if p]
        out: list[str] = []
        for _ in range(n * 3):
            pool = r.choices([p for p, _ in pools], weights=[w for _, w in pools])[0]
            d = r.choice(pool)
            if d not in out:
                out.append(d)
            if len(out) == n:
                break
        return out

    # -- one encounter -------------------------------------------------------------------------
    def encounter(self) -> dict:
        r = self.rng
        self.counter += 1
        dos = date(2025, 1, 2) + timedelta(days=r.randint(0, 362))
        provider = _weighted(r, self.provider_weights)
        n_lines = r.choices((1, 2, 3, 4, 5, 6), weights=(10, 25, 30, 20, 10, 5))[0]
        codes = self._pick_codes(n_lines, self._code_weights(provider))
        has_cmt = any(c in CMT for c in codes)

        quality = r.choices((0.97, 0.85, 0.5), weights=(60, 30, 10))[0]
        visit_docs = [d for d in self.visit_docs if r.random() < quality]

        block_mode = r.random()             # < 0.25: no time blocks recorded at all
        blocks = "ABCDEF"
        current_block = 0
        lines = []
        for i, code in enumerate(codes, start=1):
            timed = code in self.timed
            minutes = int(r.triangular(5, 45, 15)) if timed else r.randint(5, 45)
            if timed:
                units = max(1, (minutes + 7) // 15)
                if r.random() < 0.12:
                    units += 1 if r.random() < 0.75 else 2
            else:
                units = 2 if r.random() < 0.05 else 1
            if code == "97150":
                patients = r.randint(2, 4) if r.random() < 0.9 else 1
            else:
                patients = 1 if r.random() < 0.92 else r.randint(2, 4)
            one_on_one = not (r.random() < (0.6 if patients > 1 else 0.05))
            line: dict = {"id": str(i), "code": code, "minutes": minutes, "units": units}
            grounds = self._column2_grounds(code, [c for c in codes if c != code], dos.isoformat())
            mods = self._modifiers(code, provider, has_cmt, grounds)
            if mods:
                line["modifiers"] = mods
            # Optional keys sometimes written out with their default values, sometimes left out.
            if not one_on_one or r.random() < 0.5:
                line["one_on_one"] = one_on_one
            if patients != 1 or r.random() < 0.5:
                line["patients_in_session"] = patients
            if block_mode >= 0.25 and r.random() < 0.9:
                if i > 1 and r.random() >= 0.3:
                    current_block = min(current_block + 1, len(blocks) - 1)
                if r.random() < 0.08 and current_block + 2 < len(blocks):    # a split service: two blocks
                    line["time_blocks"] = [blocks[current_block], blocks[current_block + 2]]
                else:
                    line["time_block"] = blocks[current_block]
            regions = self._regions(code)
            if len(regions) == 1 and r.random() < 0.5:
                line["region"] = regions[0]          # the single-region form, still accepted
            elif regions:
                line["regions"] = regions
            outcomes = self._outcomes(code)
            if outcomes:
                line["intended_outcomes"] = outcomes
            line_docs = [d for d in LINE_DOCUMENTATION_HINTS.get(code, ()) if d in self.documentation
                         and r.random() < 0.75]
            if "XS" in mods and r.random() < 0.7:
                line_docs.append("distinct_region")
            if "59" in mods and r.random() < 0.5:
                line_docs.append("separate_time_block")
            if r.random() < 0.1:
                line_docs.append(r.choice(self.documentation))
            line_docs = [d for d in dict.fromkeys(line_docs) if d in self.documentation]
            if line_docs:
                line["documentation"] = line_docs
            lines.append(line)

        # History: 0-25 earlier visits, every 1-7 days going back.
        n_hist = min(25, int(r.expovariate(1 / 6)))
        history = []
        day = dos
        hist_weights = self._code_weights(provider)
        for _ in range(n_hist):
            day = day - timedelta(days=r.randint(1, 7))
            history.append({"date": day.isoformat(),
                            "codes": self._pick_codes(r.choices((1, 2, 3, 4), weights=(25, 40, 25, 10))[0],
                                                      hist_weights)})
        history.reverse()
        first_day = date.fromisoformat(history[0]["date"]) if history else dos

        doc: dict = {
            "id": f"bench-{self.seed}-{self.counter:05d}",
            "date_of_service": dos.isoformat(),
            "payer": "base",
            "provider": {"type": provider},
            "diagnoses": self._diagnoses(provider, codes),
        }
        if visit_docs:
            doc["documentation"] = visit_docs
        if r.random() < (0.3 if provider == "chiropractor" else 0.75):
            start = first_day - timedelta(days=r.randint(0, 10))
            poc: dict = {"certified_by": r.choices(
                ("physician", "nurse_practitioner", "physical_therapist", "occupational_therapist", "chiropractor"),
                weights=(60, 20, 10, 5, 5))[0], "start_of_care": start.isoformat()}
            if r.random() < 0.8:
                poc["certified_on"] = min(dos, start + timedelta(days=r.randint(0, 20))).isoformat()
            doc["plan_of_care"] = poc
        patient: dict = {"id": f"pt-{r.randint(1000, 99999)}"}
        status = r.choices(("improving", "plateau", "regressing", None), weights=(60, 20, 10, 10))[0]
        if status:
            patient["condition_status"] = status
        if history or r.random() < 0.5:
            patient["history"] = history
        if r.random() < 0.7:
            patient["year_to_date"] = {"pt_slp": round(r.uniform(0, 3500), 2),
                                       "ot": round(r.uniform(0, 1500), 2) if r.random() < 0.3 else 0}
        doc["patient"] = patient
        doc["lines"] = lines
        return doc
