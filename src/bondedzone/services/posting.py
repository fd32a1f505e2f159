"""Writing to the ledger and the chain: the one place that appends postings and state changes.

Every writer of a book first takes the book's chain head with :meth:`BookRepo.lock_head`, which
serialises writers of that book (and only of that book). Balances are read after the lock, so the
overdraw check sees every posting committed before it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bondedzone.domain import chain, ledger
from bondedzone.domain.chain import ChainHead
from bondedzone.domain.ledger import DocType, Leg
from bondedzone.domain.rules import m19_writeoff
from bondedzone.services.ports import NewEvent, NewPosting, UnitOfWork


class ChainWriter:
    """Appends links to one book's chain within one unit of work; ``close()`` stores the head."""

    def __init__(self, uow: UnitOfWork, book_id: int, putrec_no: str) -> None:
        self.uow = uow
        self.book_id = book_id
        self.putrec_no = putrec_no
        self.head, status = uow.books.lock_for_posting(book_id)
        self.status = m19_writeoff.BookStatus(status)
        self.now = uow.now()

    def event(
        self, doc_type: DocType, doc_id: int, from_status: str | None, to_status: str, actor: str, reason: str | None
    ) -> None:
        """Record a state change of a document of this book."""
        seq = self.head.seq + 1
        payload = chain.event_payload(
            putrec_no=self.putrec_no,
            seq=seq,
            doc_type=doc_type.value,
            doc_id=doc_id,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            reason=reason,
            recorded_at=self.now,
        )
        (link,), self.head = chain.extend(self.head, [payload])
        self.uow.ledger.append_event(
            self.book_id,
            NewEvent(seq, doc_type.value, doc_id, from_status, to_status, actor, reason, self.now, link.prev_hash, link.hash),
        )

    def post(self, doc_type: DocType, doc_id: int, legs: Sequence[Leg]) -> None:
        """Check ``legs`` against the balances and post them all, or raise and post none.

        Only an active book posts (M19): a suspended, closed or merely applied-for book refuses.
        """
        m19_writeoff.require_posting(self.putrec_no, self.status)
        balances = self.uow.ledger.balances(self.book_id, ledger.keys_of(legs))
        net = ledger.plan(balances, legs)
        doc, now, recorded_at = doc_type.value, self.now, chain.timestamp(self.now)
        prev, seq = self.head.hash, self.head.seq
        rows: list[NewPosting] = []
        render, digest, putrec_no = chain.posting_text, chain.text_hash, self.putrec_no
        for doc_line, leg_no, (putrec_seqno, stock_status), units, corrects in legs:
            seq += 1
            status = str(stock_status)  # a StrEnum's str() is its value, without the enum descriptor
            h = digest(
                prev,
                render(putrec_no, seq, putrec_seqno, status, units, doc, doc_id, doc_line, leg_no, corrects, recorded_at),
            )
            rows.append(NewPosting(seq, putrec_seqno, status, units, doc, doc_id, doc_line, leg_no, corrects, now, prev, h))
            prev = h
        self.uow.ledger.append(self.book_id, rows)
        self.uow.ledger.apply(self.book_id, net)
        self.head = ChainHead(seq, prev)

    def close(self) -> ChainHead:
        """Store the new head; call once, after the last append."""
        self.uow.books.set_head(self.book_id, self.head)
        return self.head
