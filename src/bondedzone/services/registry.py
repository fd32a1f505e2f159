"""L1: enterprises, books and book items."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bondedzone.domain.errors import BzError
from bondedzone.domain.model import Book, BookItem, Enterprise
from bondedzone.domain.rules.m19_writeoff import BookStatus
from bondedzone.services.authz import Action, Principal, Role, may, require_role
from bondedzone.services.ports import BookRecord, UnitOfWork


@dataclass(frozen=True)
class RegisterEnterprise:
    """Command: register an enterprise."""

    uscc: str
    customs_code: str
    name: str
    credit: str
    wms_networked: bool = False
    inside_fence: bool = True


def register_enterprise(uow: UnitOfWork, who: Principal, cmd: RegisterEnterprise) -> Enterprise:
    """Register an enterprise; USCC and customs code must both be new."""
    require_role(who, Action.ENTERPRISE_REGISTER)
    ent = Enterprise.register(
        uscc=cmd.uscc,
        customs_code=cmd.customs_code,
        name=cmd.name,
        credit=cmd.credit,
        wms_networked=cmd.wms_networked,
        inside_fence=cmd.inside_fence,
    )
    if uow.enterprises.get(ent.uscc) is not None:
        raise BzError("BZ-ENTERPRISE-DUPLICATE", value=ent.uscc)
    if uow.enterprises.customs_code_taken(ent.customs_code):
        raise BzError("BZ-ENTERPRISE-DUPLICATE", value=ent.customs_code)
    uow.enterprises.add(ent)
    return ent


def get_enterprise(uow: UnitOfWork, who: Principal, uscc: str) -> Enterprise:
    """One enterprise; an enterprise may read only itself."""
    require_role(who, Action.ENTERPRISE_READ)
    ent = uow.enterprises.get(uscc)
    if ent is None or not may(who, Action.ENTERPRISE_READ, ent.uscc):
        raise BzError("BZ-ENTERPRISE-NOT-FOUND", uscc=uscc)
    return ent


def list_enterprises(uow: UnitOfWork, who: Principal) -> list[Enterprise]:
    """Every enterprise the caller may see."""
    require_role(who, Action.ENTERPRISE_READ)
    return uow.enterprises.all(who.uscc if who.role is Role.ENTERPRISE else None)


@dataclass(frozen=True)
class OpenBook:
    """Command: 设立 a book."""

    putrec_no: str
    book_type: str
    uscc: str
    master_cuscd: str


def open_book(uow: UnitOfWork, who: Principal, cmd: OpenBook) -> Book:
    """Open a book for an enterprise inside the fence."""
    require_role(who, Action.BOOK_OPEN)
    owner = uow.enterprises.get(cmd.uscc)
    if owner is None or not may(who, Action.BOOK_OPEN, owner.uscc):
        raise BzError("BZ-ENTERPRISE-NOT-FOUND", uscc=cmd.uscc)
    book = Book.open(putrec_no=cmd.putrec_no, book_type=cmd.book_type, owner=owner, master_cuscd=cmd.master_cuscd)
    if uow.books.get(book.putrec_no) is not None:
        raise BzError("BZ-BOOK-DUPLICATE", putrecNo=book.putrec_no)
    # M19: customs sets a book up (设立); an enterprise's own request waits for customs to open it.
    status = BookStatus.APPLIED if who.role is Role.ENTERPRISE else BookStatus.ACTIVE
    uow.books.add(book, status.value)
    return replace(book, status=status.value)


def book_for(uow: UnitOfWork, who: Principal, putrec_no: str, action: Action) -> BookRecord:
    """The book, if it exists and ``who`` may do ``action`` on it; else not-found."""
    require_role(who, action)
    rec = uow.books.get(putrec_no)
    if rec is None or not may(who, action, rec.book.owner_uscc):
        raise BzError("BZ-BOOK-NOT-FOUND", putrecNo=putrec_no)
    return rec


def list_books(uow: UnitOfWork, who: Principal) -> list[Book]:
    """Books the caller may read."""
    require_role(who, Action.BOOK_READ)
    return uow.books.all(who.uscc if who.role is Role.ENTERPRISE else None)


@dataclass(frozen=True)
class AddBookItem:
    """Command: record a book item (备案)."""

    putrec_no: str
    putrec_seqno: int
    gds_mtno: str
    gdecd: str
    gds_nm: str
    dcl_unitcd: str


def add_book_item(uow: UnitOfWork, who: Principal, cmd: AddBookItem) -> BookItem:
    """Add an item; its number and part number must be new in the book."""
    rec = book_for(uow, who, cmd.putrec_no, Action.ITEM_ADD)
    item = BookItem.record(
        putrec_seqno=cmd.putrec_seqno, gds_mtno=cmd.gds_mtno, gdecd=cmd.gdecd, gds_nm=cmd.gds_nm, dcl_unitcd=cmd.dcl_unitcd
    )
    if uow.books.item_taken(rec.id, item.putrec_seqno, item.gds_mtno):
        raise BzError("BZ-ITEM-DUPLICATE", putrecNo=cmd.putrec_no, putrecSeqno=item.putrec_seqno, gdsMtno=item.gds_mtno)
    uow.books.add_item(rec.id, item)
    return item


def list_items(uow: UnitOfWork, who: Principal, putrec_no: str) -> list[BookItem]:
    """Every item of a book, by number."""
    rec = book_for(uow, who, putrec_no, Action.BOOK_READ)
    return [it for _, it in sorted(uow.books.items(rec.id).items())]
