"""The CDS Hooks coverage service (Da Vinci Coverage Requirements Discovery), docs/cds-hooks.md.

- ``services``: the services ``GET /cds-services`` lists (``appointment-book`` and ``order-sign``);
- ``reading``: a hook request read and validated (the FHIR resources with ``fhir.resources.R4B``):
  the orders or appointments and their CPT codes, the Coverage and its payer, the history given;
- ``answer``: what the payer will require for each code, as cards and as system actions that add the
  CRD coverage-information extension to each draft resource;
- ``payers``: the payor identifier -> payer overlay table;
- ``tokens``: the signed JWT CDS clients send, verified against the operator's trusted issuers.
"""
