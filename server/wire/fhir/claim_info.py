"""What a Claim says about the record, read from ``Claim.supportingInfo`` and the resources it
references in ``Claim.contained``: documentation elements (visit-level, or an item's through its
informationSequence), intended outcomes, the plan of care (a CarePlan), the history of earlier visits
(Procedures), the condition's status and the amounts of the year to date (docs/fhir.md). A mixin of
the Claim reader (``claim._Reader``), with the small helpers both use."""
from __future__ import annotations

from decimal import Decimal

from . import systems as s


def _date(value) -> str | None:
    return value.isoformat()[:10] if hasattr(value, "isoformat") else (str(value)[:10] if value else None)


def _number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _codes(concept, systems) -> list[str]:
    systems = (systems,) if isinstance(systems, str) else systems
    return [c.code for c in (concept.coding or []) if c.system in systems and c.code] if concept else []


def _ext(element, url: str) -> list[tuple[int, object]]:
    return [(i, e) for i, e in enumerate(element.extension or []) if e.url == url]



class InfoReader:
    """The supportingInfo half of the Claim reader (``issue``, ``at``, ``resolve``, ``person`` are the
    reader's)."""

    # -- what the record shows ----------------------------------------------------------------------
    def supporting_info(self, enc: dict) -> dict[int, tuple[str, str, str]]:
        """Visit-level facts from Claim.supportingInfo; returns, by sequence, the line-level entries
        (category, code, FHIRPath of the code) that items point at with informationSequence."""
        pointed = {seq for item in self.claim.item or [] for seq in item.informationSequence or []}
        by_sequence: dict[int, tuple[str, str, str]] = {}
        patient = enc["patient"]
        history: dict[str, list[tuple[str, str]]] = {}
        for i, info in enumerate(self.claim.supportingInfo or []):
            where = f"Claim.supportingInfo[{i}]"
            category = (_codes(info.category, s.CS_INFO_CATEGORY) or [None])[0]
            if category is None:
                continue                    # another kind of information: not read (docs/fhir.md)
            if category in (s.INFO_DOCUMENTATION, s.INFO_OUTCOME):
                system = s.CS_DOCUMENTATION if category == s.INFO_DOCUMENTATION else s.CS_OUTCOME
                code = (_codes(info.code, system) or [None])[0]
                if code is None:
                    self.issue(f"{where}.code", f"a `{category}` entry needs a coding from {system}", "required",
                               "missing_field")
                elif info.sequence in pointed:
                    by_sequence[info.sequence] = (category, code, f"{where}.code")
                elif category == s.INFO_DOCUMENTATION:
                    docs = enc.setdefault("documentation", [])
                    self.at(f"documentation[{len(docs)}]", f"{where}.code")
                    docs.append(code)
                else:
                    self.issue(where, "an intended outcome belongs to an item: list this entry's sequence in "
                               "that item's informationSequence", "invalid", "unreferenced_outcome")
            elif category == s.INFO_CONDITION:
                code = (_codes(info.code, s.CS_CONDITION_STATUS) or [None])[0]
                if code is None:
                    self.issue(f"{where}.code", f"needs a coding from {s.CS_CONDITION_STATUS}", "required",
                               "missing_field")
                patient["condition_status"] = code
                self.at("patient.condition_status", f"{where}.code")
            elif category == s.INFO_YEAR_TO_DATE:
                key = (_codes(info.code, s.CS_YEAR_TO_DATE) or [None])[0]
                amount = info.valueQuantity.value if info.valueQuantity is not None else None
                if key is None or amount is None:
                    self.issue(where, f"a year-to-date amount needs a code from {s.CS_YEAR_TO_DATE} and a "
                               "valueQuantity in USD", "required", "missing_field")
                    continue
                patient.setdefault("year_to_date", {})[key] = _number(amount)
                self.at(f"patient.year_to_date.{key}", f"{where}.valueQuantity.value")
            elif category == s.INFO_PLAN_OF_CARE:
                self.plan_of_care(enc, info, where)
            elif category == s.INFO_HISTORY:
                procedure, pat = self.resolve(info.valueReference, f"{where}.valueReference", ("Procedure",))
                if procedure is None:
                    if info.valueReference is None or not (info.valueReference.reference or "").startswith("#"):
                        self.issue(f"{where}.valueReference", "a history entry references a contained Procedure",
                                   "required", "missing_field")
                    continue
                day = _date(procedure.performedDateTime)
                code = (_codes(procedure.code, (s.CPT, *s.HCPCS)) or [None])[0]
                if day is None or code is None:
                    self.issue(pat, "a history Procedure needs performedDateTime and a CPT or HCPCS code",
                               "required", "missing_field")
                    continue
                history.setdefault(day, []).append((code, pat))
        for k, (day, codes) in enumerate(history.items()):
            patient.setdefault("history", []).append({"date": day, "codes": [c for c, _ in codes]})
            self.at(f"patient.history[{k}]", codes[0][1])
            self.at(f"patient.history[{k}].date", f"{codes[0][1]}.performedDateTime")
            for j, (_, pat) in enumerate(codes):
                self.at(f"patient.history[{k}].codes[{j}]", f"{pat}.code")
        return by_sequence

    def plan_of_care(self, enc: dict, info, where: str) -> None:
        plan, pat = self.resolve(info.valueReference, f"{where}.valueReference", ("CarePlan",))
        if plan is None:
            if info.valueReference is None or not (info.valueReference.reference or "").startswith("#"):
                self.issue(f"{where}.valueReference", "a plan of care references a contained CarePlan", "required",
                           "missing_field")
            return
        out: dict = {}
        self.at("plan_of_care", pat)
        self.at("plan_of_care.start_of_care", f"{pat}.period.start")
        self.at("plan_of_care.certified_by", f"{pat}.author")
        if plan.period is not None and plan.period.start is not None:
            out["start_of_care"] = _date(plan.period.start)
        if plan.author is not None:
            person, kind_at, _ = self.person(plan.author, None, f"{pat}.author")
            if person.get("type"):
                out["certified_by"] = person["type"]
                self.at("plan_of_care.certified_by", kind_at or f"{pat}.author")
        for key, url in (("certified_on", s.EXT_CERTIFIED_ON), ("recertified_on", s.EXT_RECERTIFIED_ON),
                         ("last_progress_report_on", s.EXT_PROGRESS_REPORT_ON)):
            for _, e in _ext(plan, url)[:1]:
                out[key] = _date(e.valueDate)
                self.at(f"plan_of_care.{key}", f"{pat}.extension('{url}')")
        enc["plan_of_care"] = out



