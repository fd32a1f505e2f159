"""Writing to the ledger and the chain: the one place that appends postings and state changes.

Every writer of a book first takes the book's chain head with :meth:`BookRepo.lock_head`, which
serialises writers of that book (and only of that book). Balances are read after the lock, so the
overdraw check sees every posting committed before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from operator import itemgetter
from typing import Any

from bondedzone.domain import chain, ledger
from bondedzone.domain import values as v
from bondedzone.domain.chain import ChainHead
from bondedzone.domain.ledger import DocType, Leg, StockKey
from bondedzone.services.ports import NewEvent, NewPosting, UnitOfWork


def _key_order(key: StockKey) -> tuple[int, str]:
    return (key.putrec_seqno, key.stock_status.value)


_NEW_POSTING_ORDER = (
    "seq",
    "putrec_seqno",
    "stock_status",
    "delta_units",
    "doc_type",
    "doc_id",
    "doc_line",
    "leg",
    "corrects",
    "recorded_at",
    "prev_hash",
    "hash",
)
if tuple(f.name for f in fields(NewPosting)) != _NEW_POSTING_ORDER:  # pragma: no cover - a guard for editors of ports.py
    raise ImportError("NewPosting's fields changed order: update ChainWriter.post, which builds it positionally")

# The payload fields that differ between the postings of one document, in the order the fast
# path passes them; every other field (book, document, timestamp) is the same for all of them.
_PER_LEG = ("seq", "putrecSeqno", "stockStatus", "delta", "docLine", "leg", "corrects")


def _json_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


_Template = tuple[str, Callable[[tuple[Any, ...]], Any]]


def _fast_template(first: dict[str, Any]) -> _Template | None:
    """The canonical text of the document's further postings as a ``%``-template, or None.

    A list of 10,000 lines makes 10,000 links, and rendering each payload through ``json.dumps``
    is most of the cost of approving it. The domain's own canonical text of the document's first
    payload, with each per-leg field replaced by a marker, becomes the template: key order,
    separators and the shared fields are exactly the domain's. The per-leg values go in, picked
    into template order, as their JSON text: ``int`` as is (``%s`` of an int is its JSON), strings
    and None already rendered. :meth:`ChainWriter.post` checks the template against
    :func:`chain.link_hash` on the first payload before trusting it.
    """
    marked = dict(first)
    markers = {}
    for name in _PER_LEG:
        if name not in marked:
            return None
        markers[name] = f"@@bz-slot-{name}@@"
        marked[name] = markers[name]
    text = chain.canonical(marked).replace("%", "%%")
    found: list[tuple[int, str]] = []
    for name, marker in markers.items():
        quoted = _json_str(marker)
        if text.count(quoted) != 1:
            return None
        found.append((text.index(quoted), name))
    for marker in markers.values():
        text = text.replace(_json_str(marker), "%s")
    if "@@bz-slot-" in text:
        return None
    return text, itemgetter(*[_PER_LEG.index(name) for _, name in sorted(found)])


def _link(prev_hash: str, template: _Template, values: tuple[Any, ...]) -> str:
    text, pick = template
    return hashlib.sha256((prev_hash + "\n" + text % pick(values)).encode()).hexdigest()


class ChainWriter:
    """Appends links to one book's chain within one unit of work; ``close()`` stores the head."""

    def __init__(self, uow: UnitOfWork, book_id: int, putrec_no: str) -> None:
        self.uow = uow
        self.book_id = book_id
        self.putrec_no = putrec_no
        self.head = uow.books.lock_head(book_id)
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
        """Check ``legs`` against the balances and post them all, or raise and post none."""
        # Same keys in the same order as ledger.keys_of, without a dataclass comparison per step.
        keys = sorted({leg.key for leg in legs}, key=_key_order)
        balances = self.uow.ledger.balances(self.book_id, keys)
        net = ledger.plan(balances, legs)
        doc = doc_type.value
        template: _Template | None = None
        text, sha256 = "", hashlib.sha256
        pick: Callable[[tuple[Any, ...]], Any] = itemgetter(0)
        texts: dict[str, str] = {}
        prev, seq, now = self.head.hash, self.head.seq, self.now
        rows: list[NewPosting] = []
        for n, leg in enumerate(legs):
            seq += 1
            delta_units = v.to_units(leg.delta)
            key = leg.key
            status = key.stock_status.value
            if template is not None:
                values = (
                    seq,
                    key.putrec_seqno,
                    texts.get(status) or texts.setdefault(status, _json_str(status)),
                    delta_units,
                    leg.doc_line,
                    leg.leg,
                    "null" if leg.corrects is None else leg.corrects,
                )
                h = sha256((prev + "\n" + text % pick(values)).encode()).hexdigest()
            else:
                payload = chain.posting_payload(
                    putrec_no=self.putrec_no,
                    seq=seq,
                    putrec_seqno=key.putrec_seqno,
                    stock_status=status,
                    delta_units=delta_units,
                    doc_type=doc,
                    doc_id=doc_id,
                    doc_line=leg.doc_line,
                    leg=leg.leg,
                    corrects=leg.corrects,
                    recorded_at=self.now,
                )
                h = chain.link_hash(prev, payload)
                if n == 0 and len(legs) > 1:
                    candidate = _fast_template(payload)
                    first = (
                        seq,
                        key.putrec_seqno,
                        _json_str(status),
                        delta_units,
                        leg.doc_line,
                        leg.leg,
                        json.dumps(leg.corrects),
                    )
                    if candidate is not None and _link(prev, candidate, first) == h:
                        template = candidate
                        text, pick = candidate
            # Positional: a third cheaper than keywords; _NEW_POSTING_ORDER pins the order at import.
            rows.append(
                NewPosting(
                    seq, key.putrec_seqno, status, delta_units, doc, doc_id, leg.doc_line, leg.leg, leg.corrects, now, prev, h
                )
            )
            prev = h
        self.uow.ledger.append(self.book_id, rows)
        self.uow.ledger.apply(self.book_id, net)
        self.head = ChainHead(seq, prev)

    def close(self) -> ChainHead:
        """Store the new head; call once, after the last append."""
        self.uow.books.set_head(self.book_id, self.head)
        return self.head
