"""Reading an X12 837P (005010X222A1) with pyx12: the claims and service lines it holds, or every
problem that makes it unreadable, each at its segment position.

pyx12 tokenizes the interchange, walks it against the implementation guide's map (loops 2000A
billing provider, 2000B subscriber with 2010BB payer, 2000C patient, 2300 claim, 2310B rendering
provider, 2400 service line, 2420A line rendering provider) and validates every segment and
element; nothing here splits segments itself. Its validation errors, the envelope trailers it
finds missing at the end and any text left after the last segment terminator are collected as
:class:`X12Problem` values: the segment's position in the file (1 for ISA), its id and the element
(``SV101-02``) where pyx12 names one. A file with any problem is refused whole (a claim file that
does not follow the guide is not read in part).
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import pyx12.error_handler
import pyx12.errors
import pyx12.params
import pyx12.x12context

PROFESSIONAL = "005010X222A1"          # GS08 / ST03 of a professional claim
logging.getLogger("pyx12").addHandler(logging.NullHandler())   # pyx12 logs each error; they are reported here
logging.getLogger("pyx12").propagate = False


@dataclass(frozen=True)
class X12Problem:
    """One problem of an 837, where it is: ``segment`` (1-based position in the file, ISA = 1),
    ``segment_id`` and, when known, ``element`` (``SV101-02``)."""
    code: str
    message: str
    segment: int
    segment_id: str | None = None
    element: str | None = None

    @property
    def where(self) -> str:
        out = f"segment {self.segment}" + (f" ({self.segment_id})" if self.segment_id else "")
        return out + (f", {self.element}" if self.element else "")

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.code}]"


class X12Error(ValueError):
    """The input is not a readable 837P: every problem found, in file order."""

    def __init__(self, problems: list[X12Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class At:
    """Where a value was read: segment position, id and element."""
    segment: int
    segment_id: str
    element: str | None = None


@dataclass
class ServiceLine:
    number: str                 # LX01
    code: str | None            # SV101-02
    qualifier: str | None       # SV101-01 (HC: CPT/HCPCS)
    modifiers: list[str]        # SV101-03..06
    charge: str | None          # SV102
    unit_code: str | None       # SV103 (UN units, MJ minutes)
    quantity: str | None        # SV104
    pointers: list[str]         # SV107-1..4
    at: At                      # the SV1 segment
    date: str | None = None     # DTP*472 (D8 date, or the first date of an RD8 range)
    date_end: str | None = None
    date_at: At | None = None
    rendering_npi: str | None = None         # 2420A NM1*82 NM109
    rendering_taxonomy: str | None = None    # 2420A PRV03
    rendering_at: At | None = None


@dataclass
class Claim:
    claim_id: str | None        # CLM01
    at: At                      # the CLM segment
    payer_id: str | None = None             # 2010BB NM1*PR NM109
    payer_name: str | None = None
    payer_at: At | None = None
    patient_id: str | None = None           # 2010BA NM1*IL NM109 (the subscriber's member id)
    billing_npi: str | None = None          # 2010AA NM1*85 NM109
    billing_taxonomy: str | None = None     # 2000A PRV03
    billing_at: At | None = None
    rendering_npi: str | None = None        # 2310B NM1*82 NM109
    rendering_taxonomy: str | None = None   # 2310B PRV03
    rendering_at: At | None = None
    diagnoses: list[tuple[str, str, At]] = field(default_factory=list)   # (qualifier, code, where)
    claim_date: str | None = None           # 2300 DTP*472 (service date for the whole claim), if any
    claim_date_at: At | None = None
    lines: list[ServiceLine] = field(default_factory=list)


class _Recorder(pyx12.error_handler.err_handler):
    """pyx12's error handler, keeping each error with the position of the segment it was found at
    (pyx12's segment count, which starts at 1 with ISA) instead of logging it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[int, str, str, str | None]] = []   # (position, code, message, element)
        self.src = None

    def _position(self, line: int | None = None) -> int:
        return line or (self.src.get_cur_line() if self.src is not None else 1)

    def isa_error(self, err_cde: str, err_str: str) -> None:
        self.found.append((self._position(), f"isa_{err_cde}", err_str, None))

    def gs_error(self, err_cde: str, err_str: str) -> None:
        self.found.append((self._position(), f"gs_{err_cde}", err_str, None))

    def st_error(self, err_cde: str, err_str: str) -> None:
        self.found.append((self._position(), f"st_{err_cde}", err_str, None))

    def seg_error(self, err_cde: str, err_str: str, err_value=None, src_line=None) -> None:
        detail = f" (`{err_value}`)" if err_value else ""
        self.found.append((self._position(src_line), f"segment_{err_cde}", err_str + detail, None))

    def ele_error(self, err_cde: str, err_str: str, bad_value, refdes=None) -> None:
        detail = f" (`{bad_value}`)" if bad_value else ""
        self.found.append((self._position(), f"element_{err_cde}", err_str + detail, refdes))


def _value(seg, ref: str) -> str | None:
    value = seg.get_value(ref)
    return value if value not in (None, "") else None


def read_837(text: str) -> list[Claim]:
    """Every claim of a professional 837, in file order; :class:`X12Error` with every problem if
    the text is not a valid 005010X222A1 interchange."""
    recorder = _Recorder()
    ids: dict[int, str] = {}
    claims: list[Claim] = []
    try:
        reader = pyx12.x12context.X12ContextReader(pyx12.params.params(), recorder, io.StringIO(text))
    except pyx12.errors.X12Error as exc:      # no ISA, a short ISA, an unknown version
        raise X12Error([X12Problem("invalid_interchange", f"the interchange must begin with a whole ISA segment of "
                                   f"106 characters ({exc})", 1)]) from None
    recorder.src = reader.src
    builder = _Builder(claims)
    last = 0
    try:
        for node in reader.iter_segments():
            seg = node.seg_data
            last = reader.src.get_cur_line()
            ids[last] = seg.get_seg_id()
            loops = node.x12_map_node.x12path.loop_list if node.x12_map_node is not None else []
            builder.add(seg, At(last, seg.get_seg_id()), loops)
        before = len(recorder.found)
        reader.src.cleanup()                  # the envelope trailers missing at the end of the text
        recorder.handle_errors(reader.src.pop_errors())
        recorder.found[before:] = [(last + 1, code, f"{message}: the input ends after segment {last}", None)
                                   for _, code, message, _ in recorder.found[before:]]
    except (pyx12.errors.X12Error, pyx12.errors.EngineError) as exc:
        recorder.found.append((reader.src.get_cur_line() or 1, "invalid_interchange", str(exc), None))
    problems = [X12Problem(code, message, position, ids.get(position), element)
                for position, code, message, element in recorder.found]
    rest = reader.src.raw.buffer.strip("\r\n")
    if rest:
        shown = rest[:20].replace("\n", " ")
        problems.append(X12Problem("unterminated_segment", f"the text after segment {last} (`{shown}`...) has no "
                                   f"segment terminator `{reader.src.seg_term}` (the one ISA declares): it is "
                                   "truncated or uses another terminator", last + 1))
    if builder.version not in (None, PROFESSIONAL) and not problems:
        problems.append(X12Problem("not_professional", f"GS08 is `{builder.version}`: only professional claims "
                                   f"({PROFESSIONAL}) are read", builder.version_at.segment, "GS", "GS08"))
    if not claims and not problems:
        problems.append(X12Problem("no_claims", "the interchange holds no claim (CLM)", max(last, 1)))
    if problems:
        raise X12Error(sorted(problems, key=lambda p: p.segment))
    return claims


class _Builder:
    """Claims from the segments in order, by the loop pyx12 placed each segment in."""

    def __init__(self, claims: list[Claim]) -> None:
        self.claims = claims
        self.version: str | None = None
        self.version_at: At | None = None
        self.payer: tuple[str | None, str | None, At] | None = None
        self.patient_id: str | None = None
        self.billing: tuple[str | None, str | None, At | None] = (None, None, None)
        self.claim: Claim | None = None
        self.line: ServiceLine | None = None

    def add(self, seg, at: At, loops: list[str]) -> None:
        sid = at.segment_id
        loop = loops[-1] if loops else ""
        if sid == "GS":
            self.version, self.version_at = _value(seg, "GS08"), at
        elif sid == "HL" and _value(seg, "HL03") == "20":           # a new billing provider
            self.billing, self.claim, self.line = (None, None, None), None, None
        elif sid == "HL":
            self.claim, self.line = None, None
        elif sid == "PRV" and loop == "2000A":
            self.billing = (self.billing[0], _value(seg, "PRV03"), at)
        elif sid == "NM1" and loop == "2010AA":
            self.billing = (_value(seg, "NM109"), self.billing[1], self.billing[2] or at)
        elif sid == "NM1" and loop == "2010BA":
            self.patient_id = _value(seg, "NM109")
        elif sid == "NM1" and loop == "2010BB":
            self.payer = (_value(seg, "NM109"), _value(seg, "NM103"), At(at.segment, sid, "NM109"))
        elif sid == "CLM":
            self._claim(seg, at)
        elif self.claim is not None:
            self._in_claim(seg, at, loop)

    def _claim(self, seg, at: At) -> None:
        payer = self.payer or (None, None, None)
        self.claim = Claim(_value(seg, "CLM01"), at, payer_id=payer[0], payer_name=payer[1], payer_at=payer[2],
                           patient_id=self.patient_id, billing_npi=self.billing[0],
                           billing_taxonomy=self.billing[1], billing_at=self.billing[2])
        self.line = None
        self.claims.append(self.claim)

    def _in_claim(self, seg, at: At, loop: str) -> None:
        claim, sid = self.claim, at.segment_id
        if sid == "HI" and loop == "2300":
            for i in range(1, 13):
                qualifier, code = _value(seg, f"HI{i:02d}-1"), _value(seg, f"HI{i:02d}-2")
                if qualifier and code:
                    claim.diagnoses.append((qualifier, code, At(at.segment, sid, f"HI{i:02d}-2")))
        elif sid == "DTP" and loop == "2300" and _value(seg, "DTP01") == "472":
            claim.claim_date, claim.claim_date_at = _date(seg), At(at.segment, sid, "DTP03")
        elif sid == "NM1" and loop == "2310B":
            claim.rendering_npi, claim.rendering_at = _value(seg, "NM109"), at
        elif sid == "PRV" and loop == "2310B":
            claim.rendering_taxonomy = _value(seg, "PRV03")
            claim.rendering_at = At(at.segment, sid, "PRV03")
        elif sid == "LX":
            self.line = ServiceLine(_value(seg, "LX01") or str(len(claim.lines) + 1), None, None, [], None, None,
                                    None, [], at)
            claim.lines.append(self.line)
        elif self.line is not None:
            self._in_line(seg, at, loop)

    def _in_line(self, seg, at: At, loop: str) -> None:
        line, sid = self.line, at.segment_id
        if sid == "SV1":
            line.qualifier, line.code = _value(seg, "SV101-1"), _value(seg, "SV101-2")
            line.modifiers = [m for m in (_value(seg, f"SV101-{i}") for i in range(3, 7)) if m]
            line.charge, line.unit_code, line.quantity = _value(seg, "SV102"), _value(seg, "SV103"), _value(seg, "SV104")
            line.pointers = [p for p in (_value(seg, f"SV107-{i}") for i in range(1, 5)) if p]
            line.at = at
        elif sid == "DTP" and _value(seg, "DTP01") == "472":
            line.date, line.date_end = _date(seg), _date(seg, last=True)
            line.date_at = At(at.segment, sid, "DTP03")
        elif sid == "NM1" and loop == "2420A":
            line.rendering_npi, line.rendering_at = _value(seg, "NM109"), at
        elif sid == "PRV" and loop == "2420A":
            line.rendering_taxonomy, line.rendering_at = _value(seg, "PRV03"), At(at.segment, sid, "PRV03")


def _date(seg, last: bool = False) -> str | None:
    """DTP03 as an ISO date: a D8 date, or the first (``last``: the last) date of an RD8 range."""
    value = _value(seg, "DTP03")
    if not value:
        return None
    part = value.split("-")[-1 if last else 0] if _value(seg, "DTP02") == "RD8" else value
    return f"{part[:4]}-{part[4:6]}-{part[6:8]}" if len(part) == 8 and part.isdigit() else None
