"""Encounter input: one visit, validated with field-path errors.

Structure and types are checked by pydantic models; values are then checked against the
vocabularies (an unknown code, documentation element, outcome, region, modifier or provider type
is an error, never ignored). Every problem is reported at once, each with its field path
(``lines[2].code``).
"""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Optional

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt,
                      ValidationError)

from . import icd10
from .errors import FieldProblem, InputError
from .vocabulary import Vocabulary

ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
def _icd10(value: str) -> str:
    if not ICD10CM.match(value):
        raise ValueError(f"`{value}` is not an ICD-10-CM code (like `M54.50`)")
    return value


LineId = Annotated[str, Field(min_length=1, max_length=64)]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    """A date is a string `YYYY-MM-DD`: never a number (0 would be 1970-01-01) or a date-time."""
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        shown = f"`{value}`" if isinstance(value, str) else _JSON_TYPES.get(type(value), "that value")
        raise ValueError(f"a date is a string `YYYY-MM-DD`, not {shown}")
    return value.strip()


_JSON_TYPES = {int: "a number", float: "a number", bool: "a boolean", dict: "an object", list: "an array",
               type(None): "null"}
IsoDate = Annotated[date, BeforeValidator(_iso_date)]

# Characters refused in every string of an encounter (ids, codes, types): C0 controls (NUL, tab,
# line breaks...), DEL, C1 controls, and Unicode's bidirectional controls, which make an id look
# like another (U+061C, U+200E/F, U+202A-202E, U+2066-2069).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Provider(_Strict):
    type: str
    npi: Optional[str] = None
    credentials: list[str] = Field(default_factory=list, max_length=16,
                                   description="credentials the provider holds (ids from credentials.yaml)")
    supervised_by: Optional[str] = Field(default=None, description="the type of provider who supervised this one "
                                         "(auxiliary personnel, incident to a physician)")


class BillingProvider(_Strict):
    type: str
    npi: Optional[str] = None


class PlanOfCare(_Strict):
    certified_by: str
    certified_on: Optional[IsoDate] = None
    start_of_care: IsoDate
    recertified_on: Optional[IsoDate] = Field(default=None, description="the latest recertification of the plan")
    last_progress_report_on: Optional[IsoDate] = Field(default=None, description="the date of the latest progress "
                                                    "report before this visit")


class PriorVisit(_Strict):
    date: IsoDate
    codes: list[str]


Money = Annotated[float, Field(default=0, ge=0, le=100_000_000, allow_inf_nan=False)]


class YearToDate(_Strict):
    pt_slp: Money = 0
    ot: Money = 0


class Patient(_Strict):
    id: str = Field(min_length=1)
    condition_status: Optional[Literal["improving", "plateau", "regressing"]] = None
    history: list[PriorVisit] = Field(default_factory=list)
    year_to_date: YearToDate = Field(default_factory=YearToDate)


class Line(_Strict):
    id: LineId
    code: str = Field(min_length=1)
    minutes: Optional[StrictInt] = Field(default=None, ge=0, le=24 * 60,
                                         description="direct minutes of the service; absent or null when the "
                                         "record does not show them (an X12 837 or a FHIR Claim carries units, "
                                         "not minutes)")
    units: StrictInt = Field(ge=1, le=96)
    modifiers: list[str] = Field(default_factory=list, max_length=8)
    one_on_one: StrictBool = True
    patients_in_session: StrictInt = Field(default=1, ge=1, le=100)
    time_block: Optional[str] = Field(default=None, max_length=64,
                                      description="one time block (the single-block form of `time_blocks`)")
    time_blocks: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=16,
        description="the time blocks the service was delivered in; lines sharing a label overlapped in time")
    region: Optional[str] = Field(default=None, description="one region (the single-region form of `regions`)")
    regions: list[str] = Field(default_factory=list, max_length=11,
                               description="the anatomic regions treated (ids from regions.yaml)")
    intended_outcomes: list[str] = Field(default_factory=list)
    documentation: list[str] = Field(default_factory=list)
    allowed_amount: Optional[float] = Field(default=None, ge=0, le=1_000_000, allow_inf_nan=False,
                                            description="the line's allowed amount in US dollars (what counts "
                                            "toward Medicare's KX threshold), when known")
    charge: Optional[float] = Field(default=None, ge=0, le=1_000_000, allow_inf_nan=False,
                                    description="the line's billed charge in US dollars (an 837's SV102), when "
                                    "known: what an audit counts as money at risk; no rule reads it")
    furnished_by: Optional[str] = Field(default=None, description="the type of provider who furnished this line "
                                        "in whole or in part, when not the visit's provider (a therapy assistant "
                                        "on a therapist's visit)")

    @property
    def all_time_blocks(self) -> list[str]:
        """Every time block of the line, whichever form gave them."""
        return [self.time_block] if self.time_block is not None else list(dict.fromkeys(self.time_blocks))

    @property
    def all_regions(self) -> list[str]:
        """Every region of the line, whichever form gave them."""
        return [self.region] if self.region is not None else list(dict.fromkeys(self.regions))


