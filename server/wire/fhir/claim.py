"""A FHIR R4 ``Claim`` read into an encounter document (docs/encounter.md), field by field as
docs/fhir.md lays out, with the FHIRPath each encounter field came from.

The Claim is parsed and validated by fhir.resources' R4B models (R4B: the R4-compatible release the
pinned fhir.resources ships; Claim is the same in the parts read here). What the models refuse, and
what the mapping cannot read (no CPT coding, an unknown supportingInfo pointer...), is a
:class:`ClaimError` whose issues carry FHIRPath locations. The encounter document it gives is then
read by the payer's policy exactly like one sent to ``/v1/check``; a problem found there is located
back in the Claim through :attr:`ClaimInput.paths` (:func:`fhirpath_of`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from ...taxonomy import provider_type as nucc_provider_type
from . import systems as s
from .claim_info import InfoReader, _codes, _date, _ext, _number, payer_of
from .outcome import Issue, from_validation_error


class ClaimError(Exception):
    """The Claim cannot be read: every issue found, each with its FHIRPath."""

    def __init__(self, issues: list[Issue]):
        super().__init__(f"{len(issues)} issue(s)")
        self.issues = issues


@dataclass
class ClaimInput:
    encounter: dict                     # the encounter document
    paths: dict[str, str]               # encounter field path -> FHIRPath in the Claim
    payer: str | None                   # the overlay the insurer maps to, if any
    claim: object                       # the R4B Claim model
    sequences: list[int] = field(default_factory=list)   # item sequence of each line, in order


def fhirpath_of(paths: dict[str, str], path: str) -> str:
    """The FHIRPath of an encounter field path (``lines[1].code``): that of the path itself or of its
    nearest parent recorded, else the Claim."""
    probe = path
    while probe:
        if probe in paths:
            return paths[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return paths.get("", "Claim")


class _Reader(InfoReader):
    def __init__(self, claim, payer_ids=None):
        self.claim = claim
        self.payer_ids = payer_ids       # payer identifier -> overlay id or None (the payer-identifier table)
        self.issues: list[Issue] = []
        self.paths: dict[str, str] = {"": "Claim"}
        self.contained = {f"#{r.id}": (i, r) for i, r in enumerate(claim.contained or []) if getattr(r, "id", None)}

    def issue(self, where: str, message: str, code: str = "invalid", problem: str = "invalid_value") -> None:
        self.issues.append(Issue(where, message, code, problem))

    def at(self, path: str, fhirpath: str) -> None:
        self.paths[path] = fhirpath

    def resolve(self, ref, where: str, kinds: tuple[str, ...]):
        """The contained resource a reference points at (``#id``), with its FHIRPath; None if it does
        not point into the Claim."""
        if ref is None or not ref.reference or not ref.reference.startswith("#"):
            return None, None
        found = self.contained.get(ref.reference)
        if found is None:
            self.issue(f"{where}.reference", f"`{ref.reference}` names no contained resource", "not-found",
                       "unknown_reference")
            return None, None
        index, resource = found
        if resource.get_resource_type() not in kinds:
            self.issue(f"{where}.reference", f"`{ref.reference}` is a {resource.get_resource_type()}; expected "
                       f"{' or '.join(kinds)}", "invalid", "invalid_reference")
            return None, None
        return resource, f"Claim.contained[{index}]"

    # -- who ----------------------------------------------------------------------------------------
    def provider_type(self, concept, where: str) -> str | None:
        ours = _codes(concept, s.CS_PROVIDER_TYPE)
        if ours:
            return ours[0]
        for code in _codes(concept, s.NUCC):
            kind = nucc_provider_type(code)
            if kind is not None:
                return kind
        if concept is not None and concept.coding:
            self.issue(where, f"no provider type: give a coding from {s.CS_PROVIDER_TYPE} or a NUCC taxonomy "
                       "code docs/fhir.md lists", "code-invalid", "unknown_provider_type")
        return None

    def person(self, ref, qualification, where: str, ref_at: str | None = None):
        """A care-team member, the billing provider or a certifier: ``{type, npi, credentials}``, the
        FHIRPath of its type and that of its credentials."""
        out: dict = {}
        kind_at = cred_at = None
        if qualification is not None:
            out["type"], kind_at = self.provider_type(qualification, f"{where}.qualification"), \
                f"{where}.qualification"
        practitioner, pat = self.resolve(ref, ref_at or where, ("Practitioner", "PractitionerRole"))
        if ref is not None and ref.identifier is not None and ref.identifier.system == s.NPI:
            out["npi"] = ref.identifier.value
        if practitioner is not None and practitioner.get_resource_type() == "Practitioner":
            npis = [i.value for i in practitioner.identifier or [] if i.system == s.NPI and i.value]
            if npis:
                out["npi"] = npis[0]
            credentials = []
            for qi, q in enumerate(practitioner.qualification or []):
                credentials += _codes(q.code, s.CS_CREDENTIAL)
                if not out.get("type"):
                    kind = self.provider_type(q.code, f"{pat}.qualification[{qi}].code") \
                        if _codes(q.code, (s.CS_PROVIDER_TYPE, s.NUCC)) else None
                    if kind:
                        out["type"], kind_at = kind, f"{pat}.qualification[{qi}].code"
            if credentials:
                out["credentials"] = credentials
                cred_at = f"{pat}.qualification"
        if not out.get("type"):
            out.pop("type", None)
        return out, kind_at, cred_at

    def care_team(self, enc: dict) -> dict[int, tuple[str | None, str]]:
        """The rendering provider (role ``primary``, else the responsible member, else the first),
        its supervisor (role ``supervisor``), and each member's type by sequence."""
        team = self.claim.careTeam or []
        if not team:
            self.issue("Claim.careTeam", "the rendering provider is missing: a careTeam member with its "
                       "provider type (qualification)", "required", "missing_field")
            return {}
        roles = [_codes(m.role, s.CARE_TEAM_ROLE) for m in team]
        primary = next((i for i, r in enumerate(roles) if "primary" in r), None)
        if primary is None:
            primary = next((i for i, m in enumerate(team) if m.responsible), 0)
        types: dict[int, tuple[str | None, str]] = {}
        supervisor = None
        for i, member in enumerate(team):
            where = f"Claim.careTeam[{i}]"
            person, kind_at, cred_at = self.person(member.provider, member.qualification, where, f"{where}.provider")
            types[member.sequence] = (person.get("type"), kind_at or f"{where}.qualification")
            if i == primary:
                enc["provider"] = person
                self.at("provider", where)
                self.at("provider.type", kind_at or f"{where}.qualification")
                self.at("provider.npi", f"{where}.provider")
                if cred_at:
                    self.at("provider.credentials", cred_at)
            elif "supervisor" in roles[i] and person.get("type"):
                supervisor = (person["type"], kind_at or f"{where}.qualification")
        self.primary_sequence = team[primary].sequence
        if supervisor is not None and "provider" in enc:
            enc["provider"]["supervised_by"] = supervisor[0]
            self.at("provider.supervised_by", supervisor[1])
        return types

    def billing_provider(self, enc: dict) -> None:
        resource, where = self.resolve(self.claim.provider, "Claim.provider", ("Practitioner", "PractitionerRole",
                                                                               "Organization"))
        if resource is None or resource.get_resource_type() == "Organization":
            return
        person, kind_at, _ = self.person(self.claim.provider, None, "Claim.provider")
        person.pop("credentials", None)
        if person.get("type"):
            enc["billing_provider"] = person
            self.at("billing_provider", "Claim.provider")
            self.at("billing_provider.type", kind_at or "Claim.provider")

    # -- the lines ----------------------------------------------------------------------------------
    def items(self, enc: dict, team: dict, info: dict, diagnoses: set[int]) -> tuple[list[int], set[str]]:
        lines, sequences, days = [], [], {}
        for i, item in enumerate(self.claim.item or []):
            where = f"Claim.item[{i}]"
            line: dict = {"id": str(item.sequence)}
            sequences.append(item.sequence)
            n = len(lines)
            p = f"lines[{n}]"
            self.at(p, where)
            self.at(f"{p}.id", f"{where}.sequence")
            if item.modifierExtension:
                self.issue(f"{where}.modifierExtension", "modifier extensions are not understood", "not-supported",
                           "unsupported")
            codes = _codes(item.productOrService, (s.CPT, *s.HCPCS))
            if codes:
                line["code"] = codes[0]
            else:
                self.issue(f"{where}.productOrService", f"no CPT ({s.CPT}) or HCPCS coding", "code-invalid",
                           "missing_code")
            self.at(f"{p}.code", f"{where}.productOrService")
            for j, modifier in enumerate(item.modifier or []):
                found = _codes(modifier, (s.CPT, *s.HCPCS))
                if not found:
                    self.issue(f"{where}.modifier[{j}]", "a modifier needs a CPT or HCPCS coding", "code-invalid",
                               "missing_code")
                    continue
                mods = line.setdefault("modifiers", [])
                self.at(f"{p}.modifiers[{len(mods)}]", f"{where}.modifier[{j}]")
                mods.append(found[0])
            if item.quantity is not None and item.quantity.value is not None:
                line["units"] = _number(item.quantity.value)
            self.at(f"{p}.units", f"{where}.quantity")
            minutes = _ext(item, s.EXT_MINUTES)
            if minutes:
                line["minutes"] = minutes[0][1].valueUnsignedInt
                self.at(f"{p}.minutes", f"{where}.extension('{s.EXT_MINUTES}')")
            else:
                self.at(f"{p}.minutes", f"{where}.extension('{s.EXT_MINUTES}')")
            for key, url, attr in (("one_on_one", s.EXT_ONE_ON_ONE, "valueBoolean"),
                                   ("patients_in_session", s.EXT_PATIENTS, "valuePositiveInt")):
                for _, e in _ext(item, url)[:1]:
                    line[key] = getattr(e, attr)
                self.at(f"{p}.{key}", f"{where}.extension('{url}')")
            blocks = [e.valueString for _, e in _ext(item, s.EXT_TIME_BLOCK)]
            if blocks:
                line["time_blocks"] = blocks
                self.at(f"{p}.time_blocks", f"{where}.extension('{s.EXT_TIME_BLOCK}')")
            for _, e in _ext(item, s.EXT_ALLOWED)[:1]:
                if e.valueMoney is not None and e.valueMoney.value is not None:
                    line["allowed_amount"] = _number(e.valueMoney.value)
                self.at(f"{p}.allowed_amount", f"{where}.extension('{s.EXT_ALLOWED}')")
            if item.net is not None and item.net.value is not None:      # the line's charge (an 837's SV102)
                if item.net.currency not in (None, "USD"):
                    self.issue(f"{where}.net.currency", f"the charge is in `{item.net.currency}`; only US dollars "
                               "(USD) are read", "not-supported", "unsupported_currency")
                else:
                    line["charge"] = _number(item.net.value)
                    self.at(f"{p}.charge", f"{where}.net.value")
            if item.detail:          # never dropped unsaid: a detail is a service the decision would not see
                self.issue(f"{where}.detail", "item details (services inside an item) are not read: send each "
                           "service as an item of its own", "not-supported", "unsupported")
            self.regions(item, line, p, where)
            day = _date(item.servicedDate) or (_date(item.servicedPeriod.start)
                                               if item.servicedPeriod is not None else None)
            if item.servicedPeriod is not None and _date(item.servicedPeriod.start) != _date(item.servicedPeriod.end):
                self.issue(f"{where}.servicedPeriod", "an encounter is one date of service: a period must start and "
                           "end on the same day (send one Claim per date)", "not-supported", "several_dates")
            if day:
                days.setdefault(day, f"{where}.servicedDate")
            for k, seq in enumerate(item.careTeamSequence or []):
                if seq not in team:
                    self.issue(f"{where}.careTeamSequence[{k}]", f"no careTeam member has sequence {seq}",
                               "not-found", "unknown_reference")
                elif k == 0 and seq != self.primary_sequence and team[seq][0]:
                    line["furnished_by"] = team[seq][0]
                    self.at(f"{p}.furnished_by", team[seq][1])
            for k, seq in enumerate(item.diagnosisSequence or []):
                if seq not in diagnoses:
                    self.issue(f"{where}.diagnosisSequence[{k}]", f"no diagnosis has sequence {seq}", "not-found",
                               "unknown_reference")
            for k, seq in enumerate(item.informationSequence or []):
                if seq not in info:
                    if seq not in {x.sequence for x in self.claim.supportingInfo or []}:
                        self.issue(f"{where}.informationSequence[{k}]", f"no supportingInfo has sequence {seq}",
                                   "not-found", "unknown_reference")
                    continue
                category, code, at = info[seq]
                key = "documentation" if category == s.INFO_DOCUMENTATION else "intended_outcomes"
                values = line.setdefault(key, [])
                self.at(f"{p}.{key}[{len(values)}]", at)
                values.append(code)
            lines.append(line)
        enc["lines"] = lines
        self.at("lines", "Claim.item")
        return sequences, days

    def regions(self, item, line: dict, p: str, where: str) -> None:
        regions = []
        if item.bodySite is not None:
            found = _codes(item.bodySite, s.CS_REGION)
            if not found:
                self.issue(f"{where}.bodySite", f"a body site needs a coding from {s.CS_REGION}", "code-invalid",
                           "missing_code")
            else:
                self.at(f"{p}.regions[0]", f"{where}.bodySite")
                regions.append(found[0])
        for k, e in _ext(item, s.EXT_REGION):
            if e.valueCoding is None or e.valueCoding.system != s.CS_REGION:
                self.issue(f"{where}.extension[{k}]", f"an additional region is a valueCoding from {s.CS_REGION}",
                           "code-invalid", "missing_code")
                continue
            self.at(f"{p}.regions[{len(regions)}]", f"{where}.extension[{k}].valueCoding")
            regions.append(e.valueCoding.code)
        if regions:
            line["regions"] = regions


def read_claim(document, payer: str | None = None, payer_ids=None) -> ClaimInput:
    """The encounter a Claim document (parsed JSON) describes; ClaimError with every issue found.
    ``payer``: the caller's choice of payer, which the insurer's identifier then does not override
    (and is not looked up). ``payer_ids``: the payer-identifier table's lookup (identifier -> overlay
    id or None; server/payer_ids.py, the table the 837 front door reads)."""
    from fhir.resources.R4B.claim import Claim    # imported on first use: the models cost ~0.3 s to import

    if not isinstance(document, dict):
        raise ClaimError([Issue("", "the body is not a FHIR resource (a JSON object)", "structure", "invalid_type")])
    if document.get("resourceType") != "Claim":
        raise ClaimError([Issue("resourceType", f"expected a Claim, got `{document.get('resourceType')}`",
                                "not-supported", "invalid_resource_type")])
    issues = _contained_types(document)
    if issues:
        raise ClaimError(issues)
    try:
        claim = Claim.model_validate(document)
    except ValidationError as exc:
        raise ClaimError(from_validation_error(exc)) from None
    except (ValueError, TypeError, KeyError) as exc:    # fhir-core's own checks, outside pydantic's errors
        raise ClaimError([Issue("Claim", f"the Claim cannot be read: {exc}", "structure", "invalid_value")]) from None
    return _map(claim, payer, payer_ids)


def _contained_types(document: dict) -> list[Issue]:
    from fhir.resources.R4B import get_fhir_model_class

    issues = []
    contained = document.get("contained")
    for i, r in enumerate(contained if isinstance(contained, list) else []):
        kind = r.get("resourceType") if isinstance(r, dict) else None
        try:
            get_fhir_model_class(str(kind))
        except (KeyError, ValueError, AttributeError):
            issues.append(Issue(f"Claim.contained[{i}].resourceType", f"`{kind}` is not a FHIR R4 resource type",
                                "invalid", "invalid_resource_type"))
    return issues


def _map(claim, chosen: str | None = None, payer_ids=None) -> ClaimInput:
    r = _Reader(claim, payer_ids)
    enc: dict = {}
    if claim.use not in ("claim", "preauthorization"):
        r.issue("Claim.use", f"`{claim.use}`: only `claim` and `preauthorization` are checked", "not-supported",
                "unsupported_use")
    if claim.modifierExtension:
        r.issue("Claim.modifierExtension", "modifier extensions are not understood", "not-supported", "unsupported")
    ident = claim.id or next((i.value for i in claim.identifier or [] if i.value), None)
    if ident is None:
        r.issue("Claim.id", "the Claim needs an id or an identifier (it is the encounter's id)", "required",
                "missing_field")
    enc["id"] = ident
    r.at("id", "Claim.id" if claim.id else "Claim.identifier[0].value")
    enc["patient"] = {"id": _patient_id(claim.patient)}
    r.at("patient", "Claim.patient")
    r.at("patient.id", "Claim.patient")
    payer = chosen or payer_of(claim, r)
    team = r.care_team(enc)
    r.billing_provider(enc)
    diagnoses = sorted(enumerate(claim.diagnosis or []), key=lambda d: d[1].sequence)
    enc["diagnoses"] = []
    for i, dx in diagnoses:
        where = f"Claim.diagnosis[{i}]"
        codes = _codes(dx.diagnosisCodeableConcept, s.ICD10CM)
        if not codes:
            r.issue(f"{where}.diagnosisCodeableConcept", f"no ICD-10-CM coding ({s.ICD10CM})", "code-invalid",
                    "missing_code")
            continue
        r.at(f"diagnoses[{len(enc['diagnoses'])}]", f"{where}.diagnosisCodeableConcept")
        enc["diagnoses"].append(codes[0])
    info = r.supporting_info(enc)
    if not getattr(r, "primary_sequence", None):
        r.primary_sequence = None
    sequences, days = r.items(enc, team, info, {d.sequence for _, d in diagnoses})
    if not sequences:
        r.issue("Claim.item", "the Claim has no item", "required", "missing_field")
    if len(days) > 1:
        for day, at in list(days.items())[1:]:
            r.issue(at, f"an encounter is one date of service; this item is on {day}, the first on "
                    f"{next(iter(days))} (send one Claim per date)", "not-supported", "several_dates")
    elif days:
        enc["date_of_service"] = next(iter(days))
        r.at("date_of_service", next(iter(days.values())))
    elif claim.billablePeriod is not None and claim.billablePeriod.start is not None:
        enc["date_of_service"] = _date(claim.billablePeriod.start)
        r.at("date_of_service", "Claim.billablePeriod.start")
    else:
        r.at("date_of_service", "Claim.item[0].servicedDate")
    if r.issues:
        raise ClaimError(r.issues)
    if payer:
        enc["payer"] = payer
        r.at("payer", "Claim.insurer" if not chosen else "")
    return ClaimInput(enc, r.paths, payer, claim, sequences)


def _patient_id(ref) -> str | None:
    if ref is None:
        return None
    if ref.reference:
        return ref.reference.rsplit("/", 1)[-1].lstrip("#")
    if ref.identifier is not None and ref.identifier.value:
        return ref.identifier.value
    return ref.display
