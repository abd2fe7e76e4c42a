"""Code-pair (NCCI PTP) and unit (MUE) edits as data, layered like the rules.

Edits are table rows, not rules: a few generic rules in ``policies/base/ncci.yaml`` read them as
``ptp_edit/3``, ``ptp_evidence/3`` and ``mue_edit/3`` facts. The rows come from three places,
applied in this order:

1. the **base** tables, ``policies/edits/*.yaml``: rows the guidance supports, each with its
   source and confidence; rows of C-grade confidence ship with ``status: unverified`` and are not
   applied;
2. an **imported** CMS table (``supportable edits import``, :mod:`engine.edits_store`): CMS's own
   rows replace the base rows of the same pair or code (keeping the base row's ``distinct_by``,
   which CMS's files do not carry);
3. each payer overlay's ``edits:`` block, root first: rows it adds, rows whose indicator, units,
   evidence or status it overrides, rows it disables.

Nothing here goes into the Datalog engine's fact store: per encounter, :meth:`EditTables.facts_for`
picks the rows for the codes on the claim that are in force on its date of service, with their
provenance for the proofs.

The package: ``model`` (rows, changes, layers and what their values mean), ``reading`` (YAML to
rows and changes, checked as read), ``tables`` (one payer's layered tables, :class:`EditTables`).
"""
from .model import (BASE_LAYER, CHANGE_KEYS, CODE, CONFIDENCE, IMPORT_LAYER, IMPORTED_GROUNDS, MUE_ADJUDICATION,
                    MUE_KEYS, OVERRIDE_FIELDS, PTP_INDICATORS, PTP_KEYS, STATUSES, Edit, EditChange, EditLayer)
from .reading import (PARAMETER_NAME, check_codes, load_base_tables, parse_base_tables, parse_overlay_edits,
                      parse_row, parse_rows)
from .tables import EditTables, load_import

__all__ = ["BASE_LAYER", "CHANGE_KEYS", "CODE", "CONFIDENCE", "IMPORT_LAYER", "IMPORTED_GROUNDS", "MUE_ADJUDICATION",
           "MUE_KEYS", "OVERRIDE_FIELDS", "PTP_INDICATORS", "PTP_KEYS", "STATUSES", "Edit", "EditChange", "EditLayer",
           "PARAMETER_NAME", "check_codes", "load_base_tables", "parse_base_tables",
           "parse_overlay_edits", "parse_row", "parse_rows",
           "EditTables", "load_import"]
