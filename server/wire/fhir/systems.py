"""The names the FHIR front door reads and writes: code systems and extensions (HL7's, X12's and
Supportable's own, under ``NS``), and the small tables that map outside identifiers onto ours (a
payer identifier to an overlay, a NUCC provider taxonomy code to a provider type).

docs/fhir.md documents every one of them. Canonical URLs under ``NS`` are identifiers, as FHIR
canonicals are: nothing is fetched from them.
"""
from __future__ import annotations

NS = "https://supportable.dev/fhir"

# -- outside code systems -------------------------------------------------------------------------
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = ("urn:oid:2.16.840.1.113883.6.285", "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets")
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"
CARE_TEAM_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC = "https://x12.org/codes/remittance-advice-remark-codes"
UCUM = "http://unitsofmeasure.org"
ISO4217 = "urn:iso:std:iso:4217"

# -- Supportable's code systems (ids from policies/vocabulary/*.yaml unless said otherwise) --------
CS_PROVIDER_TYPE = f"{NS}/CodeSystem/provider-type"            # provider_types.yaml
CS_CREDENTIAL = f"{NS}/CodeSystem/credential"                  # credentials.yaml
CS_DOCUMENTATION = f"{NS}/CodeSystem/documentation"            # documentation.yaml
CS_OUTCOME = f"{NS}/CodeSystem/intended-outcome"               # outcomes.yaml
CS_REGION = f"{NS}/CodeSystem/region"                          # regions.yaml
CS_CONDITION_STATUS = f"{NS}/CodeSystem/condition-status"      # improving, plateau, regressing
CS_INFO_CATEGORY = f"{NS}/CodeSystem/information-category"     # supportingInfo.category (below)
CS_YEAR_TO_DATE = f"{NS}/CodeSystem/year-to-date"              # pt_slp, ot
CS_ADJUDICATION = f"{NS}/CodeSystem/adjudication"              # ClaimResponse adjudication categories
CS_RULE = f"{NS}/CodeSystem/rule"                              # a rule id of the policies
CS_PROBLEM = f"{NS}/CodeSystem/problem"                        # a problem's code (docs/encounter.md)
PAYER_ID = f"{NS}/NamingSystem/payer"                          # an overlay id, as `supportable payers` lists
DECISION_ID = f"{NS}/NamingSystem/decision"                    # the decision log's id

# supportingInfo categories (CS_INFO_CATEGORY)
INFO_DOCUMENTATION = "documentation"
INFO_OUTCOME = "intended-outcome"
INFO_PLAN_OF_CARE = "plan-of-care"
INFO_HISTORY = "history"
INFO_CONDITION = "condition-status"
INFO_YEAR_TO_DATE = "year-to-date"
INFO_CATEGORIES = (INFO_DOCUMENTATION, INFO_OUTCOME, INFO_PLAN_OF_CARE, INFO_HISTORY, INFO_CONDITION,
                   INFO_YEAR_TO_DATE)

# -- Supportable's extensions ------------------------------------------------------------------------
EXT_MINUTES = f"{NS}/StructureDefinition/minutes"                  # Claim.item: valueUnsignedInt
EXT_ONE_ON_ONE = f"{NS}/StructureDefinition/one-on-one"            # Claim.item: valueBoolean
EXT_PATIENTS = f"{NS}/StructureDefinition/patients-in-session"     # Claim.item: valuePositiveInt
EXT_TIME_BLOCK = f"{NS}/StructureDefinition/time-block"            # Claim.item: valueString, repeats
EXT_REGION = f"{NS}/StructureDefinition/additional-region"         # Claim.item: valueCoding, repeats
EXT_ALLOWED = f"{NS}/StructureDefinition/allowed-amount"           # Claim.item: valueMoney (USD)
EXT_CERTIFIED_ON = f"{NS}/StructureDefinition/certified-on"        # CarePlan: valueDate
EXT_RECERTIFIED_ON = f"{NS}/StructureDefinition/recertified-on"    # CarePlan: valueDate
EXT_PROGRESS_REPORT_ON = f"{NS}/StructureDefinition/last-progress-report-on"  # CarePlan: valueDate
EXT_RULE_SOURCE = f"{NS}/StructureDefinition/rule-source"          # adjudication: valueString
EXT_RULE_LAYER = f"{NS}/StructureDefinition/rule-layer"            # adjudication: valueCode
EXT_POLICY_VERSION = f"{NS}/StructureDefinition/policy-version"    # ClaimResponse: valueString
EXT_UNIT_METHOD = f"{NS}/StructureDefinition/unit-method"          # ClaimResponse: valueCode

# adjudication categories (CS_ADJUDICATION): the verdict (its value: the supportable units), the units
# billed and supportable, the units billed over what the minutes support, and one per reason
ADJ_VERDICTS = {"supportable": "supportable", "needs_documentation": "needs-documentation",
                "not_supportable": "not-supportable"}
ADJ_BILLED = "billed-units"
ADJ_SUPPORTABLE = "supportable-units"
ADJ_OVERBILLED = "overbilled-units"
ADJ_REASON = "reason"

# -- tables ------------------------------------------------------------------------------------------
# NUCC Health Care Provider Taxonomy codes are read with server/taxonomy.py, the table every front door shares.
