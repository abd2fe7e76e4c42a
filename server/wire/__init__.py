"""The wire: engine results turned into the documents the HTTP API and the command line send.

The engine's results are plain typed objects (decisions, proofs, problems, rules, parameters, edit
rows, tool reports); this package is the one place that says how each reaches the wire. Each
document is declared once as a pydantic-validated ``TypedDict`` (``extra="forbid"``) next to the
function that builds it: the HTTP routes, the command line's JSON and its text renderers read what
these functions build, ``server.api_models`` and the OpenAPI document are made from the same
declarations, and tests/test_wire.py validates real responses against them.

- ``common``: a source, the rule reference (``rule_ref``), the one problem shape (``problem_item``)
- ``decision``: a decision, its lines, reasons, fixes, advice, proof trees and why-nots
- ``policy``: rule entries, parameters, switched-off rules, edit rows and changes
- ``payers``: a payer's description, what it requires for a code, a diff of two payers, vocabularies
- ``cds``: the CDS Hooks documents (discovery, cards, actions) and the CRD coverage-information
  extension of the coverage service, and the functions that build the cards and the extension
- ``tools``: the analyst's tools: lint, policy-test runs and their coverage, impact reports
- ``fhir``: the FHIR R4 front door: a Claim read into an encounter document, a decision as a
  ClaimResponse, problems as an OperationOutcome (docs/fhir.md)
- ``logged``: a decision as the decision log keeps it (``GET /v1/decisions/{id}``), a replay report
"""
from __future__ import annotations

from .common import ProblemItem, RuleMembers, RuleRef, Source, problem_item, problem_items, rule_ref
from .decision import (Advice, Attempt, DecisionBody, DecisionText, Fix, LineDecision, ProofNode, Reason, attempt,
                       decision, decision_text, fix, line_decision, proof_node)
from .payers import (CodeRequirements, PayerDescription, PayerNotLoaded, PolicyDiff, Vocabulary, code_requirements,
                     payer_description, policy_diff, vocabulary)
from .policy import (Disabled, EditChange, EditRow, Parameter, RuleEntry, disabled, edit_change, edit_row, parameter,
                     rule_entry)

__all__ = ["Advice", "Attempt", "CodeRequirements", "DecisionBody", "DecisionText", "Disabled", "EditChange", "EditRow", "Fix",
           "LineDecision", "Parameter", "PayerDescription", "PayerNotLoaded", "PolicyDiff", "ProblemItem", "ProofNode",
           "Reason", "RuleEntry", "RuleMembers", "RuleRef", "Source", "Vocabulary", "attempt", "code_requirements", "decision",
           "decision_text", "disabled", "edit_change", "edit_row", "fix", "line_decision", "parameter", "payer_description",
           "policy_diff", "problem_item", "problem_items", "proof_node", "rule_entry", "rule_ref", "vocabulary"]
