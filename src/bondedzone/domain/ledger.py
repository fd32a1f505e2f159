"""The ledger (底账) per book item × stock status (L2).

Invariants that no sequence of calls may break, and which every service relies on:

* a balance is the sum of its postings;
* no balance is ever below zero — a document that would overdraw any balance is refused as a
  whole (``BZ-LEDGER-NEGATIVE``), naming the line, the balance and the shortfall;
* a document line posts at most once — a posting is identified by (document type, document id,
  line, leg) and storage keeps that identity unique;
* postings are never edited or deleted — a correction is a new posting whose ``corrects``
  names the posting it corrects.

This module only plans: given the current balances and the legs a document wants to post, it
returns the net change per balance or every reason why not. Storage applies the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.model import InventoryList


class DocType(StrEnum):
    """Which kind of document caused a posting."""

    INVT = "invt"
    CONVERSION = "conversion"
    CORRECTION = "correction"
    WRITEOFF = "writeoff"  # M19: an approved 盘盈/盘亏 posted at write-off
    WMS = "wms"  # M3: a movement of a WMS-driven book
    BOOK = "book"  # M19: a lifecycle change of the book itself (an event, never a posting)


class StockKey(NamedTuple):
    """One balance: a book item in one stock status (a tuple: hashed and ordered in C)."""

    putrec_seqno: int
    stock_status: v.StockStatus


class Leg(NamedTuple):
    """One signed change a document line asks for; a conversion line has two legs (out, in).

    ``units`` is the signed change in 10⁻⁵ units (:func:`values.to_units`), the form the ledger
    keeps: planning a list of 10,000 lines is then integer arithmetic.
    """

    doc_line: int
    leg: int
    key: StockKey
    units: int
    corrects: int | None = None

    @property
    def delta(self) -> Decimal:
        """The change as a quantity."""
        return v.from_units(self.units)


class LineAmount(NamedTuple):
    """What approval needs of an inventory list line: which balance and how much (in units)."""

    gds_seqno: int
    putrec_seqno: int
    stock_status: v.StockStatus
    dcl_units: int


def invt_legs(impexp_markcd: v.ImpexpMark, lines: Iterable[LineAmount]) -> list[Leg]:
    """核增 for an ``I`` list, 核减 for an ``E`` list: one leg per line."""
    sign = 1 if impexp_markcd is v.ImpexpMark.IMPORT else -1
    return [Leg(line.gds_seqno, 0, StockKey(line.putrec_seqno, line.stock_status), sign * line.dcl_units) for line in lines]


def line_amounts(invt: InventoryList) -> list[LineAmount]:
    """The amounts of a list read with its full lines."""
    return [LineAmount(ln.gds_seqno, ln.putrec_seqno, ln.stock_status, v.to_units(ln.dcl_qty)) for ln in invt.lines]


def plan(balances: Mapping[StockKey, int], legs: Sequence[Leg]) -> dict[StockKey, int]:
    """Net change per balance (in units) if every leg may post; otherwise raise every refusal together.

    All legs of a document post together or not at all, so what must not go below zero is the
    balance after the whole document. The line named for an overdraw is the first line at
    which the running balance of that key goes below zero.
    """
    net: dict[StockKey, int] = {}
    required: dict[StockKey, int] = {}
    first_short: dict[StockKey, int] = {}
    get = balances.get
    for doc_line, _, key, units, _ in legs:
        running = net.get(key, 0) + units
        net[key] = running
        if units < 0:
            required[key] = required.get(key, 0) - units
            if get(key, 0) + running < 0 and key not in first_short:
                first_short[key] = doc_line
    errors: list[BzError] = []
    for key, change in net.items():
        start = get(key, 0)
        final = start + change
        if final < 0:
            errors.append(
                BzError(
                    "BZ-LEDGER-NEGATIVE",
                    gdsSeqno=first_short.get(key, 0),
                    putrecSeqno=key.putrec_seqno,
                    stockStatus=key.stock_status.value,
                    balance=v.fmt_units(start),
                    required=v.fmt_units(required.get(key, 0)),
                    shortfall=v.fmt_units(-final),
                )
            )
        elif final > v.MAX_BALANCE_UNITS:
            errors.append(BzError("BZ-LEDGER-OVERFLOW", putrecSeqno=key.putrec_seqno, limit=v.fmt_qty(v.MAX_BALANCE)))
    if errors:
        errors.sort(key=lambda e: (e.detail.get("gdsSeqno", 0), e.detail.get("putrecSeqno", 0)))
        raise ErrorGroup(errors)
    return {k: d for k, d in net.items() if d != 0}


def keys_of(legs: Iterable[Leg]) -> list[StockKey]:
    """The balances a set of legs touches, in a fixed order (so that locks never cross)."""
    return sorted({leg.key for leg in legs})


@dataclass(frozen=True)
class PostingView:
    """A stored posting as the domain sees it when asked to correct it."""

    id: int
    putrec_no: str
    key: StockKey
    delta: Decimal
    doc_type: DocType
    doc_id: int
    corrected_by_total: Decimal


def correction_leg(original: PostingView, delta: object, reason: str) -> Leg:
    """A correction is a new posting on the same balance that references the one it corrects.

    It may not take back more than the original put in (nor add to the opposite sign beyond
    zero): the original plus all its corrections keeps the original's sign or becomes zero.
    """
    amount = v.qty(delta, field="delta", allow_negative=True)
    v.text(reason, field="reason", max_len=2000)
    after = original.delta + original.corrected_by_total + amount
    if (original.delta > 0 and after < 0) or (original.delta < 0 and after > 0):
        raise BzError(
            "BZ-CORRECTION-INVALID",
            reason_zh=f"更正后记账 {original.id} 的净额 {v.fmt_qty(after)} 将与原方向相反",
            reason_en=f"after correction posting {original.id} would net {v.fmt_qty(after)}, the opposite sign",
        )
    return Leg(doc_line=1, leg=0, key=original.key, units=v.to_units(amount), corrects=original.id)
