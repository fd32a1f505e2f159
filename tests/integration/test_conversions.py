"""M9 status conversions and L2 corrections through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bondedzone.adapters.db import tables as t
from bondedzone.domain.errors import BzError
from bondedzone.domain.ledger import DocType
from bondedzone.domain.rules.m9_status_conversion import ConversionLineInput, StatusConversion
from bondedzone.services import audit, conversions, ledger_ops
from bondedzone.services.authz import Principal
from tests import factories as f

ENTRY = "530120260000000017"
D = Decimal


def stock(zone: f.Zone, book: str = f.OWNER_BOOK) -> dict[tuple[int, str], Decimal]:
    with zone.container.uow(write=False) as uow:
        return {(r.putrec_seqno, r.stock_status): r.quantity for r in ledger_ops.stock(uow, zone.customs, book)}


def snapshot(zone: f.Zone) -> dict[str, Any]:
    """Everything a refused command must leave as it was."""
    with zone.container.engine.connect() as c:
        return {
            name: sorted(tuple(r) for r in c.execute(select(table)))
            for name, table in (
                ("postings", t.postings),
                ("events", t.doc_events),
                ("balances", t.stock_balances),
                ("conversions", t.conversions),
                ("conversion_lines", t.conversion_lines),
                ("books", t.books),
            )
        }


def convert(zone: f.Zone, who: Principal, frm: str, to: str, lines: list[tuple[int, str]], **kw: Any) -> StatusConversion:
    cmd = conversions.ConvertStatus(
        putrec_no=kw.pop("book", f.OWNER_BOOK),
        entry_no=kw.pop("entry", ENTRY),
        from_status=frm,
        to_status=to,
        lines=[ConversionLineInput(n, seq, q, kw.get("unit") or f.UNITS[seq]) for n, (seq, q) in enumerate(lines, start=1)],
        rmk="分类监管",
    )
    with zone.container.uow() as uow:
        conv = conversions.convert_status(uow, who, cmd)
        uow.commit()
    return conv


def stocked(zone: f.Zone, status: str, spec: list[tuple[int, str]], inner: str = "IN-1", book: str = f.OWNER_BOOK) -> None:
    who = zone.owner if book == f.OWNER_BOOK else zone.stranger
    f.approve(zone.container, f.new_list(zone.container, who, book, "I", spec, inner=inner, status=status))


def conversion_postings(zone: f.Zone, conv_id: int) -> list[Any]:
    with zone.container.engine.connect() as c:
        q = select(t.postings).where(t.postings.c.doc_type == "conversion", t.postings.c.doc_id == conv_id)
        return list(c.execute(q.order_by(t.postings.c.chain_seq)))


def assert_audit_ok(zone: f.Zone) -> None:
    with zone.container.uow(write=False) as uow:
        report = audit.verify_all(uow, zone.customs)
    assert report.ok, report.findings


# ---- M9 -----------------------------------------------------------------------------------------


def test_non_bonded_to_bonded_posts_two_legs_directly(zone: f.Zone) -> None:  # M9
    stocked(zone, "non_bonded", [(2, "350.5")])
    conv = convert(zone, zone.owner, "non_bonded", "bonded", [(2, "50")])
    assert conv.id > 0 and conv.entry_no == ENTRY
    assert stock(zone) == {(2, "bonded"): D("50"), (2, "non_bonded"): D("300.5")}
    rows = conversion_postings(zone, conv.id)
    assert [(r.putrec_seqno, r.stock_status, r.delta, r.doc_line, r.leg, r.corrects) for r in rows] == [
        (2, "non_bonded", -5_000_000, 1, 0, None),
        (2, "bonded", 5_000_000, 1, 1, None),
    ]
    # one transaction: one timestamp, consecutive links right after the conversion's own event
    assert rows[0].recorded_at == rows[1].recorded_at
    assert rows[1].chain_seq == rows[0].chain_seq + 1
    with zone.container.uow(write=False) as uow:
        stored = conversions.get_conversion(uow, zone.owner, conv.id)
        rec = uow.books.get(f.OWNER_BOOK)
        assert rec is not None
        events = uow.ledger.events(rec.id, DocType.CONVERSION, conv.id)
    assert stored == conv
    assert [(e.to_status, e.seq) for e in events] == [("posted", rows[0].chain_seq - 1)]
    assert_audit_ok(zone)


def test_bonded_to_non_bonded_posts_two_legs_per_line(zone: f.Zone) -> None:  # M9
    stocked(zone, "bonded", [(1, "10"), (3, "4")])
    conv = convert(zone, zone.owner, "bonded", "non_bonded", [(1, "10"), (3, "1.25")])
    assert stock(zone) == {
        (1, "bonded"): D("0"),
        (1, "non_bonded"): D("10"),
        (3, "bonded"): D("2.75"),
        (3, "non_bonded"): D("1.25"),
    }
    rows = conversion_postings(zone, conv.id)
    assert [(r.doc_line, r.leg, r.stock_status, r.delta) for r in rows] == [
        (1, 0, "bonded", -1_000_000),
        (1, 1, "non_bonded", 1_000_000),
        (2, 0, "bonded", -125_000),
        (2, 1, "non_bonded", 125_000),
    ]
    assert len({r.recorded_at for r in rows}) == 1
    assert_audit_ok(zone)


def test_customs_may_convert_for_an_enterprise(zone: f.Zone) -> None:
    stocked(zone, "non_bonded", [(1, "3")])
    convert(zone, zone.customs, "non_bonded", "bonded", [(1, "3")])
    assert stock(zone) == {(1, "non_bonded"): D("0"), (1, "bonded"): D("3")}


def test_overdraw_of_the_source_refuses_the_whole_conversion(zone: f.Zone) -> None:  # M9 + L2
    stocked(zone, "bonded", [(1, "10"), (2, "1")])
    stocked(zone, "non_bonded", [(2, "100")], inner="IN-2")  # plenty, but in the other status
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        convert(zone, zone.owner, "bonded", "non_bonded", [(1, "4"), (2, "1.5")])
    assert exc.value.code == "BZ-LEDGER-NEGATIVE"
    assert {k: exc.value.detail[k] for k in ("gdsSeqno", "putrecSeqno", "stockStatus", "balance", "shortfall")} == {
        "gdsSeqno": 2,
        "putrecSeqno": 2,
        "stockStatus": "bonded",
        "balance": "1",
        "shortfall": "0.5",
    }
    assert snapshot(zone) == before  # not even line 1, nor the conversion record, nor its event
    convert(zone, zone.owner, "bonded", "non_bonded", [(1, "4"), (2, "1")])  # the entryNo was not used up
    assert stock(zone)[(2, "bonded")] == 0


def test_duplicate_entry_no_is_refused_in_the_same_book(zone: f.Zone) -> None:
    stocked(zone, "non_bonded", [(1, "10")])
    stocked(zone, "non_bonded", [(1, "10")], inner="S-IN", book=f.STRANGER_BOOK)
    convert(zone, zone.owner, "non_bonded", "bonded", [(1, "2")])
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        convert(zone, zone.owner, "non_bonded", "bonded", [(1, "2")])
    assert exc.value.code == "BZ-CONV-DUPLICATE"
    assert exc.value.detail == {"entryNo": ENTRY, "putrecNo": f.OWNER_BOOK}
    assert snapshot(zone) == before
    assert stock(zone) == {(1, "non_bonded"): D("8"), (1, "bonded"): D("2")}
    # the same declaration may back a conversion in another enterprise's book
    convert(zone, zone.stranger, "non_bonded", "bonded", [(1, "1")], book=f.STRANGER_BOOK)
    assert stock(zone, f.STRANGER_BOOK) == {(1, "non_bonded"): D("9"), (1, "bonded"): D("1")}


@pytest.mark.parametrize(
    ("frm", "to", "lines", "unit", "code"),
    [
        ("non_bonded", "bonded", [(1, "1")], "035", "BZ-INVT-UNIT-MISMATCH"),
        ("bonded", "bonded", [(1, "1")], None, "BZ-CONV-SAME-STATUS"),
        ("non_bonded", "bonded", [(9, "1")], "001", "BZ-INVT-UNKNOWN-ITEM"),
        ("non_bonded", "bonded", [(1, "0")], None, "BZ-QTY-INVALID"),
    ],
)
def test_invalid_conversion_changes_nothing(
    zone: f.Zone, frm: str, to: str, lines: list[tuple[int, str]], unit: str | None, code: str
) -> None:
    stocked(zone, "non_bonded", [(1, "5")])
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        convert(zone, zone.owner, frm, to, lines, unit=unit)
    assert exc.value.code == code
    assert snapshot(zone) == before


def test_bad_entry_no_is_refused(zone: f.Zone) -> None:
    stocked(zone, "non_bonded", [(1, "5")])
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        convert(zone, zone.owner, "non_bonded", "bonded", [(1, "1")], entry="5301")
    assert exc.value.code == "BZ-ENTRY-NO-INVALID"
    assert snapshot(zone) == before


def test_an_enterprise_cannot_convert_another_enterprises_book(zone: f.Zone) -> None:
    stocked(zone, "non_bonded", [(1, "5")])
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        convert(zone, zone.stranger, "non_bonded", "bonded", [(1, "1")])
    assert (exc.value.code, exc.value.detail) == ("BZ-BOOK-NOT-FOUND", {"putrecNo": f.OWNER_BOOK})
    assert snapshot(zone) == before


@pytest.mark.parametrize("role", ["gate", "bank", "auditor", "zone_admin"])
def test_other_roles_may_not_convert(zone: f.Zone, role: str) -> None:
    from bondedzone.services.authz import Role

    stocked(zone, "non_bonded", [(1, "5")])
    with pytest.raises(BzError) as exc:
        convert(zone, Principal(Role(role), None, f"test:{role}"), "non_bonded", "bonded", [(1, "1")])
    assert exc.value.code == "BZ-FORBIDDEN"


def test_a_stranger_cannot_read_the_conversion(zone: f.Zone) -> None:
    stocked(zone, "non_bonded", [(1, "5")])
    conv = convert(zone, zone.owner, "non_bonded", "bonded", [(1, "1")])
    with zone.container.uow(write=False) as uow:
        with pytest.raises(BzError) as exc:
            conversions.get_conversion(uow, zone.stranger, conv.id)
        assert exc.value.code == "BZ-CONV-NOT-FOUND"
        with pytest.raises(BzError) as exc:
            conversions.get_conversion(uow, zone.owner, conv.id + 1000)
        assert exc.value.code == "BZ-CONV-NOT-FOUND"


# ---- L2 corrections -----------------------------------------------------------------------------


def correct(zone: f.Zone, who: Principal, posting_id: int, delta: str, reason: str = "盘点差异 / stocktake") -> Any:
    with zone.container.uow() as uow:
        made = ledger_ops.correct_posting(uow, who, ledger_ops.CorrectPosting(posting_id, delta, reason))
        uow.commit()
    return made


def posting_row(zone: f.Zone, posting_id: int) -> tuple[Any, ...]:
    with zone.container.engine.connect() as c:
        return tuple(c.execute(select(t.postings).where(t.postings.c.id == posting_id)).one())


def first_posting(zone: f.Zone) -> int:
    with zone.container.engine.connect() as c:
        return int(c.execute(select(t.postings.c.id).order_by(t.postings.c.id)).scalars().first() or 0)


def test_correction_is_a_new_posting_referencing_the_original(zone: f.Zone) -> None:  # L2
    stocked(zone, "bonded", [(1, "10")])
    pid = first_posting(zone)
    original = posting_row(zone, pid)
    made = correct(zone, zone.customs, pid, "-1.5")
    assert made.id != pid
    assert made.putrec_no == f.OWNER_BOOK
    p = made.posting
    assert (p.corrects, p.delta, p.doc_type, p.doc_id, p.doc_line, p.putrec_seqno, p.stock_status) == (
        pid,
        D("-1.5"),
        "correction",
        pid,
        1,
        1,
        "bonded",
    )
    assert stock(zone) == {(1, "bonded"): D("8.5")}
    assert posting_row(zone, pid) == original  # never edited
    second = correct(zone, zone.customs, pid, "0.5")
    assert second.posting.doc_line == 2  # each correction is its own document line
    assert stock(zone) == {(1, "bonded"): D("9")}
    assert posting_row(zone, pid) == original
    assert_audit_ok(zone)


def test_correction_may_not_flip_the_sign_of_the_original(zone: f.Zone) -> None:
    stocked(zone, "bonded", [(1, "10")])
    pid = first_posting(zone)
    correct(zone, zone.customs, pid, "-6")
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        correct(zone, zone.customs, pid, "-4.00001")  # earlier corrections count
    assert exc.value.code == "BZ-CORRECTION-INVALID"
    assert snapshot(zone) == before
    correct(zone, zone.customs, pid, "-4")  # down to exactly zero is allowed
    assert stock(zone) == {(1, "bonded"): D("0")}


def test_correction_may_not_overdraw_the_balance(zone: f.Zone) -> None:
    stocked(zone, "bonded", [(1, "10")])
    pid = first_posting(zone)
    f.approve(zone.container, f.new_list(zone.container, zone.owner, f.OWNER_BOOK, "E", [(1, "8")], inner="OUT-1"))
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        correct(zone, zone.customs, pid, "-5")  # within the original's sign, but only 2 are left
    assert exc.value.code == "BZ-LEDGER-NEGATIVE"
    assert (exc.value.detail["balance"], exc.value.detail["shortfall"]) == ("2", "3")
    assert snapshot(zone) == before


@pytest.mark.parametrize("persona", ["owner", "stranger", "gate", "auditor", "bank", "zone_admin"])
def test_only_customs_may_correct(zone: f.Zone, persona: str) -> None:
    from bondedzone.services.authz import Role

    stocked(zone, "bonded", [(1, "10")])
    who = {"owner": zone.owner, "stranger": zone.stranger}.get(persona) or Principal(Role(persona), None, "test:x")
    before = snapshot(zone)
    with pytest.raises(BzError) as exc:
        correct(zone, who, first_posting(zone), "-1")
    assert exc.value.code == "BZ-FORBIDDEN"
    assert snapshot(zone) == before


def test_correcting_a_missing_posting(zone: f.Zone) -> None:
    with pytest.raises(BzError) as exc:
        correct(zone, zone.customs, 999_999, "-1")
    assert (exc.value.code, exc.value.detail) == ("BZ-POSTING-NOT-FOUND", {"id": 999_999})
