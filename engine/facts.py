"""What an encounter says, as facts: the input predicates every rule can read.

``INPUT_PREDICATES`` is the schema (name -> argument names and the vocabulary each argument's
constants come from); ``encounter_facts`` turns a validated encounter into those facts. Catalog
facts from the vocabulary (``code_kind``, ``timed_code``…) are declared here too. Dates are ISO
strings (they compare correctly as text); money is whole cents.
"""
from __future__ import annotations

from dataclasses import dataclass

from .encounter import Encounter


@dataclass(frozen=True)
class Predicate:
    name: str
    params: tuple[str, ...]
    types: tuple[str | None, ...]   # vocabulary name per argument, or None
    description: str
    documentation_fact: bool = False  # absence is fixed by documenting more

    @property
    def key(self) -> str:
        return f"{self.name}/{len(self.params)}"


def _p(name, params, description, types=None, **kw):
    params = tuple(params.split())
    return Predicate(name, params, tuple(types or (None,) * len(params)), description, **kw)


INPUT_PREDICATES = {p.key: p for p in [
    _p("date_of_service", "Date", "the visit's date of service (ISO date)"),
    _p("provider", "Type", "the type of provider who furnished the visit", ("provider_type",)),
    _p("line_provider", "Line Type", "the type of provider who furnished a line (the line's `furnished_by`, "
       "else the visit's provider)", (None, "provider_type")),
    _p("billing_provider", "Type", "the type of provider who bills the visit (`billing_provider`, else the "
       "provider who furnished it)", ("provider_type",)),
    _p("provider_credential", "Credential", "a credential the visit's provider holds", ("credential",)),
    _p("supervised_by", "Type", "the type of provider who supervised the visit's provider", ("provider_type",)),
    _p("diagnosis", "Code Position", "an ICD-10-CM diagnosis on the claim; position 1 is primary"),
    _p("primary_diagnosis", "Code", "the first-listed diagnosis"),
    _p("condition_status", "Status", "whether the patient is improving, at a plateau or regressing",
       ("condition_status",)),
    _p("poc_certified_by", "Type", "the provider type who certified the plan of care", ("provider_type",)),
    _p("poc_certified_on", "Date", "the date the plan of care was certified"),
    _p("start_of_care", "Date", "the start of the episode of care"),
    _p("poc_recertified_on", "Date", "the date of the plan of care's latest recertification"),
    _p("progress_report_on", "Date", "the date of the latest progress report before this visit"),
    _p("prior_visit", "Date DaysBefore", "an earlier visit of this patient, and how many days before this one"),
    _p("prior_visit_code", "Date Code", "a code billed at an earlier visit", (None, "code")),
    _p("ytd_amount", "Category Cents", "therapy amounts already incurred this calendar year (cents)",
       ("ytd_category", None)),
    _p("line", "Line", "a billed line of the encounter"),
    _p("line_position", "Line Position", "where a line is listed on the claim (1 for the first)"),
    _p("line_code", "Line Code", "the code billed on a line", (None, "code")),
    _p("line_minutes", "Line Minutes", "direct minutes recorded for a line (no fact when the record does not show "
       "them; the element `minutes_recorded` is then absent too)"),
    _p("billed_units", "Line Units", "units billed on a line"),
    _p("has_modifier", "Line Modifier", "a modifier on a line", (None, "modifier")),
    _p("one_on_one", "Line", "the provider was in direct one-on-one contact for the line's minutes"),
    _p("patients_in_session", "Line Count", "patients treated at once during the line's service"),
    _p("time_block", "Line Block", "a time block the line's service was delivered in (lines sharing a block "
       "overlapped in time); one fact per block"),
    _p("line_region", "Line Region", "an anatomic region a line treated; one fact per region", (None, "region")),
    _p("intended_outcome", "Line Outcome", "an intended outcome documented for a line", (None, "outcome")),
    _p("line_amount", "Line Cents", "a line's allowed amount in cents (what counts toward a yearly threshold), "
       "when the encounter gives it"),
    _p("documented", "Line Element", "a documentation element present for a line (the visit's note "
       "plus the line's own)", (None, "documentation"), documentation_fact=True),
]}

CATALOG_PREDICATES = {p.key: p for p in [
    _p("code_kind", "Code Kind", "a code is a procedure, modality, evaluation or other",
       ("code", "code_kind")),
    _p("timed_code", "Code", "a code billed by time (its unit_basis says how)", ("code",)),
    _p("one_on_one_code", "Code", "a code whose descriptor requires direct one-on-one contact", ("code",)),
    _p("unit_basis", "Code Basis", "how a code's units are counted (per_15_minutes, per_session, "
       "initial_15_minutes…)", ("code", "unit_basis")),
    _p("add_on_to", "AddOn Primary", "an add-on code and a primary code it is billed with", ("code", "code")),
    _p("code_regions", "Code Kind Min Max", "a manipulation code covers Min to Max regions of a kind (spinal, "
       "extraspinal)", ("code", "region_kind", None, None)),
    _p("group_code", "Code", "a code reported for a patient treated in a group", ("code",)),
    _p("code_service", "Code Service", "the kind of service a code is, for who may furnish it: therapy, "
       "chiropractic or acupuncture", ("code", "service")),
    _p("therapist_type", "Type", "a provider type that is a therapist", ("provider_type",)),
    _p("assistant_type", "Type", "a provider type that is a therapy assistant", ("provider_type",)),
    _p("spinal_region", "Region", "one of the five spinal regions used for CMT", ("region",)),
    _p("cmt_region", "Region Kind", "a region counted for chiropractic manipulation, spinal or extraspinal",
       ("region", "region_kind")),
    _p("modifier_category", "Modifier Category", "what a modifier is for", ("modifier", None)),
    _p("diagnosis_billable_between", "Code From Until", "a known change to the ICD-10-CM code set: the code is "
       "billable from one date to another, both included (diagnosis_changes.yaml)"),
    _p("modifier_attests", "Modifier Ground", "a distinct-service modifier says the service was distinct on this "
       "ground (separate_structure, separate_time_block…)", ("modifier", "distinct_ground")),
]}

