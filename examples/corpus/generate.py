#!/usr/bin/env python3
"""Write the shipped impact corpus: a deterministic set of realistic encounters as JSON lines.

    PYTHONPATH=. python examples/corpus/generate.py                    # examples/corpus/encounters.jsonl
    PYTHONPATH=. python examples/corpus/generate.py --seed 7 --count 500 --out /tmp/c.jsonl
    PYTHONPATH=. python examples/corpus/generate.py --stats            # also the verdict mix per payer

It is the corpus ``supportable impact --encounters examples/corpus/encounters.jsonl`` runs a
candidate overlay against. The encounters come from the generator the engine benchmark uses
too (``EncounterGenerator``, in ``encounter_generator.py`` beside this file), which draws every
value from ``policies/vocabulary/``, reshaped so that each shipped payer sees a realistic share of what it
decides on:

* ``general`` (45%): the benchmark's encounters as they are: every provider type, mis-billed
  lines, missing documentation, plateaus, incomplete modifiers.
* ``billed_to_medicare`` (35%): the same visits billed the way a Medicare claim is: GP (GO for
  occupational therapy) on every therapy line, CQ/CO for assistants, AT on spinal manipulation,
  a plan of care certified by a physician or nurse practitioner within 30 days of the start of
  care, KX once the year's amounts reach the threshold, and usually prior authorization recorded
  (Aetna Medicare Advantage). Medicare is then not all denials.
* ``nmr_episode`` (20%): neuromuscular reeducation (97112) in a neuro-rehabilitation episode, with
  a neurologic diagnosis (most) or not, and a history with 3 to 30 earlier 97112 visits in the
  last 42 days, so that Aetna's visit cap (18 visits in 42 days, until 2025-10-29) decides some
  lines and not others; most are billed cleanly enough that the cap is what decides.

Dates of service run from 2024-07-01 to 2026-04-30, about a quarter of them on or after
2025-10-29 (when Aetna's visit cap ends). Encounters carry no ``payer`` field: ``impact``
decides each under the payer it is given. Every encounter is checked with ``PolicySet.parse``
under every shipped payer (``base`` and each ``payers/*.yaml``); the script stops if one is
refused. The same seed always gives the same file.
"""
from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO, Path(__file__).resolve().parent):     # the project, and the encounter generator
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from encounter_generator import CMT, LINE_DOCUMENTATION_HINTS, EncounterGenerator  # noqa: E402
from supportable.engine.errors import InputError  # noqa: E402
from supportable.engine.overlay import BASE  # noqa: E402
from supportable.engine.policyset import load_policy_set, payer_ids  # noqa: E402

POLICIES = REPO / "policies"
DEFAULT_OUT = Path(__file__).resolve().parent / "encounters.jsonl"
DEFAULT_SEED = 2026
DEFAULT_COUNT = 3000
FIRST_DOS, LAST_DOS = date(2024, 7, 1), date(2026, 4, 30)
CAP_ENDS = date(2025, 10, 29)          # Aetna's 97112 visit cap is in force before this date
NMR_WINDOW = 42
PROFILES = {"general": 45, "billed_to_medicare": 35, "nmr_episode": 20}
MEDICARE_PROVIDERS = {"physical_therapist": 48, "physical_therapist_assistant": 14, "occupational_therapist": 13,
                      "occupational_therapy_assistant": 5, "chiropractor": 14, "physician": 3,
                      "nurse_practitioner": 3}
DISCIPLINE = {"occupational_therapist": "GO", "occupational_therapy_assistant": "GO"}
ASSISTANT = {"physical_therapist_assistant": "CQ", "occupational_therapy_assistant": "CO"}
THERAPY_MODIFIERS = ("GP", "GO", "GN", "CQ", "CO")
NMR_OUTCOMES = ["balance", "coordination", "kinesthetic_sense", "posture", "proprioception"]
NEW_CODES_FROM = {"G35.A": date(2025, 10, 1), "G35.D": date(2025, 10, 1)}  # ICD-10-CM FY2026 additions


