"""Receiving WMS data (M22/W1): batches of movements or stocktake lines, idempotent, record by record.

A networked warehouse sends its stock movements and stocktakes (measure 三: customs collects the
enterprise's own operating data), as an API request, an uploaded file or a file dropped into a
watched folder; all three end here.

* Every record is validated (:mod:`bondedzone.domain.wms`); each refusal names the record (and
  the file line), the field and the reason, in Chinese and English.
* By default a batch is all or nothing: one refused record and nothing is stored
  (``BZ-WMS-BATCH-REJECTED`` lists every refusal). With ``partial`` the valid records are stored
  and the answer lists the refused ones.
* Idempotent: a record already received (same ``wmsRef``, or for a stocktake line the same
  snapshot, book, item, status and location) with the same content is a duplicate and changes
  nothing; with other content it is refused (``BZ-WMS-REF-CONFLICT``) — a WMS corrects by a new
  movement, not by rewriting history. A batch sent again under the same ``batchRef`` gets the
  first answer back; overlapping batches store each record once.
* An item the book does not have is not refused: it is exactly what the comparison must show
  (``unknown_item``), so it is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bondedzone.domain import wms
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.ledger import DocType, Leg, StockKey
from bondedzone.domain.model import BookItem
from bondedzone.services.authz import Action, Principal, Role, forbidden, require_role
from bondedzone.services.ports import StockKey4, UnitOfWork
from bondedzone.services.posting import ChainWriter

Kind = Literal["movements", "stock"]
SOURCES = ("api", "upload", "folder")


@dataclass(frozen=True)
class RawRecord:
    """One record as received: its number in the batch, its line in the file (if any), its fields."""

    record: int
    line: int | None
    fields: Mapping[str, object]


def error_json(e: BzError) -> dict[str, Any]:
    """A refusal as the answer lists it."""
    d = e.public_detail()
    return {"code": e.code, "field": d.get("field"), "messages": {"zh": e.message("zh"), "en": e.message("en")}}


def _fingerprint(kind: str, records: Sequence[RawRecord]) -> str:
    canon = json.dumps([kind, [dict(r.fields) for r in records]], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest()


def _located(e: BzError, r: RawRecord) -> BzError:
    e.detail.setdefault("record", r.record)
    if r.line is not None:
        e.detail.setdefault("line", r.line)
    return e


def ingest(
    uow: UnitOfWork,
    who: Principal,
    kind: Kind,
    records: Sequence[RawRecord],
    *,
    batch_ref: str | None = None,
    partial: bool = False,
    source: str = "api",
    filename: str | None = None,
    read_errors: Sequence[BzError] = (),
) -> dict[str, Any]:
    """Store a batch; returns the answer for the sender (also stored with the batch)."""
    require_role(who, Action.WMS_WRITE)
    if who.role is not Role.ENTERPRISE or who.uscc is None:  # pragma: no cover - WMS_WRITE is enterprise-only
        raise forbidden(who, Action.WMS_WRITE)
    total = len(records) + len({e.detail.get("record") for e in read_errors})
    if total == 0:
        raise BzError("BZ-WMS-BATCH-EMPTY")
    if total > wms.MAX_BATCH:
        raise BzError("BZ-WMS-BATCH-TOO-LARGE", records=total, limit=wms.MAX_BATCH)
    if batch_ref is not None:
        batch_ref = wms.ref(batch_ref, "batchRef")
    enterprise_id = uow.wms.enterprise_id(who.uscc)
    if enterprise_id is None:  # pragma: no cover - a token's enterprise exists
        raise BzError("BZ-ENTERPRISE-NOT-FOUND", uscc=who.uscc)
    fingerprint = _fingerprint(kind, records)
    if batch_ref is not None and (prior := uow.wms.batch_by_ref(enterprise_id, batch_ref)) is not None:
        if prior.fingerprint != fingerprint:
            raise BzError("BZ-WMS-BATCH-REF-CONFLICT", batchRef=batch_ref)
        return {**prior.answer, "replayed": True}

    now = uow.now()
    rejected: dict[int, list[BzError]] = {}
    lines: dict[int, int | None] = {}
    for e in read_errors:
        n = int(e.detail.get("record", 0))
        rejected.setdefault(n, []).append(e)
        lines[n] = e.detail.get("line")
    parsed: list[tuple[RawRecord, wms.Movement | wms.StockLine]] = []
    for r in records:
        lines[r.record] = r.line
        try:
            rec: wms.Movement | wms.StockLine = (
                wms.movement(r.fields, now=now) if kind == "movements" else wms.stock_line(r.fields, now=now)
            )
        except ErrorGroup as g:
            rejected.setdefault(r.record, []).extend(_located(e, r) for e in g.errors)
            continue
        except BzError as e:
            rejected.setdefault(r.record, []).append(_located(e, r))
            continue
        parsed.append((r, rec))

    books = uow.wms.book_ids({rec.putrec_no for _, rec in parsed}, owner_uscc=who.uscc)
    fresh: list[tuple[int, Any]] = []
    duplicates = 0
    if kind == "movements":
        stored = uow.wms.movement_prints(enterprise_id, [rec.wms_ref for _, rec in parsed if isinstance(rec, wms.Movement)])
    else:
        keys = {_stock_key(rec, books) for _, rec in parsed if isinstance(rec, wms.StockLine) and rec.putrec_no in books}
        stored_stock = uow.wms.stock_prints(enterprise_id, keys)
    seen: dict[object, str] = {}
    for r, rec in parsed:
        if rec.putrec_no not in books:
            rejected.setdefault(r.record, []).append(
                _located(BzError("BZ-WMS-BOOK-UNKNOWN", field="putrecNo", putrecNo=rec.putrec_no), r)
            )
            continue
        if isinstance(rec, wms.Movement):
            key: object = rec.wms_ref
            prior_print = seen.get(key) or stored.get(rec.wms_ref)
            ref_field, ref_value = "wmsRef", rec.wms_ref
        else:
            key = _stock_key(rec, books)
            prior_print = seen.get(key) or stored_stock.get(key)
            ref_field, ref_value = "snapshotRef", f"{rec.snapshot_ref}/{rec.gds_mtno}/{rec.stock_status.value}/{rec.location}"
        if prior_print is not None:
            if prior_print == rec.fingerprint:
                duplicates += 1
                continue
            err = BzError("BZ-WMS-REF-CONFLICT", field=ref_field, refField=ref_field, ref=ref_value)
            rejected.setdefault(r.record, []).append(_located(err, r))
            continue
        seen[key] = rec.fingerprint
        fresh.append((books[rec.putrec_no], rec))

    driven = _wms_driven_books(uow, books) if kind == "movements" else {}
    if driven:
        for r, rec in list(parsed):
            if isinstance(rec, wms.Movement) and rec.putrec_no in driven and r.record not in rejected:
                problem = _m3_problem(rec, driven[rec.putrec_no])
                if problem is not None:
                    rejected.setdefault(r.record, []).append(_located(problem, r))
        refused = {id(rec) for r, rec in parsed if r.record in rejected}
        fresh = [(bid, rec) for bid, rec in fresh if id(rec) not in refused]
    n_rejected = len(rejected)
    if n_rejected and not partial:
        errors = [e for n in sorted(rejected) for e in rejected[n]]
        head = BzError("BZ-WMS-BATCH-REJECTED", rejected=n_rejected, records=total)
        raise ErrorGroup(errors, head=head)
    answer: dict[str, Any] = {
        "batchId": None,
        "batchRef": batch_ref,
        "kind": kind,
        "records": total,
        "accepted": len(fresh),
        "duplicates": duplicates,
        "rejected": n_rejected,
        "rejections": [
            {"record": n, "line": lines.get(n), "errors": [error_json(e) for e in rejected[n]]} for n in sorted(rejected)
        ],
        "replayed": False,
    }
    if not fresh and batch_ref is None:
        return answer  # nothing new, nothing to remember: a re-sent batch changes nothing
    batch_id = uow.wms.add_batch(
        enterprise_id=enterprise_id,
        batch_ref=batch_ref,
        fingerprint=fingerprint,
        kind=kind,
        source=source,
        filename=filename,
        counts=(total, len(fresh), duplicates, n_rejected),
        answer=answer,
    )
    answer["batchId"] = batch_id
    uow.wms.set_batch_answer(batch_id, answer)
    if kind == "movements":
        uow.wms.add_movements(enterprise_id, batch_id, fresh)
        for putrec_no, (book_id, items) in driven.items():
            _post_m3(uow, who, book_id, putrec_no, items, batch_id, [rec for bid, rec in fresh if bid == book_id])
    else:
        uow.wms.add_stock_lines(enterprise_id, batch_id, fresh)
    return answer


# -- M3: a WMS-driven book's ledger follows its movements -------------------------------------------

_M3_KINDS = (wms.MovementKind.RECEIPT, wms.MovementKind.ISSUE, wms.MovementKind.STATUS_CHANGE)


def _wms_driven_books(uow: UnitOfWork, books: Mapping[str, int]) -> dict[str, tuple[int, dict[str, BookItem]]]:
    out = {}
    for putrec_no, book_id in books.items():
        rec = uow.books.get(putrec_no)
        if rec is not None and rec.book.wms_driven:
            out[putrec_no] = (book_id, {it.gds_mtno: it for it in uow.books.items(book_id).values()})
    return out


def _m3_problem(m: wms.Movement, driven: tuple[int, dict[str, BookItem]]) -> BzError | None:
    """What keeps a movement of a WMS-driven book from posting: an unknown item or another unit."""
    if m.kind not in _M3_KINDS:
        return None
    item = driven[1].get(m.gds_mtno)
    if item is None:
        return BzError("BZ-WMS-M3-ITEM", field="gdsMtno", putrecNo=m.putrec_no, gdsMtno=m.gds_mtno)
    if item.dcl_unitcd != m.dcl_unitcd:
        return BzError("BZ-WMS-M3-UNIT", field="dclUnitcd", gdsMtno=m.gds_mtno, unit=m.dcl_unitcd, bookUnit=item.dcl_unitcd)
    return None


def _post_m3(
    uow: UnitOfWork, who: Principal, book_id: int, putrec_no: str, items: Mapping[str, BookItem], batch_id: int,
    moves: Sequence[Any],
) -> None:  # fmt: skip
    """Post the batch's movements of one WMS-driven book: receipts add, issues remove, status changes move."""
    legs: list[Leg] = []
    for n, m in enumerate(moves, start=1):
        if not isinstance(m, wms.Movement) or m.kind not in _M3_KINDS:
            continue
        seq = items[m.gds_mtno].putrec_seqno
        if m.kind is wms.MovementKind.RECEIPT:
            legs.append(Leg(n, 1, StockKey(seq, m.stock_status), m.units))
        elif m.kind is wms.MovementKind.ISSUE:
            legs.append(Leg(n, 1, StockKey(seq, m.stock_status), -m.units))
        else:
            assert m.from_status is not None
            legs.append(Leg(n, 1, StockKey(seq, m.from_status), -m.units))
            legs.append(Leg(n, 2, StockKey(seq, m.stock_status), m.units))
    if not legs:
        return
    writer = ChainWriter(uow, book_id, putrec_no)
    writer.post(DocType.WMS, batch_id, legs)
    writer.event(DocType.WMS, batch_id, None, "posted", who.subject, None)
    writer.close()


def _stock_key(s: wms.StockLine, books: Mapping[str, int]) -> StockKey4:
    return (s.snapshot_ref, books[s.putrec_no], s.gds_mtno, s.stock_status.value, s.location)
