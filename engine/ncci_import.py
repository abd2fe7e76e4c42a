"""``supportable edits import``: CMS's practitioner NCCI files -> a validated edit table.

CMS publishes the practitioner procedure-to-procedure (PTP) edits quarterly as tab-delimited text
files (split by code range into several parts, each zipped), and the practitioner medically
unlikely edits (MUE) as a CSV file. Their content includes CPT codes under the AMA's licence, so a
user downloads them and imports them into a folder of their own; nothing from them is shipped
(domain-notes-2.md §2.3). The layouts, from domain-notes-2.md §2.1-2.2:

- PTP: a header block (an AMA copyright line, column titles over several rows), then one edit per
  line: column 1 code, column 2 code, ``*`` if the edit existed before 1996, effective date
  (YYYYMMDD), deletion date (YYYYMMDD, or ``*`` or ``99991231`` when still in force), modifier indicator (0 not
  allowed, 1 allowed, 9 not applicable) and the edit's rationale.
- MUE: a CSV with header rows, then code, MUE value (units), MUE adjudication indicator (the digit
  and its text, "1 Line Edit", "2 Date of Service Edit: Policy", "3 Date of Service Edit:
  Clinical") and rationale. The file carries no dates: the release's effective date comes from
  the file name (``..._Eff_01-01-2026.csv``) or ``--mue-effective``.

A deletion date is read as the last day the edit applied (domain-notes-2.md U10: inferred from
quarter-end values), so the imported row is in force up to and including it. Every problem names
``file:line`` (``archive.zip!member.txt:line`` inside a zip) and nothing is written unless the
whole import is clean; the table is written beside its folder and moved into place whole.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

from .edits_store import check_target, write_table
from .errors import Location, Problem

CODE = re.compile(r"^[0-9A-Z]{5}$")
YYYYMMDD = re.compile(r"^\d{8}$")
MUE_UNITS = re.compile(r"^[0-9]{1,6}$")          # ASCII digits only; no MUE comes near a million units
MAX_MUE_UNITS = 999999
OPEN_DELETION = "99991231"                        # some releases write "no end" as a far-future date
MUE_DATE_IN_NAME = re.compile(r"Eff[_ -]?(\d{2})[-_](\d{2})[-_](\d{4})", re.IGNORECASE)


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    ptp_rows: int = 0
    mue_rows: int = 0
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _texts(path: Path) -> Iterator[tuple[str, str]]:
    """(display name, text) of a file, or of each .txt/.csv member of a zip archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                if member.lower().endswith((".txt", ".csv")) and not member.endswith("/"):
                    yield f"{path.name}!{member}", archive.read(member).decode("latin-1")
        return
    yield path.name, path.read_bytes().decode("latin-1")


def _date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_ptp(name: str, text: str, problems: list[Problem]) -> list[tuple]:
    """Rows (column1, column2, from, to-exclusive, indicator, file, line, rationale) of one PTP file."""
    rows: list[tuple] = []
    started = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = [f.strip() for f in raw.split("\t")]
        if not started:
            # The header block ends at the first line that starts with a code: from there on every
            # line is an edit, and a malformed first edit is reported, not taken for a header line.
            if CODE.match(fields[0]):
                started = True
            else:
                continue
        if not raw.strip():
            continue
        where = Location(name, lineno, 1)
        if len(fields) < 6:
            problems.append(Problem("invalid_ptp_row", f"expected at least 6 tab-separated fields (column 1, "
                                    f"column 2, pre-1996, effective, deletion, modifier), found {len(fields)}", where))
            continue
        col1, col2, _prior, effective, deletion, indicator = fields[:6]
        rationale = fields[6] if len(fields) > 6 else ""
        bad = []
        if not CODE.match(col1):
            bad.append(f"column 1 `{col1}` is not a CPT/HCPCS code")
        if not CODE.match(col2):
            bad.append(f"column 2 `{col2}` is not a CPT/HCPCS code")
        if col1 == col2:
            bad.append(f"column 1 and column 2 are the same code `{col1}`")
        start = _date(effective) if YYYYMMDD.match(effective) else None
        if start is None:
            bad.append(f"effective date `{effective}` is not a YYYYMMDD date")
        end = None
        if deletion not in ("*", OPEN_DELETION):
            end = _date(deletion) if YYYYMMDD.match(deletion) else None
            if end is None:
                bad.append(f"deletion date `{deletion}` is neither `*` nor a YYYYMMDD date")
            elif start is not None and end < start:
                bad.append(f"deletion date {deletion} is before the effective date {effective}")
        if indicator not in ("0", "1", "9"):
            bad.append(f"modifier indicator `{indicator}` is not 0, 1 or 9")
        if bad:
            problems.append(Problem("invalid_ptp_row", "; ".join(bad), where))
            continue
        to = (end + timedelta(days=1)).isoformat() if end else None   # the deletion date is the last day in force
        rows.append((col1, col2, start.isoformat(), to, int(indicator), name, lineno, rationale))
    if not started:
        problems.append(Problem("invalid_ptp_file", "no PTP edit rows found (tab-separated: column 1, column 2, "
                                "pre-1996, effective, deletion, modifier, rationale)", Location(name)))
    return rows


def mue_effective_from_name(name: str) -> str | None:
    m = MUE_DATE_IN_NAME.search(name)
    if not m:
        return None
    try:
        return date(int(m.group(3)), int(m.group(1)), int(m.group(2))).isoformat()
    except ValueError:
        return None