class Encounter(_Strict):
    id: str = Field(min_length=1, max_length=128)
    date_of_service: IsoDate
    payer: Optional[str] = None
    provider: Provider
    billing_provider: Optional[BillingProvider] = Field(default=None, description="who bills the visit, when not "
                                                        "the provider who furnished it")
    diagnoses: list[Annotated[str, AfterValidator(_icd10)]] = Field(default_factory=list)
    documentation: list[str] = Field(default_factory=list)
    plan_of_care: Optional[PlanOfCare] = None
    patient: Patient
    lines: list[Line] = Field(min_length=1, max_length=50)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_problems(exc: ValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        code = {"missing": "missing_field", "extra_forbidden": "unknown_field"}.get(err["type"], "invalid_value")
        msg = err["msg"]
        if err["type"] == "value_error" and "error" in err.get("ctx", {}):
            msg = str(err["ctx"]["error"])      # our own validators' message, without pydantic's prefix
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        problems.append(FieldProblem(_path(loc), msg[0].lower() + msg[1:], code))
    return problems


def parse_encounter(data: Any, vocab: Vocabulary) -> Encounter:
    """Validate a decoded JSON document; raise :class:`InputError` listing every problem.

    Structural problems (pydantic) and vocabulary problems are collected together, so one pass
    reports everything wrong with the document.
    """
    if not isinstance(data, dict):
        raise InputError([FieldProblem("", "an encounter is a JSON object", "invalid_type")])
    controls = control_characters(data)
    flagged = {p.path for p in controls}
    problems = controls + [p for p in check_vocabulary(data, vocab) if p.path not in flagged]
    try:
        enc = Encounter.model_validate(data)
    except ValidationError as exc:
        found = [p for p in _pydantic_problems(exc) if p.path not in flagged]
        taken = {p.path for p in found}
        raise InputError(controls + found + [p for p in problems if p.path not in taken and p.path not in flagged]) \
            from None
    problems += _check_consistency(enc)
    if problems:
        raise InputError(problems)
    return enc


def _any_control_character(data: Any) -> bool:
    """The fast pass (most documents have none): is there any string with a control character?"""
    search = CONTROL_CHARACTERS.search
    stack = [data]
    while stack:
        value = stack.pop()
        for item in (value.values() if isinstance(value, dict) else value):
            if isinstance(item, str):
                if search(item):
                    return True
            elif isinstance(item, (dict, list)):
                stack.append(item)
    return False


def control_characters(data: Any) -> list[FieldProblem]:
    """Every string in the document (at any depth) holding a control or bidirectional character."""
    if isinstance(data, (dict, list)) and not _any_control_character(data):
        return []
    out: list[FieldProblem] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            m = CONTROL_CHARACTERS.search(value)
            if m is not None:
                out.append(FieldProblem(path, f"contains the control character U+{ord(m.group()):04X} at position "
                                        f"{m.start()}; ids and codes are printable text", "control_character"))
        elif isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return out


def _items(data: Any, key: str) -> list[tuple[int, Any]]:
    value = data.get(key) if isinstance(data, dict) else None
    return list(enumerate(value)) if isinstance(value, list) else []


def check_vocabulary(data: dict, vocab: Vocabulary) -> list[FieldProblem]:
    """Values that must come from a vocabulary, checked on the raw document."""
    problems: list[FieldProblem] = []

    def check(path: str, value: Any, name: str, label: str) -> None:
        if isinstance(value, str) and value not in vocab.ids(name):
            problems.append(FieldProblem(path, f"unknown {label} `{value}`", f"unknown_{name}"))

    provider = data.get("provider")
    if isinstance(provider, dict):
        check("provider.type", provider.get("type"), "provider_type", "provider type")
        check("provider.supervised_by", provider.get("supervised_by"), "provider_type", "provider type")
        for j, c in _items(provider, "credentials"):
            check(f"provider.credentials[{j}]", c, "credential", "credential")
    billing = data.get("billing_provider")
    if isinstance(billing, dict):
        check("billing_provider.type", billing.get("type"), "provider_type", "provider type")
    poc = data.get("plan_of_care")
    if isinstance(poc, dict):
        check("plan_of_care.certified_by", poc.get("certified_by"), "provider_type", "provider type")
    for i, code in _items(data, "diagnoses"):
        if isinstance(code, str) and ICD10CM.match(code) and not icd10.is_known(code):
            problems.append(FieldProblem(f"diagnoses[{i}]", f"`{code}` is not in the ICD-10-CM code set",
                                         "unknown_diagnosis"))
    for i, element in _items(data, "documentation"):
        check(f"documentation[{i}]", element, "documentation", "documentation element")
        _derived_element(f"documentation[{i}]", element, problems)
    patient = data.get("patient")
    for v, visit in _items(patient, "history"):
        for c, code in _items(visit, "codes"):
            check(f"patient.history[{v}].codes[{c}]", code, "code", "code")
    for i, line in _items(data, "lines"):
        if not isinstance(line, dict):
            continue
        base = f"lines[{i}]"
        check(f"{base}.code", line.get("code"), "code", "code")
        check(f"{base}.furnished_by", line.get("furnished_by"), "provider_type", "provider type")
        check(f"{base}.region", line.get("region"), "region", "region")
        for j, r in _items(line, "regions"):
            check(f"{base}.regions[{j}]", r, "region", "region")
        for j, m in _items(line, "modifiers"):
            check(f"{base}.modifiers[{j}]", m, "modifier", "modifier")
        for j, o in _items(line, "intended_outcomes"):
            check(f"{base}.intended_outcomes[{j}]", o, "outcome", "intended outcome")
        for j, d in _items(line, "documentation"):
            check(f"{base}.documentation[{j}]", d, "documentation", "documentation element")
            _derived_element(f"{base}.documentation[{j}]", d, problems)
    return problems


# Documentation elements that follow from a field of the line rather than being listed.
DERIVED_ELEMENTS = {"intended_outcome": "lines[].intended_outcomes", "minutes_recorded": "lines[].minutes"}


def _derived_element(path: str, element: Any, problems: list[FieldProblem]) -> None:
    if isinstance(element, str) and element in DERIVED_ELEMENTS:   # anything else is refused by the model
        problems.append(FieldProblem(path, f"`{element}` follows from `{DERIVED_ELEMENTS[element]}`: "
                                     + _DERIVED_HINT[element], "derived_element"))


_DERIVED_HINT = {"intended_outcome": "list the outcomes there (the code is checked against them)",
                 "minutes_recorded": "give the line's minutes there (the units are checked against them)"}


def _check_consistency(enc: Encounter) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for v, visit in enumerate(enc.patient.history):
        if visit.date >= enc.date_of_service:
            problems.append(FieldProblem(f"patient.history[{v}].date", f"prior visit on {visit.date} is not before "
                                         f"the date of service {enc.date_of_service}", "invalid_value"))
    poc = enc.plan_of_care
    if poc is not None:
        for name in ("recertified_on", "last_progress_report_on"):
            when = getattr(poc, name)
            if when is not None and when > enc.date_of_service:
                problems.append(FieldProblem(f"plan_of_care.{name}", f"{when} is after the date of service "
                                             f"{enc.date_of_service}", "invalid_value"))
            elif when is not None and when < poc.start_of_care:
                problems.append(FieldProblem(f"plan_of_care.{name}", f"{when} is before the start of care "
                                             f"{poc.start_of_care}", "invalid_value"))
    seen: set[str] = set()
    for i, line in enumerate(enc.lines):
        if line.id in seen:
            problems.append(FieldProblem(f"lines[{i}].id", f"line id `{line.id}` is used twice", "duplicate_line_id"))
        seen.add(line.id)
        mods: set[str] = set()
        for j, m in enumerate(line.modifiers):
            if m in mods:
                problems.append(FieldProblem(f"lines[{i}].modifiers[{j}]", f"modifier `{m}` is repeated",
                                             "duplicate_modifier"))
            mods.add(m)
        for single, several, what in (("region", "regions", "region"), ("time_block", "time_blocks", "time block")):
            if getattr(line, single) is not None and getattr(line, several):
                problems.append(FieldProblem(f"lines[{i}].{several}", f"give `{single}` or `{several}`, not both",
                                             "conflicting_fields"))
            seen_values: set[str] = set()
            for j, value in enumerate(getattr(line, several)):
                if value in seen_values:
                    problems.append(FieldProblem(f"lines[{i}].{several}[{j}]", f"{what} `{value}` is repeated",
                                                 "duplicate_value"))
                seen_values.add(value)
    return problems
