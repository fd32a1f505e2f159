"""Making a gate pass and deciding on a vehicle: the rules of M4, M6, M7 and G1 put together.

:func:`new_gate_pass` checks every field of a pass as sent and collects every refusal.
:func:`admit` is what the gate checks when a vehicle arrives (a pass at all, its plate, its
state, the lane); :func:`evaluate` is the decision after weighing. Both return findings as
values; the services store them with the crossing, so every decision explains itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import TypeVar

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, Collector
from bondedzone.domain.gate import (
    MAX_PASS_LINES,
    BindType,
    BoundDoc,
    Decision,
    Finding,
    GateDoc,
    GatePass,
    Lane,
    PassLine,
    PassportType,
    PassStatus,
    RltTbType,
    container_no,
    vehicle_no,
    weight,
)
from bondedzone.domain.rules import g1_weighing, m4_two_lanes, m6_consolidation, m7_multi_truck

PASS_RULE = "PASS-VALID"
PLATE_RULE = "PASS-PLATE"


@dataclass(frozen=True)
class PassInput:
    """A gate pass as sent by the enterprise (SAS121 head, bound documents, goods)."""

    etps_preent_no: str
    passport_typecd: str
    io_typecd: str
    vehicle_no: str
    vehicle_wt: str
    total_gross_wt: str
    bind_typecd: str | None = None
    vehicle_frame_wt: str | None = None
    container_no: str | None = None
    container_wt: str | None = None
    docs: Sequence[m6_consolidation.DocInput] = ()
    goods: Sequence[m4_two_lanes.GoodsInput] = ()
    rmk: str | None = None


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: str, field_name: str, allowed: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise BzError("BZ-TEXT-INVALID", field=field_name, reason=f"must be one of {allowed}") from None


def header(raw: PassInput) -> tuple[PassportType, v.ImpexpMark, BindType | None]:
    """The three codes everything else depends on; refused first, because nothing else can be checked without them."""
    c = Collector()
    ptype = c.check(lambda: _enum(PassportType, raw.passport_typecd, "passportTypecd", "2, 3, 4, 6"))
    io = c.check(lambda: _enum(v.ImpexpMark, raw.io_typecd, "ioTypecd", "I, E"))
    bind = c.check(lambda: _enum(BindType, raw.bind_typecd or "", "bindTypecd", "1, 2, 3")) if raw.bind_typecd else None
    c.raise_if_any()
    assert ptype is not None and io is not None
    return ptype, io, bind


def new_gate_pass(
    raw: PassInput,
    *,
    owner_uscc: str,
    areain_oriact_no: str,
    master_cuscd: str,
    found_docs: Mapping[tuple[RltTbType, str], GateDoc],
) -> GatePass:
    """A gate pass checked in full (id and passportNo are given by storage); every refusal together."""
    ptype, io, bind_type = header(raw)
    c = Collector()
    etps_no = c.check(lambda: v.text(raw.etps_preent_no, field="etpsPreentNo", max_len=64))
    plate = c.check(lambda: vehicle_no(raw.vehicle_no))
    vwt = c.check(lambda: weight(raw.vehicle_wt, field_name="vehicleWt"))
    frame = c.check(lambda: weight(raw.vehicle_frame_wt or "0", field_name="vehicleFrameWt", allow_zero=True))
    box = c.check(lambda: container_no(raw.container_no or "")) if raw.container_no else None
    box_wt = c.check(lambda: weight(raw.container_wt or "0", field_name="containerWt", allow_zero=True))
    if raw.container_wt and not raw.container_no:
        c.add(BzError("BZ-TEXT-INVALID", field="containerWt", reason="a container weight needs a containerNo"))
    empty = ptype is PassportType.EMPTY
    gross = c.check(lambda: weight(raw.total_gross_wt, field_name="totalGrossWt", allow_zero=empty))
    if empty and gross is not None and gross != 0:
        c.add(BzError("BZ-WEIGHT-INVALID", field="totalGrossWt", value=raw.total_gross_wt, reason="an empty vehicle carries 0"))
    note = c.check(lambda: v.text(raw.rmk or "", field="rmk", max_len=4000, min_len=0)) if raw.rmk else None
    lines: list[PassLine] = []
    docs: tuple[BoundDoc, ...] = ()
    if len(raw.goods) + sum(len(d.lines or ()) for d in raw.docs) > MAX_PASS_LINES:
        c.add(BzError("BZ-PASS-TOO-MANY-LINES", limit=MAX_PASS_LINES))
    elif ptype is PassportType.NON_DECLARED:
        if raw.docs or bind_type is not None:
            c.check(lambda: m6_consolidation.check_binding(ptype, bind_type, len(raw.docs)))
        if not raw.goods:
            c.add(BzError("BZ-PASS-NO-GOODS"))
        for n, g in enumerate(raw.goods, start=1):
            line = c.check(partial(m4_two_lanes.goods_line, n, g))
            if line is not None:
                lines.append(line)
    else:
        if raw.goods:
            c.add(BzError("BZ-TEXT-INVALID", field="goods", reason="only a non-declared pass (4) lists goods"))
        bound = c.check(
            lambda: m6_consolidation.bind(
                passport_type=ptype, bind_type=bind_type, io=io, owner_uscc=owner_uscc, wanted=raw.docs, found=found_docs
            )
        )
        if bound is not None:
            docs, lines = bound[0], bound[1]
    c.raise_if_any()
    assert etps_no is not None and plate is not None and vwt is not None and frame is not None
    assert box_wt is not None and gross is not None
    if not empty:
        line_gross = [ln.gross_wt for ln in lines]
        if line_gross and all(w is not None for w in line_gross):
            total = sum((w for w in line_gross if w is not None), Decimal(0))
            if total != gross:
                raise BzError("BZ-PASS-WEIGHT-MISMATCH", lines=v.fmt_qty(total), totalGrossWt=v.fmt_qty(gross))
    return GatePass(
        id=0,
        passport_no="",
        etps_preent_no=etps_no,
        owner_uscc=owner_uscc,
        areain_oriact_no=areain_oriact_no,
        master_cuscd=master_cuscd,
        passport_typecd=ptype,
        io_typecd=io,
        bind_typecd=bind_type,
        vehicle_no=plate,
        vehicle_wt=vwt,
        vehicle_frame_wt=frame,
        container_no=box,
        container_wt=box_wt,
        total_gross_wt=gross,
        docs=docs,
        lines=tuple(lines),
        rmk=note,
    )


@dataclass(frozen=True)
class OpenCrossing:
    """A crossing of this pass still at a gate (arrived or weighed), if any."""

    id: int
    gate_id: str
    arrived_at: datetime


def admit(
    gp: GatePass | None, passport_no: str | None, plate: str, lane: Lane, open_crossing: OpenCrossing | None
) -> list[Finding]:
    """What the gate checks on arrival: a valid unused pass, for this plate, in the right lane."""
    if gp is None:
        shown = passport_no or "—"
        return [
            Finding(
                PASS_RULE,
                True,
                f"车辆 {plate} 无有效核放单（{shown}）",
                f"vehicle {plate} has no valid gate pass ({shown})",
                {"vehicleNo": plate, "passportNo": passport_no},
            )
        ]
    findings: list[Finding] = []
    figures = {"passportNo": gp.passport_no, "status": gp.status.value}
    if gp.status is PassStatus.APPROVED:
        findings.append(
            Finding(PASS_RULE, False, f"核放单 {gp.passport_no} 有效", f"gate pass {gp.passport_no} is valid", figures)
        )
    elif gp.status is PassStatus.IN_GATE and open_crossing is not None:
        findings.append(
            Finding(
                PASS_RULE,
                True,
                f"核放单 {gp.passport_no} 正在卡口 {open_crossing.gate_id} 使用中",
                f"gate pass {gp.passport_no} is in use at gate {open_crossing.gate_id}",
                {**figures, "gateId": open_crossing.gate_id, "crossingId": open_crossing.id},
            )
        )
    elif gp.status in (PassStatus.PASSED, PassStatus.CROSSED):
        findings.append(
            Finding(
                PASS_RULE, True, f"核放单 {gp.passport_no} 已使用", f"gate pass {gp.passport_no} has already been used", figures
            )
        )
    else:
        findings.append(
            Finding(
                PASS_RULE,
                True,
                f"核放单 {gp.passport_no} 状态为 {gp.status.value}，不能过卡",
                f"gate pass {gp.passport_no} is {gp.status.value} and cannot cross",
                figures,
            )
        )
    if gp.vehicle_no != plate:
        findings.append(
            Finding(
                PLATE_RULE,
                True,
                f"车牌 {plate} 与核放单车牌 {gp.vehicle_no} 不符",
                f"plate {plate} does not match the pass's {gp.vehicle_no}",
                {"vehicleNo": plate, "passVehicleNo": gp.vehicle_no},
            )
        )
    findings.append(m4_two_lanes.lane_finding(gp, lane))
    return findings


@dataclass(frozen=True)
class GatePolicy:
    """The configurable parts of a decision: weight tolerance and the spot-check policy."""

    weight_tolerance: Decimal = g1_weighing.DEFAULT_TOLERANCE
    spot_check: m4_two_lanes.SpotCheckPolicy = field(default_factory=m4_two_lanes.SpotCheckPolicy)


def evaluate(
    gp: GatePass,
    *,
    lane: Lane,
    weighed: Decimal | None,
    docs: Mapping[tuple[RltTbType, str], GateDoc],
    credit: v.Credit,
    attempt: int,
    policy: GatePolicy,
) -> Decision:
    """The decision for a vehicle that was admitted: weight (G1), remaining quantities (M7), spot check (M4).

    The spot check only runs in the non-declared lane and only when nothing else holds: a
    vehicle already held is inspected anyway.
    """
    findings: list[Finding] = []
    exempt = m4_two_lanes.weight_exempt(gp)
    if exempt is not None:
        findings.append(g1_weighing.exempt(*exempt))
    elif weighed is None:
        findings.append(Finding(g1_weighing.RULE, True, "尚未过磅", "not weighed yet", {}))
    else:
        findings.append(g1_weighing.check_weight(gp, weighed, policy.weight_tolerance))
    findings.extend(m7_multi_truck.check_remaining(gp, docs))
    if lane is Lane.NON_DECLARED and not any(f.held for f in findings):
        findings.append(m4_two_lanes.spot_check(policy.spot_check, gp, credit, attempt))
    return Decision.of(findings)