class CorpusGenerator(EncounterGenerator):
    """The benchmark generator, reshaped per profile (see the module docstring)."""

    def __init__(self, ps, seed: int, kx_cents: dict[int, int]):
        super().__init__(ps, seed)
        self.kx_cents = kx_cents
        self.general_providers = dict(self.provider_weights)
        self.profile_counts: collections.Counter = collections.Counter()
        self.nmr_recent: list[int] = []

    # -- helpers -------------------------------------------------------------------------------
    def _with_providers(self, weights: dict) -> dict:
        self.provider_weights = {p: w for p, w in weights.items() if p in self.provider_types}
        try:
            return super().encounter()
        finally:
            self.provider_weights = self.general_providers

    def _redate(self, doc: dict, dos: date) -> None:
        """Move the whole encounter (history, plan of care) so its date of service is ``dos``."""
        delta = dos - date.fromisoformat(doc["date_of_service"])

        def shift(s: str) -> str:
            return (date.fromisoformat(s) + delta).isoformat()
        doc["date_of_service"] = dos.isoformat()
        for visit in doc["patient"].get("history", []):
            visit["date"] = shift(visit["date"])
        poc = doc.get("plan_of_care")
        if poc:
            for key in ("start_of_care", "certified_on"):
                if key in poc:
                    poc[key] = shift(poc[key])

    def _dos(self) -> date:
        return FIRST_DOS + timedelta(days=self.rng.randint(0, (LAST_DOS - FIRST_DOS).days))

    def _fix_new_codes(self, doc: dict) -> None:
        """No diagnosis code before ICD-10-CM added it (G35.A/G35.D: FY2026, from 2025-10-01)."""
        dos = date.fromisoformat(doc["date_of_service"])
        dx = []
        for d in doc.get("diagnoses", []):
            if d in NEW_CODES_FROM and dos < NEW_CODES_FROM[d]:
                d = "G35"
            if d not in dx:
                dx.append(d)
        doc["diagnoses"] = dx

    def _medicare_billing(self, doc: dict) -> None:
        """Bill the visit as a Medicare claim is billed, with the usual small share of slips."""
        r = self.rng
        provider = doc["provider"]["type"]
        dos = date.fromisoformat(doc["date_of_service"])
        ytd = doc["patient"].get("year_to_date", {})
        over = (ytd.get("pt_slp", 0) * 100 >= self.kx_cents.get(dos.year, 10 ** 9) or
                ytd.get("ot", 0) * 100 >= self.kx_cents.get(dos.year, 10 ** 9))
        for line in doc["lines"]:
            mods = [m for m in line.get("modifiers", []) if m not in THERAPY_MODIFIERS]
            if line["code"] in CMT:
                if "AT" not in mods and r.random() < 0.92:
                    mods.insert(0, "AT")
            elif r.random() < 0.96:
                mods.insert(0, DISCIPLINE.get(provider, "GP"))
                if provider in ASSISTANT and r.random() < 0.93:
                    mods.insert(1, ASSISTANT[provider])
            if over and "KX" not in mods and r.random() < 0.85:
                mods.append("KX")
            if mods:
                line["modifiers"] = mods
            else:
                line.pop("modifiers", None)
        history = doc["patient"].get("history") or []
        first = date.fromisoformat(history[0]["date"]) if history else dos
        start = first - timedelta(days=r.randint(0, 7))
        poc = {"certified_by": r.choices(("physician", "nurse_practitioner"), weights=(80, 20))[0],
               "start_of_care": start.isoformat()}
        if r.random() < 0.94:
            poc["certified_on"] = min(dos, start + timedelta(days=r.choices((r.randint(0, 14), r.randint(15, 40)),
                                                                            weights=(92, 8))[0])).isoformat()
        doc["plan_of_care"] = poc
        if r.random() < 0.75:
            docs = doc.setdefault("documentation", [])
            if "prior_authorization" not in docs:
                docs.append("prior_authorization")

    # -- profiles ------------------------------------------------------------------------------
    def general(self) -> dict:
        doc = super().encounter()
        self._redate(doc, self._dos())
        return doc

    def billed_to_medicare(self) -> dict:
        doc = self._with_providers(MEDICARE_PROVIDERS)
        self._redate(doc, self._dos())
        self._medicare_billing(doc)
        return doc

    def nmr_episode(self) -> dict:
        r = self.rng
        provider = r.choices(("physical_therapist", "physical_therapist_assistant", "occupational_therapist"),
                             weights=(75, 18, 7))[0]
        doc = self._with_providers({provider: 1})
        dos = self._dos()
        self._redate(doc, dos)
        # The lines: 97112, sometimes with gait training, manual therapy or self-care, and now and
        # then with 97110 or 97530 (which Aetna does not pay on the same day as 97112).
        codes = ["97112"]
        for extra, p in (("97116", 0.35), ("97140", 0.2), ("97535", 0.1), ("97110", 0.1), ("97530", 0.08)):
            if r.random() < p:
                codes.append(extra)
        lines = []
        for i, code in enumerate(codes, start=1):
            minutes = int(r.triangular(8, 45, 24))
            units = max(1, (minutes + 7) // 15)
            if r.random() < 0.06:
                units += 1
            line = {"id": str(i), "code": code, "minutes": minutes, "units": units, "time_block": "ABCDEF"[i - 1]}
            if code == "97112" and r.random() < 0.92:      # a neuro-rehab note states NMR's own aims
                outcomes = r.sample(NMR_OUTCOMES, k=r.choice((1, 2, 2, 3)))
            else:
                outcomes = self._outcomes(code)
            if outcomes:
                line["intended_outcomes"] = outcomes
            regions = self._regions(code)
            if regions:
                line["regions"] = regions
            docs = [d for d in LINE_DOCUMENTATION_HINTS.get(code, ()) if r.random() < 0.95]
            if docs:
                line["documentation"] = docs
            if r.random() < 0.5:
                line["one_on_one"] = True
            lines.append(line)
        doc["lines"] = lines
        # Diagnoses: mostly nervous-system disease or injury, some not (Aetna pays 97112 only for them).
        neuro = r.random() < 0.8
        pool = self.neuro_dx if neuro else self.other_dx + self.spine_dx
        dx = r.sample(pool, k=min(len(pool), r.choices((1, 2), weights=(60, 40))[0]))
        if neuro and r.random() < 0.4:
            dx.append(r.choice(self.other_dx))
        doc["diagnoses"] = dx
        doc["documentation"] = [d for d in self.visit_docs if r.random() < 0.99]
        patient = doc["patient"]
        patient["condition_status"] = r.choices(("improving", "regressing", "plateau"), weights=(82, 8, 10))[0]
        # History: k earlier 97112 visits in the last 42 days (a few older ones before them).
        k = r.choices((r.randint(3, 12), r.randint(13, 17), r.randint(18, 24), r.randint(25, 30)),
                      weights=(35, 20, 30, 15))[0]
        days = sorted(r.sample(range(1, NMR_WINDOW + 1), k), reverse=True)
        older = sorted(r.sample(range(NMR_WINDOW + 1, NMR_WINDOW + 30), r.randint(0, 6)), reverse=True)
        history = []
        for back in older + days:
            visit_codes = ["97112"] + [c for c, p in (("97116", 0.4), ("97140", 0.2), ("97535", 0.1)) if r.random() < p]
            history.append({"date": (dos - timedelta(days=back)).isoformat(), "codes": visit_codes})
        patient["history"] = history
        self.nmr_recent.append(k)
        first = dos - timedelta(days=(older + days)[0])
        start = first - timedelta(days=r.randint(0, 5))
        doc["plan_of_care"] = {"certified_by": r.choices(("physician", "nurse_practitioner"), weights=(85, 15))[0],
                               "start_of_care": start.isoformat(),
                               "certified_on": min(dos, start + timedelta(days=r.randint(0, 10))).isoformat()}
        if r.random() < 0.7:
            self._medicare_billing(doc)
        return doc

    def encounter(self) -> dict:
        profile = self.rng.choices(list(PROFILES), weights=list(PROFILES.values()))[0]
        self.profile_counts[profile] += 1
        doc = getattr(self, profile)()
        doc.pop("payer", None)
        doc["id"] = f"corpus-{self.seed}-{self.counter:05d}"
        self._fix_new_codes(doc)
        return doc


def build(count: int, seed: int) -> tuple[list[dict], dict, CorpusGenerator]:
    payers = payer_ids(POLICIES)
    pss = {p: load_policy_set(POLICIES, p) for p in payers}
    table = pss["medicare"].parameters["kx_threshold_cents"].table if "medicare" in pss else {}
    gen = CorpusGenerator(pss[BASE], seed, {int(k): int(v) for k, v in (table or {}).items()})
    docs = []
    for _ in range(count):
        doc = gen.encounter()
        for payer, ps in pss.items():
            try:
                ps.parse(doc)
            except InputError as exc:
                raise SystemExit(f"generated encounter {doc['id']} is refused by payer `{payer}`: {exc}\n"
                                 f"{json.dumps(doc, indent=1)}")
        docs.append(doc)
    return docs, pss, gen


def verdict_mix(docs: list[dict], pss: dict) -> dict:
    out = {}
    for payer, ps in pss.items():
        mix = collections.Counter()
        for doc in docs:
            for line in ps.decide(ps.parse(doc), "none").lines:
                mix[line.verdict] += 1
        total = sum(mix.values())
        out[payer] = {v: f"{mix[v]} ({100 * mix[v] / total:.0f}%)"
                      for v in ("supportable", "needs_documentation", "not_supportable")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"encounters (default {DEFAULT_COUNT})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output file (default: beside this script)")
    ap.add_argument("--stats", action="store_true", help="also decide every encounter under every payer and "
                    "print the verdict mix (slower)")
    args = ap.parse_args(argv)
    docs, pss, gen = build(args.count, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps(doc, separators=(",", ":")) + "\n")
    dates = [d["date_of_service"] for d in docs]
    after = sum(1 for d in dates if d >= CAP_ENDS.isoformat())
    nmr = sum(1 for d in docs if any(l["code"] == "97112" for l in d["lines"]))
    ks = collections.Counter("3-12" if k < 13 else "13-17" if k < 18 else "18-24" if k < 25 else "25-30"
                             for k in gen.nmr_recent)
    print(f"wrote {len(docs)} encounters to {args.out} ({args.out.stat().st_size / 1e6:.1f} MB), seed {args.seed}")
    print(f"  profiles: {dict(sorted(gen.profile_counts.items()))}")
    print(f"  dates of service {min(dates)} .. {max(dates)}; {after} on or after {CAP_ENDS}")
    print(f"  {nmr} encounters bill 97112; NMR-episode histories with earlier 97112 visits in "
          f"{NMR_WINDOW} days: {dict(sorted(ks.items()))}")
    print(f"  every encounter parses under {', '.join(pss)}")
    if args.stats:
        for payer, mix in verdict_mix(docs, pss).items():
            print(f"  {payer:<15} " + ", ".join(f"{k} {v}" for k, v in mix.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
