"""Which payer overlay decides a claim, by the payer identifier the claim carries: a configurable
table, read once, shared by every front door that receives claims (the X12 837 reader; the batch
audits of issue 15 read the same table).

The table is a YAML file (default ``payers/routing/payer_ids.yaml`` beside the overlays: not a
``payers/*.yaml`` file, which the loader would read as an overlay), set elsewhere with
``SUPPORTABLE_PAYER_IDS`` or ``--payer-ids``::

    description: free text
    ids:
      "C12345": {payer: medicare, name: Medicare Part B, Maryland}
      "999996666": {payer: commercial}

Keys are the identifiers exactly as sent (X12: loop 2010BB ``NM1*PR`` NM109; quote them, ``00430``
is text). Every problem of the file is reported at once as ``file:line:col``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from supportable.engine import Location, Problem, load_yaml

ROUTING_FOLDER = "routing"
FILE_NAME = "payer_ids.yaml"
_PAYER = re.compile(r"^[a-z][a-z0-9_]*$")


def default_path(payers_dir: Path) -> Path:
    """Where the table is unless a setting names another file: ``<payers>/routing/payer_ids.yaml``."""
    return Path(payers_dir) / ROUTING_FOLDER / FILE_NAME


class PayerIdTableError(ValueError):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class PayerIdTable:
    path: str
    payers: dict[str, str] = field(default_factory=dict)      # payer identifier -> payer overlay id
    names: dict[str, str] = field(default_factory=dict)       # payer identifier -> name, where given
    locations: dict[str, Location] = field(default_factory=dict)

    def payer_for(self, payer_id: str | None) -> str | None:
        """The overlay that decides claims sent to ``payer_id``; None when the table has no row for it."""
        return self.payers.get(payer_id.strip()) if payer_id else None


def payer_for_id(table: PayerIdTable, payer_id: str | None) -> tuple[str | None, str]:
    """(overlay, why): the payer for an identifier, or None with a sentence saying why not (for the
    problem a caller reports on that claim)."""
    if not payer_id:
        return None, "the claim names no payer identifier (loop 2010BB NM1*PR NM109)"
    payer = table.payer_for(payer_id)
    if payer is None:
        return None, f"payer identifier `{payer_id}` is not in the payer table {table.path}: add a row for it"
    return payer, f"payer identifier `{payer_id}` is mapped to `{payer}` by {table.path}"


def load_payer_ids(path: Path, shown: str | None = None) -> PayerIdTable:
    """Read and check the table; :class:`PayerIdTableError` with every problem, located."""
    name = shown or str(path)
    root, problems = load_yaml(Path(path), name)
    if root is None:
        raise PayerIdTableError(problems)
    found: list[Problem] = list(problems)
    payers: dict[str, str] = {}
    names: dict[str, str] = {}
    locations: dict[str, Location] = {}
    if not root.is_mapping:
        raise PayerIdTableError([Problem("payer_table_format", "the payer table is a mapping with `ids`",
                                         root.location)])
    for key, node in root.items():
        if key not in ("ids", "description"):
            found.append(Problem("payer_table_format", f"unknown key `{key}` (the table has `ids` and "
                                 "`description`)", node.location))
    ids = root.get("ids")
    if ids is None or not ids.is_mapping:
        found.append(Problem("payer_table_format", "`ids` must be a mapping from payer identifier to "
                             "`{payer: <overlay id>, name: ...}`", (ids or root).location))
        raise PayerIdTableError(found)
    for payer_id, row in ids.items():
        where = row.location
        if not payer_id.strip():
            found.append(Problem("payer_table_format", "a payer identifier is empty", where))
            continue
        if not row.is_mapping:
            found.append(Problem("payer_table_format", f"`{payer_id}`: a row is `{{payer: <overlay id>, name: ...}}`",
                                 where))
            continue
        extra = [k for k, _ in row.items() if k not in ("payer", "name")]
        if extra:
            found.append(Problem("payer_table_format", f"`{payer_id}`: unknown key `{extra[0]}` (a row has `payer` "
                                 "and `name`)", where))
        payer = row.get("payer")
        if payer is None or not payer.is_scalar or not _PAYER.match(payer.scalar_text()):
            found.append(Problem("payer_table_format", f"`{payer_id}`: `payer` must name a payer overlay "
                                 "(lowercase id, e.g. `medicare`)", (payer or row).location))
            continue
        payers[payer_id.strip()] = payer.scalar_text()
        locations[payer_id.strip()] = where
        label = row.get("name")
        if label is not None and label.is_scalar:
            names[payer_id.strip()] = label.scalar_text()
    if found:
        raise PayerIdTableError(found)
    return PayerIdTable(name, payers, names, locations)
