"""Aggregates of the registry and of the inventory list (L1, L4).

The inventory list (核注清单) is the document that increments or decrements the ledger: an
``I`` list (进区) is 核增, an ``E`` list (出区) is 核减. Its lifecycle is

    draft ──declare──▶ declared ──approve──▶ approved   (posts every line, once)
      │                   ├──────reject───▶ rejected
      └──────cancel───────┴──────cancel───▶ cancelled

and no other move exists: approved, rejected and cancelled are final. Only an approval posts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, Collector

MAX_LINES = 10_000


@dataclass(frozen=True)
class Enterprise:
    """A registered enterprise (L1). ``inside_fence`` decides whether it may hold zone books (M20)."""

    uscc: str
    customs_code: str
    name: str
    credit: v.Credit
    wms_networked: bool
    inside_fence: bool

    @classmethod
    def register(
        cls, *, uscc: str, customs_code: str, name: str, credit: str, wms_networked: bool, inside_fence: bool
    ) -> Enterprise:
        """Validate every field and collect all errors, so a form can show them at once."""
        c = Collector()
        u = c.check(lambda: v.uscc(uscc))
        code = c.check(lambda: v.customs_code(customs_code))
        nm = c.check(lambda: v.text(name, field="name", max_len=512))
        cr = c.check(lambda: _credit(credit))
        c.raise_if_any()
        assert u is not None and code is not None and nm is not None and cr is not None
        return cls(uscc=u, customs_code=code, name=nm, credit=cr, wms_networked=wms_networked, inside_fence=inside_fence)


def _credit(value: str) -> v.Credit:
    try:
        return v.Credit(value)
    except ValueError:
        raise BzError("BZ-TEXT-INVALID", field="credit", reason="must be one of aeo_advanced, ordinary, dishonest") from None


@dataclass(frozen=True)
class Book:
    """An e-account book (账册) held by one enterprise inside the fence."""

    putrec_no: str
    book_type: v.BookType
    owner_uscc: str
    master_cuscd: str
    status: str = "active"  # M19 lifecycle: applied, active, suspended, closed
    wms_driven: bool = False  # M3: the ledger follows the WMS's movements

    @classmethod
    def open(cls, *, putrec_no: str, book_type: str, owner: Enterprise, master_cuscd: str) -> Book:
        """设立: only an enterprise inside the fence may hold a zone book (M20)."""
        if not owner.inside_fence:
            raise BzError("BZ-BOOK-OWNER-OUTSIDE", uscc=owner.uscc)
        try:
            bt = v.BookType(book_type)
        except ValueError:
            raise BzError("BZ-TEXT-INVALID", field="bookType", reason="must be one of logistics, processing, equipment") from None
        return cls(putrec_no=v.putrec_no(putrec_no), book_type=bt, owner_uscc=owner.uscc, master_cuscd=v.cuscd(master_cuscd))


@dataclass(frozen=True)
class BookItem:
    """A book item (备案序号 putrecSeqno); the ledger keeps its stock in ``dcl_unitcd``."""

    putrec_seqno: int
    gds_mtno: str
    gdecd: str
    gds_nm: str
    dcl_unitcd: str

    @classmethod
    def record(cls, *, putrec_seqno: int, gds_mtno: str, gdecd: str, gds_nm: str, dcl_unitcd: str) -> BookItem:
        """Validate an item; all field errors are reported together."""
        c = Collector()
        if not (1 <= putrec_seqno <= 999_999_999):
            c.add(BzError("BZ-TEXT-INVALID", field="putrecSeqno", reason="must be 1..999999999"))
        mtno = c.check(lambda: v.text(gds_mtno, field="gdsMtno", max_len=32))
        hs = c.check(lambda: v.hs_code(gdecd))
        nm = c.check(lambda: v.text(gds_nm, field="gdsNm", max_len=512))
        unit = c.check(lambda: v.unit_code(dcl_unitcd))
        c.raise_if_any()
        assert mtno is not None and hs is not None and nm is not None and unit is not None
        return cls(putrec_seqno, mtno, hs, nm, unit)


class InvtStatus(StrEnum):
    """Lifecycle state of an inventory list (see the module docstring)."""

    DRAFT = "draft"
    DECLARED = "declared"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class InvtAction(StrEnum):
    """What a user asks of a list."""

    DECLARE = "declare"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[InvtStatus, InvtAction], InvtStatus] = {
    (InvtStatus.DRAFT, InvtAction.DECLARE): InvtStatus.DECLARED,
    (InvtStatus.DECLARED, InvtAction.APPROVE): InvtStatus.APPROVED,
    (InvtStatus.DECLARED, InvtAction.REJECT): InvtStatus.REJECTED,
    (InvtStatus.DRAFT, InvtAction.CANCEL): InvtStatus.CANCELLED,
    (InvtStatus.DECLARED, InvtAction.CANCEL): InvtStatus.CANCELLED,
}

_ACTION_WORDS = {
    InvtAction.DECLARE: ("申报", "declared"),
    InvtAction.APPROVE: ("审核通过", "approved"),
    InvtAction.REJECT: ("退单", "rejected"),
    InvtAction.CANCEL: ("删除", "cancelled"),
}


def next_status(invt_id: int, current: InvtStatus, action: InvtAction) -> InvtStatus:
    """The state after ``action``, or ``BZ-INVT-STATE`` naming the current state."""
    target = TRANSITIONS.get((current, action))
    if target is None:
        zh, en = _ACTION_WORDS[action]
        raise BzError("BZ-INVT-STATE", id=invt_id, status=current.value, action=action.value, action_zh=zh, action_en=en)
    return target


class InvtLine(NamedTuple):
    """A line (表体) of an inventory list: which book item, how much, in which stock status.

    A named tuple rather than a frozen dataclass: approval reads up to 10,000 of them.
    """

    gds_seqno: int
    putrec_seqno: int
    dcl_qty: Decimal
    dcl_unitcd: str
    stock_status: v.StockStatus
    gds_mtno: str
    gdecd: str
    gds_nm: str


@dataclass(frozen=True)
class InvtLineInput:
    """A line as the declarant sent it, before it is checked against the book."""

    gds_seqno: int
    putrec_seqno: int
    dcl_qty: object
    dcl_unitcd: str
    stock_status: str = v.StockStatus.BONDED.value
    gds_mtno: str | None = None
    gdecd: str | None = None


@dataclass(frozen=True)
class InventoryList:
    """核注清单 (L4). ``id`` is 0 until storage assigns one; ``version`` guards concurrent moves."""

    id: int
    etps_inner_invt_no: str
    putrec_no: str
    impexp_markcd: v.ImpexpMark
    supv_modecd: str
    flow: v.Flow
    dclcus_flag: str
    entry_no: str | None
    lines: tuple[InvtLine, ...]
    status: InvtStatus = InvtStatus.DRAFT
    version: int = 1
    bond_invt_no: str | None = None
    rmk: str | None = None
    owner_uscc: str = field(default="", compare=False)

    def moved(self, action: InvtAction) -> InventoryList:
        """The list after ``action``; the version moves with every state change."""
        return replace(self, status=next_status(self.id, self.status, action), version=self.version + 1)


def new_inventory_list(
    *,
    book: Book,
    items: Mapping[int, BookItem],
    etps_inner_invt_no: str,
    impexp_markcd: str,
    supv_modecd: str,
    flow: str,
    lines: Sequence[InvtLineInput],
    dclcus_flag: str | None = None,
    entry_no: str | None = None,
    rmk: str | None = None,
) -> InventoryList:
    """A draft list checked against its book; every error is collected and raised together.

    Each line must reference an item of the book, in the unit the book keeps it in; ``gdsMtno``
    and ``gdecd``, when sent, must agree with the item. Lines are numbered 1, 2, 3 … .
    """
    c = Collector()
    errors = c.errors
    attempt = c.check
    inner = attempt(lambda: v.text(etps_inner_invt_no, field="etpsInnerInvtNo", max_len=64))
    mark = attempt(lambda: _enum(v.ImpexpMark, impexp_markcd, "impexpMarkcd"))
    mode = attempt(lambda: v.supv_mode(supv_modecd))
    fl = attempt(lambda: _enum(v.Flow, flow, "flow"))
    flag = dclcus_flag if dclcus_flag is not None else ("2" if fl == v.Flow.INTRA_ZONE else "1")
    if flag not in ("1", "2"):
        errors.append(BzError("BZ-TEXT-INVALID", field="dclcusFlag", reason="must be 1 (报关) or 2 (非报关)"))
    entry = attempt(lambda: v.entry_no(entry_no)) if entry_no else None
    if entry and flag == "2":
        errors.append(
            BzError(
                "BZ-INVT-DCLCUS",
                reason_zh="非报关清单（dclcusFlag=2）不能关联报关单",
                reason_en="A non-declared list (dclcusFlag=2) cannot link a customs declaration",
            )
        )
    note = attempt(lambda: v.text(rmk, field="rmk", max_len=4000, min_len=0)) if rmk else None
    if not lines:
        errors.append(BzError("BZ-INVT-NO-LINES"))
    if len(lines) > MAX_LINES:
        raise BzError("BZ-INVT-TOO-MANY-LINES", limit=MAX_LINES, count=len(lines))
    checked: list[InvtLine] = []
    for position, line in enumerate(lines, start=1):
        if line.gds_seqno != position:
            errors.append(BzError("BZ-INVT-LINE-SEQNO", position=position, gdsSeqno=line.gds_seqno))
            continue
        made = _check_line(book, items, line, errors)
        if made is not None:
            checked.append(made)
    c.raise_if_any()
    return InventoryList(
        id=0,
        etps_inner_invt_no=str(inner),
        putrec_no=book.putrec_no,
        impexp_markcd=v.ImpexpMark(str(mark)),
        supv_modecd=str(mode),
        flow=v.Flow(str(fl)),
        dclcus_flag=flag,
        entry_no=str(entry) if entry else None,
        lines=tuple(checked),
        rmk=str(note) if note else None,
        owner_uscc=book.owner_uscc,
    )


def _enum(enum: type[StrEnum], value: str, field_name: str) -> str:
    try:
        return enum(value).value
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise BzError("BZ-TEXT-INVALID", field=field_name, reason=f"must be one of {allowed}") from None


def _check_line(book: Book, items: Mapping[int, BookItem], line: InvtLineInput, errors: list[BzError]) -> InvtLine | None:
    n = len(errors)
    item = items.get(line.putrec_seqno)
    if item is None:
        errors.append(
            BzError("BZ-INVT-UNKNOWN-ITEM", gdsSeqno=line.gds_seqno, putrecSeqno=line.putrec_seqno, putrecNo=book.putrec_no)
        )
        return None
    try:
        quantity = v.qty(line.dcl_qty)
    except BzError as e:
        e.detail["gdsSeqno"] = line.gds_seqno
        errors.append(e)
        quantity = Decimal(0)
    if line.dcl_unitcd != item.dcl_unitcd:
        errors.append(
            BzError("BZ-INVT-UNIT-MISMATCH", gdsSeqno=line.gds_seqno, dclUnitcd=line.dcl_unitcd, expected=item.dcl_unitcd)
        )
    for name, sent, expected in (("gdsMtno", line.gds_mtno, item.gds_mtno), ("gdecd", line.gdecd, item.gdecd)):
        if sent is not None and sent != expected:
            errors.append(BzError("BZ-INVT-ITEM-MISMATCH", gdsSeqno=line.gds_seqno, field=name, value=sent, expected=expected))
    try:
        status = v.StockStatus(line.stock_status)
    except ValueError:
        errors.append(BzError("BZ-TEXT-INVALID", field="stockStatus", reason="must be bonded or non_bonded"))
        status = v.StockStatus.BONDED
    if len(errors) > n:
        return None
    return InvtLine(
        gds_seqno=line.gds_seqno,
        putrec_seqno=item.putrec_seqno,
        dcl_qty=quantity,
        dcl_unitcd=item.dcl_unitcd,
        stock_status=status,
        gds_mtno=item.gds_mtno,
        gdecd=item.gdecd,
        gds_nm=item.gds_nm,
    )
