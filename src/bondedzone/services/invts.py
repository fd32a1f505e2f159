"""L4: inventory lists (核注清单) through draft → declared → approved / rejected / cancelled.

Approval is the only move that posts, and it posts every line in the same transaction as the
state change: either the list is approved and all its lines are in the ledger, or neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bondedzone.domain.errors import BzError
from bondedzone.domain.ledger import DocType, invt_legs
from bondedzone.domain.model import InventoryList, InvtAction, InvtLineInput, InvtStatus, new_inventory_list
from bondedzone.services.authz import Action, Principal, Role, may, require_role
from bondedzone.services.ports import EventRow, PostingRow, UnitOfWork
from bondedzone.services.posting import ChainWriter
from bondedzone.services.registry import book_for


@dataclass(frozen=True)
class CreateInvt:
    """Command: enter a draft inventory list."""

    etps_inner_invt_no: str
    putrec_no: str
    impexp_markcd: str
    supv_modecd: str
    flow: str
    lines: Sequence[InvtLineInput]
    dclcus_flag: str | None = None
    entry_no: str | None = None
    rmk: str | None = None


def create_invt(uow: UnitOfWork, who: Principal, cmd: CreateInvt) -> InventoryList:
    """A draft list, checked line by line against the book (nothing posts yet)."""
    rec = book_for(uow, who, cmd.putrec_no, Action.INVT_WRITE)
    items = uow.books.items(rec.id, {line.putrec_seqno for line in cmd.lines})
    invt = new_inventory_list(
        book=rec.book,
        items=items,
        etps_inner_invt_no=cmd.etps_inner_invt_no,
        impexp_markcd=cmd.impexp_markcd,
        supv_modecd=cmd.supv_modecd,
        flow=cmd.flow,
        lines=cmd.lines,
        dclcus_flag=cmd.dclcus_flag,
        entry_no=cmd.entry_no,
        rmk=cmd.rmk,
    )
    writer = ChainWriter(uow, rec.id, rec.book.putrec_no)
    if uow.invts.find_inner(rec.id, invt.etps_inner_invt_no) is not None:
        raise BzError("BZ-INVT-DUPLICATE", etpsInnerInvtNo=invt.etps_inner_invt_no, putrecNo=rec.book.putrec_no)
    stored = uow.invts.add(rec.id, invt)
    writer.event(DocType.INVT, stored.id, None, stored.status.value, who.subject, None)
    writer.close()
    return stored


def _visible(uow: UnitOfWork, who: Principal, invt_id: int, action: Action) -> InventoryList:
    require_role(who, action)
    invt = uow.invts.get(invt_id, with_lines=False)
    if invt is None or not may(who, action, invt.owner_uscc):
        raise BzError("BZ-INVT-NOT-FOUND", id=invt_id)
    return invt


def get_invt(uow: UnitOfWork, who: Principal, invt_id: int) -> InventoryList:
    """One list with its lines."""
    _visible(uow, who, invt_id, Action.INVT_READ)
    invt = uow.invts.get(invt_id)
    assert invt is not None
    return invt


def list_invts(
    uow: UnitOfWork, who: Principal, *, putrec_no: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[InventoryList], int]:
    """Headers of the lists the caller may read, newest first."""
    require_role(who, Action.INVT_READ)
    owner = who.uscc if who.role is Role.ENTERPRISE else None
    return uow.invts.search(owner_uscc=owner, putrec_no=putrec_no, status=status, limit=limit, offset=offset)


def _move(uow: UnitOfWork, who: Principal, invt_id: int, move: InvtAction, reason: str | None) -> InventoryList:
    action = Action.INVT_DECIDE if move in (InvtAction.APPROVE, InvtAction.REJECT) else Action.INVT_WRITE
    seen = _visible(uow, who, invt_id, action)
    rec = uow.books.get(seen.putrec_no)
    assert rec is not None
    writer = ChainWriter(uow, rec.id, rec.book.putrec_no)  # serialises writers of this book
    current = uow.invts.get(invt_id, with_lines=False)
    assert current is not None
    moved = current.moved(move)
    if move is InvtAction.DECLARE:
        year = writer.now.strftime("%y")
        moved = replace(moved, bond_invt_no=f"QD{rec.book.master_cuscd}{year}{moved.impexp_markcd.value}{invt_id:09d}")
    if not uow.invts.save_status(moved, expected_version=current.version):
        raise BzError("BZ-INVT-CONCURRENT", id=invt_id)
    writer.event(DocType.INVT, invt_id, current.status.value, moved.status.value, who.subject, reason)
    if moved.status is InvtStatus.APPROVED and not rec.book.wms_driven:
        # Approval reads only what it posts of each line (item, status, units), not the descriptions.
        # A WMS-driven book (M3) posts its movements instead; the list stays the declaration the
        # comparison checks them against.
        writer.post(DocType.INVT, invt_id, invt_legs(current.impexp_markcd, uow.invts.amounts(invt_id)))
    writer.close()
    return moved


def declare_invt(uow: UnitOfWork, who: Principal, invt_id: int) -> InventoryList:
    """Draft → declared; the list receives its bondInvtNo (QD + 关区 + YY + I/E + 9-digit serial)."""
    return _move(uow, who, invt_id, InvtAction.DECLARE, None)


def approve_invt(uow: UnitOfWork, who: Principal, invt_id: int) -> InventoryList:
    """Declared → approved, posting every line (核增 for I, 核减 for E) or refusing the whole list."""
    return _move(uow, who, invt_id, InvtAction.APPROVE, None)


def reject_invt(uow: UnitOfWork, who: Principal, invt_id: int, reason: str | None) -> InventoryList:
    """Declared → rejected (退单); nothing posts."""
    return _move(uow, who, invt_id, InvtAction.REJECT, reason)


def cancel_invt(uow: UnitOfWork, who: Principal, invt_id: int, reason: str | None) -> InventoryList:
    """Draft or declared → cancelled (删单); nothing posts, ever, for this list."""
    return _move(uow, who, invt_id, InvtAction.CANCEL, reason)


def invt_history(uow: UnitOfWork, who: Principal, invt_id: int) -> tuple[InventoryList, list[EventRow], list[PostingRow]]:
    """The list's state changes and the postings it caused, in chain order."""
    invt = _visible(uow, who, invt_id, Action.INVT_READ)
    rec = uow.books.get(invt.putrec_no)
    assert rec is not None
    events = uow.ledger.events(rec.id, DocType.INVT, invt_id)
    postings = uow.ledger.postings(rec.id, doc_type=DocType.INVT, doc_id=invt_id, limit=100_000)
    return invt, events, postings
