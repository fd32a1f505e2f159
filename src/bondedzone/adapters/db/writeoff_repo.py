"""Storage of write-offs (M19): the period, the stocktake it is checked against, the lines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, update

from bondedzone.adapters.db import tables as t
from bondedzone.domain.rules.m19_writeoff import OPEN_WRITEOFFS, ItemInfo, Key, WriteOffLine, WriteOffStatus
from bondedzone.services.ports import Stocktake, WriteOff


class SqlWriteOffRepo:
    """SQLAlchemy Core implementation of :class:`bondedzone.services.ports.WriteOffRepo`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- what a write-off is computed from -----------------------------------------------------

    def items(self, book_id: int) -> dict[int, ItemInfo]:
        it = t.book_items.c
        q = select(it.putrec_seqno, it.gds_mtno, it.gds_nm, it.dcl_unitcd).where(it.book_id == book_id)
        return {
            int(r.putrec_seqno): ItemInfo(int(r.putrec_seqno), r.gds_mtno, r.gds_nm, r.dcl_unitcd) for r in self.conn.execute(q)
        }

    def ledger_figures(
        self, book_id: int, period_from: datetime, until: datetime
    ) -> tuple[dict[Key, int], dict[Key, int], dict[Key, int]]:
        """Opening balance before ``period_from``; what came in and went out in ``[period_from, until]``."""
        p = t.postings.c
        key = (p.putrec_seqno, p.stock_status)
        opening = {
            (int(r.putrec_seqno), r.stock_status): int(r.q)
            for r in self.conn.execute(
                select(*key, func.sum(p.delta).label("q")).where(p.book_id == book_id, p.recorded_at < period_from).group_by(*key)
            )
        }
        ins: dict[Key, int] = {}
        outs: dict[Key, int] = {}
        q = (
            select(
                *key,
                func.sum(case((p.delta > 0, p.delta), else_=0)).label("ins"),
                func.sum(case((p.delta < 0, -p.delta), else_=0)).label("outs"),
            )
            .where(p.book_id == book_id, p.recorded_at >= period_from, p.recorded_at <= until)
            .group_by(*key)
        )
        for r in self.conn.execute(q):
            k = (int(r.putrec_seqno), r.stock_status)
            if r.ins:
                ins[k] = int(r.ins)
            if r.outs:
                outs[k] = int(r.outs)
        return opening, ins, outs

    def stock_left(self, book_id: int) -> int:
        s = t.stock_balances.c
        q = select(func.count()).select_from(t.stock_balances).where(s.book_id == book_id, s.quantity != 0)
        return int(self.conn.execute(q).scalar_one())

    def latest_stocktake(self, book_id: int, period_from: datetime, period_to: datetime) -> Stocktake | None:
        s = t.wms_stock_lines.c
        top = self.conn.execute(
            select(s.taken_at, s.snapshot_ref)
            .where(s.book_id == book_id, s.taken_at >= period_from, s.taken_at <= period_to)
            .order_by(s.taken_at.desc(), s.snapshot_ref.desc())
            .limit(1)
        ).first()
        if top is None:
            return None
        counted: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
        q = (
            select(s.gds_mtno, s.stock_status, s.dcl_unitcd, func.sum(s.units).label("q"))
            .where(s.book_id == book_id, s.snapshot_ref == top.snapshot_ref)
            .group_by(s.gds_mtno, s.stock_status, s.dcl_unitcd)
            .order_by(s.gds_mtno, s.stock_status, s.dcl_unitcd)
        )
        for r in self.conn.execute(q):
            prior = counted[r.gds_mtno].get(r.stock_status)
            # Several units for one item and status: the quantities are added and the unit shown is
            # the last, which then differs from the book's for at least one of them.
            counted[r.gds_mtno][r.stock_status] = ((prior[0] if prior else 0) + int(r.q), r.dcl_unitcd)
        return Stocktake(top.snapshot_ref, top.taken_at, dict(counted))

    def overlapping(self, book_id: int, period_from: datetime, period_to: datetime) -> int | None:
        w = t.writeoffs.c
        q = select(w.id).where(
            w.book_id == book_id,
            w.status != "cancelled",
            and_(w.period_from < period_to, w.requested_to > period_from),
        )
        r = self.conn.execute(q.limit(1)).first()
        return int(r.id) if r else None

    def open_count(self, book_id: int) -> int:
        w = t.writeoffs.c
        q = (
            select(func.count())
            .select_from(t.writeoffs)
            .where(w.book_id == book_id, w.status.in_([s.value for s in OPEN_WRITEOFFS]))
        )
        return int(self.conn.execute(q).scalar_one())

    # -- write-offs ----------------------------------------------------------------------------

    def add(self, wo: WriteOff) -> int:
        new_id = int(
            self.conn.execute(
                insert(t.writeoffs)
                .values(
                    book_id=wo.book_id,
                    period_from=wo.period_from,
                    period_to=wo.period_to,
                    requested_to=wo.requested_to,
                    snapshot_ref=wo.snapshot_ref,
                    status=wo.status.value,
                    version=wo.version,
                    created_by=wo.created_by,
                    created_at=wo.created_at,
                )
                .returning(t.writeoffs.c.id)
            ).scalar_one()
        )
        if wo.lines:
            self.conn.execute(
                insert(t.writeoff_lines),
                [
                    {
                        "writeoff_id": new_id,
                        "putrec_seqno": ln.putrec_seqno,
                        "stock_status": ln.stock_status,
                        "gds_mtno": ln.gds_mtno,
                        "gds_nm": ln.gds_nm,
                        "dcl_unitcd": ln.dcl_unitcd,
                        "opening": ln.opening,
                        "in_units": ln.in_units,
                        "out_units": ln.out_units,
                        "counted": ln.counted,
                        "counted_unitcd": ln.counted_unitcd,
                        "explanation": ln.explanation,
                    }
                    for ln in wo.lines
                ],
            )
        return new_id

    def get(self, writeoff_id: int, *, lock: bool = False) -> WriteOff | None:
        w, b, e = t.writeoffs.c, t.books.c, t.enterprises.c
        q = (
            select(t.writeoffs, b.putrec_no, e.uscc, e.name)
            .join(t.books, b.id == w.book_id)
            .join(t.enterprises, e.id == b.enterprise_id)
            .where(w.id == writeoff_id)
        )
        if lock and self.conn.dialect.name == "postgresql":
            q = q.with_for_update(of=t.writeoffs)
        r = self.conn.execute(q).first()
        if r is None:
            return None
        ln = t.writeoff_lines.c
        rows = self.conn.execute(
            select(t.writeoff_lines).where(ln.writeoff_id == writeoff_id).order_by(ln.putrec_seqno, ln.stock_status)
        ).all()
        return self._writeoff(r, [self._line(x) for x in rows])

    def search(self, book_ids: Sequence[int], *, limit: int, offset: int) -> tuple[list[WriteOff], int]:
        w, b, e = t.writeoffs.c, t.books.c, t.enterprises.c
        where = w.book_id.in_(sorted(book_ids))
        total = int(self.conn.execute(select(func.count()).select_from(t.writeoffs).where(where)).scalar_one())
        q = (
            select(t.writeoffs, b.putrec_no, e.uscc, e.name)
            .join(t.books, b.id == w.book_id)
            .join(t.enterprises, e.id == b.enterprise_id)
            .where(where)
            .order_by(w.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [self._writeoff(r, []) for r in self.conn.execute(q)], total

    def save(self, wo: WriteOff, expected_version: int) -> bool:
        w = t.writeoffs.c
        r = self.conn.execute(
            update(t.writeoffs)
            .where(w.id == wo.id, w.version == expected_version)
            .values(
                status=wo.status.value,
                version=wo.version,
                submitted_at=wo.submitted_at,
                decided_by=wo.decided_by,
                decided_at=wo.decided_at,
                decision_note=wo.decision_note,
            )
        )
        return bool(r.rowcount == 1)

    def explain(self, writeoff_id: int, putrec_seqno: int, stock_status: str, text: str) -> bool:
        ln = t.writeoff_lines.c
        r = self.conn.execute(
            update(t.writeoff_lines)
            .where(ln.writeoff_id == writeoff_id, ln.putrec_seqno == putrec_seqno, ln.stock_status == stock_status)
            .values(explanation=text)
        )
        return bool(r.rowcount == 1)

    @staticmethod
    def _line(r: Any) -> WriteOffLine:
        return WriteOffLine(
            putrec_seqno=int(r.putrec_seqno),
            gds_mtno=r.gds_mtno,
            gds_nm=r.gds_nm,
            stock_status=r.stock_status,
            dcl_unitcd=r.dcl_unitcd,
            opening=int(r.opening),
            in_units=int(r.in_units),
            out_units=int(r.out_units),
            counted=int(r.counted) if r.counted is not None else None,
            counted_unitcd=r.counted_unitcd,
            explanation=r.explanation,
        )

    @staticmethod
    def _writeoff(r: Any, lines: list[WriteOffLine]) -> WriteOff:
        return WriteOff(
            id=int(r.id),
            book_id=int(r.book_id),
            putrec_no=r.putrec_no,
            owner_uscc=r.uscc,
            owner_name=r.name,
            period_from=r.period_from,
            period_to=r.period_to,
            requested_to=r.requested_to,
            snapshot_ref=r.snapshot_ref,
            status=WriteOffStatus(r.status),
            version=int(r.version),
            created_by=r.created_by,
            created_at=r.created_at,
            submitted_at=r.submitted_at,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            decision_note=r.decision_note,
            lines=tuple(lines),
        )
