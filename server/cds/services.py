"""The services ``GET /cds-services`` lists: one for ``appointment-book``, one for ``order-sign``.

The prefetch templates follow CRD's suggestions (the patient, the active Coverage; for
appointment-book the ServiceRequests the appointments are based on) and add the patient's completed
procedures, from which visit limits left are counted.
"""
from __future__ import annotations

APPOINTMENT_BOOK = "coverage-appointment-book"
ORDER_SIGN = "coverage-order-sign"

_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "coverage": "Coverage?patient={{context.patientId}}&status=active",
    "history": "Procedure?patient={{context.patientId}}&status=completed",
}

SERVICES = [
    {"hook": "appointment-book", "title": "Supportable coverage requirements (appointment booking)",
     "description": "What the patient's payer will require for each physical-medicine CPT service booked: "
                    "documentation, prior authorization, modifiers, visit limits left, exclusions; as cards and "
                    "as the Da Vinci CRD coverage-information extension on each proposed Appointment.",
     "id": APPOINTMENT_BOOK,
     "prefetch": {**_PREFETCH,
                  "serviceRequests": "ServiceRequest?_id={{context.appointments.entry.resource.basedOn.resolve()"
                                     ".ofType(ServiceRequest).id}}"},
     "usageRequirements": "The Coverage must be prefetched (or given in context); CPT codes in Appointment.serviceType "
                          "(or its billing-options extension) or in the ServiceRequests it is based on."},
    {"hook": "order-sign", "title": "Supportable coverage requirements (order signing)",
     "description": "What the patient's payer will require for each physical-medicine CPT service ordered: "
                    "documentation, prior authorization, modifiers, visit limits left, exclusions; as cards and "
                    "as the Da Vinci CRD coverage-information extension on each draft ServiceRequest.",
     "id": ORDER_SIGN, "prefetch": dict(_PREFETCH),
     "usageRequirements": "The Coverage must be prefetched; CPT codes in ServiceRequest.code (or its "
                          "billing-options extension)."},
]
HOOK_OF = {s["id"]: s["hook"] for s in SERVICES}
