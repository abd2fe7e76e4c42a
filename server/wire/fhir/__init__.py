"""The FHIR R4 front door's documents (docs/fhir.md): a ``Claim`` read into an encounter document
(``claim``), a decision written as a ``ClaimResponse`` (``response``), problems written as an
``OperationOutcome`` (``outcome``), and the code systems, extensions and tables they use
(``systems``). fhir.resources' R4B models parse and validate; the documents sent are plain dicts,
validated against the same models in the tests."""
from __future__ import annotations

from .claim import ClaimError, ClaimInput, fhirpath_of, read_claim
from .outcome import FHIR_JSON, Issue, from_problem_document, from_problems, operation_outcome
from .response import claim_response, outcome_of

# the R4B models a Claim is read with: the Claim and the resources it may contain that the mapping reads
MODELS = ("Claim", "Practitioner", "PractitionerRole", "Organization", "CarePlan", "Procedure", "Coverage")


def warm() -> None:
    """Import the R4B models the mapping uses (about 1.5 s on first import), so that a server's first
    FHIR request does not pay for them (with preload, the workers share them)."""
    from fhir.resources.R4B import get_fhir_model_class
    for name in MODELS:
        get_fhir_model_class(name)


__all__ = ["FHIR_JSON", "MODELS", "ClaimError", "ClaimInput", "Issue", "claim_response", "fhirpath_of",
           "from_problem_document", "from_problems", "operation_outcome", "outcome_of", "read_claim", "warm"]
