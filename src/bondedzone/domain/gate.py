"""The smart gate (智能卡口): gate passes (核放单), crossings and the decisions taken on them.

A **gate pass** (``passportNo``) lets one vehicle cross the zone's gate once, in one direction.
It names the vehicle and its weights and binds what the vehicle carries:

* declared goods (pass types ``2`` first line and ``3`` second line): approved inventory lists
  (``rltTbTypecd`` ``1``) and, under M6, two-step summary declarations (``rltTbTypecd`` ``4``),
  both kinds on one pass;
* non-declared goods (type ``4``): goods lines with a category and graded fields (M4);
* nothing (type ``6``, an empty vehicle).

Its lifecycle (``stucd`` in 金关二期: 已审批 / 已过卡 / 已作废)::

    approved ──arrive──▶ in_gate ──decide: pass──▶ passed ──leave──▶ crossed
        ▲                   │
        └──decide: hold─────┘          approved ──cancel──▶ cancelled

A **crossing** is one vehicle's visit to a gate: arrive (plate, lane) → weigh → decide (pass or
hold, always with reasons) → leave. A hold changes nothing but the crossing and its pass's
status; only a pass decision counts the quantities as delivered (M7).

Rules live in ``rules/``: ``m4_two_lanes`` (lanes, graded fields, spot checks), ``m6_consolidation``
(what one pass may bind), ``m7_multi_truck`` (delivered vs remaining) and ``g1_weighing``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any

from stdnum import iso6346
from stdnum.exceptions import ValidationError

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, Collector

MAX_PASS_LINES = 1_000
MAX_WEIGHT_KG = Decimal(200_000)  # the heaviest road transport a gate weighbridge sees, with margin


class PassportType(StrEnum):
    """passportTypecd (核放单类型)."""

    FIRST_LINE = "2"  # 一线一体化进出区
    SECOND_LINE = "3"  # 二线进出区
    NON_DECLARED = "4"  # 非报关进出区
    EMPTY = "6"  # 空车进出区


class BindType(StrEnum):
    """bindTypecd (绑定类型)."""

    ONE_TRUCK_MANY_DOCS = "1"  # 一车多票
    ONE_TRUCK_ONE_DOC = "2"  # 一车一票
    ONE_DOC_MANY_TRUCKS = "3"  # 一票多车


class RltTbType(StrEnum):
    """rltTbTypecd (关联单证类型) of a bound document.

    ``1`` is the 金关二期 code for an inventory list. 金关二期 binds two-step summary declarations
    through a separate message (ICP101, ``entryId``); bondedzone binds both on one pass (M6) and
    marks the summary declaration ``4``.
    """

    INVT = "1"
    ENTRY_SUMMARY = "4"


class Lane(StrEnum):
    """The two lanes of the gate (M4)."""

    DECLARED = "declared"  # 报关货物通道
    NON_DECLARED = "non_declared"  # 非报关货物通道


class GoodsCategory(StrEnum):
    """Categories of non-declared goods (M4), each with its own graded fields."""

    PRODUCTION_RELATED = "production_related"  # 与生产料件和设备相关的非报关货物
    INFRASTRUCTURE = "infrastructure"  # 基建物资
    CONSUMER_GOODS = "consumer_goods"  # 生活消费品
    LABOUR_PROTECTION = "labour_protection"  # 劳保用品
    OFFICE_SUPPLIES = "office_supplies"  # 办公用品
    HAZARDOUS_CHEMICALS = "hazardous_chemicals"  # 生产用危险化学品（柴汽油、硫盐酸 …）


class PassStatus(StrEnum):
    """Where a gate pass is in its life."""

    APPROVED = "approved"
    IN_GATE = "in_gate"
    PASSED = "passed"
    CROSSED = "crossed"
    CANCELLED = "cancelled"


class CrossingStatus(StrEnum):
    """Where a vehicle is in one visit to the gate."""

    ARRIVED = "arrived"
    WEIGHED = "weighed"
    PASSED = "passed"
    HELD = "held"
    LEFT = "left"


class Outcome(StrEnum):
    """A gate decision."""

    PASS = "pass"
    HOLD = "hold"


# -- field values -----------------------------------------------------------------------------

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# The issuing-authority letter, like the serial, never uses I or O (they read as 1 and 0).
_PLATE = re.compile(
    rf"[{_PROVINCES}][A-HJ-NP-Z](?:[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂港澳]|[DF][A-HJ-NP-Z0-9]{{5}}|[0-9]{{5}}[DF])"
)


def vehicle_no(value: str) -> str:
    """承运车牌号: a mainland plate (province, issuing letter, five characters, or six for new energy).

    Spaces, dots and lower case are normalised away, because gate cameras and people write them.
    """
    plate = value.strip().upper().replace(" ", "").replace("·", "").replace("•", "").replace(".", "")
    if not _PLATE.fullmatch(plate):
        raise BzError("BZ-PLATE-INVALID", value=value)
    return plate


def container_no(value: str) -> str:
    """集装箱号: ISO 6346 owner code, serial and check digit (checked by python-stdnum)."""
    try:
        return str(iso6346.validate(value))
    except ValidationError as e:
        raise BzError("BZ-CONTAINER-INVALID", value=value, reason=str(e)) from None


def weight(value: object, *, field_name: str, allow_zero: bool = False) -> Decimal:
    """A weight in kg: exact decimal, at most five places, positive and at most 200 t."""
    try:
        w = v.qty(value, field=field_name, allow_zero=allow_zero)
    except BzError as e:
        raise BzError("BZ-WEIGHT-INVALID", field=field_name, value=str(value), reason=e.detail.get("reason", "")) from None
    if w > MAX_WEIGHT_KG:
        raise BzError("BZ-WEIGHT-INVALID", field=field_name, value=str(value), reason=f"exceeds {MAX_WEIGHT_KG} kg")
    return w


# -- the gate pass ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hazchem:
    """What the zone administration must know of a hazardous chemical entering (M4)."""

    un_no: str  # UN number, 4 digits
    hazard_class: str  # GB 6944 / UN class 1 … 9, with division
    cas_no: str | None = None
    usage: str | None = None


@dataclass(frozen=True)
class PassLine:
    """A line (表体, PassportList) of a gate pass: which document line, or which non-declared goods."""

    passport_seqno: int
    dcl_qty: Decimal
    dcl_unitcd: str
    gds_nm: str
    rlt_tb_typecd: RltTbType | None = None
    rlt_no: str | None = None
    rlt_gds_seqno: int | None = None
    gdecd: str | None = None
    gross_wt: Decimal | None = None
    category: GoodsCategory | None = None
    hazchem: Hazchem | None = None


@dataclass(frozen=True)
class BoundDoc:
    """A document bound to a pass (PassportAcmp / SasPassportRlt)."""

    rlt_tb_typecd: RltTbType
    rlt_no: str


@dataclass(frozen=True)
class GatePass:
    """A gate pass (核放单) and its lines; ``owner_uscc`` is the zone enterprise (区内企业)."""

    id: int
    passport_no: str
    etps_preent_no: str
    owner_uscc: str
    areain_oriact_no: str
    master_cuscd: str
    passport_typecd: PassportType
    io_typecd: v.ImpexpMark
    bind_typecd: BindType | None
    vehicle_no: str
    vehicle_wt: Decimal
    vehicle_frame_wt: Decimal
    container_no: str | None
    container_wt: Decimal
    total_gross_wt: Decimal
    docs: tuple[BoundDoc, ...]
    lines: tuple[PassLine, ...]
    status: PassStatus = PassStatus.APPROVED
    version: int = 1
    rmk: str | None = None
    created_at: datetime | None = None
    attempts: int = 0  # arrivals at the gate so far; numbers the spot-check draws
    owner_credit: v.Credit | None = None  # the enterprise's credit, read with the pass (M4/M5 risk)

    @property
    def lane(self) -> Lane | None:
        """The lane this pass must use; None for an empty vehicle, which may use either."""
        if self.passport_typecd is PassportType.EMPTY:
            return None
        return Lane.NON_DECLARED if self.passport_typecd is PassportType.NON_DECLARED else Lane.DECLARED

    def with_status(self, status: PassStatus) -> GatePass:
        """The pass after a move; the version moves with every change."""
        return replace(self, status=status, version=self.version + 1)


def passport_no(master_cuscd: str, io: v.ImpexpMark, day: datetime, serial: int) -> str:
    """``Z`` + 关区 4 + I/E + YYMMDD + 12-digit serial: 24 characters, as in the 金关二期 samples."""
    return f"Z{master_cuscd}{io.value}{day:%y%m%d}{serial:012d}"


# -- documents that vehicles deliver (M7) --------------------------------------------------------


@dataclass(frozen=True)
class DocLine:
    """One line of a bound document as the gate counts it: declared and delivered so far (units)."""

    gds_seqno: int
    gdecd: str
    gds_nm: str
    dcl_unitcd: str
    declared_units: int
    delivered_units: int

    @property
    def remaining_units(self) -> int:
        """What may still cross."""
        return self.declared_units - self.delivered_units


@dataclass(frozen=True)
class GateDoc:
    """A document as the gate sees it: an approved list or a released summary declaration."""

    rlt_tb_typecd: RltTbType
    rlt_no: str
    owner_uscc: str
    io_typecd: v.ImpexpMark
    flow: v.Flow | None  # inventory lists only
    ready: bool  # list approved / summary declaration released
    lines: tuple[DocLine, ...]

    @property
    def complete(self) -> bool:
        """Every line has crossed in full."""
        return all(ln.remaining_units == 0 for ln in self.lines)

    def line(self, gds_seqno: int) -> DocLine | None:
        """The line with this number, if any."""
        for ln in self.lines:
            if ln.gds_seqno == gds_seqno:
                return ln
        return None


# -- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One reason of a decision: the rule, whether it holds the vehicle, and the figures it used."""

    rule: str
    held: bool
    zh: str
    en: str
    figures: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored with the crossing and shown to the gate."""
        return {"rule": self.rule, "held": self.held, "zh": self.zh, "en": self.en, "figures": dict(self.figures)}


@dataclass(frozen=True)
class Decision:
    """Pass or hold, and every reason: a hold names each rule that held, a pass what was checked."""

    outcome: Outcome
    reasons: tuple[Finding, ...]

    @classmethod
    def of(cls, findings: list[Finding]) -> Decision:
        """Hold when any finding holds."""
        held = any(f.held for f in findings)
        return cls(Outcome.HOLD if held else Outcome.PASS, tuple(findings))


@dataclass(frozen=True)
class Crossing:
    """One vehicle's visit to the gate, with the decision and its reasons once decided."""

    id: int
    gate_id: str
    lane: Lane
    vehicle_no: str
    passport_no: str | None
    pass_id: int | None
    status: CrossingStatus
    attempt: int
    arrived_at: datetime
    gross_wt: Decimal | None = None
    outcome: Outcome | None = None
    reasons: tuple[Mapping[str, Any], ...] = ()
    weighed_at: datetime | None = None
    decided_at: datetime | None = None
    left_at: datetime | None = None
    version: int = 1


