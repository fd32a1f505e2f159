"""Reading the ledger, and correcting it (L2) — corrections are new postings, never edits."""

from __future__ import annotations

from dataclasses import dataclass

from bondedzone.domain import ledger
from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError
from bondedzone.domain.ledger import DocType, PostingView, StockKey
from bondedzone.services.authz import Action, Principal, require_role
from bondedzone.services.ports import PostingRow, StockRow, UnitOfWork
from bondedzone.services.posting import ChainWriter
from bondedzone.services.registry import book_for


def stock(uow: UnitOfWork, who: Principal, putrec_no: str) -> list[StockRow]:
    """Every balance of the book, per item × status."""
    rec = book_for(uow, who, putrec_no, Action.BOOK_READ)
    return uow.ledger.stock(rec.id)


def postings(
    uow: UnitOfWork,
    who: Principal,
    putrec_no: str,
    *,
    putrec_seqno: int | None,
    stock_status: str | None,
    limit: int,
    after_id: int,
) -> list[PostingRow]:
    """The postings behind a balance (or behind the whole book), oldest first, paged by id."""
    rec = book_for(uow, who, putrec_no, Action.BOOK_READ)
    if stock_status is not None:
        try:
            v.StockStatus(stock_status)
        except ValueError:
            raise BzError("BZ-TEXT-INVALID", field="stockStatus", reason="must be bonded or non_bonded") from None
    return uow.ledger.postings(rec.id, putrec_seqno=putrec_seqno, stock_status=stock_status, limit=limit, after_id=after_id)


@dataclass(frozen=True)
class CorrectPosting:
    """Command: a customs correction of one posting."""

    posting_id: int
    delta: str
    reason: str


@dataclass(frozen=True)
class Correction:
    """The correction as stored."""

    id: int
    putrec_no: str
    posting: PostingRow


def correct_posting(uow: UnitOfWork, who: Principal, cmd: CorrectPosting) -> Correction:
    """Post ``delta`` against the same balance, referencing the corrected posting."""
    require_role(who, Action.CORRECT)
    found = uow.ledger.posting(cmd.posting_id)
    if found is None:
        raise BzError("BZ-POSTING-NOT-FOUND", id=cmd.posting_id)
    book_id, row = found
    rec = uow.books.get_by_id(book_id)
    writer = ChainWriter(uow, book_id, rec.book.putrec_no)
    view = PostingView(
        id=row.id,
        putrec_no=row.putrec_no,
        key=StockKey(row.putrec_seqno, v.StockStatus(row.stock_status)),
        delta=row.delta,
        doc_type=DocType(row.doc_type),
        doc_id=row.doc_id,
        corrected_by_total=uow.ledger.corrected_total(row.id),
    )
    leg = ledger.correction_leg(view, cmd.delta, cmd.reason)
    writer.event(DocType.CORRECTION, row.id, None, "posted", who.subject, cmd.reason)
    # A correction's document is the corrected posting itself; its line numbers count corrections.
    earlier = uow.ledger.postings(book_id, doc_type=DocType.CORRECTION, doc_id=row.id, limit=100_000)
    writer.post(DocType.CORRECTION, row.id, [leg._replace(doc_line=len(earlier) + 1)])
    writer.close()
    # Only the posting just written: ids grow, so it is the one after the last earlier correction.
    last_id = earlier[-1].id if earlier else 0
    (made,) = uow.ledger.postings(book_id, doc_type=DocType.CORRECTION, doc_id=row.id, after_id=last_id, limit=2)
    return Correction(made.id, rec.book.putrec_no, made)
