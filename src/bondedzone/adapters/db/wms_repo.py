"""Storage of WMS data (M22/W1) and of reconciliation runs and findings (W2, W3)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, false, func, insert, or_, select, update

from bondedzone.adapters.db import tables as t
from bondedzone.domain import values as v
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.domain.wms import Movement, StockLine
from bondedzone.services.ports import BatchRecord, ReconRun, StockKey4, StoredFinding

_CHUNK = 500


def to_us(at: datetime) -> int:
    """Microseconds since the epoch; a naive time (an aggregate SQLite hands back untyped) is UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (int(at.timestamp()) * 1_000_000) + at.microsecond


def from_us(us: int) -> datetime:
    """Inverse of :func:`to_us`."""
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


def _chunks(xs: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(xs), n):
        yield xs[i : i + n]


class SqlWmsRepo:
    """SQLAlchemy Core implementation of :class:`bondedzone.services.ports.WmsRepo`."""

    def __init__(self, conn: Connection, clock: Any) -> None:
        self.conn = conn
        self.clock = clock

    @property
    def is_pg(self) -> bool:
        return bool(self.conn.dialect.name == "postgresql")

    # -- who and which books -------------------------------------------------------------------

    def enterprise_id(self, uscc: str) -> int | None:
        e = t.enterprises.c
        r = self.conn.execute(select(e.id).where(e.uscc == uscc)).first()
        return int(r.id) if r else None

    def book_ids(self, putrec_nos: Collection[str], owner_uscc: str | None = None) -> dict[str, int]:
        if not putrec_nos:
            return {}
        b, e = t.books.c, t.enterprises.c
        q = select(b.putrec_no, b.id).join(t.enterprises, e.id == b.enterprise_id).where(b.putrec_no.in_(sorted(putrec_nos)))
        if owner_uscc is not None:
            q = q.where(e.uscc == owner_uscc)
        return {r.putrec_no: int(r.id) for r in self.conn.execute(q)}

    def books_of(
        self, owner_uscc: str | None, putrec_no: str | None = None, *, networked: bool = False
    ) -> dict[int, tuple[str, str]]:
        b, e = t.books.c, t.enterprises.c
        q = select(b.id, b.putrec_no, e.uscc).join(t.enterprises, e.id == b.enterprise_id)
        if networked:  # compared: books of WMS-networked enterprises, and any book its WMS sent data for
            sent = select(t.wms_movements.c.book_id).union(select(t.wms_stock_lines.c.book_id))
            q = q.where(or_(e.wms_networked, b.id.in_(sent)))
        if owner_uscc is not None:
            q = q.where(e.uscc == owner_uscc)
        if putrec_no is not None:
            q = q.where(b.putrec_no == putrec_no)
        return {int(r.id): (r.putrec_no, r.uscc) for r in self.conn.execute(q)}

    # -- batches -------------------------------------------------------------------------------

    def batch_by_ref(self, enterprise_id: int, batch_ref: str) -> BatchRecord | None:
        c = t.wms_batches.c
        r = self.conn.execute(select(t.wms_batches).where(c.enterprise_id == enterprise_id, c.batch_ref == batch_ref)).first()
        return BatchRecord(int(r.id), r.fingerprint, dict(r.answer)) if r else None

    def add_batch(
        self,
        *,
        enterprise_id: int,
        batch_ref: str | None,
        fingerprint: str,
        kind: str,
        source: str,
        filename: str | None,
        counts: tuple[int, int, int, int],
        answer: dict[str, Any],
    ) -> int:
        records, accepted, duplicates, rejected = counts
        return int(
            self.conn.execute(
                insert(t.wms_batches)
                .values(
                    enterprise_id=enterprise_id,
                    batch_ref=batch_ref,
                    fingerprint=fingerprint,
                    kind=kind,
                    source=source,
                    filename=filename,
                    records=records,
                    accepted=accepted,
                    duplicates=duplicates,
                    rejected=rejected,
                    answer=answer,
                    received_at=self.clock(),
                )
                .returning(t.wms_batches.c.id)
            ).scalar_one()
        )

    def set_batch_answer(self, batch_id: int, answer: dict[str, Any]) -> None:
        c = t.wms_batches.c
        self.conn.execute(update(t.wms_batches).where(c.id == batch_id).values(answer=answer))

    # -- records -------------------------------------------------------------------------------

    def movement_prints(self, enterprise_id: int, refs: Collection[str]) -> dict[str, str]:
        c = t.wms_movements.c
        out: dict[str, str] = {}
        for part in _chunks(sorted(refs)):
            q = select(c.wms_ref, c.fingerprint).where(c.enterprise_id == enterprise_id, c.wms_ref.in_(part))
            out.update({r.wms_ref: r.fingerprint for r in self.conn.execute(q)})
        return out

    def stock_prints(self, enterprise_id: int, keys: Collection[StockKey4]) -> dict[StockKey4, str]:
        c = t.wms_stock_lines.c
        out: dict[StockKey4, str] = {}
        refs = sorted({k[0] for k in keys})
        for part in _chunks(refs):
            q = select(c.snapshot_ref, c.book_id, c.gds_mtno, c.stock_status, c.location, c.fingerprint).where(
                c.enterprise_id == enterprise_id, c.snapshot_ref.in_(part)
            )
            for r in self.conn.execute(q):
                key = (r.snapshot_ref, int(r.book_id), r.gds_mtno, r.stock_status, r.location)
                if key in keys:
                    out[key] = r.fingerprint
        return out

    def add_movements(self, enterprise_id: int, batch_id: int, rows: Sequence[tuple[int, Movement]]) -> None:
        now = self.clock()
        values = [
            {
                "enterprise_id": enterprise_id,
                "book_id": book_id,
                "wms_ref": m.wms_ref,
                "kind": m.kind.value,
                "gds_mtno": m.gds_mtno,
                "units": m.units,
                "dcl_unitcd": m.dcl_unitcd,
                "stock_status": m.stock_status.value,
                "from_status": m.from_status.value if m.from_status else None,
                "occurred_at": m.occurred_at,
                "rlt_no": m.rlt_no,
                "rlt_gds_seqno": m.rlt_gds_seqno,
                "from_location": m.from_location,
                "to_location": m.to_location,
                "fingerprint": m.fingerprint,
                "batch_id": batch_id,
                "received_at": now,
            }
            for book_id, m in rows
        ]
        for part in _chunks(values, 2000):
            self.conn.execute(insert(t.wms_movements), list(part))

    def add_stock_lines(self, enterprise_id: int, batch_id: int, rows: Sequence[tuple[int, StockLine]]) -> None:
        now = self.clock()
        values = [
            {
                "enterprise_id": enterprise_id,
                "book_id": book_id,
                "snapshot_ref": s.snapshot_ref,
                "taken_at": s.taken_at,
                "gds_mtno": s.gds_mtno,
                "stock_status": s.stock_status.value,
                "location": s.location,
                "units": s.units,
                "dcl_unitcd": s.dcl_unitcd,
                "fingerprint": s.fingerprint,
                "batch_id": batch_id,
                "received_at": now,
            }
            for book_id, s in rows
        ]
        for part in _chunks(values, 2000):
            self.conn.execute(insert(t.wms_stock_lines), list(part))

    def counts(self, book_ids: Collection[int]) -> dict[str, int]:
        out = {}
        for name, tb in (("movements", t.wms_movements), ("stockLines", t.wms_stock_lines)):
            q = select(func.count()).select_from(tb).where(tb.c.book_id.in_(sorted(book_ids)))
            out[name] = int(self.conn.execute(q).scalar_one()) if book_ids else 0
        return out

    def last_movement_id(self) -> int:
        return int(self.conn.execute(select(func.coalesce(func.max(t.wms_movements.c.id), 0))).scalar_one())

    _WATCHED = (("movements", t.wms_movements), ("stock", t.wms_stock_lines), ("postings", t.postings), ("events", t.doc_events))

    def changed_books(self, cursors: dict[str, int]) -> tuple[dict[str, int], set[int]]:
        """Books with rows added since ``cursors`` (per watched table), and the new cursors."""
        out, books = dict(cursors), set()
        for name, tb in self._WATCHED:
            since = cursors.get(name, 0)
            top = int(self.conn.execute(select(func.coalesce(func.max(tb.c.id), 0))).scalar_one())
            if top > since:
                q = select(tb.c.book_id).where(tb.c.id > since, tb.c.id <= top).distinct()
                books |= {int(r.book_id) for r in self.conn.execute(q)}
            out[name] = top
        return out, books

    def books_with_wms_data(self) -> set[int]:
        q1 = select(t.wms_movements.c.book_id).distinct()
        q2 = select(t.wms_stock_lines.c.book_id).distinct()
        return {int(r.book_id) for r in self.conn.execute(q1)} | {int(r.book_id) for r in self.conn.execute(q2)}

    # -- the comparison's relations (w2.INPUTS) ------------------------------------------------

    def relations(self, book_ids: Collection[int], until: datetime) -> dict[str, list[tuple[object, ...]]]:
        """Every input relation of the comparison for ``book_ids``, up to ``until`` (exclusive)."""
        ids = sorted(book_ids)
        if not ids:
            return {name: [] for name in w2.INPUTS}
        b, it = t.books.c, t.book_items.c
        items = self.conn.execute(
            select(b.putrec_no, it.gds_mtno, it.dcl_unitcd, it.book_id, it.putrec_seqno)
            .join(t.books, b.id == it.book_id)
            .where(it.book_id.in_(ids))
        ).all()
        mt = {(int(r.book_id), int(r.putrec_seqno)): r.gds_mtno for r in items}
        putrec = {int(r.id): r.putrec_no for r in self.conn.execute(select(b.id, b.putrec_no).where(b.id.in_(ids)))}
        return {
            "items": [(r.putrec_no, r.gds_mtno, r.dcl_unitcd) for r in items],
            "decls": self._decls(ids, until, putrec),
            "postings": self._postings(ids, until, putrec, mt),
            "movements": self._movements(ids, until, putrec),
            "stock": self._stock(ids, until, putrec),
            "modes": [
                (r.putrec_no,) for r in self.conn.execute(select(b.putrec_no).where(b.id.in_(ids), b.wms_driven.is_(True)))
            ],
        }

    def _decls(self, ids: list[int], until: datetime, putrec: dict[int, str]) -> list[tuple[object, ...]]:
        i, ln, ev = t.invts.c, t.invt_lines.c, t.doc_events.c
        approved = (
            select(ev.doc_id, func.min(ev.recorded_at).label("at"))
            .where(ev.doc_type == "invt", ev.to_status == "approved", ev.book_id.in_(ids))
            .group_by(ev.doc_id)
            .subquery()
        )
        q = (
            select(
                i.book_id, i.bond_invt_no, i.impexp_markcd, ln.gds_seqno, ln.gds_mtno, ln.stock_status, ln.dcl_qty, ln.dcl_unitcd
            )
            .add_columns(approved.c.at)
            .join(t.invt_lines, ln.invt_id == i.id)
            .join(approved, approved.c.doc_id == i.id)
            .where(i.book_id.in_(ids), i.status == "approved", approved.c.at < until)
        )
        out: list[tuple[object, ...]] = [
            (putrec[int(r.book_id)], r.bond_invt_no, int(r.gds_seqno), r.impexp_markcd, r.gds_mtno, r.stock_status, None,
             int(r.dcl_qty), r.dcl_unitcd, to_us(r.at))
            for r in self.conn.execute(q)
        ]  # fmt: skip
        cv, cl, it = t.conversions.c, t.conversion_lines.c, t.book_items.c
        q2 = (
            select(cv.book_id, cv.entry_no, cv.from_status, cv.to_status, cv.created_at, cl.line_no, cl.qty, cl.dcl_unitcd)
            .add_columns(it.gds_mtno)
            .join(t.conversion_lines, cl.conversion_id == cv.id)
            .join(t.book_items, and_(it.book_id == cv.book_id, it.putrec_seqno == cl.putrec_seqno))
            .where(cv.book_id.in_(ids), cv.created_at < until)
        )
        out += [
            (putrec[int(r.book_id)], r.entry_no, int(r.line_no), "C", r.gds_mtno, r.to_status, r.from_status, int(r.qty),
             r.dcl_unitcd, to_us(r.created_at))
            for r in self.conn.execute(q2)
        ]  # fmt: skip
        return out

    def _postings(
        self, ids: list[int], until: datetime, putrec: dict[int, str], mt: dict[tuple[int, int], str]
    ) -> list[tuple[object, ...]]:
        p = t.postings.c
        q = (
            select(p.book_id, p.putrec_seqno, p.stock_status, func.sum(p.delta).label("qty"), p.recorded_at)
            .where(p.book_id.in_(ids), p.recorded_at < until)
            .group_by(p.book_id, p.putrec_seqno, p.stock_status, p.recorded_at)
        )
        return [
            (putrec[int(r.book_id)], mt[(int(r.book_id), int(r.putrec_seqno))], r.stock_status, int(r.qty), to_us(r.recorded_at))
            for r in self.conn.execute(q)
        ]

    def _movements(self, ids: list[int], until: datetime, putrec: dict[int, str]) -> list[tuple[object, ...]]:
        m = t.wms_movements.c
        q = select(t.wms_movements).where(m.book_id.in_(ids), m.occurred_at < until)
        return [
            (putrec[int(r.book_id)], r.wms_ref, r.kind, r.gds_mtno, r.stock_status, r.from_status, int(r.units), r.dcl_unitcd,
             to_us(r.occurred_at), r.rlt_no, r.rlt_gds_seqno)
            for r in self.conn.execute(q)
        ]  # fmt: skip

    def _stock(self, ids: list[int], until: datetime, putrec: dict[int, str]) -> list[tuple[object, ...]]:
        # One stocktake is one snapshotRef: its lines count as of its latest time, even if the WMS
        # stamped them a little apart (one location after another).
        s = t.wms_stock_lines.c
        q = (
            select(s.book_id, s.snapshot_ref, s.gds_mtno, s.stock_status, s.dcl_unitcd)
            .add_columns(func.sum(s.units).label("qty"), func.max(s.taken_at).label("at"))
            .where(s.book_id.in_(ids), s.taken_at < until)
            .group_by(s.book_id, s.snapshot_ref, s.gds_mtno, s.stock_status, s.dcl_unitcd)
        )
        rows = self.conn.execute(q).all()
        when: dict[tuple[int, str], int] = {}
        for r in rows:
            k = (int(r.book_id), r.snapshot_ref)
            when[k] = max(when.get(k, 0), to_us(r.at))
        return [
            (putrec[int(r.book_id)], when[(int(r.book_id), r.snapshot_ref)], r.gds_mtno, r.stock_status, r.dcl_unitcd, int(r.qty))
            for r in rows
        ]

    # -- reconciliation runs and findings ------------------------------------------------------

    def add_run(self, run: ReconRun) -> int:
        return int(
            self.conn.execute(
                insert(t.recon_runs)
                .values(
                    requested_by=run.requested_by,
                    owner_uscc=run.owner_uscc,
                    putrec_no=run.putrec_no,
                    period_from=run.period_from,
                    period_to=run.period_to,
                    tolerance_s=run.tolerance_s,
                    engine=run.engine,
                    counts=run.counts,
                    rows_compared=run.rows_compared,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                )
                .returning(t.recon_runs.c.id)
            ).scalar_one()
        )

    def get_run(self, run_id: int) -> ReconRun | None:
        r = self.conn.execute(select(t.recon_runs).where(t.recon_runs.c.id == run_id)).first()
        if r is None:
            return None
        return ReconRun(
            int(r.id), r.requested_by, r.owner_uscc, r.putrec_no, r.period_from, r.period_to, int(r.tolerance_s),
            r.engine, dict(r.counts), int(r.rows_compared), r.started_at, r.finished_at,
        )  # fmt: skip

    def add_findings(self, run_id: int | None, book_ids: dict[str, int], findings: Sequence[w2.Finding]) -> None:
        now = self.clock()
        values = [
            {
                "run_id": run_id,
                "book_id": book_ids[f.book],
                "cls": f.cls.value,
                "scope": f.scope.value,
                "ref": f.ref,
                "line": f.line,
                "gds_mtno": f.mtno,
                "stock_status": f.status,
                "wms_units": f.wms_qty,
                "other_units": f.other_qty,
                "diff_units": f.diff_qty,
                "adjust_units": f.adjust_qty,
                "wms_unitcd": f.wms_unit,
                "other_unitcd": f.other_unit,
                "wms_status": f.wms_status,
                "other_status": f.other_status,
                "n": f.n,
                "at": from_us(f.ts) if f.ts is not None else None,
                "first_seen_at": now,
            }
            for f in findings
        ]
        for part in _chunks(values, 2000):
            self.conn.execute(insert(t.recon_findings), list(part))

    def findings(
        self, run_id: int | None, book_ids: Collection[int], *, cls: str | None, limit: int, offset: int
    ) -> tuple[list[StoredFinding], int]:
        f, b = t.recon_findings.c, t.books.c
        where = [f.book_id.in_(sorted(book_ids)), f.run_id.is_(None) if run_id is None else f.run_id == run_id]
        if cls is not None:
            where.append(f.cls == cls)
        total = int(self.conn.execute(select(func.count()).select_from(t.recon_findings).where(*where)).scalar_one())
        q = (
            select(t.recon_findings, b.putrec_no)
            .join(t.books, b.id == f.book_id)
            .where(*where)
            .order_by(f.book_id, f.scope, f.ref, f.line, f.stock_status, f.cls)
            .limit(limit)
            .offset(offset)
        )
        return [_stored(r) for r in self.conn.execute(q)], total

    def finding(self, finding_id: int, book_ids: Collection[int]) -> StoredFinding | None:
        f, b = t.recon_findings.c, t.books.c
        q = (
            select(t.recon_findings, b.putrec_no)
            .join(t.books, b.id == f.book_id)
            .where(f.id == finding_id, f.book_id.in_(sorted(book_ids)))
        )
        r = self.conn.execute(q).first()
        return _stored(r) if r else None

    def replace_open(self, book_ids: Collection[int], findings: Sequence[w2.Finding], putrec_ids: dict[str, int]) -> None:
        """The continuous set (``run_id`` NULL) of these books becomes ``findings``.

        A finding already open keeps the time it was first seen.
        """
        f = t.recon_findings.c
        ids = sorted(book_ids)
        if self.is_pg:  # two refreshers must not interleave their delete and insert
            self.conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('bondedzone-recon-open'))")
        seen = {
            (int(r.book_id), r.cls, r.scope, r.ref, r.line, r.stock_status): r.first_seen_at
            for r in self.conn.execute(
                select(f.book_id, f.cls, f.scope, f.ref, f.line, f.stock_status, f.first_seen_at).where(
                    f.run_id.is_(None), f.book_id.in_(ids)
                )
            )
        }
        self.conn.execute(delete(t.recon_findings).where(f.run_id.is_(None), f.book_id.in_(ids)))
        self.add_findings(None, putrec_ids, findings)
        for x in findings:
            key = (putrec_ids[x.book], x.cls.value, x.scope.value, x.ref, x.line, x.status)
            if key in seen:
                self.conn.execute(
                    update(t.recon_findings)
                    .where(
                        f.run_id.is_(None),
                        f.book_id == key[0],
                        f.cls == key[1],
                        f.scope == key[2],
                        f.ref == key[3],
                        f.line.is_(None) if key[4] is None else f.line == key[4],
                        f.stock_status.is_(None) if key[5] is None else f.stock_status == key[5],
                    )
                    .values(first_seen_at=seen[key])
                )

    def evidence(self, book_id: int, finding: StoredFinding) -> dict[str, list[dict[str, Any]]]:
        """The records on both sides of a finding: the WMS's movements and stock lines, the declaration lines."""
        m = t.wms_movements.c
        conds: list[Any] = []
        if finding.scope == w2.Scope.MOVEMENT:
            conds.append(m.wms_ref == finding.ref)
        elif finding.scope == w2.Scope.DECLARATION:
            conds.append(and_(m.rlt_no == finding.ref, m.rlt_gds_seqno == finding.line))
        elif finding.gds_mtno is not None:
            conds.append(m.gds_mtno == finding.gds_mtno)
        moves = [
            _jsonable(dict(r._mapping))
            for r in self.conn.execute(
                select(
                    m.wms_ref, m.kind, m.gds_mtno, m.units, m.dcl_unitcd, m.stock_status, m.from_status, m.occurred_at, m.rlt_no,
                    m.rlt_gds_seqno,
                )
                .where(m.book_id == book_id, or_(*conds) if conds else false())
                .order_by(m.occurred_at)
                .limit(200)
            )
        ]  # fmt: skip
        decl: list[dict[str, Any]] = []
        if finding.scope == w2.Scope.DECLARATION:
            i, ln = t.invts.c, t.invt_lines.c
            decl = [
                _jsonable(dict(r._mapping))
                for r in self.conn.execute(
                    select(i.bond_invt_no, i.impexp_markcd, ln.gds_seqno, ln.gds_mtno, ln.stock_status, ln.dcl_qty, ln.dcl_unitcd)
                    .join(t.invt_lines, ln.invt_id == i.id)
                    .where(i.book_id == book_id, i.bond_invt_no == finding.ref, ln.gds_seqno == finding.line)
                )
            ]
        if finding.scope == w2.Scope.DECLARATION and not decl:  # an M9 conversion, by its entry number
            cv, cl, it = t.conversions.c, t.conversion_lines.c, t.book_items.c
            decl = [
                _jsonable(dict(r._mapping))
                for r in self.conn.execute(
                    select(cv.entry_no, cv.from_status, cv.to_status, cl.line_no, it.gds_mtno, cl.qty, cl.dcl_unitcd)
                    .join(t.conversion_lines, cl.conversion_id == cv.id)
                    .join(t.book_items, and_(it.book_id == cv.book_id, it.putrec_seqno == cl.putrec_seqno))
                    .where(cv.book_id == book_id, cv.entry_no == finding.ref, cl.line_no == finding.line)
                )
            ]
        stock: list[dict[str, Any]] = []
        if finding.scope in (w2.Scope.STOCK, w2.Scope.ITEM):
            s = t.wms_stock_lines.c
            stock = [
                _jsonable(dict(r._mapping))
                for r in self.conn.execute(
                    select(s.snapshot_ref, s.taken_at, s.gds_mtno, s.stock_status, s.location, s.units, s.dcl_unitcd)
                    .where(s.book_id == book_id, s.gds_mtno == finding.gds_mtno)
                    .order_by(s.taken_at.desc())
                    .limit(200)
                )
            ]
        return {"movements": moves, "declarationLines": decl, "stockLines": stock}


