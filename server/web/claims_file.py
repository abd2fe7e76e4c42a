"""A day's claims as a file: NDJSON (one encounter a line), a JSON array of encounters (or one), a
CSV of one row per billed line with the encounter's fields repeated (the layout is in docs/web.md),
or an X12 837P (each claim and date of service an encounter, read as the 837 front door reads it,
its payer through the payer-identifier table; docs/x12.md).
Each reader gives a list of (where, document or problem items): a bad row or line is reported with
its place and does not stop the others."""
from __future__ import annotations

import csv
import io
import json
import re

# The CSV layout: encounter fields (repeated on every row of the encounter), then the line's fields.
# Lists inside a cell are separated by `;` (or spaces).
ENCOUNTER_COLUMNS = ("encounter_id", "payer", "date_of_service", "provider_type", "patient_id", "condition_status",
                     "plan_certified_by", "plan_certified_on", "plan_start_of_care", "diagnoses", "documentation")
LINE_COLUMNS = ("line_id", "code", "minutes", "units", "modifiers", "patients_in_session", "intended_outcomes",
                "time_block", "line_documentation", "charge")
CSV_COLUMNS = ENCOUNTER_COLUMNS + LINE_COLUMNS
REQUIRED = ("encounter_id", "date_of_service", "provider_type", "patient_id", "code", "minutes", "units")


# A charge in US dollars: 1200.50, $1,200.50 (thousands separated by commas, in threes), never 120,50.
AMOUNT = re.compile(r"^\$?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?)$")


class ReadProblems(list):
    """The problems of a claim that could not be read, in its place among the documents (a list of
    its own type, so that an encounter that is itself a JSON array is never taken for one)."""


def is_unread(item: object) -> bool:
    return isinstance(item, ReadProblems)


def _problem(message: str, code: str = "invalid_value", path: str = "") -> ReadProblems:
    return ReadProblems([{"path": path, "code": code, "level": "error", "message": message}])


X12_SUFFIXES = (".837", ".x12", ".edi")


def read_837(name: str, text: str, payer_ids) -> list[tuple[str, object]]:
    """An 837P's encounters: (claim and segment, document with its payer) or (the same, [problem items]) for
    a claim that cannot be checked. ValueError, naming the segments, for a file that is not a readable 837P."""
    from ..x12.encounters import build
    from ..x12.reader import X12Error, read_837 as read_interchange
    try:
        claims = read_interchange(text)
    except X12Error as exc:
        raise ValueError(f"{name} is not a readable X12 837P: " + "; ".join(str(p) for p in exc.problems[:5])) from None
    out: list[tuple[str, object]] = []
    for built in build(claims, payer_ids, None, None):
        where = f"claim {built.claim.claim_id} (CLM at segment {built.claim.at.segment})"
        if built.document is None:
            out.append((where, ReadProblems(p for issue in built.issues for p in _problem(issue.message, issue.code))))
        else:
            out.append((where, {**built.document, "payer": built.payer}))
    return out


