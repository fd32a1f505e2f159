"""W2 through storage (M3, M22): a generated zone loaded through the services, compared from the database.

The zone's declarations are entered, declared and approved at their own times (the ledger posts
then), its WMS movements and stocktake arrive as the enterprises' batches, and the comparison reads
everything back from SQLite or PostgreSQL: it must still find exactly the injected discrepancies.
Re-sent and overlapping batches change nothing, and the continuous set (W3) follows new movements.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.config import Settings
from bondedzone.entrypoints.cli.demo import make_uscc
from bondedzone.services import reconcile, synth
from bondedzone.services import wms as wms_service
from bondedzone.services.authz import Principal, Role
from tests import factories as f

Zone = tuple[bootstrap.Container, synth.ZoneData, synth.Loaded]


@pytest.fixture
def zone(db_url: str) -> Iterator[tuple[bootstrap.Container, synth.ZoneData, synth.Loaded]]:
    data = synth.generate(enterprises=3, days=6, seed=5, inject=2)
    clock = synth.SettableClock(datetime(2026, 10, 1, tzinfo=UTC))
    c = bootstrap.build(Settings(database_url=db_url, load_demo=False), clock=clock)
    usccs = [make_uscc(f"MA6K1{n:04d}") for n in range(1, 4)]
    loaded = synth.load(c.uow, clock, data, usccs=usccs, customs_codes=[f"53019900{n:02d}" for n in range(1, 4)])
    yield c, data, loaded
    c.engine.dispose()


def _run(c: bootstrap.Container, data: synth.ZoneData, who: Principal = f.CUSTOMS) -> reconcile.RunSummary:
    p = data.params
    return reconcile.run(
        c.uow,
        who,
        c.compare_engine(),
        engine_name="duckdb",
        period_from=datetime.fromtimestamp(p.p_from / 1e6, tz=UTC),
        period_to=datetime.fromtimestamp(p.p_to / 1e6, tz=UTC),
        tolerance=timedelta(microseconds=p.tolerance),
    )


def _keys(c: bootstrap.Container, run_id: int | None, who: Principal = f.CUSTOMS) -> set[synth.Key]:
    with c.uow(write=False) as uow:
        rows, total = reconcile.findings(uow, who, run_id, limit=1000)
    assert total == len(rows)
    return {(x.cls, x.scope, x.putrec_no, x.ref, x.line, x.stock_status if x.scope == "stock" else None) for x in rows}


def test_w2_from_the_database_finds_exactly_the_injected_discrepancies(zone: Zone) -> None:
    c, data, loaded = zone
    summary = _run(c, data)
    truth = loaded.truth(data)
    found = _keys(c, summary.run.id)
    assert synth.score(found, truth) == (1.0, 1.0), (sorted(found - truth, key=str), sorted(truth - found, key=str))
    assert summary.errors + summary.lags == len(truth)
    assert summary.run.counts["timing_lag"] == summary.lags == 2 * 2  # a movement and a declaration per injection round


def test_m22_resent_and_overlapping_batches_change_nothing(zone: Zone) -> None:
    c, data, loaded = zone
    book = data.enterprises[0].book
    who = Principal(Role.ENTERPRISE, loaded.usccs[book], "wms")

    def counts() -> tuple[int, int, int]:
        with c.engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                int(conn.execute(select(func.count()).select_from(tb)).scalar_one())
                for tb in (t.wms_movements, t.wms_stock_lines, t.wms_batches)
            )

    before = counts()
    first = _run(c, data)
    # Every movement of the book again, in two overlapping halves: all duplicates.
    with c.engine.connect() as conn:
        q = select(t.wms_movements.c.wms_ref).where(t.wms_movements.c.book_id == _book_id(c, book))
        refs = [r.wms_ref for r in conn.execute(q)]
    records = _records_of(c, book, refs)
    half = len(records) // 2
    for part in (records[: half + 10], records[half - 10 :]):
        with c.uow() as uow:
            answer = wms_service.ingest(uow, who, "movements", part)
            uow.commit()
        assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (0, len(part), 0)
        assert answer["batchId"] is None
    assert counts() == before
    again = _run(c, data)
    assert _keys(c, again.run.id) == _keys(c, first.run.id)


def test_w3_the_open_set_follows_a_new_movement(zone: Zone) -> None:
    c, data, loaded = zone
    end = datetime.fromtimestamp(data.params.p_to / 1e6, tz=UTC)
    book = data.enterprises[1].book
    with c.uow(write=False) as uow:
        ids = sorted(uow.wms.books_of(None).keys())
    tol = timedelta(microseconds=data.params.tolerance)

    def refresh(now: datetime, books: list[int]) -> None:
        reconcile.refresh_open(c.uow, c.compare_engine(), books, now=now, window=timedelta(days=30), tolerance=tol)

    refresh(end, ids)
    assert _keys(c, None) == loaded.truth(data)
    # Three hours on, the lags have become errors; a receipt after the stocktake joins them.
    later = end + timedelta(hours=3)
    refresh(later, ids)
    open_before = _keys(c, None)
    assert {k for k in open_before if k[0] == "timing_lag"} == set()
    item = next(i for i in data.items if i.book == book)
    who = Principal(Role.ENTERPRISE, loaded.usccs[book], "wms")
    rec = {
        "wmsRef": "LATE-RECEIPT-1",
        "putrecNo": book,
        "kind": "receipt",
        "gdsMtno": item.mtno,
        "dclQty": "2",
        "dclUnitcd": item.unit,
        "stockStatus": "bonded",
        "occurredAt": (end + timedelta(minutes=30)).isoformat(),
    }
    clock = c.uow.clock
    assert isinstance(clock, synth.SettableClock)
    clock.set(later)  # the receipt is not in the future
    with c.uow() as uow:
        wms_service.ingest(uow, who, "movements", [wms_service.RawRecord(1, None, rec)])
        uow.commit()
    refresh(later, [_book_id(c, book)])
    after = _keys(c, None)
    assert after - open_before == {("movement_without_declaration", "movement", book, "LATE-RECEIPT-1", None, None)}
    assert open_before - after == set()


def test_w2_an_enterprise_reconciles_and_reads_only_its_own_books(zone: Zone) -> None:
    c, data, loaded = zone
    book = data.enterprises[2].book
    who = Principal(Role.ENTERPRISE, loaded.usccs[book], "self-check")
    summary = _run(c, data, who)
    mine = _keys(c, summary.run.id, who)
    assert mine == {k for k in loaded.truth(data) if k[2] == book}
    other = Principal(Role.ENTERPRISE, loaded.usccs[data.enterprises[0].book], "other")
    with c.uow(write=False) as uow, pytest.raises(Exception, match=r"does not exist"):
        reconcile.get_run(uow, other, summary.run.id)


def _book_id(c: bootstrap.Container, putrec_no: str) -> int:
    with c.uow(write=False) as uow:
        return uow.wms.book_ids([putrec_no])[putrec_no]


def _records_of(c: bootstrap.Container, putrec_no: str, refs: list[str]) -> list[wms_service.RawRecord]:
    m = t.wms_movements.c
    out = []
    with c.engine.connect() as conn:
        rows = conn.execute(select(t.wms_movements).where(m.wms_ref.in_(refs)).order_by(m.id)).all()
    for i, r in enumerate(rows, start=1):
        at = r.occurred_at if r.occurred_at.tzinfo else r.occurred_at.replace(tzinfo=UTC)
        rec: dict[str, object] = {
            "wmsRef": r.wms_ref,
            "putrecNo": putrec_no,
            "kind": r.kind,
            "gdsMtno": r.gds_mtno,
            "dclQty": synth._qty_str(int(r.units)),
            "dclUnitcd": r.dcl_unitcd,
            "stockStatus": r.stock_status,
            "occurredAt": at.isoformat(),
        }
        for key, col in (("fromStatus", "from_status"), ("rltNo", "rlt_no"), ("rltGdsSeqno", "rlt_gds_seqno")):
            if getattr(r, col) is not None:
                rec[key] = getattr(r, col)
        if r.from_location:
            rec["fromLocation"], rec["toLocation"] = r.from_location, r.to_location
        out.append(wms_service.RawRecord(i, None, rec))
    return out
