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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import FieldProblem, InputError
from .vocabulary import Vocabulary

ICD10CM = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
LineId = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Provider(_Strict):
    type: str
    npi: Optional[str] = None


class PlanOfCare(_Strict):
    certified_by: Optional[str] = None
    certified_on: Optional[date] = None
    start_of_care: Optional[date] = None


class PriorVisit(_Strict):
    date: date
    codes: list[str] = Field(default_factory=list)


class YearToDate(_Strict):
    pt_slp: float = Field(default=0, ge=0, description="PT and SLP amounts incurred this year, USD")
    ot: float = Field(default=0, ge=0, description="OT amounts incurred this year, USD")


class Patient(_Strict):
    id: str = Field(min_length=1)
    condition_status: Optional[Literal["improving", "plateau", "regressing"]] = None
    history: list[PriorVisit] = Field(default_factory=list)
    year_to_date: YearToDate = Field(default_factory=YearToDate)


class Line(_Strict):
    id: LineId
    code: str = Field(min_length=1)
    minutes: int = Field(ge=0, le=24 * 60)
    units: int = Field(ge=1, le=96)
    modifiers: list[str] = Field(default_factory=list, max_length=8)
    one_on_one: bool = True
    patients_in_session: int = Field(default=1, ge=1, le=100)
    time_block: Optional[str] = Field(default=None, max_length=64)
    region: Optional[str] = None
    intended_outcomes: list[str] = Field(default_factory=list)
    documentation: list[str] = Field(default_factory=list)


class Encounter(_Strict):
    id: str = Field(min_length=1, max_length=128)
    date_of_service: date
    payer: Optional[str] = None
    provider: Provider
    diagnoses: list[str] = Field(default_factory=list)
    documentation: list[str] = Field(default_factory=list)
    plan_of_care: Optional[PlanOfCare] = None
    patient: Patient
    lines: list[Line] = Field(min_length=1, max_length=50)

    @field_validator("diagnoses")
    @classmethod
    def _icd10(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if not ICD10CM.match(d)]
        if bad:
            raise ValueError(f"not an ICD-10-CM code: {', '.join(bad)}")
        return value


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
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        problems.append(FieldProblem(_path(loc), msg[0].lower() + msg[1:], code))
    return problems


def parse_encounter(data: Any, vocab: Vocabulary) -> Encounter:
    """Validate a decoded JSON document; raise :class:`InputError` listing every problem."""
    if not isinstance(data, dict):
        raise InputError([FieldProblem("", "an encounter is a JSON object", "invalid_type")])
    try:
        enc = Encounter.model_validate(data)
    except ValidationError as exc:
        raise InputError(_pydantic_problems(exc)) from None
    problems = check_vocabulary(enc, vocab)
    if problems:
        raise InputError(problems)
    return enc


def check_vocabulary(enc: Encounter, vocab: Vocabulary) -> list[FieldProblem]:
    problems: list[FieldProblem] = []

    def check(path: str, value: str | None, name: str, label: str) -> None:
        if value is not None and value not in vocab.ids(name):
            problems.append(FieldProblem(path, f"unknown {label} `{value}`", f"unknown_{name}"))

    check("provider.type", enc.provider.type, "provider_type", "provider type")
    if enc.plan_of_care:
        check("plan_of_care.certified_by", enc.plan_of_care.certified_by, "provider_type", "provider type")
    for i, element in enumerate(enc.documentation):
        check(f"documentation[{i}]", element, "documentation", "documentation element")
    for v, visit in enumerate(enc.patient.history):
        for c, code in enumerate(visit.codes):
            check(f"patient.history[{v}].codes[{c}]", code, "code", "code")
    seen: set[str] = set()
    for i, line in enumerate(enc.lines):
        base = f"lines[{i}]"
        if line.id in seen:
            problems.append(FieldProblem(f"{base}.id", f"line id `{line.id}` is used twice", "duplicate_line_id"))
        seen.add(line.id)
        check(f"{base}.code", line.code, "code", "code")
        check(f"{base}.region", line.region, "region", "region")
        for j, m in enumerate(line.modifiers):
            check(f"{base}.modifiers[{j}]", m, "modifier", "modifier")
        for j, o in enumerate(line.intended_outcomes):
            check(f"{base}.intended_outcomes[{j}]", o, "outcome", "intended outcome")
        for j, d in enumerate(line.documentation):
            check(f"{base}.documentation[{j}]", d, "documentation", "documentation element")
    return problems