def read_claims(name: str, text: str, payer_ids=None) -> list[tuple[str, object]]:
    """(where, document) for each encounter, or (where, [problem items]) for one that cannot be read.
    ``payer_ids``: the payer-identifier table, for an 837's payers."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise ValueError("the file is empty")
    if name.lower().endswith(X12_SUFFIXES) or stripped.startswith("ISA"):
        if payer_ids is None:
            raise ValueError(f"{name} is an 837: its payers need the payer-identifier table")
        return read_837(name, text, payer_ids)
    if name.lower().endswith(".csv") or not stripped.startswith(("{", "[")):
        return read_csv(text)
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
        return [(f"item {i + 1}", item) for i, item in enumerate(items)]
    try:
        return [("item 1", json.loads(stripped))]          # one encounter, possibly over several lines
    except json.JSONDecodeError:
        pass
    out: list[tuple[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((f"line {number}", json.loads(line)))
        except (json.JSONDecodeError, RecursionError) as exc:
            out.append((f"line {number}", _problem(f"{name}:{number}: not JSON: {exc}", "invalid_json")))
    return out


def _list(cell: str) -> list[str]:
    return [x for x in cell.replace(";", " ").split() if x]


def read_csv(text: str) -> list[tuple[str, object]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in CSV_COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        parts = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + \
                ([f"missing column(s) {', '.join(missing)}"] if missing else [])
        raise ValueError(f"the CSV's first row (row 1) has {'; '.join(parts)}; the columns are: {', '.join(CSV_COLUMNS)}")
    encounters: dict[str, dict] = {}
    bad: dict[str, list[dict]] = {}
    where: dict[str, str] = {}
    for row_number, row in enumerate(reader, start=2):
        cell = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
        key = cell["encounter_id"]
        if not key:
            bad[f"row {row_number}"] = _problem(f"row {row_number}, column encounter_id: empty", "missing_field")
            where[f"row {row_number}"] = f"row {row_number}"
            continue
        if key not in encounters:
            where[key] = f"row {row_number}"
            encounters[key] = _encounter(cell)
        elif _encounter(cell) | {"lines": []} != encounters[key] | {"lines": []}:
            bad.setdefault(key, ReadProblems()).extend(_problem(
                f"row {row_number}: the encounter's fields differ from its first row ({where[key]}); repeat them "
                "unchanged on every row of an encounter"))
        line, problems = _line(cell, row_number, len(encounters[key]["lines"]))
        if row.get(None):          # cells past the header's last column: never dropped unsaid
            problems += _problem(f"row {row_number} has {len(header) + len(row[None])} cells but the first row names "
                                 f"{len(header)} columns (a cell holding a comma must be in double quotes)")
        elif any(row.get(column) is None for column in header):      # a row cut short: its last cells are missing
            given = sum(1 for column in header if row.get(column) is not None)
            problems += _problem(f"row {row_number} has {given} cells but the first row names {len(header)} columns "
                                 "(write every column, empty where there is nothing)")
        encounters[key]["lines"].append(line)
        if problems:
            bad.setdefault(key, ReadProblems()).extend(problems)
    return [(where[k], bad.get(k) or doc) for k, doc in encounters.items()] + \
           [(k, v) for k, v in bad.items() if k not in encounters]


def _encounter(cell: dict) -> dict:
    doc: dict = {"id": cell["encounter_id"], "date_of_service": cell["date_of_service"],
                 "provider": {"type": cell["provider_type"]}, "diagnoses": _list(cell["diagnoses"]),
                 "documentation": _list(cell["documentation"]), "patient": {"id": cell["patient_id"]}, "lines": []}
    if cell["payer"]:
        doc["payer"] = cell["payer"]
    if cell["condition_status"]:
        doc["patient"]["condition_status"] = cell["condition_status"]
    if cell["plan_certified_by"]:
        doc["plan_of_care"] = {"certified_by": cell["plan_certified_by"], "start_of_care": cell["plan_start_of_care"]}
        if cell["plan_certified_on"]:
            doc["plan_of_care"]["certified_on"] = cell["plan_certified_on"]
    return doc


def _line(cell: dict, row_number: int, index: int) -> tuple[dict, list[dict]]:
    problems = []
    line: dict = {"id": cell["line_id"] or str(index + 1), "code": cell["code"], "modifiers": _list(cell["modifiers"])}
    # an empty minutes cell is minutes not recorded (docs/encounter.md: the line then needs its minutes
    # documented, never a silent pass); an empty units cell is a problem
    for column, key, optional in (("minutes", "minutes", True), ("units", "units", False),
                                  ("patients_in_session", "patients_in_session", True)):
        raw = cell[column]
        if not raw and optional:
            continue
        if not raw.isdigit():
            problems += _problem(f"row {row_number}, column {column}: `{raw}` is not a whole number",
                                 "missing_field" if not raw else "invalid_value", f"lines[{index}].{key}")
            continue
        line[key] = int(raw)
    if cell["intended_outcomes"]:
        line["intended_outcomes"] = _list(cell["intended_outcomes"])
    if cell["time_block"]:
        line["time_block"] = cell["time_block"]
    if cell["line_documentation"]:
        line["documentation"] = _list(cell["line_documentation"])
    if cell["charge"]:
        amount = AMOUNT.match(cell["charge"])
        charge = float(amount.group(1).replace(",", "")) if amount else -1.0
        if charge < 0:
            problems += _problem(f"row {row_number}, column charge: `{cell['charge']}` is not an amount in dollars",
                                 "invalid_value", f"lines[{index}].charge")
        else:
            line["charge"] = charge
    return line, problems