def gate_id(value: str) -> str:
    """卡口 ID (passId): letters, digits, ``-`` and ``_``, up to 32."""
    g = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", g):
        raise BzError("BZ-TEXT-INVALID", field="gateId", reason="1–32 letters, digits, - or _")
    return g


def lane(value: str) -> Lane:
    """The lane a vehicle is in: ``declared`` or ``non_declared``."""
    try:
        return Lane(value)
    except ValueError:
        raise BzError("BZ-TEXT-INVALID", field="lane", reason="must be declared or non_declared") from None


# -- two-step summary declarations (M6) ----------------------------------------------------------


@dataclass(frozen=True)
class SummaryLineInput:
    """A line of a summary declaration (概要申报) as sent."""

    g_no: int
    gdecd: str
    gds_nm: str
    dcl_qty: str
    dcl_unitcd: str


def entry_summary_lines(lines: tuple[SummaryLineInput, ...] | list[SummaryLineInput]) -> tuple[DocLine, ...]:
    """Check the lines of a summary declaration: numbered 1..n, real HS codes, units and quantities."""
    c = Collector()
    if not lines:
        raise BzError("BZ-TEXT-INVALID", field="lines", reason="a summary declaration needs at least one line")
    if len(lines) > MAX_PASS_LINES:
        raise BzError("BZ-PASS-TOO-MANY-LINES", limit=MAX_PASS_LINES)
    out: list[DocLine] = []
    for n, raw in enumerate(lines, start=1):
        if raw.g_no != n:
            c.add(BzError("BZ-TEXT-INVALID", field=f"lines[{n}].gNo", reason=f"lines are numbered 1..n; expected {n}"))
        hs = c.check(partial(v.hs_code, raw.gdecd))
        nm = c.check(partial(v.text, raw.gds_nm, field="gdsNm", max_len=512))
        q = c.check(partial(v.qty, raw.dcl_qty))
        unit = c.check(partial(v.unit_code, raw.dcl_unitcd))
        if hs is not None and nm is not None and q is not None and unit is not None:
            out.append(DocLine(n, hs, nm, unit, v.to_units(q), 0))
    c.raise_if_any()
    return tuple(out)
