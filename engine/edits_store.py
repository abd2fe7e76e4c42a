"""An imported edit table (CMS's practitioner PTP and MUE files, after ``supportable edits import``),
held compactly and once per process.

The practitioner PTP table has about a million rows. Held as Python objects it would cost hundreds
of megabytes per worker; here each column is an ``array`` (codes interned to small integers, dates
as ``YYYYMMDD`` integers) sorted by (column 1, column 2), so a pair is found by binary search and a
million rows take about 20 MB. A second index orders the rows by column 2 for "which codes pair
with this one" (explain-code). Loading is cached per folder and content hash, so every payer and
thread of a process shares one copy, and a reload that finds the folder unchanged reuses it.

The folder holds ``manifest.json`` (what was imported, from which files, the content hash) and
``ptp.tsv`` / ``mue.tsv`` written by :mod:`engine.ncci_import`. The files are data only: they
are read with the ``csv`` module, never executed.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
import threading
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Location, Problem

FORMAT = "supportable-edits/1"
PTP_COLUMNS = ("column1", "column2", "effective_from", "effective_to", "modifier_indicator", "source_file",
               "source_line", "rationale")
MUE_COLUMNS = ("code", "units", "adjudication", "effective_from", "effective_to", "source_file", "source_line",
               "rationale")
_SHIFT = 1 << 20   # codes are interned to ids below this; a pair key is id1 * _SHIFT + id2


def date_int(iso: str | None) -> int:
    """``2025-01-01`` -> 20250101; no date -> 0 (from) or 99991231 (to) by the caller's choice."""
    return int(iso.replace("-", "")) if iso else 0


def int_date(value: int) -> str | None:
    if value in (0, 99991231):
        return None
    s = str(value)
    return f"{s[:4]}-{s[4:6]}-{s[6:]}"


@dataclass(frozen=True)
class StoredRow:
    """One row of an imported table, as a plain value (made on demand, never held in bulk)."""
    kind: str                  # ptp or mue
    codes: tuple[str, ...]     # (column1, column2) or (code,)
    value: int                 # modifier indicator, or MUE units
    adjudication: int          # MUE adjudication indicator (0 for PTP)
    effective_from: str | None
    effective_to: str | None   # exclusive
    source_file: str
    source_line: int
    rationale: str


