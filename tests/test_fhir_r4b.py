"""The R4B models fhir.resources ships stand in for R4 (docs/fhir.md): every element of HL7's R4
(4.0.1) Claim, ClaimResponse and OperationOutcome is in the R4B model at the same path, nothing is
added, and what R4 requires R4B requires (tests/data/fhir/r4-elements.json, from the R4
StructureDefinitions); and the R4 specification's own examples validate under R4B."""
from __future__ import annotations

import json
import sys
import typing
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel

DATA = Path(__file__).resolve().parent / "data" / "fhir"
R4 = json.loads((DATA / "r4-elements.json").read_text())["elements"]
SKIP = ("id", "extension", "modifierExtension")


def _classes(annotation, module) -> list[type]:
    args = typing.get_args(annotation)
    if args:
        return [c for a in args for c in _classes(a, module)]
    name = getattr(annotation, "__name__", "")
    if name.endswith("Type") and isinstance(getattr(module, name[:-4], None), type):   # fhir-core's field types
        return [getattr(module, name[:-4])]
    return [annotation] if isinstance(annotation, type) else []


def model_elements(model, prefix: str) -> dict[str, bool]:
    """Every element path of ``model`` and its backbone elements -> whether the model requires it."""
    module = sys.modules[model.__module__]
    out = {}
    for name, field in model.model_fields.items():
        if name.endswith("__ext") or name == "fhir_comments" or name in SKIP:
            continue
        path = f"{prefix}.{field.alias or name}"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        out[path] = field.is_required() or bool(extra.get("element_required"))
        for cls in _classes(field.annotation, module):
            if issubclass(cls, FHIRAbstractModel) and "BackboneElement" in [c.__name__ for c in cls.__mro__[1:]]:
                out.update(model_elements(cls, path))
    return out


@pytest.mark.parametrize("resource", ["Claim", "ClaimResponse", "OperationOutcome"])
def test_the_r4b_model_has_every_r4_element_and_no_other(resource):
    r4 = {p: v for p, v in R4.items() if p.startswith(resource + ".") and p.rsplit(".", 1)[1] not in SKIP}
    everything = model_elements(get_fhir_model_class(resource), resource)
    # an R4 element that reuses another's definition (contentReference: ClaimResponse.addItem.adjudication is
    # item.adjudication's) lists no children of its own: compare the model's elements down to it
    with_children = {p.rsplit(".", 1)[0] for p in r4}
    mine = {p: req for p, req in everything.items() if p.rsplit(".", 1)[0] in with_children}
    assert len(mine) > 10 and set(r4) == set(mine)
    required_r4 = {p for p, v in r4.items() if v[0] >= 1 and len(v) == 2}     # a choice [x] is 1..1 as a whole
    assert required_r4 == {p for p, req in mine.items() if req}


@pytest.mark.parametrize("path", sorted((DATA / "spec").glob("*.json")), ids=lambda p: p.stem)
def test_the_r4_specification_examples_validate_under_r4b(path):
    document = json.loads(path.read_text())
    model = get_fhir_model_class(document["resourceType"]).model_validate(document)
    assert model.get_resource_type() == document["resourceType"]
