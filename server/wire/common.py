"""What every wire document shares: the strictness of its types, a source citation, the one shape of
a rule reference, and the one shape of a problem.

The wire types are ``TypedDict``s that pydantic validates and describes (``extra="forbid"``: a
member sent but not declared fails validation, so the OpenAPI document cannot lag behind what is
sent). At run time a wire document is a plain dict built member by member in the order it is
sent: building pydantic model instances instead costs about 4 µs an object, some 1 ms on a
decision with full proofs, on the hot path; a dict costs what the engine's ``to_dict`` did.
"""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import ConfigDict, with_config
from typing_extensions import NotRequired, TypedDict

from supportable.engine import VERDICTS

FORBID = ConfigDict(extra="forbid")
wire = with_config(FORBID)
Verdict = Literal[VERDICTS]     # the tuple spelled out: Literal["supportable", "needs_documentation", ...]
Scalar = Union[str, int, float, bool, None]


@wire
class Source(TypedDict):
    """The guidance a rule, parameter or edit row cites: a file of the guidance folder and a section."""
    file: str
    section: Optional[str]


@wire
class Replaced(TypedDict):
    """The version of a rule that a payer's layer replaced."""
    layer: str
    location: str
    rule: NotRequired[str]          # the replaced rule's text (what a payer requires for a code, a diff)


@wire
class RuleMembers(TypedDict):
    """What identifies a rule wherever one reaches the wire: its id, the layer that wrote it (`base` or
    a payer overlay), where (file:line:col) and the guidance it cites. Every rule-bearing document
    (a proof's or why-not's rule reference, a reason, advice, a rule entry) is this and its own
    members; their order on the wire is each document's own, as clients have always received it."""
    id: str
    layer: str
    location: str
    source: Source


@wire
class RuleRef(RuleMembers):
    """A rule as proofs and why-nots cite it."""
    replaces: NotRequired[Replaced]


def source(file, section) -> Source:
    return {"file": file, "section": section}


def replaced(rule, with_text: bool = False) -> Replaced:
    out: Replaced = {"layer": rule.layer, "location": str(rule.location)}
    if with_text:
        out["rule"] = str(rule.clause)
    return out


def rule_ref(rule) -> RuleRef:
    # on the hot path (every rule node of a proof): the source's members spelled out, not a call
    out: RuleRef = {"id": rule.id, "layer": rule.layer, "source": {"file": rule.source, "section": rule.section},
                    "location": str(rule.location)}
    if rule.replaces is not None:
        out["replaces"] = replaced(rule.replaces)
    return out


@wire
class ProblemItem(TypedDict):
    """One problem: a stable snake_case ``code``, ``level``, ``message``, and where: ``path`` (a field
    of an input) or ``file``/``line``/``column`` (a policy file)."""
    path: NotRequired[str]
    code: str
    level: NotRequired[str]
    message: str
    file: NotRequired[str]
    line: NotRequired[int]
    column: NotRequired[int]
    details: NotRequired[list["ProblemItem"]]   # a policy-test run error: the problems behind it
    segment: NotRequired[int]                   # an X12 837: the segment's position in the file (ISA = 1)
    segment_id: NotRequired[str]                # ... its id (SV1)
    element: NotRequired[str]                   # ... and the element (SV101-02), where known
    sidecar: NotRequired[str]                   # a value the X12 sidecar gave: its key path (claims.C1.lines.1.minutes)


def problem_item(p) -> ProblemItem:
    """An engine problem (``Problem`` located in a file, or ``FieldProblem`` located by a path)."""
    if hasattr(p, "path"):          # a field of an input: the same members, located by its path
        return {"path": p.path, "code": p.code, "level": "error", "message": p.message}
    out: ProblemItem = {"code": p.code, "level": p.level, "message": p.message}
    if p.location:
        out.update(file=p.location.file, line=p.location.line, column=p.location.column)
    return out


def problem_items(problems) -> list[ProblemItem]:
    return [problem_item(p) for p in problems]