@dataclass
class ImportedTable:
    """One imported folder: PTP rows sorted by pair, MUE rows by code."""
    folder: str
    digest: str
    manifest: dict
    codes: list[str] = field(default_factory=list)        # id -> code
    code_ids: dict[str, int] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)        # interned source files and rationales
    # PTP columns, sorted by key
    ptp_key: array = field(default_factory=lambda: array("q"))
    ptp_from: array = field(default_factory=lambda: array("i"))
    ptp_to: array = field(default_factory=lambda: array("i"))
    ptp_indicator: array = field(default_factory=lambda: array("b"))
    ptp_file: array = field(default_factory=lambda: array("H"))
    ptp_line: array = field(default_factory=lambda: array("i"))
    ptp_rationale: array = field(default_factory=lambda: array("H"))
    _by_column2: array | None = None    # (column-2 id << 32 | row), sorted; built on first use
    # MUE columns, sorted by code id
    mue_code: array = field(default_factory=lambda: array("i"))
    mue_units: array = field(default_factory=lambda: array("i"))
    mue_adjudication: array = field(default_factory=lambda: array("b"))
    mue_from: array = field(default_factory=lambda: array("i"))
    mue_to: array = field(default_factory=lambda: array("i"))
    mue_file: array = field(default_factory=lambda: array("H"))
    mue_line: array = field(default_factory=lambda: array("i"))
    mue_rationale: array = field(default_factory=lambda: array("H"))

    @property
    def ptp_rows(self) -> int:
        return len(self.ptp_key)

    @property
    def mue_rows(self) -> int:
        return len(self.mue_code)

    # -- lookups ----------------------------------------------------------------------------------
    def _ptp_row(self, i: int) -> StoredRow:
        key = self.ptp_key[i]
        return StoredRow("ptp", (self.codes[key // _SHIFT], self.codes[key % _SHIFT]), self.ptp_indicator[i], 0,
                         int_date(self.ptp_from[i]), int_date(self.ptp_to[i]), self.texts[self.ptp_file[i]],
                         self.ptp_line[i], self.texts[self.ptp_rationale[i]])

    def _mue_row(self, i: int) -> StoredRow:
        return StoredRow("mue", (self.codes[self.mue_code[i]],), self.mue_units[i], self.mue_adjudication[i],
                         int_date(self.mue_from[i]), int_date(self.mue_to[i]), self.texts[self.mue_file[i]],
                         self.mue_line[i], self.texts[self.mue_rationale[i]])

    def ptp_pair(self, column1: str, column2: str) -> list[StoredRow]:
        """Every version of the edit (column1, column2), oldest first."""
        a, b = self.code_ids.get(column1), self.code_ids.get(column2)
        if a is None or b is None:
            return []
        key = a * _SHIFT + b
        lo = bisect_left(self.ptp_key, key)
        hi = bisect_right(self.ptp_key, key, lo)
        return [self._ptp_row(i) for i in range(lo, hi)]

    def ptp_involving(self, code: str) -> list[StoredRow]:
        """Every row with ``code`` in column 1 or column 2."""
        cid = self.code_ids.get(code)
        if cid is None:
            return []
        lo = bisect_left(self.ptp_key, cid * _SHIFT)
        hi = bisect_left(self.ptp_key, (cid + 1) * _SHIFT, lo)
        rows = [self._ptp_row(i) for i in range(lo, hi)]
        index = self._column2_index()
        lo = bisect_left(index, cid << 32)
        hi = bisect_left(index, (cid + 1) << 32, lo)
        return rows + [self._ptp_row(index[j] & 0xFFFFFFFF) for j in range(lo, hi)]

    def _column2_index(self) -> array:
        """Rows ordered by column 2, for "which codes pair with this one" (built once, when first asked)."""
        with _index_lock:
            if self._by_column2 is None:
                self._by_column2 = array("q", sorted((key % _SHIFT) << 32 | i for i, key in enumerate(self.ptp_key)))
            return self._by_column2

    def mue(self, code: str) -> list[StoredRow]:
        cid = self.code_ids.get(code)
        if cid is None:
            return []
        lo = bisect_left(self.mue_code, cid)
        hi = bisect_right(self.mue_code, cid, lo)
        return [self._mue_row(i) for i in range(lo, hi)]


class StoreError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def folder_digest(folder: Path) -> str:
    """The content hash the importer wrote into the manifest (what the policy version covers)."""
    manifest = _read_manifest(Path(folder))
    return str(manifest.get("digest", ""))


def _read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StoreError([Problem("unreadable_edits", f"cannot read the imported edit table: {exc.strerror}",
                                  Location(str(path)))]) from None
    except (ValueError, RecursionError) as exc:
        raise StoreError([Problem("invalid_edits", f"`manifest.json` is not valid JSON: {exc}",
                                  Location(str(path)))]) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError([Problem("invalid_edits", f"not an edit table written by `supportable edits import` "
                                  f"(format `{FORMAT}` expected)", Location(str(path)))])
    return manifest


def _digest_files(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("codes.txt", "ptp.tsv", "mue.tsv"):
        path = folder / name
        if path.is_file():
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return "sha256:" + h.hexdigest()[:16]


_cache: dict[str, ImportedTable] = {}
_cache_lock = threading.Lock()
_index_lock = threading.Lock()


def _new_locks_after_fork() -> None:
    # in a forked child only the forking thread lives: a lock another thread held would never be released
    global _cache_lock, _index_lock
    _cache_lock, _index_lock = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_new_locks_after_fork)


def load_imported(folder: Path) -> ImportedTable:
    """The imported table in ``folder``, read once per process and content (raises StoreError)."""
    folder = Path(folder).resolve()
    manifest = _read_manifest(folder)
    digest = str(manifest.get("digest", ""))
    with _cache_lock:
        cached = _cache.get(str(folder))
        if cached is not None and cached.digest == digest:
            return cached
        table = _read(folder, manifest, digest)
        _cache[str(folder)] = table
        return table


def _read(folder: Path, manifest: dict, digest: str) -> ImportedTable:
    if _digest_files(folder) != digest:
        raise StoreError([Problem("invalid_edits", "the table files do not match the digest in manifest.json "
                                  "(changed after the import?); import them again", Location(str(folder / "manifest.json")))])
    table = ImportedTable(str(folder), digest, manifest)
    text_ids: dict[str, int] = {}

    def code_id(code: str) -> int:
        cid = table.code_ids.get(code)
        if cid is None:
            cid = table.code_ids[code] = len(table.codes)
            table.codes.append(code)
            if cid >= _SHIFT:
                raise StoreError([Problem("invalid_edits", "too many distinct codes", Location(str(folder)))])
        return cid

    # Codes get ids in their sorted order, so rows the importer wrote sorted by (column 1, column 2)
    # have ascending pair keys.
    try:
        listed = (folder / "codes.txt").read_text(encoding="utf-8").split()
    except OSError as exc:
        raise StoreError([Problem("unreadable_edits", f"cannot read the code list: {exc.strerror}",
                                  Location(str(folder / "codes.txt")))]) from None
    except UnicodeDecodeError as exc:
        raise StoreError([Problem("invalid_edits", f"the code list is not UTF-8 text (byte offset {exc.start})",
                                  Location(str(folder / "codes.txt")))]) from None
    for code in sorted(set(listed)):
        code_id(code)

    def text_id(text: str) -> int:
        tid = text_ids.get(text)
        if tid is None:
            tid = text_ids[text] = len(table.texts)
            table.texts.append(text)
        return tid

    ptp_path, last = folder / "ptp.tsv", -1
    ptp_columns = (table.ptp_from, table.ptp_to, table.ptp_indicator, table.ptp_file, table.ptp_line,
                   table.ptp_rationale)
    for lineno, rec in _records(ptp_path, PTP_COLUMNS):
        try:
            key = code_id(rec[0]) * _SHIFT + code_id(rec[1])
            values = (date_int(rec[2]), date_int(rec[3]) if rec[3] else 99991231, int(rec[4]), text_id(rec[5]),
                      int(rec[6]), text_id(rec[7]))
            if key < last:  # the importer writes rows in order, so the table needs no sorting here
                raise StoreError([Problem("invalid_edits", "rows are out of order (column 1, column 2)",
                                          Location(str(ptp_path), lineno, 1))])
            _append_row(ptp_columns, values)
        except (ValueError, OverflowError):
            raise StoreError([Problem("invalid_edits", "malformed row (a field is not a number in range)",
                                      Location(str(ptp_path), lineno, 1))]) from None
        last = key
        table.ptp_key.append(key)
    mue_path = folder / "mue.tsv"
    mue_columns = (table.mue_code, table.mue_units, table.mue_adjudication, table.mue_from, table.mue_to,
                   table.mue_file, table.mue_line, table.mue_rationale)
    for lineno, rec in _records(mue_path, MUE_COLUMNS):
        try:
            values = (code_id(rec[0]), int(rec[1]), int(rec[2]), date_int(rec[3]),
                      date_int(rec[4]) if rec[4] else 99991231, text_id(rec[5]), int(rec[6]), text_id(rec[7]))
            _append_row(mue_columns, values)
        except (ValueError, OverflowError):
            raise StoreError([Problem("invalid_edits", "malformed row (a field is not a number in range)",
                                      Location(str(mue_path), lineno, 1))]) from None
    # MUE rows are few (one or two per code): order them by code id here.
    order = sorted(range(len(table.mue_code)), key=lambda i: (table.mue_code[i], table.mue_from[i]))
    for name in ("mue_code", "mue_units", "mue_adjudication", "mue_from", "mue_to", "mue_file", "mue_line",
                 "mue_rationale"):
        column = getattr(table, name)
        setattr(table, name, array(column.typecode, (column[i] for i in order)))
    return table


def _append_row(columns: tuple[array, ...], values: tuple[int, ...]) -> None:
    """Append one row to the column arrays (a value out of a column's range raises OverflowError)."""
    for column, value in zip(columns, values):
        column.append(value)


def _records(path: Path, columns: tuple[str, ...]):
    """(line number, fields) of a table file written by the importer; a missing file has no rows."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return
            if tuple(header) != columns:
                raise StoreError([Problem("invalid_edits", f"unexpected columns; expected {', '.join(columns)}",
                                          Location(str(path), 1, 1))])
            for rec in reader:
                if len(rec) != len(columns):
                    raise StoreError([Problem("invalid_edits", f"expected {len(columns)} fields, found {len(rec)}",
                                              Location(str(path), reader.line_num, 1))])
                yield reader.line_num, rec
        except (csv.Error, UnicodeDecodeError) as exc:
            raise StoreError([Problem("invalid_edits", f"not a table the importer wrote: {exc}",
                                      Location(str(path), reader.line_num, 1))]) from None


def write_table(folder: Path, ptp_rows, mue_rows, manifest: dict) -> dict:
    """Write an imported table (rows as tuples in PTP_COLUMNS / MUE_COLUMNS order) and its manifest.
    PTP rows are written sorted by (column 1, column 2, effective from), which the loader relies on.

    The files are written to a new folder beside ``folder`` and moved into place when complete, so a
    failed import (a full disk, an interrupted run) never leaves a half-written table where a good
    one was. ``folder`` must be absent, empty, or an earlier import (see :func:`check_target`)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.importing-", dir=folder.parent))
    try:
        ptp_rows = sorted(ptp_rows, key=lambda r: (r[0], r[1], r[2] or ""))
        mue_rows = sorted(mue_rows, key=lambda r: (r[0], r[3] or ""))
        codes = sorted({r[0] for r in ptp_rows} | {r[1] for r in ptp_rows} | {r[0] for r in mue_rows})
        (staging / "codes.txt").write_text("".join(c + "\n" for c in codes), encoding="utf-8")
        for name, columns, rows in (("ptp.tsv", PTP_COLUMNS, ptp_rows), ("mue.tsv", MUE_COLUMNS, mue_rows)):
            with (staging / name).open("w", encoding="utf-8", newline="") as f:
                # QUOTE_MINIMAL quotes a field holding a tab, a quote or a line break: read back as written
                writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
                writer.writerow(columns)
                for row in rows:
                    writer.writerow(["" if v is None else str(v) for v in row])
        manifest = {"format": FORMAT, **manifest, "digest": _digest_files(staging)}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        previous = None
        if folder.exists():
            previous = Path(tempfile.mkdtemp(prefix=f".{folder.name}.previous-", dir=folder.parent))
            previous.rmdir()
            folder.rename(previous)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    return manifest


def check_target(folder: Path) -> Problem | None:
    """Why ``folder`` cannot receive an import: only an absent or empty folder, or an earlier import,
    is replaced (never a folder of other files)."""
    folder = Path(folder)
    if not folder.exists():
        return None
    if not folder.is_dir():
        return Problem("invalid_target", "exists and is not a folder", Location(str(folder)))
    if not any(folder.iterdir()):
        return None
    try:
        _read_manifest(folder)
    except StoreError:
        return Problem("invalid_target", "is a folder of other files, not an edit table written by `supportable "
                       "edits import`; choose a new or empty folder", Location(str(folder)))
    return None
