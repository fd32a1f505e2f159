"""L1/L4/M20 aggregates without a database: registration, books, items, inventory lists, lifecycle."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from stdnum.cn import uscc as uscc_lib

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.model import (
    MAX_LINES,
    TRANSITIONS,
    Book,
    BookItem,
    Enterprise,
    InventoryList,
    InvtAction,
    InvtLineInput,
    InvtStatus,
    new_inventory_list,
    next_status,
)


def _uscc(org: str = "MA6T00001") -> str:
    body = "91530100" + org
    return body + uscc_lib.calc_check_digit(body + "0")


def _enterprise(*, inside: bool = True, credit: str = "ordinary") -> Enterprise:
    return Enterprise.register(
        uscc=_uscc(), customs_code="5301340001", name="测试企业", credit=credit, wms_networked=False, inside_fence=inside
    )


def _book() -> Book:
    return Book.open(putrec_no="T5301W100001", book_type="logistics", owner=_enterprise(), master_cuscd="5301")


ITEMS = {
    1: BookItem.record(putrec_seqno=1, gds_mtno="MT-1", gdecd="8471300000", gds_nm="笔记本电脑", dcl_unitcd="001"),
    2: BookItem.record(putrec_seqno=2, gds_mtno="MT-2", gdecd="3901100090", gds_nm="聚乙烯", dcl_unitcd="035"),
}


def _list(lines: list[InvtLineInput], **kw: object) -> InventoryList:
    args: dict[str, object] = {
        "book": _book(),
        "items": ITEMS,
        "etps_inner_invt_no": "INNER-1",
        "impexp_markcd": "I",
        "supv_modecd": "5034",
        "flow": "first_line",
        "lines": lines,
    }
    args.update(kw)
    return new_inventory_list(**args)  # type: ignore[arg-type]


def _group(exc: pytest.ExceptionInfo[BzError]) -> list[tuple[str, dict[str, object]]]:
    err = exc.value
    assert isinstance(err, ErrorGroup)
    assert err.code == err.errors[0].code  # the first refusal gives the group its code
    return [(e.code, e.detail) for e in err.errors]


# ---- L1 enterprises ---------------------------------------------------------------------------


@pytest.mark.parametrize("credit", ["aeo_advanced", "ordinary", "dishonest"])
def test_enterprise_registers_with_each_credit_rating(credit: str) -> None:
    e = _enterprise(credit=credit)
    assert e.credit is v.Credit(credit)
    assert e.uscc == _uscc()
    assert e.customs_code == "5301340001"


def test_enterprise_register_collects_every_error() -> None:  # L1
    with pytest.raises(BzError) as exc:
        Enterprise.register(
            uscc=_uscc()[:-1] + ("0" if _uscc()[-1] != "0" else "1"),
            customs_code="53013",
            name="  ",
            credit="gold",
            wms_networked=True,
            inside_fence=True,
        )
    found = _group(exc)
    assert [code for code, _ in found] == ["BZ-USCC-INVALID", "BZ-CUSTOMS-CODE-INVALID", "BZ-TEXT-INVALID", "BZ-TEXT-INVALID"]
    assert [d.get("field") for _, d in found[2:]] == ["name", "credit"]


def test_enterprise_register_single_error_still_a_group() -> None:
    with pytest.raises(BzError) as exc:
        Enterprise.register(
            uscc=_uscc(), customs_code="5301340001", name="x", credit="AEO", wms_networked=False, inside_fence=True
        )
    assert [c for c, _ in _group(exc)] == ["BZ-TEXT-INVALID"]


# ---- books (M20) and items --------------------------------------------------------------------


def test_book_open_inside_the_fence() -> None:
    b = _book()
    assert (b.putrec_no, b.book_type, b.owner_uscc, b.master_cuscd) == ("T5301W100001", v.BookType.LOGISTICS, _uscc(), "5301")


def test_book_open_refuses_an_enterprise_outside_the_fence() -> None:  # M20
    outside = _enterprise(inside=False)
    with pytest.raises(BzError) as exc:
        Book.open(putrec_no="T5301W100001", book_type="logistics", owner=outside, master_cuscd="5301")
    assert exc.value.code == "BZ-BOOK-OWNER-OUTSIDE"
    assert exc.value.detail == {"uscc": outside.uscc}


@pytest.mark.parametrize(
    ("putrec", "book_type", "cuscd", "code"),
    [
        ("T5301W100001", "bonded_warehouse", "5301", "BZ-TEXT-INVALID"),
        ("T5301W10000", "logistics", "5301", "BZ-PUTRECNO-INVALID"),
        ("T5301W100001", "logistics", "53", "BZ-CUSCD-INVALID"),
    ],
)
def test_book_open_validates_fields(putrec: str, book_type: str, cuscd: str, code: str) -> None:
    with pytest.raises(BzError) as exc:
        Book.open(putrec_no=putrec, book_type=book_type, owner=_enterprise(), master_cuscd=cuscd)
    assert exc.value.code == code


def test_book_item_record_collects_every_error() -> None:  # L1
    with pytest.raises(BzError) as exc:
        BookItem.record(putrec_seqno=0, gds_mtno="", gdecd="7700000000", gds_nm="ok", dcl_unitcd="KGM")
    found = _group(exc)
    assert [c for c, _ in found] == ["BZ-TEXT-INVALID", "BZ-TEXT-INVALID", "BZ-HS-INVALID", "BZ-UNIT-INVALID"]
    assert [d.get("field") for _, d in found[:2]] == ["putrecSeqno", "gdsMtno"]


@pytest.mark.parametrize(("seqno", "ok"), [(1, True), (999_999_999, True), (0, False), (-1, False), (1_000_000_000, False)])
def test_book_item_seqno_bounds(seqno: int, ok: bool) -> None:
    def record() -> BookItem:
        return BookItem.record(putrec_seqno=seqno, gds_mtno="A", gdecd="8471300000", gds_nm="n", dcl_unitcd="001")

    if ok:
        assert record().putrec_seqno == seqno
    else:
        with pytest.raises(BzError) as exc:
            record()
        assert exc.value.detail["field"] == "putrecSeqno"


# ---- L4 inventory lists -----------------------------------------------------------------------


def test_new_inventory_list_checks_lines_against_the_book() -> None:
    invt = _list([InvtLineInput(1, 1, "10", "001"), InvtLineInput(2, 2, "2.5", "035", "non_bonded", "MT-2", "3901100090")])
    assert invt.status is InvtStatus.DRAFT and invt.id == 0 and invt.version == 1
    assert invt.owner_uscc == _uscc()
    assert invt.dclcus_flag == "1"
    assert [(ln.gds_seqno, ln.putrec_seqno, ln.dcl_qty, ln.stock_status) for ln in invt.lines] == [
        (1, 1, Decimal("10"), v.StockStatus.BONDED),
        (2, 2, Decimal("2.5"), v.StockStatus.NON_BONDED),
    ]
    assert invt.lines[1].gds_nm == "聚乙烯"  # copied from the book item


def test_every_line_error_is_reported_together() -> None:  # L4
    lines = [
        InvtLineInput(1, 99, "1", "001"),  # unknown item
        InvtLineInput(2, 1, "1", "035"),  # unit mismatch: the item is kept in 001
        InvtLineInput(3, 1, "1", "001", gds_mtno="MT-X"),  # part number mismatch
        InvtLineInput(4, 2, "1", "035", gdecd="3901100000"),  # HS code mismatch
        InvtLineInput(5, 1, "1.123456", "001"),  # quantity with six places
        InvtLineInput(6, 1, "1", "001", stock_status="frozen"),
        InvtLineInput(8, 1, "1", "001"),  # out of order
    ]
    with pytest.raises(BzError) as exc:
        _list(lines)
    found = _group(exc)
    assert [c for c, _ in found] == [
        "BZ-INVT-UNKNOWN-ITEM",
        "BZ-INVT-UNIT-MISMATCH",
        "BZ-INVT-ITEM-MISMATCH",
        "BZ-INVT-ITEM-MISMATCH",
        "BZ-QTY-INVALID",
        "BZ-TEXT-INVALID",
        "BZ-INVT-LINE-SEQNO",
    ]
    assert found[0][1] == {"gdsSeqno": 1, "putrecSeqno": 99, "putrecNo": "T5301W100001"}
    assert found[1][1] == {"gdsSeqno": 2, "dclUnitcd": "035", "expected": "001"}
    assert found[2][1] == {"gdsSeqno": 3, "field": "gdsMtno", "value": "MT-X", "expected": "MT-1"}
    assert found[3][1]["field"] == "gdecd" and found[3][1]["gdsSeqno"] == 4
    assert found[4][1]["gdsSeqno"] == 5  # a quantity refusal names its line
    assert found[5][1]["field"] == "stockStatus"
    assert found[6][1] == {"position": 7, "gdsSeqno": 8}


def test_header_and_line_errors_are_reported_together() -> None:
    with pytest.raises(BzError) as exc:
        _list([InvtLineInput(1, 99, "1", "001")], impexp_markcd="X", supv_modecd="0000", flow="air")
    assert [c for c, _ in _group(exc)] == ["BZ-TEXT-INVALID", "BZ-SUPV-MODE-INVALID", "BZ-TEXT-INVALID", "BZ-INVT-UNKNOWN-ITEM"]


@pytest.mark.parametrize(
    ("seqnos", "bad"),
    [([2], [(1, 2)]), ([1, 3], [(2, 3)]), ([1, 1], [(2, 1)]), ([0, 1], [(1, 0), (2, 1)]), ([2, 1], [(1, 2), (2, 1)])],
)
def test_line_numbers_must_run_from_one(seqnos: list[int], bad: list[tuple[int, int]]) -> None:
    with pytest.raises(BzError) as exc:
        _list([InvtLineInput(n, 1, "1", "001") for n in seqnos])
    found = _group(exc)
    assert all(c == "BZ-INVT-LINE-SEQNO" for c, _ in found)
    assert [(d["position"], d["gdsSeqno"]) for _, d in found] == bad


def test_a_list_needs_lines_and_not_too_many() -> None:
    with pytest.raises(BzError) as exc:
        _list([])
    assert [c for c, _ in _group(exc)] == ["BZ-INVT-NO-LINES"]
    with pytest.raises(BzError) as exc:
        _list([InvtLineInput(n, 1, "1", "001") for n in range(1, MAX_LINES + 2)])
    assert exc.value.code == "BZ-INVT-TOO-MANY-LINES"
    assert exc.value.detail == {"limit": MAX_LINES, "count": MAX_LINES + 1}
    assert len(_list([InvtLineInput(n, 1, "1", "001") for n in range(1, MAX_LINES + 1)]).lines) == MAX_LINES


@pytest.mark.parametrize(
    ("flow", "flag", "expected"),
    [
        ("first_line", None, "1"),
        ("second_line", None, "1"),
        ("intra_zone", None, "2"),
        ("intra_zone", "1", "1"),
        ("first_line", "2", "2"),
    ],
)
def test_dclcus_flag_defaults_by_flow(flow: str, flag: str | None, expected: str) -> None:
    assert _list([InvtLineInput(1, 1, "1", "001")], flow=flow, dclcus_flag=flag).dclcus_flag == expected


def test_dclcus_flag_rules() -> None:  # L4: a declaration is linked only where one is declared
    one = [InvtLineInput(1, 1, "1", "001")]
    assert _list(one, dclcus_flag="1", entry_no="530120260000000017").entry_no == "530120260000000017"
    with pytest.raises(BzError) as exc:
        _list(one, dclcus_flag="2", entry_no="530120260000000017")
    assert [c for c, _ in _group(exc)] == ["BZ-INVT-DCLCUS"]
    assert "dclcusFlag=2" in exc.value.message("en") and "非报关" in exc.value.message("zh")
    with pytest.raises(BzError) as exc:
        _list(one, flow="intra_zone", entry_no="530120260000000017")  # intra-zone defaults to 非报关
    assert [c for c, _ in _group(exc)] == ["BZ-INVT-DCLCUS"]
    with pytest.raises(BzError) as exc:
        _list(one, dclcus_flag="3")
    assert [(c, d["field"]) for c, d in _group(exc)] == [("BZ-TEXT-INVALID", "dclcusFlag")]
    with pytest.raises(BzError) as exc:
        _list(one, entry_no="5301")
    assert [c for c, _ in _group(exc)] == ["BZ-ENTRY-NO-INVALID"]


# ---- L4 lifecycle: every (status, action) pair ------------------------------------------------

ALL_PAIRS = list(itertools.product(InvtStatus, InvtAction))


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS, ids=[f"{s.value}-{a.value}" for s, a in ALL_PAIRS])
def test_every_status_action_pair_follows_transitions_or_refuses(status: InvtStatus, action: InvtAction) -> None:
    expected = TRANSITIONS.get((status, action))
    if expected is not None:
        assert next_status(7, status, action) is expected
        return
    with pytest.raises(BzError) as exc:
        next_status(7, status, action)
    assert exc.value.code == "BZ-INVT-STATE"
    assert exc.value.detail["id"] == 7
    assert exc.value.detail["status"] == status.value
    assert exc.value.detail["action"] == action.value
    assert status.value in exc.value.message("en") and status.value in exc.value.message("zh")


def test_transition_table_is_the_documented_lifecycle() -> None:
    assert len(ALL_PAIRS) == 20
    assert dict(TRANSITIONS) == {
        (InvtStatus.DRAFT, InvtAction.DECLARE): InvtStatus.DECLARED,
        (InvtStatus.DECLARED, InvtAction.APPROVE): InvtStatus.APPROVED,
        (InvtStatus.DECLARED, InvtAction.REJECT): InvtStatus.REJECTED,
        (InvtStatus.DRAFT, InvtAction.CANCEL): InvtStatus.CANCELLED,
        (InvtStatus.DECLARED, InvtAction.CANCEL): InvtStatus.CANCELLED,
    }
    finals = {InvtStatus.APPROVED, InvtStatus.REJECTED, InvtStatus.CANCELLED}
    assert not any(s in finals for s, _ in TRANSITIONS)  # final states have no way out
    assert [k for k, t in TRANSITIONS.items() if t is InvtStatus.APPROVED] == [(InvtStatus.DECLARED, InvtAction.APPROVE)]


def test_moved_bumps_the_version_and_leaves_the_original() -> None:
    draft = _list([InvtLineInput(1, 1, "1", "001")])
    declared = draft.moved(InvtAction.DECLARE)
    approved = declared.moved(InvtAction.APPROVE)
    assert (draft.status, draft.version) == (InvtStatus.DRAFT, 1)
    assert (declared.status, declared.version) == (InvtStatus.DECLARED, 2)
    assert (approved.status, approved.version) == (InvtStatus.APPROVED, 3)
    with pytest.raises(BzError) as exc:
        approved.moved(InvtAction.APPROVE)  # approval posts once; a second approval is refused
    assert exc.value.code == "BZ-INVT-STATE"
