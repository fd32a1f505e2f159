"""M9: status conversion posts directly to the ledger, with no gate crossing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bondedzone.domain.errors import BzError
from bondedzone.domain.ledger import DocType
from bondedzone.domain.rules.m9_status_conversion import (
    ConversionLineInput,
    StatusConversion,
    conversion_legs,
    new_status_conversion,
)
from bondedzone.services.authz import Action, Principal, require_role
from bondedzone.services.ports import UnitOfWork
from bondedzone.services.posting import ChainWriter
from bondedzone.services.registry import book_for


@dataclass(frozen=True)
class ConvertStatus:
    """Command: convert stock between bonded and non-bonded on the strength of a declaration."""

    putrec_no: str
    entry_no: str
    from_status: str
    to_status: str
    lines: Sequence[ConversionLineInput]
    rmk: str | None = None


def convert_status(uow: UnitOfWork, who: Principal, cmd: ConvertStatus) -> StatusConversion:
    """核减 the source status and 核增 the target status of every line, or refuse all of it.

    One declaration backs at most one conversion in a book, so a retried conversion cannot
    post twice even without an idempotency key.
    """
    rec = book_for(uow, who, cmd.putrec_no, Action.CONVERT)
    items = uow.books.items(rec.id, {line.putrec_seqno for line in cmd.lines})
    conv = new_status_conversion(
        book=rec.book,
        items=items,
        entry_no=cmd.entry_no,
        from_status=cmd.from_status,
        to_status=cmd.to_status,
        lines=cmd.lines,
        rmk=cmd.rmk,
    )
    writer = ChainWriter(uow, rec.id, rec.book.putrec_no)
    if uow.conversions.find_entry(rec.id, conv.entry_no) is not None:
        raise BzError("BZ-CONV-DUPLICATE", entryNo=conv.entry_no, putrecNo=rec.book.putrec_no)
    stored = uow.conversions.add(rec.id, conv)
    writer.event(DocType.CONVERSION, stored.id, None, "posted", who.subject, cmd.rmk)
    writer.post(DocType.CONVERSION, stored.id, conversion_legs(stored))
    writer.close()
    return stored


def get_conversion(uow: UnitOfWork, who: Principal, conv_id: int) -> StatusConversion:
    """One conversion, if the caller may see its book."""
    require_role(who, Action.BOOK_READ)  # a role that may never read is told so, not "not found"
    conv = uow.conversions.get(conv_id)
    if conv is None:
        raise BzError("BZ-CONV-NOT-FOUND", id=conv_id)
    try:
        book_for(uow, who, conv.putrec_no, Action.BOOK_READ)
    except BzError:
        raise BzError("BZ-CONV-NOT-FOUND", id=conv_id) from None
    return conv
