"""M9 优化分类监管货物管理 — status conversion inside the zone.

The measure: "对综合保税区内非保税货物申报转为保税货物的，或办结海关手续后申请以分类监管方式继续在区内
存储的，允许完成报关手续后，直接核增核减海关底账，不再要求货物实际进出卡口。"

So a conversion names the customs declaration (报关单) whose formalities are complete, and then
posts directly: for each line, 核减 the source status and 核增 the target status of the same
item — no gate crossing, no gate pass. Both legs post together or neither does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.ledger import Leg, StockKey
from bondedzone.domain.model import Book, BookItem


@dataclass(frozen=True)
class ConversionLineInput:
    """A line as sent: item, quantity, unit."""

    line_no: int
    putrec_seqno: int
    qty: object
    dcl_unitcd: str


@dataclass(frozen=True)
class ConversionLine:
    """A checked line."""

    line_no: int
    putrec_seqno: int
    qty: Decimal
    dcl_unitcd: str


@dataclass(frozen=True)
class StatusConversion:
    """A conversion between bonded and non-bonded status, backed by a completed declaration."""

    id: int
    putrec_no: str
    entry_no: str
    from_status: v.StockStatus
    to_status: v.StockStatus
    lines: tuple[ConversionLine, ...]
    rmk: str | None = None


def new_status_conversion(
    *,
    book: Book,
    items: Mapping[int, BookItem],
    entry_no: str,
    from_status: str,
    to_status: str,
    lines: Sequence[ConversionLineInput],
    rmk: str | None = None,
) -> StatusConversion:
    """Check a conversion against its book; all errors are raised together."""
    errors: list[BzError] = []
    entry = None
    try:
        entry = v.entry_no(entry_no)
    except BzError as e:
        errors.append(e)
    statuses: list[v.StockStatus] = []
    for name, value in (("fromStatus", from_status), ("toStatus", to_status)):
        try:
            statuses.append(v.StockStatus(value))
        except ValueError:
            errors.append(BzError("BZ-TEXT-INVALID", field=name, reason="must be bonded or non_bonded"))
    if len(statuses) == 2 and statuses[0] == statuses[1]:
        errors.append(BzError("BZ-CONV-SAME-STATUS", status=statuses[0].value))
    if not lines:
        errors.append(BzError("BZ-INVT-NO-LINES"))
    checked: list[ConversionLine] = []
    for position, line in enumerate(lines, start=1):
        if line.line_no != position:
            errors.append(BzError("BZ-INVT-LINE-SEQNO", position=position, gdsSeqno=line.line_no))
            continue
        item = items.get(line.putrec_seqno)
        if item is None:
            errors.append(
                BzError("BZ-INVT-UNKNOWN-ITEM", gdsSeqno=line.line_no, putrecSeqno=line.putrec_seqno, putrecNo=book.putrec_no)
            )
            continue
        if line.dcl_unitcd != item.dcl_unitcd:
            errors.append(
                BzError("BZ-INVT-UNIT-MISMATCH", gdsSeqno=line.line_no, dclUnitcd=line.dcl_unitcd, expected=item.dcl_unitcd)
            )
            continue
        try:
            checked.append(ConversionLine(line.line_no, item.putrec_seqno, v.qty(line.qty), item.dcl_unitcd))
        except BzError as e:
            e.detail["gdsSeqno"] = line.line_no
            errors.append(e)
    note = None
    if rmk:
        try:
            note = v.text(rmk, field="rmk", max_len=4000, min_len=0)
        except BzError as e:
            errors.append(e)
    if errors:
        raise ErrorGroup(errors)
    assert entry is not None
    return StatusConversion(0, book.putrec_no, entry, statuses[0], statuses[1], tuple(checked), note)


def conversion_legs(conv: StatusConversion) -> list[Leg]:
    """核减 the source status (leg 0) and 核增 the target status (leg 1) of each line."""
    legs: list[Leg] = []
    for line in conv.lines:
        units = v.to_units(line.qty)
        legs.append(Leg(line.line_no, 0, StockKey(line.putrec_seqno, conv.from_status), -units))
        legs.append(Leg(line.line_no, 1, StockKey(line.putrec_seqno, conv.to_status), units))
    return legs