_WIRE = {
    "wms_ref": "wmsRef",
    "kind": "kind",
    "gds_mtno": "gdsMtno",
    "units": "dclQty",
    "dcl_qty": "dclQty",
    "dcl_unitcd": "dclUnitcd",
    "stock_status": "stockStatus",
    "from_status": "fromStatus",
    "occurred_at": "occurredAt",
    "rlt_no": "rltNo",
    "rlt_gds_seqno": "rltGdsSeqno",
    "bond_invt_no": "bondInvtNo",
    "impexp_markcd": "impexpMarkcd",
    "gds_seqno": "gdsSeqno",
    "snapshot_ref": "snapshotRef",
    "taken_at": "takenAt",
    "location": "location",
    "entry_no": "entryNo",
    "to_status": "toStatus",
    "line_no": "lineNo",
    "qty": "dclQty",
}


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the API shows it: 金关二期 names, decimal quantities, times with their zone."""
    out: dict[str, Any] = {}
    for k, x in d.items():
        if isinstance(x, datetime):
            x = x.isoformat()
        elif k in ("units", "dcl_qty", "qty") and x is not None:
            x = v.fmt_units(int(x))
        out[_WIRE.get(k, k)] = x
    return out


def _stored(r: Any) -> StoredFinding:
    return StoredFinding(
        int(r.id), r.run_id, int(r.book_id), r.putrec_no, r.cls, r.scope, r.ref, r.line, r.gds_mtno, r.stock_status,
        r.wms_units, r.other_units, r.diff_units, r.adjust_units, r.wms_unitcd, r.other_unitcd, r.wms_status, r.other_status,
        r.n, r.at, r.first_seen_at,
    )  # fmt: skip
