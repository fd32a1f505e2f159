"""M19 (book lifecycle, write-off) and M3 (a WMS-driven ledger), through the services on both engines.

Measure (十九): 设立 / 暂停 / 核销 / 注销 and timely write-off of logistics books — opening + in −
out = closing per item and status, compared with the stocktake; differences (盘盈/盘亏) explained
by the enterprise and approved by customs, then posted; a report an officer signs off.
Measure (三): for an AEO-advanced, WMS-networked warehouse the ledger follows the WMS's movements,
still compared automatically with the declarations.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from bondedzone import bootstrap
from bondedzone.adapters.files import writeoff_report
from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError
from bondedzone.services import audit, invts, reconcile, registry, writeoff
from bondedzone.services import wms as wms_service
from bondedzone.services.authz import Principal, Role
from tests import factories as f
from tests.conftest import Clock

AUDITOR = Principal(Role.AUDITOR, None, "test:auditor")


def _code(fn: object, *args: object, **kw: object) -> str:
    with pytest.raises(BzError) as e:
        fn(*args, **kw)  # type: ignore[operator]
    return e.value.code


def _stock(c: bootstrap.Container, book: str = f.OWNER_BOOK) -> dict[tuple[int, str], str]:
    with c.uow(write=False) as uow:
        rec = uow.books.get(book)
        assert rec is not None
        return {(r.putrec_seqno, r.stock_status): v.fmt_qty(r.quantity) for r in uow.ledger.stock(rec.id) if r.quantity}


def _ingest(c: bootstrap.Container, who: Principal, kind: str, records: list[dict[str, object]]) -> dict[str, object]:
    with c.uow() as uow:
        answer = wms_service.ingest(uow, who, kind, [wms_service.RawRecord(i, None, r) for i, r in enumerate(records, 1)])  # type: ignore[arg-type]
        uow.commit()
    return answer


def _count(at: datetime, ref: str, lines: list[tuple[str, str, str]]) -> list[dict[str, object]]:
    return [
        {"snapshotRef": ref, "putrecNo": f.OWNER_BOOK, "takenAt": at.isoformat(), "gdsMtno": mt, "stockStatus": "bonded",
         "dclQty": q, "dclUnitcd": unit}
        for mt, q, unit in lines
    ]  # fmt: skip


def _audit_ok(c: bootstrap.Container) -> None:
    with c.uow(write=False) as uow:
        report = audit.verify_all(uow, AUDITOR)
    assert report.ok, report.findings[:3]


def test_m19_a_book_an_enterprise_asks_for_posts_nothing_until_customs_sets_it_up(zone: f.Zone) -> None:
    c = zone.container
    with c.uow() as uow:
        book = registry.open_book(uow, zone.owner, registry.OpenBook("T5301W100077", "logistics", f.OWNER_USCC, "5301"))
        registry.add_book_item(uow, f.CUSTOMS, registry.AddBookItem("T5301W100077", 1, "MT-A", "8471300000", "电脑", "001"))
        uow.commit()
    assert book.status == "applied"
    invt = f.new_list(c, zone.owner, "T5301W100077", "I", [(1, "3")], inner="APPLIED-1")
    assert _code(f.approve, c, invt) == "BZ-BOOK-NOT-ACTIVE"
    assert _stock(c, "T5301W100077") == {}
    with c.uow() as uow:
        assert _code(writeoff.change_book, uow, zone.owner, "T5301W100077", "open") == "BZ-FORBIDDEN"
        opened = writeoff.change_book(uow, f.CUSTOMS, "T5301W100077", "open", "资料齐全，准予设立")
        uow.commit()
    assert opened.status == "active"
    f.approve(c, invt)
    assert _stock(c, "T5301W100077") == {(1, "bonded"): "3"}
    _audit_ok(c)


def test_m19_a_suspended_book_posts_nothing_and_is_closed_only_when_empty(zone: f.Zone) -> None:
    c = zone.container
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "5")], inner="LC-IN"))
    with c.uow() as uow:
        writeoff.change_book(uow, f.CUSTOMS, f.OWNER_BOOK, "suspend", "核查中")
        uow.commit()
    out = f.new_list(c, zone.owner, f.OWNER_BOOK, "E", [(1, "5")], inner="LC-OUT")
    assert _code(f.approve, c, out) == "BZ-BOOK-NOT-ACTIVE"
    assert _stock(c) == {(1, "bonded"): "5"}
    with c.uow() as uow:
        assert _code(writeoff.change_book, uow, f.CUSTOMS, f.OWNER_BOOK, "close") == "BZ-BOOK-CLOSE-BLOCKED"
        assert _code(writeoff.change_book, uow, f.CUSTOMS, f.OWNER_BOOK, "suspend") == "BZ-BOOK-STATE"
        assert _code(writeoff.change_book, uow, f.CUSTOMS, f.OWNER_BOOK, "delete") == "BZ-BOOK-ACTION"
        writeoff.change_book(uow, f.CUSTOMS, f.OWNER_BOOK, "resume")
        uow.commit()
    f.approve(c, out)
    with c.uow() as uow:
        closed = writeoff.change_book(uow, f.CUSTOMS, f.OWNER_BOOK, "close", "企业迁出")
        uow.commit()
    assert closed.status == "closed"
    with c.uow() as uow:
        assert _code(writeoff.change_book, uow, f.CUSTOMS, f.OWNER_BOOK, "resume") == "BZ-BOOK-STATE"
    with c.uow(write=False) as uow:
        events = [
            e for e in uow.ledger.events(uow.books.get(f.OWNER_BOOK).id, writeoff.DocType.BOOK, uow.books.get(f.OWNER_BOOK).id)
        ]  # type: ignore[union-attr]
    assert [(e.from_status, e.to_status) for e in events] == [
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "closed"),
    ]
    _audit_ok(c)


def _period(clock: Clock) -> tuple[datetime, datetime]:
    return clock.now - timedelta(days=1), clock.now + timedelta(hours=2)


def test_m19_write_off_opening_plus_in_minus_out_against_the_count(zone: f.Zone, clock: Clock) -> None:
    c = zone.container
    start = clock.now
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10"), (2, "4.5"), (3, "7")], inner="WO-IN"))
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "E", [(1, "3")], inner="WO-OUT"))
    clock.now += timedelta(hours=1)
    # Counted: item 1 two short (盘亏), item 2 half a kilo over (盘盈), item 3 as booked.
    _ingest(
        c,
        zone.owner,
        "stock",
        _count(clock.now, "ST-1", [("MT-00001", "5", "001"), ("MT-00002", "5", "035"), ("MT-00003", "7", "007")]),
    )
    clock.now += timedelta(hours=1)
    with c.uow() as uow:
        wo = writeoff.create(uow, zone.owner, writeoff.NewWriteOff(f.OWNER_BOOK, start - timedelta(hours=1), clock.now))
        uow.commit()
    got = {
        (ln.putrec_seqno, ln.opening, ln.in_units, ln.out_units, ln.closing, ln.counted, ln.difference, ln.kind)
        for ln in wo.lines
    }
    u = 100_000
    assert got == {
        (1, 0, 10 * u, 3 * u, 7 * u, 5 * u, -2 * u, "loss"),
        (2, 0, 45 * u // 10, 0, 45 * u // 10, 5 * u, u // 2, "surplus"),
        (3, 0, 7 * u, 0, 7 * u, 7 * u, 0, None),
    }
    assert wo.status.value == "draft" and wo.snapshot_ref == "ST-1"
    with c.uow() as uow:
        assert _code(writeoff.submit, uow, zone.owner, wo.id) == "BZ-WRITEOFF-UNEXPLAINED"
        assert _code(writeoff.explain, uow, zone.owner, wo.id, [(9, "bonded", "不存在的行")]) == "BZ-WRITEOFF-LINE"
        assert _code(writeoff.explain, uow, zone.owner, wo.id, [(1, "bonded", " ")]) == "BZ-WRITEOFF-EXPLANATION"
    with c.uow() as uow:
        writeoff.explain(uow, zone.owner, wo.id, [(1, "bonded", "运输破损两台，已报废"), (2, "bonded", "称重误差")])
        submitted = writeoff.submit(uow, zone.owner, wo.id)
        uow.commit()
    assert submitted.status.value == "submitted"
    before = _stock(c)
    with c.uow() as uow:
        assert _code(writeoff.decide, uow, zone.owner, wo.id, approve=True, note=None) == "BZ-FORBIDDEN"
        assert _code(writeoff.decide, uow, zone.stranger, wo.id, approve=True, note=None) == "BZ-FORBIDDEN"
        assert _code(writeoff.get, uow, zone.stranger, wo.id) == "BZ-WRITEOFF-NOT-FOUND"
    assert _stock(c) == before == {(1, "bonded"): "7", (2, "bonded"): "4.5", (3, "bonded"): "7"}
    with c.uow() as uow:
        approved = writeoff.decide(uow, f.CUSTOMS, wo.id, approve=True, note="差异已说明，准予核销")
        uow.commit()
    # The next period opens at what was counted.
    assert approved.status.value == "approved" and approved.decided_by == f.CUSTOMS.subject
    assert _stock(c) == {(1, "bonded"): "5", (2, "bonded"): "5", (3, "bonded"): "7"}
    _audit_ok(c)
    with c.uow() as uow:
        assert _code(writeoff.decide, uow, f.CUSTOMS, wo.id, approve=True, note=None) == "BZ-WRITEOFF-STATE"
        assert (
            _code(writeoff.create, uow, zone.owner, writeoff.NewWriteOff(f.OWNER_BOOK, start, clock.now)) == "BZ-WRITEOFF-OVERLAP"
        )
    # The report, in three forms, carries the figures and the sign-off.
    with c.uow(write=False) as uow:
        final = writeoff.get(uow, AUDITOR, wo.id)
    page = writeoff_report.page(final)
    for text in (
        "账册核销报告",
        f.OWNER_BOOK,
        "运输破损两台，已报废",
        "盘亏",
        "盘盈",
        "-2",
        "0.5",
        "差异已说明，准予核销",
        f.CUSTOMS.subject,
    ):
        assert text in page
    assert "<script" not in page and "http" not in page.split("</style>")[1]
    pdf = writeoff_report.pdf(final)
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf and pdf.rstrip().endswith(b"%%EOF")
    with zipfile.ZipFile(io.BytesIO(writeoff_report.xlsx(final))) as z:
        strings = z.read("xl/sharedStrings.xml").decode()
    assert "运输破损两台，已报废" in strings and "MT-00002" in strings


def test_m19_no_stocktake_no_write_off_and_a_returned_one_is_resubmitted(zone: f.Zone, clock: Clock) -> None:
    c = zone.container
    start = clock.now
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10")], inner="RT-IN"))
    clock.now += timedelta(hours=1)
    with c.uow() as uow:
        cmd = writeoff.NewWriteOff(f.OWNER_BOOK, start - timedelta(hours=1), clock.now)
        assert _code(writeoff.create, uow, zone.owner, cmd) == "BZ-WRITEOFF-NO-STOCKTAKE"
        assert _code(writeoff.create, uow, zone.stranger, cmd) == "BZ-BOOK-NOT-FOUND"
        future = writeoff.NewWriteOff(f.OWNER_BOOK, start, clock.now + timedelta(days=1))
        assert _code(writeoff.create, uow, zone.owner, future) == "BZ-RECON-PERIOD"
    _ingest(c, zone.owner, "stock", _count(clock.now, "ST-R", [("MT-00001", "9", "001")]))
    clock.now += timedelta(hours=1)
    with c.uow() as uow:
        wo = writeoff.create(uow, zone.owner, writeoff.NewWriteOff(f.OWNER_BOOK, start - timedelta(hours=1), clock.now))
        writeoff.explain(uow, zone.owner, wo.id, [(1, "bonded", "少了一台")])
        writeoff.submit(uow, zone.owner, wo.id)
        assert _code(writeoff.decide, uow, f.CUSTOMS, wo.id, approve=False, note=None) == "BZ-TEXT-INVALID"
        returned = writeoff.decide(uow, f.CUSTOMS, wo.id, approve=False, note="请附报废证明")
        uow.commit()
    assert returned.status.value == "returned" and _stock(c) == {(1, "bonded"): "10"}
    with c.uow() as uow:
        writeoff.explain(uow, zone.owner, wo.id, [(1, "bonded", "少了一台，报废证明编号 BF-2026-001")])
        writeoff.submit(uow, zone.owner, wo.id)
        writeoff.decide(uow, f.CUSTOMS, wo.id, approve=True, note=None)
        uow.commit()
    assert _stock(c) == {(1, "bonded"): "9"}
    _audit_ok(c)


def _aeo_warehouse(c: bootstrap.Container) -> tuple[Principal, str]:
    uscc = f.make_uscc("MA6T00077")
    with c.uow() as uow:
        registry.register_enterprise(
            uow, f.CUSTOMS, registry.RegisterEnterprise(uscc, "5301340077", "联网高级认证仓储", "aeo_advanced", True, True)
        )
        registry.open_book(uow, f.CUSTOMS, registry.OpenBook("T5301W100088", "logistics", uscc, "5301"))
        registry.add_book_item(uow, f.CUSTOMS, registry.AddBookItem("T5301W100088", 1, "AEO-1", "8471300000", "服务器", "001"))
        uow.commit()
    return Principal(Role.ENTERPRISE, uscc, "test:aeo"), "T5301W100088"


def _receipt(book: str, ref: str, qty: str, at: datetime, **kw: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "wmsRef": ref, "putrecNo": book, "kind": "receipt", "gdsMtno": "AEO-1", "dclQty": qty, "dclUnitcd": "001",
        "stockStatus": "bonded", "occurredAt": at.isoformat(),
    }  # fmt: skip
    rec.update(kw)
    return rec


def test_m3_only_an_aeo_networked_warehouse_may_be_wms_driven(zone: f.Zone) -> None:
    c = zone.container
    _, book = _aeo_warehouse(c)
    with c.uow() as uow:
        assert _code(writeoff.set_wms_driven, uow, f.CUSTOMS, f.OWNER_BOOK, True) == "BZ-M3-NOT-ELIGIBLE"  # ordinary credit
        assert _code(writeoff.set_wms_driven, uow, zone.owner, book, True) == "BZ-FORBIDDEN"
        assert writeoff.set_wms_driven(uow, f.CUSTOMS, book, True).wms_driven
        uow.commit()


def test_m3_the_ledger_follows_the_wms_and_is_still_compared_with_declarations(zone: f.Zone, clock: Clock) -> None:
    c = zone.container
    who, book = _aeo_warehouse(c)
    with c.uow() as uow:
        writeoff.set_wms_driven(uow, f.CUSTOMS, book, True)
        uow.commit()
    start = clock.now
    # A declared import: the list is approved but posts nothing; the WMS receipts do.
    invt = f.new_list(c, who, book, "I", [(1, "10")], inner="M3-IN")
    f.approve(c, invt)
    assert _stock(c, book) == {}
    with c.uow(write=False) as uow:
        no = invts.get_invt(uow, f.CUSTOMS, invt).bond_invt_no
    clock.now += timedelta(hours=1)
    answer = _ingest(
        c,
        who,
        "movements",
        [
            _receipt(book, "M3-R1", "6", clock.now, rltNo=no, rltGdsSeqno=1),
            _receipt(book, "M3-R2", "4", clock.now, rltNo=no, rltGdsSeqno=1),
            _receipt(book, "M3-R3", "2", clock.now - timedelta(hours=3)),  # nobody declared these two, long ago
        ],
    )
    assert answer["accepted"] == 3
    assert _stock(c, book) == {(1, "bonded"): "12"}
    # A movement the ledger cannot hold is refused, and nothing of its batch posts.
    with pytest.raises(BzError) as e:
        _ingest(
            c, who, "movements", [_receipt(book, "M3-R4", "1", clock.now), _receipt(book, "M3-X", "1", clock.now, gdsMtno="NOPE")]
        )
    assert [x.code for x in e.value.errors] == ["BZ-WMS-M3-ITEM"]  # type: ignore[attr-defined]
    assert _stock(c, book) == {(1, "bonded"): "12"}
    count = {"snapshotRef": "M3-ST", "putrecNo": book, "takenAt": clock.now.isoformat(), "gdsMtno": "AEO-1"}
    _ingest(c, who, "stock", [{**count, "stockStatus": "bonded", "dclQty": "12", "dclUnitcd": "001"}])
    summary = reconcile.run(
        c.uow, f.CUSTOMS, c.compare_engine(), engine_name="duckdb",
        period_from=start - timedelta(hours=6), period_to=clock.now + timedelta(hours=3), tolerance=timedelta(hours=2),
        putrec_no=book,
    )  # fmt: skip
    with c.uow(write=False) as uow:
        rows, _ = reconcile.findings(uow, f.CUSTOMS, summary.run.id)
    # The receipts match their declaration; the undeclared one is found; stock equals the ledger.
    assert [(x.cls, x.scope, x.ref) for x in rows] == [("movement_without_declaration", "movement", "M3-R3")]
    _audit_ok(c)


def test_m19_books_are_listed_with_their_status(zone: f.Zone) -> None:
    with zone.container.uow(write=False) as uow:
        books = registry.list_books(uow, f.CUSTOMS)
    assert {(b.putrec_no, b.status, b.wms_driven) for b in books} >= {(f.OWNER_BOOK, "active", False)}
    assert datetime.now(UTC) > datetime(2026, 1, 1, tzinfo=UTC)