def _identifiers(ref, reader, where: str, kind: str):
    """The identifiers a reference carries, or those of the contained resource it points at."""
    if ref is None:
        return [], where
    if ref.reference and ref.reference.startswith("#"):
        found, at = reader.resolve(ref, where, (kind,))
        return ((found.identifier or []) if found is not None else []), (f"{at}.identifier" if at else where)
    return ([ref.identifier] if ref.identifier is not None else []), f"{where}.identifier"


def payer_of(claim, reader) -> str | None:
    """The overlay the payer's identifier names: ``Claim.insurer``'s, else the payor of the focal
    insurance's contained Coverage. System PAYER_ID names an overlay directly; another identifier is
    looked up in the payer-identifier table (the one the 837 front door reads); one in neither is an
    issue (never a silent fall-back to base)."""
    identifiers, where = _identifiers(claim.insurer, reader, "Claim.insurer", "Organization")
    if not identifiers:
        for i, insurance in enumerate(claim.insurance or []):
            if not insurance.focal:
                continue
            coverage, at = reader.resolve(insurance.coverage, f"Claim.insurance[{i}].coverage", ("Coverage",))
            for j, payor in enumerate(coverage.payor or [] if coverage is not None else []):
                identifiers, where = _identifiers(payor, reader, f"{at}.payor[{j}]", "Organization")
                if identifiers:
                    break
    for ident in identifiers:
        if ident.system == s.PAYER_ID and ident.value:
            return ident.value
        found = reader.payer_ids(ident.value) if reader.payer_ids is not None and ident.value else None
        if found:
            return found
    if identifiers:
        reader.issue(where, f"no payer is known by this identifier; use {s.PAYER_ID} with an overlay id, or an "
                     "id of the payer table (docs/fhir.md)", "code-invalid", "unknown_payer")
    return None
