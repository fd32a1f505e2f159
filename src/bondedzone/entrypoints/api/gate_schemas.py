"""Bodies of the gate routes: SAS121 names (PassportHead / PassportList / PassportAcmp) in camelCase."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from bondedzone.domain import values as v
from bondedzone.domain.chain import timestamp
from bondedzone.domain.gate import Crossing, GateDoc, GatePass, PassLine
from bondedzone.entrypoints.api.schemas import Camel, QtyIn
from bondedzone.services.ports import GateEventRow, HazchemRow

Code = Annotated[str, Field(max_length=64)]
Short = Annotated[str, Field(max_length=512)]
WeightIn = Annotated[Decimal | str, Field(description="kg, decimal, at most 5 places; a string is safest")]


def wt_in(value: Decimal | str | None) -> str | None:
    """A weight or quantity as the domain takes it (text; None stays None)."""
    return None if value is None else str(value)


def _ts(dt: Any) -> str | None:
    return None if dt is None else timestamp(dt)


class DocLineIn(Camel):
    rlt_gds_seqno: Annotated[int, Field(ge=1, le=100_000, description="line (gdsSeqno / gNo) of the bound document")]
    dcl_qty: QtyIn
    gross_wt: WeightIn | None = None


class DocIn(Camel):
    rlt_tb_typecd: Literal["1", "4"] = Field(
        description="1 inventory list (bondInvtNo), 4 two-step summary declaration (entryNo)"
    )
    rlt_no: Code
    lines: Annotated[list[DocLineIn], Field(max_length=1000)] | None = Field(
        default=None, description="one-doc-many-trucks (bindTypecd 3): what this vehicle carries; otherwise omit"
    )


class HazchemIn(Camel):
    un_no: Code = Field(description="UN number, 4 digits")
    hazard_class: Code = Field(description="hazard class 1–9 (with division, e.g. 2.1)")
    cas_no: Code | None = None
    usage: Short | None = None


class GoodsIn(Camel):
    gds_nm: Short
    category: Literal[
        "production_related", "infrastructure", "consumer_goods", "labour_protection", "office_supplies", "hazardous_chemicals"
    ]
    dcl_qty: QtyIn
    dcl_unitcd: Code
    gdecd: Code | None = Field(default=None, description="not needed for labour_protection and office_supplies (M4)")
    gross_wt: WeightIn | None = None
    hazchem: HazchemIn | None = None


class PassCreate(Camel):
    areain_oriact_no: Code = Field(description="the zone enterprise's book (putrecNo)")
    etps_preent_no: Code
    passport_typecd: Literal["2", "3", "4", "6"] = Field(
        description="2 first line, 3 second line, 4 non-declared goods, 6 empty vehicle"
    )
    io_typecd: Literal["I", "E"]
    bind_typecd: Literal["1", "2", "3"] | None = Field(
        default=None, description="1 one-truck-many-docs, 2 one-truck-one-doc, 3 one-doc-many-trucks"
    )
    vehicle_no: Code
    vehicle_wt: WeightIn
    vehicle_frame_wt: WeightIn | None = None
    container_no: Code | None = None
    container_wt: WeightIn | None = None
    total_gross_wt: WeightIn
    docs: Annotated[list[DocIn], Field(max_length=100, default_factory=list)]
    goods: Annotated[list[GoodsIn], Field(max_length=1000, default_factory=list)]
    rmk: Annotated[str, Field(max_length=4000)] | None = None


class PassLinePublic(Camel):
    passport_seqno: int
    rlt_tb_typecd: str | None
    rlt_no: str | None
    rlt_gds_seqno: int | None
    gds_nm: str
    gdecd: str | None
    dcl_unitcd: str
    dcl_qty: str
    gross_wt: str | None
    category: str | None
    hazchem: dict[str, str | None] | None

    @classmethod
    def of(cls, ln: PassLine) -> PassLinePublic:
        hz = ln.hazchem
        return cls(
            passport_seqno=ln.passport_seqno,
            rlt_tb_typecd=ln.rlt_tb_typecd.value if ln.rlt_tb_typecd else None,
            rlt_no=ln.rlt_no,
            rlt_gds_seqno=ln.rlt_gds_seqno,
            gds_nm=ln.gds_nm,
            gdecd=ln.gdecd,
            dcl_unitcd=ln.dcl_unitcd,
            dcl_qty=v.fmt_qty(ln.dcl_qty),
            gross_wt=v.fmt_qty(ln.gross_wt) if ln.gross_wt is not None else None,
            category=ln.category.value if ln.category else None,
            hazchem=({"unNo": hz.un_no, "hazardClass": hz.hazard_class, "casNo": hz.cas_no, "usage": hz.usage} if hz else None),
        )


class ReasonPublic(Camel):
    rule: str
    held: bool
    message: str
    zh: str
    en: str
    figures: dict[str, Any]


class CrossingPublic(Camel):
    id: int
    gate_id: str
    lane: str
    vehicle_no: str
    passport_no: str | None
    status: str
    decision: str | None = Field(description="pass or hold, once decided")
    reasons: list[ReasonPublic]
    gross_wt: str | None = Field(description="passCollectWt, the weighbridge reading in kg")
    attempt: int
    arrived_at: str
    weighed_at: str | None
    decided_at: str | None
    left_at: str | None
    events: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, c: Crossing, lang: str = "en", events: list[GateEventRow] | None = None) -> CrossingPublic:
        return cls(
            id=c.id,
            gate_id=c.gate_id,
            lane=c.lane.value,
            vehicle_no=c.vehicle_no,
            passport_no=c.passport_no,
            status=c.status.value,
            decision=c.outcome.value if c.outcome else None,
            reasons=[
                ReasonPublic(
                    rule=str(r["rule"]),
                    held=bool(r["held"]),
                    message=str(r["zh"] if lang == "zh" else r["en"]),
                    zh=str(r["zh"]),
                    en=str(r["en"]),
                    figures=dict(r.get("figures") or {}),
                )
                for r in c.reasons
            ],
            gross_wt=v.fmt_qty(c.gross_wt) if c.gross_wt is not None else None,
            attempt=c.attempt,
            arrived_at=timestamp(c.arrived_at),
            weighed_at=_ts(c.weighed_at),
            decided_at=_ts(c.decided_at),
            left_at=_ts(c.left_at),
            events=(
                [{"kind": e.kind, "actor": e.actor, "recordedAt": timestamp(e.recorded_at), **e.detail} for e in events]
                if events is not None
                else None
            ),
        )


class PassPublic(Camel):
    passport_no: str
    etps_preent_no: str
    areain_etps_sccd: str = Field(description="the zone enterprise's USCC")
    areain_oriact_no: str
    master_cuscd: str
    passport_typecd: str
    io_typecd: str
    bind_typecd: str | None
    vehicle_no: str
    vehicle_wt: str
    vehicle_frame_wt: str
    container_no: str | None
    container_wt: str
    total_gross_wt: str
    total_wt: str = Field(description="vehicleWt + vehicleFrameWt + containerWt + totalGrossWt")
    status: str
    docs: list[dict[str, str]]
    lines: list[PassLinePublic]
    rmk: str | None
    created_at: str | None
    crossings: list[CrossingPublic] | None = None

    @classmethod
    def of(cls, gp: GatePass, crossings: list[Crossing] | None = None, lang: str = "en") -> PassPublic:
        return cls(
            passport_no=gp.passport_no,
            etps_preent_no=gp.etps_preent_no,
            areain_etps_sccd=gp.owner_uscc,
            areain_oriact_no=gp.areain_oriact_no,
            master_cuscd=gp.master_cuscd,
            passport_typecd=gp.passport_typecd.value,
            io_typecd=gp.io_typecd.value,
            bind_typecd=gp.bind_typecd.value if gp.bind_typecd else None,
            vehicle_no=gp.vehicle_no,
            vehicle_wt=v.fmt_qty(gp.vehicle_wt),
            vehicle_frame_wt=v.fmt_qty(gp.vehicle_frame_wt),
            container_no=gp.container_no,
            container_wt=v.fmt_qty(gp.container_wt),
            total_gross_wt=v.fmt_qty(gp.total_gross_wt),
            total_wt=v.fmt_qty(gp.vehicle_wt + gp.vehicle_frame_wt + gp.container_wt + gp.total_gross_wt),
            status=gp.status.value,
            docs=[{"rltTbTypecd": d.rlt_tb_typecd.value, "rltNo": d.rlt_no} for d in gp.docs],
            lines=[PassLinePublic.of(ln) for ln in gp.lines],
            rmk=gp.rmk,
            created_at=_ts(gp.created_at),
            crossings=[CrossingPublic.of(c, lang) for c in crossings] if crossings is not None else None,
        )


class DocLinePublic(Camel):
    gds_seqno: int
    gdecd: str
    gds_nm: str
    dcl_unitcd: str
    declared: str
    delivered: str = Field(description="actlPassQty: what has crossed")
    remaining: str


class GateDocPublic(Camel):
    rlt_tb_typecd: str
    rlt_no: str
    io_typecd: str
    ready: bool = Field(description="list approved / summary declaration released")
    complete: bool = Field(description="every line has crossed in full")
    lines: list[DocLinePublic]

    @classmethod
    def of(cls, d: GateDoc) -> GateDocPublic:
        return cls(
            rlt_tb_typecd=d.rlt_tb_typecd.value,
            rlt_no=d.rlt_no,
            io_typecd=d.io_typecd.value,
            ready=d.ready,
            complete=d.complete,
            lines=[
                DocLinePublic(
                    gds_seqno=ln.gds_seqno,
                    gdecd=ln.gdecd,
                    gds_nm=ln.gds_nm,
                    dcl_unitcd=ln.dcl_unitcd,
                    declared=v.fmt_units(ln.declared_units),
                    delivered=v.fmt_units(ln.delivered_units),
                    remaining=v.fmt_units(ln.remaining_units),
                )
                for ln in d.lines
            ],
        )


class SummaryLineIn(Camel):
    g_no: Annotated[int, Field(ge=1, le=100_000)]
    gdecd: Code
    gds_nm: Short
    dcl_qty: QtyIn
    dcl_unitcd: Code


class SummaryCreate(Camel):
    entry_no: Code = Field(description="18-digit customs declaration number of the summary declaration (概要申报)")
    putrec_no: Code = Field(description="the zone enterprise's book")
    io_typecd: Literal["I", "E"]
    lines: Annotated[list[SummaryLineIn], Field(min_length=1, max_length=1000)]


class ArriveIn(Camel):
    gate_id: Code
    lane: Literal["declared", "non_declared"]
    vehicle_no: Code
    passport_no: Code | None = Field(default=None, description="when the gate read it; otherwise found by plate")


class CrossIn(ArriveIn):
    gross_wt: WeightIn | None = Field(default=None, description="the weighbridge reading (passCollectWt), kg")


class WeighIn(Camel):
    gross_wt: WeightIn


class ReleaseIn(Camel):
    reason: Annotated[str, Field(max_length=2000)]


class HazchemPublic(Camel):
    id: int
    areain_etps_sccd: str
    areain_etps_nm: str
    passport_no: str
    vehicle_no: str
    gate_id: str
    gds_nm: str
    gdecd: str | None
    un_no: str
    hazard_class: str
    cas_no: str | None
    usage: str | None
    dcl_qty: str
    dcl_unitcd: str
    entered_at: str

    @classmethod
    def of(cls, r: HazchemRow) -> HazchemPublic:
        return cls(
            id=r.id,
            areain_etps_sccd=r.owner_uscc,
            areain_etps_nm=r.owner_name,
            passport_no=r.passport_no,
            vehicle_no=r.vehicle_no,
            gate_id=r.gate_id,
            gds_nm=r.gds_nm,
            gdecd=r.gdecd,
            un_no=r.un_no,
            hazard_class=r.hazard_class,
            cas_no=r.cas_no,
            usage=r.usage,
            dcl_qty=v.fmt_qty(r.dcl_qty),
            dcl_unitcd=r.dcl_unitcd,
            entered_at=timestamp(r.recorded_at),
        )
