"""M19 优化账册核销作业: the book's lifecycle and the timely write-off of logistics books.

Measure (十九) asks for a book management procedure — 设立 (set up), 暂停 (suspend), 核销 (write
off), 注销 (cancel) — and for logistics books to be written off in time (适时核销). Here:

Book lifecycle (customs decides every move; an enterprise's own request starts as ``applied``)::

    applied ──open──▶ active ──suspend──▶ suspended ──resume──▶ active
                        │                     │
                        └──────close──────────┴──────close─────▶ closed   (final)

Only an ``active`` book posts; a ``suspended`` book keeps its records and can be read, written off
and resumed; a book is closed only with no stock left and no write-off under way.

A write-off (核销) of a period compares, per item and status, the ledger's
``opening + in − out = closing`` with what the warehouse counted (the WMS stocktake at the end of
the period). A difference is 盘盈 (surplus, counted more) or 盘亏 (loss, counted less); each must be
explained by the enterprise before it submits, and customs then approves (signs off) or returns it.
On approval the differences are posted, so that the next period opens at what was counted::

    draft ──submit──▶ submitted ──approve──▶ approved   (final; differences posted)
      ▲                   │
      └─────(explain)─────┴──return──▶ returned ──submit──▶ submitted

A draft or returned write-off may be cancelled (to compute it again, e.g. after a new stocktake).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bondedzone.domain.errors import BzError

RULE = "M19-WRITEOFF"
MAX_EXPLANATION = 2000


class BookStatus(StrEnum):
    """Where a book is in its lifecycle."""

    APPLIED = "applied"  # 备案申请: requested by the enterprise, not yet set up by customs
    ACTIVE = "active"  # 设立 / 正常
    SUSPENDED = "suspended"  # 暂停
    CLOSED = "closed"  # 注销


class BookAction(StrEnum):
    """A lifecycle decision of customs."""

    OPEN = "open"  # 设立
    SUSPEND = "suspend"  # 暂停
    RESUME = "resume"  # 恢复
    CLOSE = "close"  # 注销


_BOOK_MOVES: dict[tuple[BookStatus, BookAction], BookStatus] = {
    (BookStatus.APPLIED, BookAction.OPEN): BookStatus.ACTIVE,
    (BookStatus.ACTIVE, BookAction.SUSPEND): BookStatus.SUSPENDED,
    (BookStatus.SUSPENDED, BookAction.RESUME): BookStatus.ACTIVE,
    (BookStatus.ACTIVE, BookAction.CLOSE): BookStatus.CLOSED,
    (BookStatus.SUSPENDED, BookAction.CLOSE): BookStatus.CLOSED,
}

_ACTION_ZH = {BookAction.OPEN: "设立", BookAction.SUSPEND: "暂停", BookAction.RESUME: "恢复", BookAction.CLOSE: "注销"}


def book_action(value: str) -> BookAction:
    """One of open, suspend, resume, close."""
    try:
        return BookAction(value)
    except ValueError:
        raise BzError("BZ-BOOK-ACTION", action=str(value)[:40]) from None


def next_book_status(
    putrec_no: str, current: BookStatus, action: BookAction, *, stock_left: int, writeoffs_open: int
) -> BookStatus:
    """The status after ``action``, or a refusal naming the status and the action."""
    target = _BOOK_MOVES.get((current, action))
    if target is None:
        raise BzError(
            "BZ-BOOK-STATE", putrecNo=putrec_no, status=current.value, action=action.value, action_zh=_ACTION_ZH[action]
        )
    if target is BookStatus.CLOSED and (stock_left or writeoffs_open):
        raise BzError("BZ-BOOK-CLOSE-BLOCKED", putrecNo=putrec_no, items=stock_left, writeoffs=writeoffs_open)
    return target


def require_posting(putrec_no: str, status: BookStatus) -> None:
    """Only an active book posts: a suspended, closed or merely applied-for book refuses."""
    if status is not BookStatus.ACTIVE:
        raise BzError("BZ-BOOK-NOT-ACTIVE", putrecNo=putrec_no, status=status.value)


class WriteOffStatus(StrEnum):
    """Where a write-off is."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    CANCELLED = "cancelled"


OPEN_WRITEOFFS = frozenset({WriteOffStatus.DRAFT, WriteOffStatus.SUBMITTED, WriteOffStatus.RETURNED})

_WRITEOFF_MOVES: dict[tuple[WriteOffStatus, str], WriteOffStatus] = {
    (WriteOffStatus.DRAFT, "submit"): WriteOffStatus.SUBMITTED,
    (WriteOffStatus.RETURNED, "submit"): WriteOffStatus.SUBMITTED,
    (WriteOffStatus.SUBMITTED, "approve"): WriteOffStatus.APPROVED,
    (WriteOffStatus.SUBMITTED, "return"): WriteOffStatus.RETURNED,
    (WriteOffStatus.DRAFT, "explain"): WriteOffStatus.DRAFT,
    (WriteOffStatus.RETURNED, "explain"): WriteOffStatus.RETURNED,
    (WriteOffStatus.DRAFT, "cancel"): WriteOffStatus.CANCELLED,
    (WriteOffStatus.RETURNED, "cancel"): WriteOffStatus.CANCELLED,
}


