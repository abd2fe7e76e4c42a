"""Policy tests: cases written in YAML next to the policies, run against the engine like unit tests.

The modules, one job each: ``model`` (cases, line results, the run), ``cache`` (each payer's
policies built once per run, or per sources digest in a ``PolicyCache`` the caller holds), ``change`` (the change language), ``nodes`` (the YAML reading, with merge
keys), ``file_reader`` and ``case_reader`` (a test file and one case), ``expectations`` (a case's
``expect:``), ``runner`` (deciding and comparing), ``exercised`` and ``coverage`` (rule coverage); "did you
mean" is engine/suggest.py. The text form of a run is cli/render_policytest.py.

``supportable test [PATH]`` runs them (cli/policytest.py); by default every
``payers/tests/**/*.yaml`` and ``policies/tests/**/*.yaml``. (Payers are only the ``*.yaml`` files
directly in ``payers/``, so ``payers/tests/`` is never read as a payer.)

The test file
-------------
::

    payer: medicare                  # required: the payer that decides every case (`base`: the base alone)
    description: ...                 # optional, for readers
    edits:                           # optional: edit-table rows for these cases, as an overlay's
      mue: {add: [...]}              #   `edits:` block (docs/overlays.md), layered over the payer's
    examples:                        # optional: encounters shared by this file's cases, by name
      exercise_visit: {<a whole encounter, as in docs/encounter.md>}
    cases:                           # required, a non-empty list
      - name: 22 + 18 minutes make 3 units     # required, unique in the file
        source: {file: domain-notes.md, section: "1.1"}  # the guidance the expectations rest on
        example: medicare_8_minute_rule        # this file's `examples:` first, else
                                               #   examples/encounters/<name>.json (or a path
                                               #   ending .json, relative to the test file)
        # or, instead of `example:`:  encounter: {<a whole encounter>}
        change: {...}                # optional: the change language below
        date_of_service: 2025-11-03  # optional; applied after `change`
        expect:                      # required: line id -> any of these keys
          1:
            verdict: supportable     # supportable | needs_documentation | not_supportable
            units: 2                 # the supportable units
            reasons: [rule ids]      # must all fire on the line (the line's reasons)
            not_reasons: [rule ids]  # must not fire
            missing_documentation: [elements]  # exactly these (in any order)
            suggested_codes: [codes]           # exactly these (in any order)
            overbilled: true                   # supportable for fewer units than billed
            fixes: ["add_modifier 59|XS", "add_documentation distinct_region"]   # exactly these:
                                               # action and value (modifier choices joined by |)
            advice: [rule ids]       # must all give the line advice (information that denies nothing)
            not_advice: [rule ids]   # must not
            remittance: [16/N706, "236"]  # exactly these codes on the line's reasons (CARC/RARC, or a CARC
                                          # alone), each in the payer's remittance table

A rule id in ``reasons``/``not_reasons``/``advice``/``not_advice`` must be a rule of the payer's chain or one it disables;
documentation elements and codes must be in the vocabulary; a line id must be a line of the
encounter. Lines an ``expect`` does not name are not checked.

The change language
-------------------
``change:`` is a mapping applied entry by entry, in the order written, to a copy of the example:

- ``<path>: <value>`` sets a field. A path is field names joined by ``.`` with ``[i]`` list
  indexes (``[-1]`` is the last item): ``lines[0].minutes: 24``, ``patient.condition_status:
  plateau``, ``lines[1]: {id: "2", code: "97110", ...}`` (a whole line), ``lines: [...]`` (all of
  them). Everything up to the last step must exist; a mapping gains a key it lacks, a list item
  must exist (use ``append`` to add one).
- ``remove: [<path>, ...]`` (or one path) deletes fields or list items: ``remove: [plan_of_care,
  "lines[1]"]``. What it names must exist. Items are removed one after the other, so later
  indexes see the earlier removals.
- ``append: {<path>: <value>}`` adds to a list: one item, or each item of a list value
  (``append: {documentation: prior_authorization}``, ``append: {"patient.history": [{...}, {...}]}``).
  A list missing from an existing mapping is created.

YAML anchors and merge keys work as usual, so a change can be shared (``change: &nmr {...}`` and
later ``change: {<<: *nmr, lines[0].minutes: 33}``; the merged entries come first, and an entry
written in the mapping itself replaces a merged one of the same path). In YAML's ``[flow]`` and
``{flow}`` collections a path containing ``[`` must be quoted (``"lines[1]"``). Unquoted YAML
dates become ISO strings. Quote codes and modifiers that look like numbers (``"97110"``, ``"59"``).

Problems
--------
Everything about a test file is checked before it runs, and every problem is a located
:class:`~engine.errors.Problem` (``file:line:col``): YAML syntax, unknown keys (with a suggestion),
an unknown payer or one whose policies do not load, an unknown example, line ids the encounter does
not have, rule ids the payer does not have, a change that does not apply, and an encounter that
does not validate (its field path, located at the ``change`` entry or ``encounter`` node that set
it, else at ``example:``). A case with problems is an error and is not run; the others still run.
Nothing here raises for bad input.

Coverage
--------
For each case the rules that took part in its decision are collected
(:func:`~.exercised.exercised_rules`: its derivations, recursively, and the rules its why-nots show
were tried); per payer these are
compared with the rules of the payer's chain, less the rules that can never hold under its
parameters (the total-time unit rules under a per-code payer, see compiler.live_rules), and the
result is merged per policy file.
"""
from .cache import Policies, PolicyCache
from .case_reader import CASE_KEYS
from .change import ChangeError, change_append, change_remove, change_set, parse_path, show_path
from .coverage import Coverage, RuleCoverage
from .exercised import exercised_rules
from .expectations import EXPECT_KEYS, FIX_ACTIONS, VERDICTS
from .file_reader import FILE_KEYS
from .model import (ERROR, FAILED, PASSED, Case, CaseResult, LineExpectation, LineResult, Mismatch, PolicyTestRun,
                    RunError)
from .nodes import plain
from .runner import actual_line, collect_files, compare_line, default_test_paths, run_case, run_tests

__all__ = ["CASE_KEYS", "ChangeError", "Case", "CaseResult", "Coverage", "ERROR", "EXPECT_KEYS", "FAILED", "FILE_KEYS",
           "FIX_ACTIONS", "LineExpectation", "LineResult", "Mismatch", "PASSED", "Policies", "PolicyCache",
           "PolicyTestRun", "RuleCoverage", "RunError", "VERDICTS", "actual_line", "change_append", "change_remove", "change_set",
           "collect_files", "compare_line", "default_test_paths", "exercised_rules", "parse_path", "plain", "run_case",
           "run_tests", "show_path"]