# Rows of the code-pair and unit edit tables (engine.edits), given to each encounter for the codes on
# its claim and in force on its date of service: facts like the encounter's, never in the engine's
# fact store for good.
EDIT_PREDICATES = {p.key: p for p in [
    _p("ptp_edit", "Column1 Column2 Indicator", "an NCCI procedure-to-procedure edit in force: Column2 is not "
       "paid with Column1 unless the modifier indicator (0 never, 1 with a distinct-service modifier) allows it",
       ("code", "code", None)),
    _p("ptp_evidence", "Column1 Column2 Ground", "what in the record can show the two services of an edit "
       "distinct (separate_structure: regions, separate_time_block: time blocks)", ("code", "code", "distinct_ground")),
    _p("mue_edit", "Code MaxUnits Indicator", "a medically unlikely edit in force: at most MaxUnits of Code per "
       "line (adjudication indicator 1) or per date of service (2, 3)", ("code", None, None)),
]}

# Facts a payer's parameters provide (see engine.loader): the same for every encounter.
PARAMETER_PREDICATES = {p.key: p for p in [
    _p("param", "Name Value", "the value of a payer parameter (the nearest layer that sets it wins)"),
    _p("param_entry", "Name Key Value", "a row of a payer parameter table"),
]}


def encounter_facts(enc: Encounter) -> list[tuple[str, tuple]]:
    dos = enc.date_of_service
    facts: list[tuple[str, tuple]] = [
        ("date_of_service", (dos.isoformat(),)),
        ("provider", (enc.provider.type,)),
        ("billing_provider", ((enc.billing_provider or enc.provider).type,)),
    ]
    for credential in dict.fromkeys(enc.provider.credentials):
        facts.append(("provider_credential", (credential,)))
    if enc.provider.supervised_by:
        facts.append(("supervised_by", (enc.provider.supervised_by,)))
    for pos, code in enumerate(enc.diagnoses, start=1):
        facts.append(("diagnosis", (code, pos)))
    if enc.diagnoses:
        facts.append(("primary_diagnosis", (enc.diagnoses[0],)))
    if enc.patient.condition_status:
        facts.append(("condition_status", (enc.patient.condition_status,)))
    poc = enc.plan_of_care
    if poc:
        if poc.certified_by:
            facts.append(("poc_certified_by", (poc.certified_by,)))
        if poc.certified_on:
            facts.append(("poc_certified_on", (poc.certified_on.isoformat(),)))
        if poc.start_of_care:
            facts.append(("start_of_care", (poc.start_of_care.isoformat(),)))
        if poc.recertified_on:
            facts.append(("poc_recertified_on", (poc.recertified_on.isoformat(),)))
        if poc.last_progress_report_on:
            facts.append(("progress_report_on", (poc.last_progress_report_on.isoformat(),)))
    for visit in enc.patient.history:
        if visit.date < dos:
            day = visit.date.isoformat()
            facts.append(("prior_visit", (day, (dos - visit.date).days)))
            for code in visit.codes:
                facts.append(("prior_visit_code", (day, code)))
    ytd = enc.patient.year_to_date
    facts.append(("ytd_amount", ("pt_slp", round(ytd.pt_slp * 100))))
    facts.append(("ytd_amount", ("ot", round(ytd.ot * 100))))
    visit_docs = list(dict.fromkeys(enc.documentation))
    for position, line in enumerate(enc.lines, start=1):
        lid = line.id
        facts += [("line", (lid,)), ("line_position", (lid, position)), ("line_code", (lid, line.code))]
        if line.minutes is not None:   # minutes unknown: no line_minutes fact, and the element is absent
            facts.append(("line_minutes", (lid, line.minutes)))
        facts += [("billed_units", (lid, line.units)),
                  ("patients_in_session", (lid, line.patients_in_session)),
                  ("line_provider", (lid, line.furnished_by or enc.provider.type))]
        if line.one_on_one:
            facts.append(("one_on_one", (lid,)))
        if line.allowed_amount is not None:
            facts.append(("line_amount", (lid, round(line.allowed_amount * 100))))
        for m in dict.fromkeys(line.modifiers):
            facts.append(("has_modifier", (lid, m)))
        for block in line.all_time_blocks:
            facts.append(("time_block", (lid, block)))
        for region in line.all_regions:
            facts.append(("line_region", (lid, region)))
        for o in dict.fromkeys(line.intended_outcomes):
            facts.append(("intended_outcome", (lid, o)))
        for d in dict.fromkeys(visit_docs + line.documentation):
            facts.append(("documented", (lid, d)))
        if line.intended_outcomes:      # the element follows from the list (encounter.DERIVED_ELEMENTS)
            facts.append(("documented", (lid, "intended_outcome")))
        if line.minutes is not None:    # likewise, the line's minutes are in the record
            facts.append(("documented", (lid, "minutes_recorded")))
    return facts
