"""The unit of work and its repositories, on SQLAlchemy Core."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, Self

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from bondedzone.adapters.db import tables as t
from bondedzone.adapters.db.gate_repo import SqlGateRepo
from bondedzone.adapters.db.wms_repo import SqlWmsRepo
from bondedzone.adapters.db.writeoff_repo import SqlWriteOffRepo
from bondedzone.domain import chain
from bondedzone.domain import values as v
from bondedzone.domain.chain import ChainHead, StoredLink
from bondedzone.domain.ledger import DocType, LineAmount, StockKey
from bondedzone.domain.model import Book, BookItem, Enterprise, InventoryList, InvtLine, InvtStatus
from bondedzone.domain.rules.m9_status_conversion import ConversionLine, StatusConversion
from bondedzone.services.ports import (
    BookRecord,
    EventRow,
    NewEvent,
    NewPosting,
    PostingRow,
    StockRow,
    StoredResponse,
    TokenRecord,
)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


_STOCK_STATUS = {s.value: s for s in v.StockStatus}


def _stock_status(value: str) -> v.StockStatus:
    found = _STOCK_STATUS.get(value)
    return found if found is not None else v.StockStatus(value)


class _Repo:
    def __init__(self, conn: Connection, clock: Clock = utcnow) -> None:
        self.conn = conn
        self.clock = clock

    @property
    def is_pg(self) -> bool:
        return self.conn.dialect.name == "postgresql"


class SqlEnterpriseRepo(_Repo):
    def add(self, e: Enterprise) -> None:
        self.conn.execute(
            t.enterprises.insert().values(
                uscc=e.uscc,
                customs_code=e.customs_code,
                name=e.name,
                credit=e.credit.value,
                wms_networked=e.wms_networked,
                inside_fence=e.inside_fence,
            )
        )

    @staticmethod
    def _ent(r: Any) -> Enterprise:
        return Enterprise(r.uscc, r.customs_code, r.name, v.Credit(r.credit), r.wms_networked, r.inside_fence)

    def get(self, uscc: str) -> Enterprise | None:
        r = self.conn.execute(select(t.enterprises).where(t.enterprises.c.uscc == uscc)).first()
        return self._ent(r) if r else None

    def customs_code_taken(self, code: str) -> bool:
        return self.conn.execute(select(t.enterprises.c.id).where(t.enterprises.c.customs_code == code)).first() is not None

    def all(self, uscc: str | None = None) -> list[Enterprise]:
        q = select(t.enterprises).order_by(t.enterprises.c.id)
        if uscc is not None:
            q = q.where(t.enterprises.c.uscc == uscc)
        return [self._ent(r) for r in self.conn.execute(q)]


_BOOK_COLS = (
    t.books.c.id,
    t.books.c.putrec_no,
    t.books.c.book_type,
    t.books.c.master_cuscd,
    t.enterprises.c.uscc,
    t.books.c.status,
    t.books.c.wms_driven,
)


class SqlBookRepo(_Repo):
    def add(self, book: Book, status: str = "active") -> int:
        ent_id = self.conn.execute(select(t.enterprises.c.id).where(t.enterprises.c.uscc == book.owner_uscc)).scalar_one()
        res = self.conn.execute(
            t.books.insert().values(
                putrec_no=book.putrec_no,
                book_type=book.book_type.value,
                enterprise_id=ent_id,
                master_cuscd=book.master_cuscd,
                chain_seq=0,
                chain_head=chain.GENESIS,
                status=status,
            )
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def _q(self) -> Any:
        return select(*_BOOK_COLS).join(t.enterprises, t.enterprises.c.id == t.books.c.enterprise_id)

    @staticmethod
    def _rec(r: Any) -> BookRecord:
        return BookRecord(r.id, Book(r.putrec_no, v.BookType(r.book_type), r.uscc, r.master_cuscd, r.status, bool(r.wms_driven)))

    def get(self, putrec_no: str) -> BookRecord | None:
        r = self.conn.execute(self._q().where(t.books.c.putrec_no == putrec_no)).first()
        return self._rec(r) if r else None

    def get_by_id(self, book_id: int) -> BookRecord:
        return self._rec(self.conn.execute(self._q().where(t.books.c.id == book_id)).one())

    def all(self, owner_uscc: str | None = None) -> list[Book]:
        q = self._q().order_by(t.books.c.putrec_no)
        if owner_uscc is not None:
            q = q.where(t.enterprises.c.uscc == owner_uscc)
        return [self._rec(r).book for r in self.conn.execute(q)]

    def lock_head(self, book_id: int) -> ChainHead:
        q = select(t.books.c.chain_seq, t.books.c.chain_head).where(t.books.c.id == book_id).with_for_update()
        r = self.conn.execute(q).one()
        return ChainHead(int(r.chain_seq), r.chain_head)

    def lock_for_posting(self, book_id: int) -> tuple[ChainHead, str]:
        b = t.books.c
        r = self.conn.execute(select(b.chain_seq, b.chain_head, b.status).where(b.id == book_id).with_for_update()).one()
        return ChainHead(int(r.chain_seq), r.chain_head), r.status

    def set_status(self, book_id: int, status: str) -> None:
        self.conn.execute(update(t.books).where(t.books.c.id == book_id).values(status=status))

    def set_wms_driven(self, book_id: int, on: bool) -> None:
        self.conn.execute(update(t.books).where(t.books.c.id == book_id).values(wms_driven=on))

    def set_head(self, book_id: int, head: ChainHead) -> None:
        self.conn.execute(update(t.books).where(t.books.c.id == book_id).values(chain_seq=head.seq, chain_head=head.hash))

    def heads(self) -> list[tuple[int, str, ChainHead]]:
        q = select(t.books.c.id, t.books.c.putrec_no, t.books.c.chain_seq, t.books.c.chain_head).order_by(t.books.c.putrec_no)
        return [(r.id, r.putrec_no, ChainHead(int(r.chain_seq), r.chain_head)) for r in self.conn.execute(q)]

    def add_item(self, book_id: int, item: BookItem) -> None:
        self.conn.execute(
            t.book_items.insert().values(
                book_id=book_id,
                putrec_seqno=item.putrec_seqno,
                gds_mtno=item.gds_mtno,
                gdecd=item.gdecd,
                gds_nm=item.gds_nm,
                dcl_unitcd=item.dcl_unitcd,
            )
        )

    def item_taken(self, book_id: int, putrec_seqno: int, gds_mtno: str) -> bool:
        c = t.book_items.c
        q = select(c.id).where(c.book_id == book_id, or_(c.putrec_seqno == putrec_seqno, c.gds_mtno == gds_mtno))
        return self.conn.execute(q).first() is not None

    def items(self, book_id: int, seqnos: Collection[int] | None = None) -> dict[int, BookItem]:
        c = t.book_items.c
        q = select(c.putrec_seqno, c.gds_mtno, c.gdecd, c.gds_nm, c.dcl_unitcd).where(c.book_id == book_id)
        out: dict[int, BookItem] = {}
        if seqnos is None:
            chunks: list[list[int] | None] = [None]
        else:
            ordered = sorted(seqnos)
            chunks = [ordered[i : i + 5000] for i in range(0, len(ordered), 5000)]
        for chunk in chunks:
            qq = q if chunk is None else q.where(c.putrec_seqno.in_(chunk))
            for r in self.conn.execute(qq):
                out[int(r.putrec_seqno)] = BookItem(int(r.putrec_seqno), r.gds_mtno, r.gdecd, r.gds_nm, r.dcl_unitcd)
        return out


class SqlInvtRepo(_Repo):
    def add(self, book_id: int, invt: InventoryList) -> InventoryList:
        res = self.conn.execute(
            t.invts.insert().values(
                book_id=book_id,
                etps_inner_invt_no=invt.etps_inner_invt_no,
                impexp_markcd=invt.impexp_markcd.value,
                supv_modecd=invt.supv_modecd,
                flow=invt.flow.value,
                dclcus_flag=invt.dclcus_flag,
                entry_no=invt.entry_no,
                rmk=invt.rmk,
                status=invt.status.value,
                version=invt.version,
                created_at=self.clock(),
            )
        )
        invt_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        self.conn.execute(
            t.invt_lines.insert(),
            [
                {
                    "invt_id": invt_id,
                    "gds_seqno": ln.gds_seqno,
                    "putrec_seqno": ln.putrec_seqno,
                    "dcl_qty": v.to_units(ln.dcl_qty),
                    "dcl_unitcd": ln.dcl_unitcd,
                    "stock_status": ln.stock_status.value,
                    "gds_mtno": ln.gds_mtno,
                    "gdecd": ln.gdecd,
                    "gds_nm": ln.gds_nm,
                }
                for ln in invt.lines
            ],
        )
        return replace(invt, id=invt_id)

    _HEAD = (
        t.invts,
        t.books.c.putrec_no,
        t.enterprises.c.uscc,
    )

    def _head_q(self) -> Any:
        return (
            select(*self._HEAD)
            .join(t.books, t.books.c.id == t.invts.c.book_id)
            .join(t.enterprises, t.enterprises.c.id == t.books.c.enterprise_id)
        )

    def _lines(self, invt_id: int) -> tuple[InvtLine, ...]:
        # Approval reads every line of a list of up to 10,000: plain driver tuples, no per-row enum call.
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        rows = self.conn.exec_driver_sql(
            "SELECT gds_seqno, putrec_seqno, dcl_qty, dcl_unitcd, stock_status, gds_mtno, gdecd, gds_nm "
            f"FROM invt_lines WHERE invt_id = {mark} ORDER BY gds_seqno",
            (invt_id,),
        ).fetchall()
        from_units, status = v.from_units, _stock_status
        return tuple(
            InvtLine(int(seqno), int(item), from_units(dcl_qty), unit, status(st), mtno, hs, name)
            for seqno, item, dcl_qty, unit, st, mtno, hs, name in rows
        )

    def amounts(self, invt_id: int) -> list[LineAmount]:
        # Approval reads every line of a list of up to 10,000: four columns, plain driver tuples.
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        rows = self.conn.exec_driver_sql(
            f"SELECT gds_seqno, putrec_seqno, stock_status, dcl_qty FROM invt_lines WHERE invt_id = {mark} ORDER BY gds_seqno",
            (invt_id,),
        ).fetchall()
        status = _stock_status
        return [LineAmount(int(seqno), int(item), status(st), int(units)) for seqno, item, st, units in rows]

    @staticmethod
    def _invt(r: Any, lines: tuple[InvtLine, ...]) -> InventoryList:
        return InventoryList(
            id=int(r.id),
            etps_inner_invt_no=r.etps_inner_invt_no,
            putrec_no=r.putrec_no,
            impexp_markcd=v.ImpexpMark(r.impexp_markcd),
            supv_modecd=r.supv_modecd,
            flow=v.Flow(r.flow),
            dclcus_flag=r.dclcus_flag,
            entry_no=r.entry_no,
            lines=lines,
            status=InvtStatus(r.status),
            version=int(r.version),
            bond_invt_no=r.bond_invt_no,
            rmk=r.rmk,
            owner_uscc=r.uscc,
        )

    def get(self, invt_id: int, *, with_lines: bool = True) -> InventoryList | None:
        r = self.conn.execute(self._head_q().where(t.invts.c.id == invt_id)).first()
        if r is None:
            return None
        return self._invt(r, self._lines(invt_id) if with_lines else ())

    def find_bond_no(self, bond_invt_no: str) -> int | None:
        r = self.conn.execute(select(t.invts.c.id).where(t.invts.c.bond_invt_no == bond_invt_no)).first()
        return int(r.id) if r else None

    def find_inner(self, book_id: int, etps_inner_invt_no: str) -> int | None:
        c = t.invts.c
        r = self.conn.execute(select(c.id).where(c.book_id == book_id, c.etps_inner_invt_no == etps_inner_invt_no)).first()
        return int(r.id) if r else None

    def save_status(self, invt: InventoryList, expected_version: int) -> bool:
        c = t.invts.c
        res = self.conn.execute(
            update(t.invts)
            .where(c.id == invt.id, c.version == expected_version)
            .values(status=invt.status.value, version=invt.version, bond_invt_no=invt.bond_invt_no)
        )
        return res.rowcount == 1

    def search(
        self, *, owner_uscc: str | None, putrec_no: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[InventoryList], int]:
        conds = []
        if owner_uscc is not None:
            conds.append(t.enterprises.c.uscc == owner_uscc)
        if putrec_no is not None:
            conds.append(t.books.c.putrec_no == putrec_no)
        if status is not None:
            conds.append(t.invts.c.status == status)
        q = self._head_q().where(and_(True, *conds))
        total = self.conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        rows = self.conn.execute(q.order_by(t.invts.c.id.desc()).limit(limit).offset(offset))
        return [self._invt(r, ()) for r in rows], int(total)


class SqlConversionRepo(_Repo):
    def add(self, book_id: int, conv: StatusConversion) -> StatusConversion:
        res = self.conn.execute(
            t.conversions.insert().values(
                book_id=book_id,
                entry_no=conv.entry_no,
                from_status=conv.from_status.value,
                to_status=conv.to_status.value,
                rmk=conv.rmk,
                created_at=self.clock(),
            )
        )
        conv_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        self.conn.execute(
            t.conversion_lines.insert(),
            [
                {
                    "conversion_id": conv_id,
                    "line_no": ln.line_no,
                    "putrec_seqno": ln.putrec_seqno,
                    "qty": v.to_units(ln.qty),
                    "dcl_unitcd": ln.dcl_unitcd,
                }
                for ln in conv.lines
            ],
        )
        return replace(conv, id=conv_id)

    def get(self, conv_id: int) -> StatusConversion | None:
        q = select(t.conversions, t.books.c.putrec_no).join(t.books, t.books.c.id == t.conversions.c.book_id)
        r = self.conn.execute(q.where(t.conversions.c.id == conv_id)).first()
        if r is None:
            return None
        c = t.conversion_lines.c
        lines = tuple(
            ConversionLine(int(x.line_no), int(x.putrec_seqno), v.from_units(x.qty), x.dcl_unitcd)
            for x in self.conn.execute(select(t.conversion_lines).where(c.conversion_id == conv_id).order_by(c.line_no))
        )
        return StatusConversion(
            int(r.id), r.putrec_no, r.entry_no, v.StockStatus(r.from_status), v.StockStatus(r.to_status), lines, r.rmk
        )

    def find_entry(self, book_id: int, entry_no: str) -> int | None:
        c = t.conversions.c
        r = self.conn.execute(select(c.id).where(c.book_id == book_id, c.entry_no == entry_no)).first()
        return int(r.id) if r else None


class SqlLedgerRepo(_Repo):
    def balances(self, book_id: int, keys: Sequence[StockKey]) -> dict[StockKey, int]:
        out: dict[StockKey, int] = {}
        seqnos = sorted({k.putrec_seqno for k in keys})
        # Match rows on plain (seqno, status) tuples: no StockKey or enum built per row.
        wanted = {(k.putrec_seqno, str(k.stock_status)): k for k in keys}
        sql = "SELECT putrec_seqno, stock_status, quantity FROM stock_balances WHERE book_id = "
        if self.is_pg:
            # One array parameter instead of an IN list of thousands: planned once, sent once.
            chunks: list[tuple[str, tuple[Any, ...]]] = [(sql + "%s AND putrec_seqno = ANY(%s)", (book_id, seqnos))]
        else:
            chunks = [
                (sql + f"? AND putrec_seqno IN ({', '.join('?' * len(part))})", (book_id, *part))
                for part in (seqnos[i : i + 5000] for i in range(0, len(seqnos), 5000))
            ]
        for query, params in chunks:
            for seqno, st, quantity in self.conn.exec_driver_sql(query, params).fetchall():
                k = wanted.get((int(seqno), st))
                if k is not None:
                    out[k] = int(quantity)
        return out

    # Postings and balance changes are written with the driver's executemany: a list of 1,000
    # lines is one round of rows, without SQLAlchemy building a parameter dict per row.
    _POSTING_FIELDS = ("putrec_seqno", "stock_status", "delta_units", "doc_type", "doc_id", "doc_line", "leg", "corrects")
    _POSTING_CHAIN = ("seq", "prev_hash", "hash")
    _posting_fields = attrgetter(*_POSTING_FIELDS)
    _posting_chain = attrgetter(*_POSTING_CHAIN)

    def _mark(self) -> str:
        return "?" if self.conn.dialect.paramstyle == "qmark" else "%s"

    def append(self, book_id: int, postings: Sequence[NewPosting]) -> None:
        if not postings:
            return
        cols = (
            "book_id, putrec_seqno, stock_status, delta, doc_type, doc_id, doc_line, leg, corrects, "
            "recorded_at, chain_seq, prev_hash, hash"
        )
        mark = self._mark()
        sql = f"INSERT INTO postings ({cols}) VALUES ({', '.join([mark] * 13)})"
        # The column type's own bind processing (SQLite keeps timestamps as text), once per distinct value.
        dialect = self.conn.dialect
        proc = t.postings.c.recorded_at.type.dialect_impl(dialect).bind_processor(dialect)
        stamps: dict[datetime, Any] = {}
        for p in postings:
            if p.recorded_at not in stamps:
                stamps[p.recorded_at] = proc(p.recorded_at) if proc else p.recorded_at
        head, chain_of = self._posting_fields, self._posting_chain
        self.conn.exec_driver_sql(sql, [(book_id, *head(p), stamps[p.recorded_at], *chain_of(p)) for p in postings])

    def apply(self, book_id: int, net: Mapping[StockKey, int]) -> None:
        if not net:
            return
        mark = self._mark()
        # Same upsert on both engines; rows in key order so that concurrent writers lock balances in one order.
        sql = (
            "INSERT INTO stock_balances (book_id, putrec_seqno, stock_status, quantity) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}) "
            "ON CONFLICT (book_id, putrec_seqno, stock_status) "
            "DO UPDATE SET quantity = stock_balances.quantity + excluded.quantity"
        )
        # (seqno, status) pairs are unique, so sorting the tuples never compares the amounts.
        changes = sorted((k.putrec_seqno, str(k.stock_status), d) for k, d in net.items())
        self.conn.exec_driver_sql(sql, [(book_id, seqno, st, d) for seqno, st, d in changes])

    def append_event(self, book_id: int, event: NewEvent) -> None:
        self.conn.execute(
            t.doc_events.insert().values(
                book_id=book_id,
                doc_type=event.doc_type,
                doc_id=event.doc_id,
                from_status=event.from_status,
                to_status=event.to_status,
                actor=event.actor,
                reason=event.reason,
                recorded_at=event.recorded_at,
                chain_seq=event.seq,
                prev_hash=event.prev_hash,
                hash=event.hash,
            )
        )

    def stock(self, book_id: int) -> list[StockRow]:
        b, i = t.stock_balances.c, t.book_items.c
        q = (
            select(i.putrec_seqno, i.gds_mtno, i.gds_nm, i.gdecd, i.dcl_unitcd, b.stock_status, b.quantity)
            .join(t.book_items, and_(i.book_id == b.book_id, i.putrec_seqno == b.putrec_seqno))
            .where(b.book_id == book_id)
            .order_by(b.putrec_seqno, b.stock_status)
        )
        return [
            StockRow(int(r.putrec_seqno), r.gds_mtno, r.gds_nm, r.gdecd, r.dcl_unitcd, r.stock_status, v.from_units(r.quantity))
            for r in self.conn.execute(q)
        ]

    def _posting_q(self) -> Any:
        return select(t.postings, t.books.c.putrec_no).join(t.books, t.books.c.id == t.postings.c.book_id)

    @staticmethod
    def _posting(r: Any) -> PostingRow:
        return PostingRow(
            int(r.id),
            r.putrec_no,
            int(r.putrec_seqno),
            r.stock_status,
            v.from_units(r.delta),
            r.doc_type,
            int(r.doc_id),
            int(r.doc_line),
            int(r.leg),
            int(r.corrects) if r.corrects is not None else None,
            r.recorded_at,
            int(r.chain_seq),
            r.hash,
        )

    def postings(
        self,
        book_id: int,
        *,
        putrec_seqno: int | None = None,
        stock_status: str | None = None,
        doc_type: DocType | None = None,
        doc_id: int | None = None,
        limit: int = 1000,
        after_id: int = 0,
    ) -> list[PostingRow]:
        c = t.postings.c
        q = self._posting_q().where(c.book_id == book_id, c.id > after_id)
        if putrec_seqno is not None:
            q = q.where(c.putrec_seqno == putrec_seqno)
        if stock_status is not None:
            q = q.where(c.stock_status == stock_status)
        if doc_type is not None:
            q = q.where(c.doc_type == doc_type.value)
        if doc_id is not None:
            q = q.where(c.doc_id == doc_id)
        return [self._posting(r) for r in self.conn.execute(q.order_by(c.id).limit(limit))]

    def posting(self, posting_id: int) -> tuple[int, PostingRow] | None:
        r = self.conn.execute(self._posting_q().where(t.postings.c.id == posting_id)).first()
        return (int(r.book_id), self._posting(r)) if r else None

    def corrected_total(self, posting_id: int) -> Decimal:
        c = t.postings.c
        s = self.conn.execute(select(func.coalesce(func.sum(c.delta), 0)).where(c.corrects == posting_id)).scalar_one()
        return v.from_units(int(s))

    def events(self, book_id: int, doc_type: DocType, doc_id: int) -> list[EventRow]:
        c = t.doc_events.c
        q = (
            select(t.doc_events, t.books.c.putrec_no)
            .join(t.books, t.books.c.id == c.book_id)
            .where(c.book_id == book_id, c.doc_type == doc_type.value, c.doc_id == doc_id)
            .order_by(c.chain_seq)
        )
        return [
            EventRow(
                int(r.id),
                r.putrec_no,
                r.doc_type,
                int(r.doc_id),
                r.from_status,
                r.to_status,
                r.actor,
                r.reason,
                r.recorded_at,
                int(r.chain_seq),
                r.hash,
            )
            for r in self.conn.execute(q)
        ]

    def links(self, book_id: int, putrec_no: str, window: int = 20_000) -> Iterator[StoredLink]:
        p, e = t.postings.c, t.doc_events.c
        top = self.conn.execute(select(func.max(p.chain_seq)).where(p.book_id == book_id)).scalar_one() or 0
        top_e = self.conn.execute(select(func.max(e.chain_seq)).where(e.book_id == book_id)).scalar_one() or 0
        last = max(int(top), int(top_e))
        lo = 0
        while lo < last:
            hi = lo + window
            prow = self.conn.execute(
                select(t.postings).where(p.book_id == book_id, p.chain_seq > lo, p.chain_seq <= hi).order_by(p.chain_seq)
            ).all()
            erow = self.conn.execute(
                select(t.doc_events).where(e.book_id == book_id, e.chain_seq > lo, e.chain_seq <= hi).order_by(e.chain_seq)
            ).all()
            plinks = (
                StoredLink(
                    int(r.chain_seq),
                    "posting",
                    int(r.id),
                    chain.posting_payload(
                        putrec_no=putrec_no,
                        seq=int(r.chain_seq),
                        putrec_seqno=int(r.putrec_seqno),
                        stock_status=r.stock_status,
                        delta_units=int(r.delta),
                        doc_type=r.doc_type,
                        doc_id=int(r.doc_id),
                        doc_line=int(r.doc_line),
                        leg=int(r.leg),
                        corrects=int(r.corrects) if r.corrects is not None else None,
                        recorded_at=r.recorded_at,
                    ),
                    r.prev_hash,
                    r.hash,
                )
                for r in prow
            )
            elinks = (
                StoredLink(
                    int(r.chain_seq),
                    "event",
                    int(r.id),
                    chain.event_payload(
                        putrec_no=putrec_no,
                        seq=int(r.chain_seq),
                        doc_type=r.doc_type,
                        doc_id=int(r.doc_id),
                        from_status=r.from_status,
                        to_status=r.to_status,
                        actor=r.actor,
                        reason=r.reason,
                        recorded_at=r.recorded_at,
                    ),
                    r.prev_hash,
                    r.hash,
                )
                for r in erow
            )
            yield from heapq.merge(plinks, elinks, key=lambda link: link.seq)
            lo = hi

    def posting_sums(self, book_id: int) -> dict[StockKey, Decimal]:
        c = t.postings.c
        q = (
            select(c.putrec_seqno, c.stock_status, func.sum(c.delta))
            .where(c.book_id == book_id)
            .group_by(c.putrec_seqno, c.stock_status)
        )
        return {StockKey(int(r[0]), v.StockStatus(r[1])): v.from_units(int(r[2])) for r in self.conn.execute(q)}

    def all_balances(self, book_id: int) -> dict[StockKey, Decimal]:
        c = t.stock_balances.c
        q = select(c.putrec_seqno, c.stock_status, c.quantity).where(c.book_id == book_id)
        return {StockKey(int(r[0]), v.StockStatus(r[1])): v.from_units(int(r[2])) for r in self.conn.execute(q)}


class SqlTokenRepo(_Repo):
    def add(self, token_hash: str, role: str, uscc: str | None, label: str, created_at: datetime) -> int:
        res = self.conn.execute(
            t.api_tokens.insert().values(
                token_hash=token_hash, role=role, uscc=uscc, label=label, created_at=created_at, revoked=False
            )
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def get(self, token_hash: str) -> TokenRecord | None:
        r = self.conn.execute(select(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash)).first()
        return TokenRecord(int(r.id), r.role, r.uscc, r.label, bool(r.revoked)) if r else None

    def revoke(self, token_id: int) -> bool:
        res = self.conn.execute(update(t.api_tokens).where(t.api_tokens.c.id == token_id).values(revoked=True))
        return res.rowcount == 1


class SqlIdempotencyRepo(_Repo):
    def get(self, scope: str, key: str) -> StoredResponse | None:
        c = t.idempotency_keys.c
        r = self.conn.execute(select(t.idempotency_keys).where(c.scope == scope, c.key == key)).first()
        return StoredResponse(r.fingerprint, int(r.status), r.body) if r else None

    def claim(self, scope: str, key: str, response: StoredResponse, created_at: datetime) -> bool:
        # Plain driver SQL: this runs once per keyed request. On a conflict with a transaction
        # still in flight, both engines wait for it (PostgreSQL on the unique index, SQLite on the
        # write lock every writer holds), so "taken" always means "taken by a committed answer".
        m = "%s" if self.is_pg else "?"
        c = t.idempotency_keys.c
        d = self.conn.dialect
        body, created = t.bound(d, c.body, response.body), t.bound(d, c.created_at, created_at)
        r = self.conn.exec_driver_sql(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, created_at) "
            f"VALUES ({m}, {m}, {m}, {m}, {m}, {m}) ON CONFLICT (scope, key) DO NOTHING",
            (scope, key, response.fingerprint, response.status, body, created),
        )
        return bool(r.rowcount == 1)


class SqlUnitOfWork:
    """One database transaction; rolled back unless :meth:`commit` ran."""

    def __init__(self, engine: Engine, *, write: bool = True, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.write = write
        self.clock = clock
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        conn = self.engine.connect()
        if conn.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="BEGIN IMMEDIATE" if self.write else "BEGIN")
        elif not self.write:
            # A reader sees one snapshot: the audit reads heads, then links, then sums, and must
            # not see a writer's commit land between those statements.
            conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        self._conn = conn
        self.enterprises = SqlEnterpriseRepo(conn)
        self.books = SqlBookRepo(conn)
        self.invts = SqlInvtRepo(conn, self.clock)
        self.conversions = SqlConversionRepo(conn, self.clock)
        self.ledger = SqlLedgerRepo(conn)
        self.tokens = SqlTokenRepo(conn)
        self.idempotency = SqlIdempotencyRepo(conn)
        self.gate = SqlGateRepo(conn, self.clock)
        self.wms = SqlWmsRepo(conn, self.clock)
        self.writeoffs = SqlWriteOffRepo(conn)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    @property
    def connection(self) -> Connection:
        """The open connection, for adapters that need raw SQL (tests, benchmarks)."""
        assert self._conn is not None
        return self._conn

    def now(self) -> datetime:
        """The injected clock."""
        return self.clock()

    def commit(self) -> None:
        """Make the transaction durable."""
        assert self._conn is not None
        self._conn.commit()

    def rollback(self) -> None:
        """Discard the transaction."""
        assert self._conn is not None
        self._conn.rollback()


class SqlUnitOfWorkFactory:
    """Opens :class:`SqlUnitOfWork` on one engine."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, clock=self.clock)
