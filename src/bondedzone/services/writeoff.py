"""M19: the book lifecycle (设立 / 暂停 / 核销 / 注销) and write-offs of logistics books.

The rules are in :mod:`bondedzone.domain.rules.m19_writeoff`; here they meet storage. Every
lifecycle change and every write-off decision is an event in the book's hash chain (so the audit
covers it), and an approved write-off posts its 盘盈/盘亏 to the ledger under the chain's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bondedzone.domain import ledger
from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError
from bondedzone.domain.ledger import DocType, Leg
from bondedzone.domain.model import Book
from bondedzone.domain.rules import m19_writeoff as m19
from bondedzone.domain.rules.m19_writeoff import BookStatus, WriteOffStatus
from bondedzone.services.authz import Action, Principal, Role, may, require_role
from bondedzone.services.ports import UnitOfWork, WriteOff
from bondedzone.services.posting import ChainWriter
from bondedzone.services.registry import book_for


def change_book(uow: UnitOfWork, who: Principal, putrec_no: str, action: str, reason: str | None = None) -> Book:
    """设立 / 暂停 / 恢复 / 注销 a book: a customs decision, recorded in the book's chain."""
    require_role(who, Action.BOOK_LIFECYCLE)
    act = m19.book_action(action)
    note = v.text(reason, field="reason", max_len=2000) if reason else None
    rec = book_for(uow, who, putrec_no, Action.BOOK_LIFECYCLE)
    writer = ChainWriter(uow, rec.id, rec.book.putrec_no)  # locks the book: no posting runs meanwhile
    target = m19.next_book_status(
        rec.book.putrec_no,
        writer.status,
        act,
        stock_left=uow.writeoffs.stock_left(rec.id),
        writeoffs_open=uow.writeoffs.open_count(rec.id),
    )
    uow.books.set_status(rec.id, target.value)
    writer.event(DocType.BOOK, rec.id, writer.status.value, target.value, who.subject, note)
    writer.close()
    return replace(rec.book, status=target.value)


def set_wms_driven(uow: UnitOfWork, who: Principal, putrec_no: str, on: bool) -> Book:
    """M3: let the book's ledger follow its WMS (AEO-advanced, WMS-networked enterprises only)."""
    require_role(who, Action.BOOK_LIFECYCLE)
    rec = book_for(uow, who, putrec_no, Action.BOOK_LIFECYCLE)
    if on:
        owner = uow.enterprises.get(rec.book.owner_uscc)
        assert owner is not None
        if owner.credit is not v.Credit.AEO_ADVANCED or not owner.wms_networked or rec.book.book_type is not v.BookType.LOGISTICS:
            raise BzError(
                "BZ-M3-NOT-ELIGIBLE",
                putrecNo=rec.book.putrec_no,
                credit=owner.credit.value,
                networked=owner.wms_networked,
                bookType=rec.book.book_type.value,
            )
    writer = ChainWriter(uow, rec.id, rec.book.putrec_no)
    uow.books.set_wms_driven(rec.id, on)
    writer.event(
        DocType.BOOK, rec.id, "list_driven" if on else "wms_driven", "wms_driven" if on else "list_driven", who.subject, None
    )
    writer.close()
    return replace(rec.book, wms_driven=on)


@dataclass(frozen=True)
class NewWriteOff:
    """Command: write off a book over ``[period_from, period_to]`` against its last stocktake in it."""

    putrec_no: str
    period_from: datetime
    period_to: datetime


def create(uow: UnitOfWork, who: Principal, cmd: NewWriteOff) -> WriteOff:
    """Compute a write-off: the ledger's figures per item and status against the stocktake."""
    rec = book_for(uow, who, cmd.putrec_no, Action.WRITEOFF_WRITE)
    now = uow.now()
    if cmd.period_from.tzinfo is None or cmd.period_to.tzinfo is None:
        raise BzError("BZ-RECON-PERIOD", reason_zh="时间须带时区", reason_en="times must carry a zone offset")
    if not cmd.period_from < cmd.period_to <= now:
        raise BzError("BZ-RECON-PERIOD", reason_zh="起始须早于截止，且截止不晚于当前", reason_en="need from < to <= now")
    if rec.book.status not in (BookStatus.ACTIVE.value, BookStatus.SUSPENDED.value):
        raise BzError("BZ-BOOK-NOT-ACTIVE", putrecNo=rec.book.putrec_no, status=rec.book.status)
    if (other := uow.writeoffs.overlapping(rec.id, cmd.period_from, cmd.period_to)) is not None:
        raise BzError("BZ-WRITEOFF-OVERLAP", putrecNo=rec.book.putrec_no, other=other)
    take = uow.writeoffs.latest_stocktake(rec.id, cmd.period_from, cmd.period_to)
    if take is None:
        raise BzError(
            "BZ-WRITEOFF-NO-STOCKTAKE",
            putrecNo=rec.book.putrec_no,
            periodFrom=cmd.period_from.isoformat(),
            periodTo=cmd.period_to.isoformat(),
        )
    opening, ins, outs = uow.writeoffs.ledger_figures(rec.id, cmd.period_from, take.taken_at)
    lines = m19.lines(uow.writeoffs.items(rec.id), opening, ins, outs, take.counted)
    wo = WriteOff(
        id=0,
        book_id=rec.id,
        putrec_no=rec.book.putrec_no,
        owner_uscc=rec.book.owner_uscc,
        owner_name="",
        period_from=cmd.period_from,
        period_to=take.taken_at,
        requested_to=cmd.period_to,
        snapshot_ref=take.snapshot_ref,
        status=WriteOffStatus.DRAFT,
        version=1,
        created_by=who.subject,
        created_at=now,
        lines=tuple(lines),
    )
    new_id = uow.writeoffs.add(wo)
    got = uow.writeoffs.get(new_id)
    assert got is not None
    return got