def next_writeoff_status(writeoff_id: int, current: WriteOffStatus, action: str) -> WriteOffStatus:
    """The status after ``action`` (submit, approve, return, explain), or ``BZ-WRITEOFF-STATE``."""
    target = _WRITEOFF_MOVES.get((current, action))
    if target is None:
        raise BzError("BZ-WRITEOFF-STATE", id=writeoff_id, status=current.value, action=action)
    return target


Key = tuple[int, str]  # (putrecSeqno, stockStatus)


@dataclass(frozen=True)
class WriteOffLine:
    """One item and status of a write-off, in integer 10⁻⁵ units of the item's unit."""

    putrec_seqno: int
    gds_mtno: str
    gds_nm: str
    stock_status: str
    dcl_unitcd: str
    opening: int
    in_units: int
    out_units: int
    counted: int | None  # None: the stocktake has no line for it (counted as nothing)
    counted_unitcd: str | None
    explanation: str | None = None

    @property
    def closing(self) -> int:
        """期末 = 期初 + 进 − 出."""
        return self.opening + self.in_units - self.out_units

    @property
    def difference(self) -> int:
        """Counted − closing: > 0 盘盈 (surplus), < 0 盘亏 (loss)."""
        return (self.counted or 0) - self.closing

    @property
    def kind(self) -> str | None:
        """``surplus`` (盘盈), ``loss`` (盘亏) or None."""
        d = self.difference
        return "surplus" if d > 0 else "loss" if d < 0 else None

    @property
    def unit_differs(self) -> bool:
        """The count was in another unit than the book keeps: explained like a difference."""
        return self.counted_unitcd is not None and self.counted_unitcd != self.dcl_unitcd

    @property
    def needs_explanation(self) -> bool:
        """Whether the enterprise must explain this line before submitting."""
        return self.difference != 0 or self.unit_differs


@dataclass(frozen=True)
class ItemInfo:
    """What the write-off shows of a book item."""

    putrec_seqno: int
    gds_mtno: str
    gds_nm: str
    dcl_unitcd: str


def lines(
    items: Mapping[int, ItemInfo],
    opening: Mapping[Key, int],
    ins: Mapping[Key, int],
    outs: Mapping[Key, int],
    counted: Mapping[str, Mapping[str, tuple[int, str]]],
) -> list[WriteOffLine]:
    """Every item and status with anything to show: the ledger's figures and the count.

    ``counted`` is the stocktake by item code (``gdsMtno``) and status: (units, unit code). A
    counted item the book does not have cannot be written off here; the comparison (W2) reports it.
    """
    by_mtno = {it.gds_mtno: it for it in items.values()}
    keys: set[Key] = set(opening) | set(ins) | set(outs)
    for mtno, statuses in counted.items():
        if mtno in by_mtno:
            keys |= {(by_mtno[mtno].putrec_seqno, st) for st in statuses}
    out: list[WriteOffLine] = []
    for seq, status in sorted(keys):
        it = items[seq]
        count = counted.get(it.gds_mtno, {}).get(status)
        line = WriteOffLine(
            putrec_seqno=seq,
            gds_mtno=it.gds_mtno,
            gds_nm=it.gds_nm,
            stock_status=status,
            dcl_unitcd=it.dcl_unitcd,
            opening=opening.get((seq, status), 0),
            in_units=ins.get((seq, status), 0),
            out_units=outs.get((seq, status), 0),
            counted=count[0] if count else None,
            counted_unitcd=count[1] if count else None,
        )
        if line.opening or line.in_units or line.out_units or line.counted:
            out.append(line)
    return out


def explanation(text: str) -> str:
    """An explanation of a difference: 2–2000 characters of real text."""
    t = text.strip()
    if not (2 <= len(t) <= MAX_EXPLANATION) or any(ord(c) < 32 and c not in "\n\t" for c in t):
        raise BzError("BZ-WRITEOFF-EXPLANATION", length=len(t), limit=MAX_EXPLANATION)
    return t


def require_explained(writeoff_id: int, all_lines: Iterable[WriteOffLine]) -> None:
    """Submitting needs an explanation on every line with a difference (or a count in another unit)."""
    missing = [f"{ln.putrec_seqno}/{ln.stock_status}" for ln in all_lines if ln.needs_explanation and not ln.explanation]
    if missing:
        raise BzError("BZ-WRITEOFF-UNEXPLAINED", id=writeoff_id, lines=", ".join(missing[:50]), count=len(missing))
