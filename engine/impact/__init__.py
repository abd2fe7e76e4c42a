"""Impact of a candidate payer overlay: which decisions of a corpus of encounters would change.

``supportable impact --payer aetna --candidate new-aetna.yaml --encounters corpus.jsonl`` decides
every encounter of a corpus twice, under the payer's current policy and under the policy it would
have if the candidate file replaced the payer's overlay, and reports every line whose decision
(verdict or supportable units) changes, with the rules responsible on each side.

How the candidate is loaded: a temporary payers folder gets a copy of every current overlay file,
with the candidate written as ``<payer>.yaml``, and both folders are loaded with
:func:`load_policy_set`, so the candidate goes through exactly the checks the real file would.
Problems found in the temporary copies are reported against the files they came from (the
candidate's own path, or the real overlay file), never against the temporary folder. Payers
that extend the candidate's payer are found too: they would change with it.

A corpus is a ``.jsonl`` file (one encounter per line) or a folder of ``*.json`` (one encounter
each) and ``*.jsonl`` files, read in name order, not recursively. An encounter that is not JSON or
does not parse is counted and listed with its location and first problem; it does not stop the
run. Every encounter is decided under the payer given, whatever its own ``payer`` field says.

The package: ``model`` (the kinds of change and the report), ``candidate`` (loading the current
policy and the candidate), ``corpus`` (reading encounters), ``compare`` (deciding both ways).
"""
from .candidate import CandidatePair, Dependent, load_candidate
from .compare import compare
from .corpus import Corpus, CorpusItem, read_corpus
from .model import (CHANGE_TYPES, DECISION_CHANGES, NOW_ACCEPTED, NOW_REFUSED, RULES_CHANGED, UNITS_DOWN, UNITS_UP,
                    VERDICTS, Change, Impact, ImpactError, InvalidEncounter, SideTiming)

__all__ = ["CandidatePair", "Dependent", "load_candidate", "compare", "Corpus", "CorpusItem", "read_corpus",
           "CHANGE_TYPES", "DECISION_CHANGES", "NOW_ACCEPTED", "NOW_REFUSED", "RULES_CHANGED", "UNITS_DOWN", "UNITS_UP",
           "VERDICTS", "Change", "Impact", "ImpactError", "InvalidEncounter", "SideTiming"]