def parse_mue(name: str, text: str, effective: str, problems: list[Problem]) -> list[tuple]:
    """Rows (code, units, adjudication, from, to, file, line, rationale) of one MUE file."""
    rows: list[tuple] = []
    started = False
    for lineno, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        fields = [f.strip() for f in fields]
        if not started:
            joined = " ".join(fields).upper()
            if "MUE" in joined and ("HCPCS" in joined or "CPT" in joined):
                started = True   # the column titles; rows follow
            elif fields and CODE.match(fields[0]):
                problems.append(Problem("invalid_mue_file", "a row of codes before the column titles (a row naming "
                                        "the HCPCS/CPT code and the MUE value): the file's header is not as "
                                        "published", Location(name, lineno, 1)))
                return []
            continue
        if not any(fields):
            continue
        where = Location(name, lineno, 1)
        if len(fields) < 3:
            problems.append(Problem("invalid_mue_row", f"expected code, MUE value and adjudication indicator, found "
                                    f"{len(fields)} field(s)", where))
            continue
        code, value, mai = fields[:3]
        rationale = fields[3] if len(fields) > 3 else ""
        bad = []
        if not CODE.match(code):
            bad.append(f"`{code}` is not a CPT/HCPCS code")
        if not MUE_UNITS.match(value):
            bad.append(f"MUE value `{value}` is not a whole number of units (0 to {MAX_MUE_UNITS})")
        digit = mai[:1]
        if digit not in ("1", "2", "3"):
            bad.append(f"adjudication indicator `{mai}` does not start with 1, 2 or 3")
        if bad:
            problems.append(Problem("invalid_mue_row", "; ".join(bad), where))
            continue
        rows.append((code, int(value), int(digit), effective, None, name, lineno, rationale))
    if not started:
        problems.append(Problem("invalid_mue_file", "no MUE column titles found (a row naming the HCPCS/CPT code "
                                "and the MUE value)", Location(name)))
    return rows


def _chain_releases(rows: list[tuple]) -> list[tuple]:
    """With several MUE releases, each code's row ends where its next release starts."""
    rows = sorted(rows, key=lambda r: (r[0], r[3]))
    out = []
    for i, row in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == row[0] else None
        out.append(row[:4] + ((nxt[3] if nxt else None),) + row[5:])
    return out


def import_files(ptp_files: list[Path], mue_files: list[Path], out: Path, mue_effective: str | None = None,
                 imported_on: str | None = None) -> ImportResult:
    """Parse and check every file; write the table to ``out`` only when there is no problem."""
    result = ImportResult()
    refused = check_target(out)
    if refused is not None:
        result.problems.append(refused)
        return result
    ptp_rows: list[tuple] = []
    mue_rows: list[tuple] = []
    sources = []
    for path in ptp_files:
        path = Path(path)
        try:
            for name, text in _texts(path):
                rows = parse_ptp(name, text, result.problems)
                ptp_rows += rows
                sources.append({"kind": "ptp", "file": name, "rows": len(rows)})
        except (OSError, zipfile.BadZipFile) as exc:
            result.problems.append(Problem("unreadable_file", f"cannot read: {exc}", Location(str(path))))
    for path in mue_files:
        path = Path(path)
        effective = mue_effective or mue_effective_from_name(path.name)
        if effective is None:
            result.problems.append(Problem("mue_effective_date", "the MUE file carries no dates and its name has "
                                           "none (like `..._Eff_01-01-2026.csv`): give --mue-effective YYYY-MM-DD",
                                           Location(str(path))))
            continue
        try:
            for name, text in _texts(path):
                rows = parse_mue(name, text, effective, result.problems)
                mue_rows += rows
                sources.append({"kind": "mue", "file": name, "rows": len(rows), "effective": effective})
        except (OSError, zipfile.BadZipFile) as exc:
            result.problems.append(Problem("unreadable_file", f"cannot read: {exc}", Location(str(path))))
    seen: dict[tuple, tuple] = {}
    for row in ptp_rows:
        key = (row[0], row[1], row[2])
        if key in seen:
            first = seen[key]
            result.problems.append(Problem("duplicate_edit", f"edit {row[0]}/{row[1]} effective {row[2]} is "
                                           f"already at {first[5]}:{first[6]}", Location(row[5], row[6], 1)))
        else:
            seen[key] = row
    seen = {}
    for row in mue_rows:
        key = (row[0], row[3])
        if key in seen:
            first = seen[key]
            result.problems.append(Problem("duplicate_edit", f"MUE for {row[0]} effective {row[3]} is already at "
                                           f"{first[5]}:{first[6]}", Location(row[5], row[6], 1)))
        else:
            seen[key] = row
    if not ptp_rows and not mue_rows and not result.problems:
        result.problems.append(Problem("nothing_to_import", "no PTP or MUE file given", None))
    if result.problems:
        return result
    mue_rows = _chain_releases(mue_rows)
    result.ptp_rows, result.mue_rows = len(ptp_rows), len(mue_rows)
    result.manifest = write_table(out, ptp_rows, mue_rows, {
        "imported_on": imported_on or date.today().isoformat(), "sources": sources,
        "ptp_rows": len(ptp_rows), "mue_rows": len(mue_rows),
        "deletion_date": "read as the last day an edit applied (domain-notes-2.md U10)"})
    return result
