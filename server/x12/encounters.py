"""An 837P's claims as encounters (docs/x12.md): one encounter per claim and date of service, its
lines the claim's service lines of that date, its payer from the payer-identifier table.

What an 837 does not carry stays unknown: no minutes (``minutes`` is left out: docs/encounter.md
"Minutes unknown"), no documentation, no intended outcomes, no plan of care. A sidecar (JSON,
keyed by the claim's CLM01 and the line's LX01) may supply them; nothing else is invented.

Each encounter keeps where its values came from (``Built.sources``: an encounter field path ->
the segment, or the sidecar path), so a problem the encounter check finds is reported at the
837 segment (or sidecar key) it came from.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from ..payer_ids import PayerIdTable, payer_for_id
from .reader import At, Claim, ServiceLine
from ..taxonomy import provider_type

ICD10 = {"ABK": "principal", "ABF": "other"}
ICD9 = {"BK", "BF"}
CLAIM_KEYS = {"documentation", "plan_of_care", "patient", "provider", "billing_provider", "lines"}
PATIENT_KEYS = {"condition_status", "history", "year_to_date"}
LINE_KEYS = {"minutes", "documentation", "intended_outcomes", "time_block", "time_blocks", "region", "regions",
             "one_on_one", "patients_in_session", "allowed_amount", "furnished_by"}


@dataclass
class Issue:
    """A problem with one claim (or one encounter of it), located in the 837 or the sidecar."""
    code: str
    message: str
    at: At | None = None
    sidecar: str | None = None
    path: str | None = None          # the encounter field, when the problem is the encounter check's


@dataclass
class Built:
    """One encounter of a claim, or the issues that keep it (or the whole claim) from being one."""
    claim: Claim
    date_of_service: str | None
    payer: str | None
    document: dict | None = None
    issues: list[Issue] = field(default_factory=list)
    sources: dict[str, At | str] = field(default_factory=dict)   # encounter path -> segment or sidecar path

    def locate(self, path: str) -> tuple[At | None, str | None]:
        """The segment (or sidecar key) an encounter field came from: the longest known prefix."""
        probe = path
        while probe:
            if probe in self.sources:
                where = self.sources[probe]
                return (where, None) if isinstance(where, At) else (None, where)
            probe = probe.rsplit(".", 1)[0] if "." in probe else (probe.rsplit("[", 1)[0] if "[" in probe else "")
        return self.claim.at, None


def sidecar_problems(sidecar: object, claims: list[Claim]) -> list[Issue]:
    """The sidecar's shape: ``{"claims": {CLM01: {..., "lines": {LX01: {...}}}}}`` naming only claims
    and lines the 837 has, with known keys (their values are checked with the encounter)."""
    if sidecar is None:
        return []
    if not isinstance(sidecar, dict) or set(sidecar) - {"claims", "description"} or \
            not isinstance(sidecar.get("claims", {}), dict):
        return [Issue("invalid_sidecar", "a sidecar is a JSON object `{\"claims\": {<CLM01>: {...}}}`", sidecar="")]
    found: list[Issue] = []
    known = {c.claim_id: c for c in claims}
    for claim_id, entry in sidecar.get("claims", {}).items():
        where = f"claims.{claim_id}"
        if claim_id not in known:
            found.append(Issue("unknown_claim", f"the 837 has no claim `{claim_id}` (CLM01)", sidecar=where))
            continue
        if not isinstance(entry, dict):
            found.append(Issue("invalid_sidecar", "a claim's entry is an object", sidecar=where))
            continue
        for key in sorted(set(entry) - CLAIM_KEYS):
            found.append(Issue("unknown_field", f"unknown key `{key}` (a claim takes {', '.join(sorted(CLAIM_KEYS))})",
                               sidecar=f"{where}.{key}"))
        patient = entry.get("patient", {})
        for key in sorted(set(patient) - PATIENT_KEYS) if isinstance(patient, dict) else ["patient"]:
            found.append(Issue("unknown_field", f"`patient` takes {', '.join(sorted(PATIENT_KEYS))} (the patient's "
                               "id comes from the 837)", sidecar=f"{where}.patient.{key}"))
        lines = entry.get("lines", {})
        numbers = {l.number for l in known[claim_id].lines}
        if not isinstance(lines, dict):
            found.append(Issue("invalid_sidecar", "`lines` is an object keyed by LX01", sidecar=f"{where}.lines"))
            continue
        for number, line in lines.items():
            at = f"{where}.lines.{number}"
            if number not in numbers:
                found.append(Issue("unknown_line", f"claim `{claim_id}` has no service line LX*{number}", sidecar=at))
            elif not isinstance(line, dict):
                found.append(Issue("invalid_sidecar", "a line's entry is an object", sidecar=at))
            else:
                for key in sorted(set(line) - LINE_KEYS):
                    found.append(Issue("unknown_field", f"unknown key `{key}` (a line takes "
                                       f"{', '.join(sorted(LINE_KEYS))})", sidecar=f"{at}.{key}"))
    return found


def build(claims: list[Claim], table: PayerIdTable, sidecar: dict | None = None,
          payer_override: str | None = None) -> list[Built]:
    """Every claim's encounters, one per date of service, in file order; a claim that cannot become
    encounters is one :class:`Built` with its issues (the other claims are unaffected)."""
    out: list[Built] = []
    entries = (sidecar or {}).get("claims", {})
    for claim in claims:
        out += _claim_encounters(claim, table, entries.get(claim.claim_id) or {}, payer_override)
    return out


def _claim_encounters(claim: Claim, table: PayerIdTable, extra: dict, payer_override: str | None) -> list[Built]:
    if payer_override:
        payer = payer_override
    else:
        payer, why = payer_for_id(table, claim.payer_id)
        if payer is None:
            return [Built(claim, None, None, issues=[Issue("unmapped_payer", why, claim.payer_at or claim.at)])]
    issues: list[Issue] = []
    if not claim.claim_id:
        issues.append(Issue("missing_claim_id", "CLM01 (the claim's identifier) is empty", At(claim.at.segment, "CLM",
                                                                                               "CLM01")))
    diagnoses = _diagnoses(claim, issues)
    by_date: OrderedDict[str, list[ServiceLine]] = OrderedDict()
    for line in claim.lines:
        date = _line_date(claim, line, issues)
        if date is not None:
            by_date.setdefault(date, []).append(line)
    if not claim.lines:
        issues.append(Issue("no_service_lines", "the claim has no service line (LX/SV1)", claim.at))
    if issues:
        return [Built(claim, None, payer, issues=issues)]
    return [_encounter(claim, payer, date, lines, diagnoses, extra, len(by_date) > 1)
            for date, lines in by_date.items()]


def _diagnoses(claim: Claim, issues: list[Issue]) -> list[tuple[str, At]]:
    out = []
    for qualifier, code, at in claim.diagnoses:
        if qualifier in ICD10:
            out.append((code[:3] + ("." + code[3:] if len(code) > 3 else ""), at))
        elif qualifier in ICD9:
            issues.append(Issue("icd9_diagnosis", f"`{qualifier}:{code}` is an ICD-9-CM diagnosis; the encounter "
                                "takes ICD-10-CM (qualifiers ABK, ABF)", at))
        else:
            issues.append(Issue("unsupported_diagnosis", f"diagnosis qualifier `{qualifier}` is not read (ICD-10-CM "
                                "diagnoses are ABK and ABF)", at))
    return out


def _line_date(claim: Claim, line: ServiceLine, issues: list[Issue]) -> str | None:
    if line.date is None and claim.claim_date is None:
        issues.append(Issue("missing_service_date", f"service line LX*{line.number} has no service date "
                            "(DTP*472), nor has the claim", line.at))
        return None
    if line.date is not None and line.date_end not in (None, line.date):
        issues.append(Issue("date_range", f"service line LX*{line.number} spans {line.date} to {line.date_end}; an "
                            "encounter is one date of service: send one line per date", line.date_at))
        return None
    return line.date or claim.claim_date


def _units(line: ServiceLine, issues: list[Issue]) -> int | None:
    at = At(line.at.segment, "SV1", "SV104")
    if line.unit_code != "UN":
        issues.append(Issue("unit_code", f"SV103 is `{line.unit_code}`: the encounter bills units (UN); minutes "
                            "(MJ) are for anesthesia", At(line.at.segment, "SV1", "SV103")))
        return None
    try:
        value = float(line.quantity or "")
    except ValueError:
        value = -1.0
    if value != int(value) or not 1 <= value <= 96:
        issues.append(Issue("units", f"SV104 is `{line.quantity}`: units are a whole number from 1 to 96", at))
        return None
    return int(value)


def _encounter(claim: Claim, payer: str, date: str, lines: list[ServiceLine], diagnoses: list[tuple[str, At]],
               extra: dict, several_dates: bool) -> Built:
    built = Built(claim, date, payer)
    issues = built.issues
    src = built.sources
    eid = f"{claim.claim_id}/{date}" if several_dates else str(claim.claim_id)
    taxonomy, tax_at = claim.rendering_taxonomy or claim.billing_taxonomy, claim.rendering_at or claim.billing_at
    provider: dict = {}
    kind = provider_type(taxonomy)
    if kind is not None:
        provider["type"] = kind
        src["provider.type"] = tax_at
    npi = claim.rendering_npi or claim.billing_npi
    if npi:
        provider["npi"] = npi
    provider.update(extra.get("provider") or {})
    for key in (extra.get("provider") or {}):
        src[f"provider.{key}"] = f"claims.{claim.claim_id}.provider.{key}"
    if "type" not in provider:
        issues.append(Issue("unknown_taxonomy", (f"provider taxonomy `{taxonomy}` has no provider type in the table "
                                                 "(docs/x12.md)" if taxonomy else "the claim gives no provider "
                                                 "taxonomy (PRV)") + "; give `provider.type` in the sidecar",
                            tax_at or claim.at))
    # the diagnoses the lines point to, in the claim's order (the principal first when pointed to)
    pointed: set[int] = set()
    for line in lines:
        for p in line.pointers:
            if not p.isdigit() or not 1 <= int(p) <= len(diagnoses):
                issues.append(Issue("diagnosis_pointer", f"SV107 points to diagnosis {p}; the claim has "
                                    f"{len(diagnoses)}", At(line.at.segment, "SV1", "SV107")))
            else:
                pointed.add(int(p))
    codes = [(code, at) for i, (code, at) in enumerate(diagnoses, start=1) if i in pointed]
    for i, (_, at) in enumerate(codes):
        src[f"diagnoses[{i}]"] = at
    document: dict = {"id": eid, "date_of_service": date, "payer": payer, "provider": provider,
                      "diagnoses": [code for code, _ in codes],
                      "patient": {"id": claim.patient_id or f"claim-{claim.claim_id}"}, "lines": []}
    src["date_of_service"] = lines[0].date_at or claim.claim_date_at or lines[0].at
    src["payer"] = claim.payer_at or claim.at
    for key in ("documentation", "plan_of_care", "billing_provider"):
        if key in extra:
            document[key] = extra[key]
            src[key] = f"claims.{claim.claim_id}.{key}"
    document["patient"].update(extra.get("patient") or {})
    for key in (extra.get("patient") or {}):
        src[f"patient.{key}"] = f"claims.{claim.claim_id}.patient.{key}"
    for i, line in enumerate(lines):
        document["lines"].append(_line(claim, line, i, extra, built))
    if issues:
        built.document = None
    else:
        built.document = document
    return built


def _line(claim: Claim, line: ServiceLine, i: int, extra: dict, built: Built) -> dict:
    src, base = built.sources, f"lines[{i}]"
    src[base] = line.at
    if line.code is None or line.qualifier != "HC":
        built.issues.append(Issue("procedure_code", f"SV101 is `{line.qualifier}:{line.code}`: a CPT/HCPCS code "
                                  "(qualifier HC) is needed", At(line.at.segment, "SV1", "SV101")))
    src[f"{base}.code"] = At(line.at.segment, "SV1", "SV101-02")
    for j in range(len(line.modifiers)):
        src[f"{base}.modifiers[{j}]"] = At(line.at.segment, "SV1", f"SV101-{j + 3:02d}")
    src[f"{base}.units"] = At(line.at.segment, "SV1", "SV104")
    out: dict = {"id": line.number, "code": line.code, "units": _units(line, built.issues),
                 "modifiers": line.modifiers}
    if line.rendering_taxonomy:
        kind = provider_type(line.rendering_taxonomy)
        if kind is None:
            built.issues.append(Issue("unknown_taxonomy", f"provider taxonomy `{line.rendering_taxonomy}` has no "
                                      "provider type in the table; give the line's `furnished_by` in the sidecar",
                                      line.rendering_at))
        else:
            out["furnished_by"] = kind
            src[f"{base}.furnished_by"] = line.rendering_at
    given = ((extra.get("lines") or {}).get(line.number)) or {}
    for key, value in given.items():
        out[key] = value
        src[f"{base}.{key}"] = f"claims.{claim.claim_id}.lines.{line.number}.{key}"
    return out
