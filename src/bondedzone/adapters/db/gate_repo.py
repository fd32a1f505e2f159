"""Storage of the gate: passes, the documents vehicles deliver, crossings, events, the hazchem feed."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from bondedzone.adapters.db import tables as t
from bondedzone.domain import values as v
from bondedzone.domain.gate import (
    BindType,
    BoundDoc,
    Crossing,
    CrossingStatus,
    DocLine,
    GateDoc,
    GatePass,
    GoodsCategory,
    Hazchem,
    Lane,
    Outcome,
    PassLine,
    PassportType,
    PassStatus,
    RltTbType,
    passport_no,
)
from bondedzone.domain.passes import OpenCrossing
from bondedzone.domain.rules.m7_multi_truck import Delivery
from bondedzone.services.ports import DocKey, GateEventRow, HazchemRow

_units = v.to_units
_qty = v.from_units


def _opt_units(d: Any) -> int | None:
    return None if d is None else v.to_units(d)


def _opt_qty(n: Any) -> Any:
    return None if n is None else v.from_units(int(n))


class SqlGateRepo:
    """SQLAlchemy Core implementation of :class:`bondedzone.services.ports.GateRepo`."""

    def __init__(self, conn: Any, clock: Any) -> None:
        self.conn = conn
        self.clock = clock

    @property
    def is_pg(self) -> bool:
        return bool(self.conn.dialect.name == "postgresql")

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.is_pg else sqlite.insert)(table)

    # -- passes --------------------------------------------------------------------------------

    def add_pass(self, gp: GatePass, book_id: int) -> GatePass:
        ent = select(t.books.c.enterprise_id).where(t.books.c.id == book_id).scalar_subquery()
        now = self.clock()
        pass_id = self.conn.execute(
            insert(t.gate_passes)
            .values(
                etps_preent_no=gp.etps_preent_no,
                enterprise_id=ent,
                book_id=book_id,
                master_cuscd=gp.master_cuscd,
                passport_typecd=gp.passport_typecd.value,
                io_typecd=gp.io_typecd.value,
                bind_typecd=gp.bind_typecd.value if gp.bind_typecd else None,
                vehicle_no=gp.vehicle_no,
                vehicle_wt=_units(gp.vehicle_wt),
                vehicle_frame_wt=_units(gp.vehicle_frame_wt),
                container_no=gp.container_no,
                container_wt=_units(gp.container_wt),
                total_gross_wt=_units(gp.total_gross_wt),
                rmk=gp.rmk,
                status=gp.status.value,
                version=gp.version,
                attempts=0,
                created_at=now,
            )
            .returning(t.gate_passes.c.id)
        ).scalar_one()
        number = passport_no(gp.master_cuscd, gp.io_typecd, now, int(pass_id))
        self.conn.execute(update(t.gate_passes).where(t.gate_passes.c.id == pass_id).values(passport_no=number))
        if gp.docs:
            self.conn.execute(
                insert(t.gate_pass_docs),
                [{"pass_id": pass_id, "rlt_tb_typecd": d.rlt_tb_typecd.value, "rlt_no": d.rlt_no} for d in gp.docs],
            )
        if gp.lines:
            self.conn.execute(insert(t.gate_pass_lines), [self._line_row(int(pass_id), ln) for ln in gp.lines])
        stored = self._passes(t.gate_passes.c.id == pass_id)
        return stored[0]

    @staticmethod
    def _line_row(pass_id: int, ln: PassLine) -> dict[str, Any]:
        hz = ln.hazchem
        return {
            "pass_id": pass_id,
            "passport_seqno": ln.passport_seqno,
            "rlt_tb_typecd": ln.rlt_tb_typecd.value if ln.rlt_tb_typecd else None,
            "rlt_no": ln.rlt_no,
            "rlt_gds_seqno": ln.rlt_gds_seqno,
            "gds_nm": ln.gds_nm,
            "gdecd": ln.gdecd,
            "dcl_unitcd": ln.dcl_unitcd,
            "dcl_qty": _units(ln.dcl_qty),
            "gross_wt": _opt_units(ln.gross_wt),
            "category": ln.category.value if ln.category else None,
            "un_no": hz.un_no if hz else None,
            "hazard_class": hz.hazard_class if hz else None,
            "cas_no": hz.cas_no if hz else None,
            "usage": hz.usage if hz else None,
        }

    def _passes(self, where: Any, *, lock: bool = False, limit: int | None = None, offset: int = 0) -> list[GatePass]:
        p = t.gate_passes
        q = (
            select(p, t.enterprises.c.uscc, t.books.c.putrec_no)
            .join(t.enterprises, t.enterprises.c.id == p.c.enterprise_id)
            .join(t.books, t.books.c.id == p.c.book_id)
            .where(where)
            .order_by(p.c.id.desc())
        )
        if limit is not None:
            q = q.limit(limit).offset(offset)
        if lock and self.is_pg:
            q = q.with_for_update(of=p)
        heads = self.conn.execute(q).all()
        if not heads:
            return []
        ids = [int(r.id) for r in heads]
        docs: dict[int, list[BoundDoc]] = {i: [] for i in ids}
        for r in self.conn.execute(
            select(t.gate_pass_docs).where(t.gate_pass_docs.c.pass_id.in_(ids)).order_by(t.gate_pass_docs.c.rlt_no)
        ):
            docs[int(r.pass_id)].append(BoundDoc(RltTbType(r.rlt_tb_typecd), r.rlt_no))
        lines: dict[int, list[PassLine]] = {i: [] for i in ids}
        pl = t.gate_pass_lines
        for r in self.conn.execute(select(pl).where(pl.c.pass_id.in_(ids)).order_by(pl.c.pass_id, pl.c.passport_seqno)):
            lines[int(r.pass_id)].append(
                PassLine(
                    passport_seqno=int(r.passport_seqno),
                    dcl_qty=_qty(int(r.dcl_qty)),
                    dcl_unitcd=r.dcl_unitcd,
                    gds_nm=r.gds_nm,
                    rlt_tb_typecd=RltTbType(r.rlt_tb_typecd) if r.rlt_tb_typecd else None,
                    rlt_no=r.rlt_no,
                    rlt_gds_seqno=int(r.rlt_gds_seqno) if r.rlt_gds_seqno is not None else None,
                    gdecd=r.gdecd,
                    gross_wt=_opt_qty(r.gross_wt),
                    category=GoodsCategory(r.category) if r.category else None,
                    hazchem=Hazchem(r.un_no, r.hazard_class, r.cas_no, r.usage) if r.un_no else None,
                )
            )
        return [
            GatePass(
                id=int(r.id),
                passport_no=r.passport_no,
                etps_preent_no=r.etps_preent_no,
                owner_uscc=r.uscc,
                areain_oriact_no=r.putrec_no,
                master_cuscd=r.master_cuscd,
                passport_typecd=PassportType(r.passport_typecd),
                io_typecd=v.ImpexpMark(r.io_typecd),
                bind_typecd=BindType(r.bind_typecd) if r.bind_typecd else None,
                vehicle_no=r.vehicle_no,
                vehicle_wt=_qty(int(r.vehicle_wt)),
                vehicle_frame_wt=_qty(int(r.vehicle_frame_wt)),
                container_no=r.container_no,
                container_wt=_qty(int(r.container_wt)),
                total_gross_wt=_qty(int(r.total_gross_wt)),
                docs=tuple(docs[int(r.id)]),
                lines=tuple(lines[int(r.id)]),
                status=PassStatus(r.status),
                version=int(r.version),
                rmk=r.rmk,
                created_at=r.created_at,
                attempts=int(r.attempts),
            )
            for r in heads
        ]

    def get_pass(self, passport_no: str, *, lock: bool = False) -> GatePass | None:
        found = self._passes(t.gate_passes.c.passport_no == passport_no, lock=lock)
        return found[0] if found else None

    # The gate's hot path reads a pass, its lines and its owner's credit in one statement of plain
    # driver tuples (the bound documents are the documents its lines name: a pass never binds a
    # document without carrying some of it).
    _GATE_PASS_SQL = (
        "SELECT p.id, p.passport_no, p.etps_preent_no, e.uscc, b.putrec_no, p.master_cuscd, p.passport_typecd, "
        "p.io_typecd, p.bind_typecd, p.vehicle_no, p.vehicle_wt, p.vehicle_frame_wt, p.container_no, p.container_wt, "
        "p.total_gross_wt, p.rmk, p.status, p.version, p.created_at, p.attempts, e.credit, "
        "l.passport_seqno, l.dcl_qty, l.dcl_unitcd, l.gds_nm, l.rlt_tb_typecd, l.rlt_no, l.rlt_gds_seqno, l.gdecd, "
        "l.gross_wt, l.category, l.un_no, l.hazard_class, l.cas_no, l.usage "
        "FROM gate_passes p JOIN enterprises e ON e.id = p.enterprise_id JOIN books b ON b.id = p.book_id "
        "LEFT JOIN gate_pass_lines l ON l.pass_id = p.id "
        "WHERE p.passport_no = {mark} ORDER BY l.passport_seqno"
    )

    def _mark(self) -> str:
        return "%s" if self.is_pg else "?"

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of a hot-path query straight from the driver's cursor, in this transaction.

        The same connection and transaction as every other statement of the unit of work, without
        SQLAlchemy's per-execution result metadata (wide rows, every vehicle). A driver error here
        ends the unit of work, whose rollback goes through SQLAlchemy: a lost connection is still
        recognised there and the pool invalidated (``tests/e2e/test_api_db_restart.py``).
        """
        cur = self.conn.connection.dbapi_connection.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def pass_for_gate(self, passport_no: str) -> GatePass | None:
        sql = self._GATE_PASS_SQL.format(mark=self._mark())
        if self.is_pg:
            sql += " FOR UPDATE OF p"
        rows = self._fetch(sql, (passport_no,))
        if not rows:
            return None
        h = rows[0]
        lines: list[PassLine] = []
        docs: dict[tuple[RltTbType, str], None] = {}
        ts = t.gate_passes.c.created_at.type.dialect_impl(self.conn.dialect).result_processor(self.conn.dialect, None)
        for r in rows:
            if r[21] is None:
                continue
            kind = RltTbType(r[25]) if r[25] else None
            if kind is not None:
                docs[(kind, r[26])] = None
            lines.append(
                PassLine(
                    passport_seqno=int(r[21]),
                    dcl_qty=_qty(int(r[22])),
                    dcl_unitcd=r[23],
                    gds_nm=r[24],
                    rlt_tb_typecd=kind,
                    rlt_no=r[26],
                    rlt_gds_seqno=int(r[27]) if r[27] is not None else None,
                    gdecd=r[28],
                    gross_wt=_opt_qty(r[29]),
                    category=GoodsCategory(r[30]) if r[30] else None,
                    hazchem=Hazchem(r[31], r[32], r[33], r[34]) if r[31] else None,
                )
            )
        return GatePass(
            id=int(h[0]),
            passport_no=h[1],
            etps_preent_no=h[2],
            owner_uscc=h[3],
            areain_oriact_no=h[4],
            master_cuscd=h[5],
            passport_typecd=PassportType(h[6]),
            io_typecd=v.ImpexpMark(h[7]),
            bind_typecd=BindType(h[8]) if h[8] else None,
            vehicle_no=h[9],
            vehicle_wt=_qty(int(h[10])),
            vehicle_frame_wt=_qty(int(h[11])),
            container_no=h[12],
            container_wt=_qty(int(h[13])),
            total_gross_wt=_qty(int(h[14])),
            docs=tuple(BoundDoc(k, no) for k, no in sorted(docs)),
            lines=tuple(lines),
            status=PassStatus(h[16]),
            version=int(h[17]),
            rmk=h[15],
            created_at=ts(h[18]) if ts else h[18],
            attempts=int(h[19]),
            owner_credit=v.Credit(h[20]),
        )

    def preent_taken(self, owner_uscc: str, etps_preent_no: str) -> bool:
        p = t.gate_passes
        q = (
            select(p.c.id)
            .join(t.enterprises, t.enterprises.c.id == p.c.enterprise_id)
            .where(t.enterprises.c.uscc == owner_uscc, p.c.etps_preent_no == etps_preent_no)
        )
        return self.conn.execute(q).first() is not None

    def passes_for_plate(self, vehicle_no: str) -> list[GatePass]:
        p = t.gate_passes.c
        return self._passes(and_(p.vehicle_no == vehicle_no, p.status.in_([PassStatus.APPROVED.value, PassStatus.IN_GATE.value])))

    def save_pass(self, gp: GatePass, expected_version: int) -> bool:
        m = self._mark()
        r = self.conn.exec_driver_sql(
            f"UPDATE gate_passes SET status = {m}, version = {m}, attempts = {m} WHERE id = {m} AND version = {m}",
            (gp.status.value, gp.version, gp.attempts, gp.id, expected_version),
        )
        return bool(r.rowcount == 1)

    def search_passes(
        self, *, owner_uscc: str | None, status: str | None, vehicle_no: str | None, limit: int, offset: int
    ) -> tuple[list[GatePass], int]:
        p = t.gate_passes
        conds: list[Any] = []
        if owner_uscc is not None:
            conds.append(
                p.c.enterprise_id == select(t.enterprises.c.id).where(t.enterprises.c.uscc == owner_uscc).scalar_subquery()
            )
        if status is not None:
            conds.append(p.c.status == status)
        if vehicle_no is not None:
            conds.append(p.c.vehicle_no == vehicle_no)
        where = and_(true(), *conds)
        total = int(self.conn.execute(select(func.count()).select_from(p).where(where)).scalar_one())
        return self._passes(where, limit=limit, offset=offset), total

    # -- documents and deliveries (M7) ---------------------------------------------------------

    def docs(self, keys: Collection[DocKey], *, lock: bool = False) -> dict[DocKey, GateDoc]:
        if not keys:
            return {}
        m = self._mark()
        wanted = " OR ".join([f"(d.rlt_tb_typecd = {m} AND d.rlt_no = {m})"] * len(keys))
        params = tuple(x for k, no in sorted(keys) for x in (k.value, no))
        sql = (
            "SELECT d.rlt_tb_typecd, d.rlt_no, e.uscc, d.io_typecd, d.flow, d.ready, "
            "l.gds_seqno, l.gdecd, l.gds_nm, l.dcl_unitcd, l.declared_units, l.delivered_units "
            "FROM gate_docs d JOIN enterprises e ON e.id = d.enterprise_id "
            f"JOIN gate_doc_lines l ON l.gate_doc_id = d.id WHERE {wanted} ORDER BY d.id, l.gds_seqno"
        )
        if lock and self.is_pg:
            # Two gates admitting vehicles of one document take its lines in the same order.
            sql += " FOR UPDATE OF l"
        heads: dict[DocKey, tuple[Any, ...]] = {}
        lines: dict[DocKey, list[DocLine]] = {}
        for r in self._fetch(sql, params):
            key = (RltTbType(r[0]), r[1])
            if key not in heads:
                heads[key] = r
                lines[key] = []
            lines[key].append(DocLine(int(r[6]), r[7], r[8], r[9], int(r[10]), int(r[11])))
        return {
            key: GateDoc(key[0], key[1], h[2], v.ImpexpMark(h[3]), v.Flow(h[4]) if h[4] else None, bool(h[5]), tuple(lines[key]))
            for key, h in heads.items()
        }

    def add_doc(self, doc: GateDoc) -> None:
        d = t.gate_docs
        ent = select(t.enterprises.c.id).where(t.enterprises.c.uscc == doc.owner_uscc).scalar_subquery()
        stmt = (
            self._insert(d)
            .values(
                rlt_tb_typecd=doc.rlt_tb_typecd.value,
                rlt_no=doc.rlt_no,
                enterprise_id=ent,
                io_typecd=doc.io_typecd.value,
                flow=doc.flow.value if doc.flow else None,
                ready=doc.ready,
                created_at=self.clock(),
            )
            .on_conflict_do_nothing(index_elements=["rlt_tb_typecd", "rlt_no"])
            .returning(d.c.id)
        )
        doc_id = self.conn.execute(stmt).scalar_one_or_none()
        if doc_id is None:  # another transaction made it first: it holds the same lines
            return
        self.conn.execute(
            insert(t.gate_doc_lines),
            [
                {
                    "gate_doc_id": doc_id,
                    "gds_seqno": ln.gds_seqno,
                    "gdecd": ln.gdecd,
                    "gds_nm": ln.gds_nm,
                    "dcl_unitcd": ln.dcl_unitcd,
                    "declared_units": ln.declared_units,
                    "delivered_units": ln.delivered_units,
                }
                for ln in doc.lines
            ],
        )

    def set_doc_ready(self, key: DocKey) -> None:
        d = t.gate_docs
        self.conn.execute(update(d).where(d.c.rlt_tb_typecd == key[0].value, d.c.rlt_no == key[1]).values(ready=True))

    def deliver(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        m = self._mark()
        # The guard repeats the remaining check in SQL: a row that would go over is not touched.
        if self.is_pg:  # one statement for all the vehicle's lines (deliveries are one per line)
            rows = ", ".join([f"({m}::text, {m}::text, {m}::int, {m}::bigint)"] * len(deliveries))
            sql = (
                "UPDATE gate_doc_lines l SET delivered_units = l.delivered_units + x.units "
                f"FROM (VALUES {rows}) AS x(kind, no, seqno, units), gate_docs d "
                "WHERE d.rlt_tb_typecd = x.kind AND d.rlt_no = x.no AND l.gate_doc_id = d.id "
                "AND l.gds_seqno = x.seqno AND l.delivered_units + x.units <= l.declared_units"
            )
            params = tuple(p for x in deliveries for p in (x.rlt_tb_typecd.value, x.rlt_no, x.gds_seqno, x.units))
            if self.conn.exec_driver_sql(sql, params).rowcount != len(deliveries):
                raise RuntimeError(f"delivery over the declared quantity: {list(deliveries)}")
            return
        sql = (
            f"UPDATE gate_doc_lines SET delivered_units = delivered_units + {m} "
            f"WHERE gate_doc_id = (SELECT id FROM gate_docs WHERE rlt_tb_typecd = {m} AND rlt_no = {m}) "
            f"AND gds_seqno = {m} AND delivered_units + {m} <= declared_units"
        )
        for x in deliveries:
            r = self.conn.exec_driver_sql(sql, (x.units, x.rlt_tb_typecd.value, x.rlt_no, x.gds_seqno, x.units))
            if r.rowcount != 1:
                raise RuntimeError(f"delivery over the declared quantity: {x}")

    # -- crossings and events (G1) -------------------------------------------------------------

    @staticmethod
    def _crossing_row(x: Crossing) -> dict[str, Any]:
        return {
            "pass_id": x.pass_id,
            "passport_no": x.passport_no,
            "gate_id": x.gate_id,
            "lane": x.lane.value,
            "vehicle_no": x.vehicle_no,
            "status": x.status.value,
            "attempt": x.attempt,
            "gross_wt": _opt_units(x.gross_wt),
            "outcome": x.outcome.value if x.outcome else None,
            "reasons": [dict(r) for r in x.reasons],
            "version": x.version,
            "arrived_at": x.arrived_at,
            "weighed_at": x.weighed_at,
            "decided_at": x.decided_at,
            "left_at": x.left_at,
        }

    @staticmethod
    def _crossing(r: Any) -> Crossing:
        return Crossing(
            id=int(r.id),
            gate_id=r.gate_id,
            lane=Lane(r.lane),
            vehicle_no=r.vehicle_no,
            passport_no=r.passport_no,
            pass_id=int(r.pass_id) if r.pass_id is not None else None,
            status=CrossingStatus(r.status),
            attempt=int(r.attempt),
            arrived_at=r.arrived_at,
            gross_wt=_opt_qty(r.gross_wt),
            outcome=Outcome(r.outcome) if r.outcome else None,
            reasons=tuple(r.reasons or ()),
            weighed_at=r.weighed_at,
            decided_at=r.decided_at,
            left_at=r.left_at,
            version=int(r.version),
        )

    def record_crossing(self, crossing: Crossing, events: Sequence[tuple[str, str, Mapping[str, Any]]]) -> Crossing:
        # Driver SQL: this is the gate's hot path, run for every vehicle.
        m = self._mark()
        c, e = t.gate_crossings.c, t.gate_events.c
        row = self._crossing_row(crossing)
        cols, d = ", ".join(row), self.conn.dialect
        params = tuple(t.bound(d, getattr(c, name), value) for name, value in row.items())
        at = t.bound(d, e.recorded_at, crossing.decided_at or crossing.arrived_at)
        values = ", ".join([m] * len(params))
        evs = [(k, a, t.bound(d, e.detail, dict(x))) for k, a, x in events]
        if self.is_pg and evs:  # the crossing and its events in one statement
            rows = ", ".join([f"({m}::int, {m}::text, {m}::text, {m}::json)"] * len(evs))
            sql = (
                f"WITH c AS (INSERT INTO gate_crossings ({cols}) VALUES ({values}) RETURNING id) "
                "INSERT INTO gate_events (crossing_id, kind, actor, detail, recorded_at) "
                f"SELECT c.id, x.kind, x.actor, x.detail, {m} FROM c, (VALUES {rows}) AS x(ord, kind, actor, detail) "
                "ORDER BY x.ord RETURNING crossing_id"
            )
            ev_params = tuple(p for i, (k, a, d) in enumerate(evs) for p in (i, k, a, d))
            new_id = self.conn.exec_driver_sql(sql, (*params, at, *ev_params)).first()[0]
        else:
            r = self.conn.exec_driver_sql(f"INSERT INTO gate_crossings ({cols}) VALUES ({values}) RETURNING id", params)
            new_id = r.first()[0]
            if evs:
                self.conn.exec_driver_sql(
                    f"INSERT INTO gate_events (crossing_id, kind, actor, detail, recorded_at) VALUES ({m}, {m}, {m}, {m}, {m})",
                    [(new_id, k, a, d, at) for k, a, d in evs],
                )
        return replace(crossing, id=int(new_id))

    def get_crossing(self, crossing_id: int, *, lock: bool = False) -> Crossing | None:
        c = t.gate_crossings
        q = select(c).where(c.c.id == crossing_id)
        if lock and self.is_pg:
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return self._crossing(r) if r else None

    def save_crossing(self, crossing: Crossing, expected_version: int) -> bool:
        c = t.gate_crossings
        row = self._crossing_row(crossing)
        r = self.conn.execute(update(c).where(c.c.id == crossing.id, c.c.version == expected_version).values(**row))
        return bool(r.rowcount == 1)

    def open_crossing(self, pass_id: int) -> OpenCrossing | None:
        c = t.gate_crossings
        q = (
            select(c.c.id, c.c.gate_id, c.c.arrived_at)
            .where(c.c.pass_id == pass_id, c.c.status.in_([CrossingStatus.ARRIVED.value, CrossingStatus.WEIGHED.value]))
            .order_by(c.c.id.desc())
        )
        r = self.conn.execute(q).first()
        return OpenCrossing(int(r.id), r.gate_id, r.arrived_at) if r else None

    def crossings_of(self, pass_id: int) -> list[Crossing]:
        c = t.gate_crossings
        return [self._crossing(r) for r in self.conn.execute(select(c).where(c.c.pass_id == pass_id).order_by(c.c.id))]

    def add_event(self, crossing_id: int, kind: str, actor: str, detail: Mapping[str, Any], at: datetime) -> None:
        self.conn.execute(
            insert(t.gate_events).values(crossing_id=crossing_id, kind=kind, actor=actor, detail=dict(detail), recorded_at=at)
        )

    def events(self, crossing_id: int) -> list[GateEventRow]:
        e = t.gate_events
        rows = self.conn.execute(select(e).where(e.c.crossing_id == crossing_id).order_by(e.c.id))
        return [GateEventRow(int(r.id), int(r.crossing_id), r.kind, r.actor, dict(r.detail), r.recorded_at) for r in rows]

    # -- the hazardous-chemicals feed (M4) -----------------------------------------------------

    def add_hazchem(self, crossing: Crossing, gp: GatePass, at: datetime) -> int:
        rows = [
            {
                "crossing_id": crossing.id,
                "pass_id": gp.id,
                "enterprise_id": select(t.gate_passes.c.enterprise_id).where(t.gate_passes.c.id == gp.id).scalar_subquery(),
                "passport_no": gp.passport_no,
                "vehicle_no": gp.vehicle_no,
                "gate_id": crossing.gate_id,
                "gds_nm": ln.gds_nm,
                "gdecd": ln.gdecd,
                "un_no": ln.hazchem.un_no,
                "hazard_class": ln.hazchem.hazard_class,
                "cas_no": ln.hazchem.cas_no,
                "usage": ln.hazchem.usage,
                "dcl_qty": _units(ln.dcl_qty),
                "dcl_unitcd": ln.dcl_unitcd,
                "recorded_at": at,
            }
            for ln in gp.lines
            if ln.hazchem is not None
        ]
        for row in rows:
            self.conn.execute(insert(t.hazchem_records).values(**row))
        return len(rows)

    def hazchem(self, after_id: int, limit: int) -> list[HazchemRow]:
        h, e = t.hazchem_records, t.enterprises
        q = (
            select(h, e.c.uscc, e.c.name)
            .join(e, e.c.id == h.c.enterprise_id)
            .where(h.c.id > after_id)
            .order_by(h.c.id)
            .limit(limit)
        )
        return [
            HazchemRow(
                int(r.id),
                int(r.crossing_id),
                int(r.pass_id),
                r.uscc,
                r.name,
                r.passport_no,
                r.vehicle_no,
                r.gate_id,
                r.gds_nm,
                r.gdecd,
                r.un_no,
                r.hazard_class,
                r.cas_no,
                r.usage,
                _qty(int(r.dcl_qty)),
                r.dcl_unitcd,
                r.recorded_at,
            )
            for r in self.conn.execute(q)
        ]
