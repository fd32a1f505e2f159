"""M7 — one-doc-many-trucks (一票多车): declared as a whole, delivered by vehicles crossing alone.

    "允许“一票多车”货物，整报分送、单车进出区。" 解读: 允许企业整报分送、单车进出区，不再要求企业一次性将
    所有车辆集中运进运出。

Each bound document line counts what has crossed (``actlPassQty``). A vehicle carries part of
the remaining quantity; the document completes when all of it has crossed. A vehicle that would
deliver more than remains is refused when its pass is made and held at the gate with the figures —
the gate check repeats because another vehicle of the same document may have crossed since.
Delivered never goes backwards: a hold changes nothing, only a pass decision adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from bondedzone.domain import values as v
from bondedzone.domain.gate import Finding, GateDoc, GatePass, RltTbType

RULE = "M7-REMAINING"

DocKey = tuple[RltTbType, str]


class Delivery(NamedTuple):
    """What one pass decision adds to one document line."""

    rlt_tb_typecd: RltTbType
    rlt_no: str
    gds_seqno: int
    units: int


def deliveries(gp: GatePass) -> list[Delivery]:
    """The quantities this vehicle carries per document line, in a fixed order (locks never cross)."""
    out: dict[tuple[RltTbType, str, int], int] = {}
    for ln in gp.lines:
        if ln.rlt_tb_typecd is None or ln.rlt_no is None or ln.rlt_gds_seqno is None:
            continue
        k = (ln.rlt_tb_typecd, ln.rlt_no, ln.rlt_gds_seqno)
        out[k] = out.get(k, 0) + v.to_units(ln.dcl_qty)
    return [Delivery(t, no, seq, u) for (t, no, seq), u in sorted(out.items())]


def check_remaining(gp: GatePass, docs: Mapping[DocKey, GateDoc]) -> list[Finding]:
    """Hold for each line that would be over-delivered; otherwise one finding saying what remains."""
    held: list[Finding] = []
    carried = 0
    for d in deliveries(gp):
        doc = docs.get((d.rlt_tb_typecd, d.rlt_no))
        line = doc.line(d.gds_seqno) if doc else None
        if doc is None or line is None:
            held.append(
                Finding(
                    RULE,
                    True,
                    f"关联单证 {d.rlt_no} 第 {d.gds_seqno} 项不存在",
                    f"document {d.rlt_no} has no line {d.gds_seqno}",
                    {"rltNo": d.rlt_no, "rltGdsSeqno": d.gds_seqno},
                )
            )
            continue
        carried += 1
        if d.units > line.remaining_units:
            figures = {
                "rltNo": d.rlt_no,
                "rltGdsSeqno": d.gds_seqno,
                "carrying": v.fmt_units(d.units),
                "declared": v.fmt_units(line.declared_units),
                "delivered": v.fmt_units(line.delivered_units),
                "remaining": v.fmt_units(line.remaining_units),
                "excess": v.fmt_units(d.units - line.remaining_units),
            }
            held.append(
                Finding(
                    RULE,
                    True,
                    f"{d.rlt_no} 第 {d.gds_seqno} 项：本车 {figures['carrying']}，剩余 {figures['remaining']}"
                    f"（申报 {figures['declared']}，已过卡 {figures['delivered']}），超出 {figures['excess']}",
                    f"{d.rlt_no} line {d.gds_seqno}: this vehicle carries {figures['carrying']}, "
                    f"remaining {figures['remaining']} (declared {figures['declared']}, delivered {figures['delivered']}), "
                    f"over by {figures['excess']}",
                    figures,
                )
            )
    if held or not carried:
        return held
    return [
        Finding(
            RULE,
            False,
            f"本车所载 {carried} 项均未超过剩余数量",
            f"all {carried} lines carried are within the remaining quantities",
            {"lines": carried},
        )
    ]


def apply(docs: Mapping[DocKey, GateDoc], gp: GatePass) -> list[Delivery]:
    """The increments of a pass decision, after :func:`check_remaining` found nothing to hold."""
    out = deliveries(gp)
    for d in out:
        doc = docs[(d.rlt_tb_typecd, d.rlt_no)]
        line = doc.line(d.gds_seqno)
        assert line is not None and d.units <= line.remaining_units, "check_remaining must run first"
    return out
