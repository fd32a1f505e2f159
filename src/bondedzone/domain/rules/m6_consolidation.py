"""M6 — what one gate pass may bind (核放单验放逻辑), with the binding types of 金关二期.

    "优化金关二期系统核放单验放逻辑，支持“两步申报”货物与普通申报类型货物集拼入区。" 解读: 同一核放单可
    同时绑定“两步申报”概要申报报关单和普通申报类型对应的核注清单，支持“两步申报”货物与普通申报类型货物
    集拼入区，同车运输，降低企业物流成本。

Binding types (``bindTypecd``):

* ``2`` one-truck-one-doc: exactly one document, carried whole;
* ``1`` one-truck-many-docs: two or more documents — inventory lists and summary declarations
  mixed (M6) — each carried whole;
* ``3`` one-doc-many-trucks: exactly one document; this vehicle carries the quantities its lines
  say (M7, :mod:`bondedzone.domain.rules.m7_multi_truck`).

Every bound document must belong to the pass's enterprise, be ready (list approved, summary
declaration released), go the pass's direction and, for a list, cross the line the pass type
names. An intra-zone list never crosses the gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, Collector
from bondedzone.domain.gate import BindType, BoundDoc, GateDoc, PassLine, PassportType, RltTbType, weight

_FLOW_FOR_TYPE = {PassportType.FIRST_LINE: v.Flow.FIRST_LINE, PassportType.SECOND_LINE: v.Flow.SECOND_LINE}


@dataclass(frozen=True)
class DocLineInput:
    """What this vehicle carries of one line of a bound document (one-doc-many-trucks)."""

    rlt_gds_seqno: int
    dcl_qty: str
    gross_wt: str | None = None


@dataclass(frozen=True)
class DocInput:
    """A bound document as sent: its type, its number and, for one-doc-many-trucks, the split."""

    rlt_tb_typecd: str
    rlt_no: str
    lines: Sequence[DocLineInput] | None = None


def rlt_type(value: str) -> RltTbType:
    """rltTbTypecd: ``1`` inventory list or ``4`` two-step summary declaration."""
    try:
        return RltTbType(value)
    except ValueError:
        raise BzError(
            "BZ-PASS-BIND", reason_zh=f"关联单证类型 {value!r} 应为 1 或 4", reason_en=f"rltTbTypecd {value!r} must be 1 or 4"
        ) from None


def _bind_error(zh: str, en: str) -> BzError:
    return BzError("BZ-PASS-BIND", reason_zh=zh, reason_en=en)


def check_binding(passport_type: PassportType, bind_type: BindType | None, n_docs: int) -> None:
    """The number of documents each pass type and binding type allows."""
    if passport_type in (PassportType.NON_DECLARED, PassportType.EMPTY):
        if n_docs or bind_type is not None:
            raise _bind_error("非报关货物和空车核放单不绑定单证", "non-declared and empty-vehicle passes bind no documents")
        return
    if bind_type is None:
        raise _bind_error("报关货物核放单需要绑定类型 bindTypecd", "a declared-goods pass needs bindTypecd")
    if n_docs == 0:
        raise _bind_error("报关货物核放单至少绑定一份单证", "a declared-goods pass binds at least one document")
    if bind_type in (BindType.ONE_TRUCK_ONE_DOC, BindType.ONE_DOC_MANY_TRUCKS) and n_docs != 1:
        raise _bind_error(
            f"绑定类型 {bind_type.value} 只能绑定一份单证", f"bindTypecd {bind_type.value} binds exactly one document"
        )
    if bind_type is BindType.ONE_TRUCK_MANY_DOCS and n_docs < 2:
        raise _bind_error(
            "一车多票至少绑定两份单证；一份单证请用一车一票（2）",
            "one-truck-many-docs binds two or more documents; use 2 for one",
        )


def bind(
    *,
    passport_type: PassportType,
    bind_type: BindType | None,
    io: v.ImpexpMark,
    owner_uscc: str,
    wanted: Sequence[DocInput],
    found: Mapping[tuple[RltTbType, str], GateDoc],
) -> tuple[tuple[BoundDoc, ...], list[PassLine]]:
    """The bound documents and the pass lines they give; every refusal together.

    ``found`` holds the documents storage found by (type, number); one that is missing or belongs
    to another enterprise is reported as not found, so a pass cannot probe others' documents.
    """
    check_binding(passport_type, bind_type, len(wanted))
    c = Collector()
    docs: list[BoundDoc] = []
    lines: list[PassLine] = []
    seen: set[tuple[RltTbType, str]] = set()
    for raw in wanted:
        kind = c.check(partial(rlt_type, raw.rlt_tb_typecd))
        if kind is None:
            continue
        key = (kind, raw.rlt_no)
        if key in seen:
            c.add(_bind_error(f"单证 {raw.rlt_no} 重复绑定", f"document {raw.rlt_no} is bound twice"))
            continue
        seen.add(key)
        doc = found.get(key)
        if doc is None or doc.owner_uscc != owner_uscc:
            c.add(BzError("BZ-PASS-DOC-NOT-FOUND", rltTbTypecd=kind.value, rltNo=raw.rlt_no))
            continue
        problem = _doc_problem(doc, passport_type, io)
        if problem:
            c.add(_bind_error(*problem))
            continue
        docs.append(BoundDoc(kind, raw.rlt_no))
        if bind_type is BindType.ONE_DOC_MANY_TRUCKS:
            lines.extend(_split_lines(c, doc, raw, start=len(lines) + 1))
        else:
            lines.extend(_whole_lines(c, doc, raw, start=len(lines) + 1))
    c.raise_if_any()
    return tuple(docs), lines


def _doc_problem(doc: GateDoc, passport_type: PassportType, io: v.ImpexpMark) -> tuple[str, str] | None:
    if not doc.ready:
        what = (
            ("核注清单未审批", "the inventory list is not approved")
            if doc.rlt_tb_typecd is RltTbType.INVT
            else (
                "概要申报报关单未放行",
                "the summary declaration is not released",
            )
        )
        return (f"{doc.rlt_no}：{what[0]}", f"{doc.rlt_no}: {what[1]}")
    if doc.io_typecd is not io:
        return (
            f"{doc.rlt_no} 的进出标志为 {doc.io_typecd.value}，核放单为 {io.value}",
            f"{doc.rlt_no} goes {doc.io_typecd.value}, the pass goes {io.value}",
        )
    if doc.rlt_tb_typecd is RltTbType.INVT:
        if doc.flow is v.Flow.INTRA_ZONE:
            return (f"{doc.rlt_no} 是区内流转清单，不过卡口", f"{doc.rlt_no} is an intra-zone list and never crosses the gate")
        if doc.flow is not _FLOW_FOR_TYPE[passport_type]:
            flow = doc.flow.value if doc.flow else "?"
            return (
                f"{doc.rlt_no} 为 {flow} 清单，与核放单类型 {passport_type.value} 不符",
                f"{doc.rlt_no} is a {flow} list, not for pass type {passport_type.value}",
            )
    if doc.complete:
        return (f"{doc.rlt_no} 已全部过卡", f"everything on {doc.rlt_no} has already crossed")
    return None


def _whole_lines(c: Collector, doc: GateDoc, raw: DocInput, start: int) -> list[PassLine]:
    """A whole document on one vehicle: every line with what remains of it."""
    out: list[PassLine] = []
    want = {ln.rlt_gds_seqno: ln for ln in raw.lines or ()}
    for line in doc.lines:
        if line.remaining_units == 0:
            continue
        given = want.pop(line.gds_seqno, None)
        remaining = v.from_units(line.remaining_units)
        if raw.lines is not None and (given is None or _qty_or_none(given.dcl_qty) != remaining):
            c.add(
                _bind_error(
                    f"{doc.rlt_no} 第 {line.gds_seqno} 项须整票过卡（剩余 {v.fmt_qty(remaining)}）；分车请用一票多车（3）",
                    f"{doc.rlt_no} line {line.gds_seqno} must cross whole (remaining {v.fmt_qty(remaining)}); "
                    "use bindTypecd 3 to split",
                )
            )
            continue
        gross = _gross(c, given.gross_wt) if given else None
        out.append(_line(start + len(out), doc, line.gds_seqno, remaining, gross))
    for extra in want:
        c.add(BzError("BZ-PASS-DOC-LINE", rltNo=doc.rlt_no, rltGdsSeqno=extra))
    return out


def _split_lines(c: Collector, doc: GateDoc, raw: DocInput, start: int) -> list[PassLine]:
    """One-doc-many-trucks: the lines this vehicle carries, each within what remains (M7)."""
    if not raw.lines:
        c.add(_bind_error("一票多车须列明本车所载各项数量", "one-doc-many-trucks needs the quantities this vehicle carries"))
        return []
    out: list[PassLine] = []
    seen: set[int] = set()
    for given in raw.lines:
        line = doc.line(given.rlt_gds_seqno)
        if line is None:
            c.add(BzError("BZ-PASS-DOC-LINE", rltNo=doc.rlt_no, rltGdsSeqno=given.rlt_gds_seqno))
            continue
        if given.rlt_gds_seqno in seen:
            c.add(_bind_error(f"{doc.rlt_no} 第 {given.rlt_gds_seqno} 项重复", f"{doc.rlt_no} line {given.rlt_gds_seqno} twice"))
            continue
        seen.add(given.rlt_gds_seqno)
        qty = c.check(partial(v.qty, given.dcl_qty))
        gross = _gross(c, given.gross_wt)
        if qty is None:
            continue
        if v.to_units(qty) > line.remaining_units:
            c.add(
                BzError(
                    "BZ-PASS-QTY-EXCEEDS",
                    rltNo=doc.rlt_no,
                    rltGdsSeqno=line.gds_seqno,
                    dclQty=v.fmt_qty(qty),
                    remaining=v.fmt_units(line.remaining_units),
                    declared=v.fmt_units(line.declared_units),
                    delivered=v.fmt_units(line.delivered_units),
                )
            )
            continue
        out.append(_line(start + len(out), doc, line.gds_seqno, qty, gross))
    return out


def _gross(c: Collector, value: str | None) -> Decimal | None:
    return c.check(partial(weight, value, field_name="grossWt")) if value else None


def _qty_or_none(value: str) -> object:
    try:
        return v.qty(value)
    except BzError:
        return None


def _line(seqno: int, doc: GateDoc, gds_seqno: int, qty: Decimal, gross: Decimal | None) -> PassLine:
    line = doc.line(gds_seqno)
    assert line is not None
    return PassLine(
        passport_seqno=seqno,
        dcl_qty=qty,
        dcl_unitcd=line.dcl_unitcd,
        gds_nm=line.gds_nm,
        rlt_tb_typecd=doc.rlt_tb_typecd,
        rlt_no=doc.rlt_no,
        rlt_gds_seqno=gds_seqno,
        gdecd=line.gdecd,
        gross_wt=gross,
    )
