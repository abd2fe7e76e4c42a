"""Impact of a candidate payer overlay: which decisions of a corpus of encounters would change.

``supportable impact --payer aetna --candidate new-aetna.yaml --encounters corpus.jsonl`` decides
every encounter of a corpus twice, under the payer's current policy and under the policy it would
have if the candidate file replaced the payer's overlay, and reports every line whose decision
(verdict or supportable units) changes, with the rules responsible on each side.

The candidate goes through exactly the checks the real file would, its problems are reported
against the files they came from, and payers that extend the candidate's payer are compared too
(``candidate``). A corpus is a ``.jsonl`` file, a ``.json`` file or a folder of them; an
encounter that does not parse is listed, and does not stop the run (``corpus``).

The package: ``model`` (the kinds of change and the report), ``candidate`` (loading the current
policy and the candidate), ``corpus`` (reading encounters), ``compare`` (deciding both ways),
``replay`` (a decision log's logged inputs decided again, compared with what was logged).
"""
from .candidate import CandidatePair, Dependent, load_candidate
from .compare import compare
from .corpus import Corpus, CorpusItem, read_corpus
from .replay import REPLAY_TYPES, NotReplayed, Replay, ReplayChange, log_lines, merge_replays, replay, replay_lines
from .model import (CHANGE_TYPES, DECISION_CHANGES, NOW_ACCEPTED, NOW_REFUSED, RULES_CHANGED, UNITS_DOWN, UNITS_UP,
                    VERDICTS, Change, Impact, ImpactError, InvalidEncounter, SideTiming, classify)

__all__ = ["CandidatePair", "Dependent", "load_candidate", "compare", "Corpus", "CorpusItem", "read_corpus",
           "CHANGE_TYPES", "DECISION_CHANGES", "NOW_ACCEPTED", "NOW_REFUSED", "RULES_CHANGED", "UNITS_DOWN", "UNITS_UP",
           "VERDICTS", "Change", "Impact", "ImpactError", "InvalidEncounter", "SideTiming", "classify",
           "REPLAY_TYPES", "NotReplayed", "Replay", "ReplayChange", "log_lines", "merge_replays", "replay",
           "replay_lines"]