def _writeoff(uow: UnitOfWork, who: Principal, writeoff_id: int, action: Action, *, lock: bool = False) -> WriteOff:
    require_role(who, action)
    wo = uow.writeoffs.get(writeoff_id, lock=lock)
    if wo is None or not may(who, action, wo.owner_uscc):
        raise BzError("BZ-WRITEOFF-NOT-FOUND", id=writeoff_id)
    return wo


def get(uow: UnitOfWork, who: Principal, writeoff_id: int) -> WriteOff:
    """A write-off with its lines."""
    return _writeoff(uow, who, writeoff_id, Action.WRITEOFF_READ)


def search(uow: UnitOfWork, who: Principal, putrec_no: str | None, *, limit: int, offset: int) -> tuple[list[WriteOff], int]:
    """Write-offs of the books the caller may read, newest first."""
    require_role(who, Action.WRITEOFF_READ)
    if putrec_no is not None:
        ids = [book_for(uow, who, putrec_no, Action.WRITEOFF_READ).id]
    else:
        owner = who.uscc if who.role is Role.ENTERPRISE else None
        ids = list(uow.wms.books_of(owner).keys())
    return uow.writeoffs.search(ids, limit=limit, offset=offset)


def explain(uow: UnitOfWork, who: Principal, writeoff_id: int, notes: Sequence[tuple[int, str, str]]) -> WriteOff:
    """Explain differences: (putrecSeqno, stockStatus, text) per line."""
    wo = _writeoff(uow, who, writeoff_id, Action.WRITEOFF_WRITE, lock=True)
    m19.next_writeoff_status(wo.id, wo.status, "explain")
    known = {(ln.putrec_seqno, ln.stock_status) for ln in wo.lines}
    for seq, status, text in notes:
        if (seq, status) not in known:
            raise BzError("BZ-WRITEOFF-LINE", id=wo.id, line=f"{seq}/{status}")
        uow.writeoffs.explain(wo.id, seq, status, m19.explanation(text))
    if not uow.writeoffs.save(replace(wo, version=wo.version + 1), wo.version):
        raise BzError("BZ-WRITEOFF-STATE", id=wo.id, status=wo.status.value, action="explain")
    got = uow.writeoffs.get(wo.id)
    assert got is not None
    return got


def _move(uow: UnitOfWork, wo: WriteOff, action: str, **changes: object) -> WriteOff:
    target = m19.next_writeoff_status(wo.id, wo.status, action)
    moved = replace(wo, status=target, version=wo.version + 1, **changes)  # type: ignore[arg-type]
    if not uow.writeoffs.save(moved, wo.version):
        raise BzError("BZ-WRITEOFF-STATE", id=wo.id, status=wo.status.value, action=action)
    return moved


def submit(uow: UnitOfWork, who: Principal, writeoff_id: int) -> WriteOff:
    """The enterprise submits a write-off whose every difference is explained."""
    wo = _writeoff(uow, who, writeoff_id, Action.WRITEOFF_WRITE, lock=True)
    m19.next_writeoff_status(wo.id, wo.status, "submit")
    m19.require_explained(wo.id, wo.lines)
    moved = _move(uow, wo, "submit", submitted_at=uow.now())
    _event(uow, who, wo, moved, None)
    return moved


def cancel(uow: UnitOfWork, who: Principal, writeoff_id: int) -> WriteOff:
    """Withdraw a draft or returned write-off (to compute it again)."""
    wo = _writeoff(uow, who, writeoff_id, Action.WRITEOFF_WRITE, lock=True)
    moved = _move(uow, wo, "cancel")
    _event(uow, who, wo, moved, None)
    return moved


def decide(uow: UnitOfWork, who: Principal, writeoff_id: int, *, approve: bool, note: str | None) -> WriteOff:
    """Customs signs the write-off off (its differences are posted) or returns it with a reason."""
    wo = _writeoff(uow, who, writeoff_id, Action.WRITEOFF_DECIDE, lock=True)
    text = v.text(note, field="note", max_len=2000) if note else None
    if not approve and text is None:
        raise BzError("BZ-TEXT-INVALID", field="note", reason="a returned write-off needs the reason")
    m19.next_writeoff_status(wo.id, wo.status, "approve" if approve else "return")
    writer = ChainWriter(uow, wo.book_id, wo.putrec_no)
    if approve:
        legs = [
            Leg(n, 1, ledger.StockKey(ln.putrec_seqno, v.StockStatus(ln.stock_status)), ln.difference, None)
            for n, ln in enumerate(wo.lines, start=1)
            if ln.difference != 0
        ]
        if legs:
            writer.post(DocType.WRITEOFF, wo.id, legs)
    moved = _move(uow, wo, "approve" if approve else "return", decided_by=who.subject, decided_at=uow.now(), decision_note=text)
    writer.event(DocType.WRITEOFF, wo.id, wo.status.value, moved.status.value, who.subject, text)
    writer.close()
    return moved


def _event(uow: UnitOfWork, who: Principal, before: WriteOff, after: WriteOff, note: str | None) -> None:
    writer = ChainWriter(uow, before.book_id, before.putrec_no)
    writer.event(DocType.WRITEOFF, before.id, before.status.value, after.status.value, who.subject, note)
    writer.close()
