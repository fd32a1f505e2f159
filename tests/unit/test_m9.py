"""M9 status conversion in the domain: two legs per line, same status refused, every error together."""

from __future__ import annotations

from decimal import Decimal

import pytest
from stdnum.cn import uscc as uscc_lib

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.ledger import Leg, StockKey, plan
from bondedzone.domain.model import Book, BookItem, Enterprise
from bondedzone.domain.rules.m9_status_conversion import (
    ConversionLine,
    ConversionLineInput,
    StatusConversion,
    conversion_legs,
    new_status_conversion,
)

B = v.StockStatus.BONDED
N = v.StockStatus.NON_BONDED
ENTRY = "530120260000000017"


def _book() -> Book:
    body = "91530100MA6T00001"
    owner = Enterprise.register(
        uscc=body + uscc_lib.calc_check_digit(body + "0"),
        customs_code="5301340001",
        name="测试企业",
        credit="ordinary",
        wms_networked=False,
        inside_fence=True,
    )
    return Book.open(putrec_no="T5301W100001", book_type="logistics", owner=owner, master_cuscd="5301")


ITEMS = {
    1: BookItem.record(putrec_seqno=1, gds_mtno="MT-1", gdecd="8471300000", gds_nm="笔记本电脑", dcl_unitcd="001"),
    4: BookItem.record(putrec_seqno=4, gds_mtno="MT-4", gdecd="3304990099", gds_nm="护肤品", dcl_unitcd="035"),
}


def convert(frm: str, to: str, lines: list[ConversionLineInput], entry: str = ENTRY, rmk: str | None = None) -> StatusConversion:
    return new_status_conversion(book=_book(), items=ITEMS, entry_no=entry, from_status=frm, to_status=to, lines=lines, rmk=rmk)


def codes(exc: pytest.ExceptionInfo[BzError]) -> list[str]:
    assert isinstance(exc.value, ErrorGroup)
    return [e.code for e in exc.value.errors]


@pytest.mark.parametrize(("frm", "to"), [("non_bonded", "bonded"), ("bonded", "non_bonded")])
def test_conversion_posts_out_of_source_and_into_target(frm: str, to: str) -> None:  # M9
    conv = convert(frm, to, [ConversionLineInput(1, 4, "50", "035"), ConversionLineInput(2, 1, "2.5", "001")], rmk=" 分类监管 ")
    assert (conv.id, conv.putrec_no, conv.entry_no, conv.rmk) == (0, "T5301W100001", ENTRY, "分类监管")
    assert conv.lines == (ConversionLine(1, 4, Decimal("50"), "035"), ConversionLine(2, 1, Decimal("2.5"), "001"))
    src, dst = v.StockStatus(frm), v.StockStatus(to)
    assert conversion_legs(conv) == [
        Leg(1, 0, StockKey(4, src), v.to_units(Decimal("-50"))),
        Leg(1, 1, StockKey(4, dst), v.to_units(Decimal("50"))),
        Leg(2, 0, StockKey(1, src), v.to_units(Decimal("-2.5"))),
        Leg(2, 1, StockKey(1, dst), v.to_units(Decimal("2.5"))),
    ]


def test_conversion_legs_move_stock_without_changing_the_total() -> None:  # M9: no gate crossing
    conv = convert("non_bonded", "bonded", [ConversionLineInput(1, 4, "50", "035")])
    net = plan({StockKey(4, N): v.to_units(Decimal("350.5"))}, conversion_legs(conv))
    assert net == {StockKey(4, N): -5_000_000, StockKey(4, B): 5_000_000}
    assert sum(net.values()) == 0


def test_conversion_overdrawing_the_source_is_refused_naming_the_line() -> None:
    conv = convert("bonded", "non_bonded", [ConversionLineInput(1, 4, "50", "035")])
    with pytest.raises(ErrorGroup) as exc:
        plan({StockKey(4, B): v.to_units(Decimal(10)), StockKey(4, N): v.to_units(Decimal(1000))}, conversion_legs(conv))
    (e,) = exc.value.errors
    assert (e.code, e.detail["gdsSeqno"], e.detail["stockStatus"], e.detail["shortfall"]) == (
        "BZ-LEDGER-NEGATIVE",
        1,
        "bonded",
        "40",
    )


@pytest.mark.parametrize("status", ["bonded", "non_bonded"])
def test_same_status_is_refused(status: str) -> None:
    with pytest.raises(BzError) as exc:
        convert(status, status, [ConversionLineInput(1, 4, "1", "035")])
    assert codes(exc) == ["BZ-CONV-SAME-STATUS"]
    assert exc.value.detail == {"status": status}
    assert status in exc.value.message("zh") and status in exc.value.message("en")


@pytest.mark.parametrize("entry", ["", "5301", "53012026000000001X", "5301202600000000170"])
def test_bad_entry_no_is_refused(entry: str) -> None:
    with pytest.raises(BzError) as exc:
        convert("non_bonded", "bonded", [ConversionLineInput(1, 4, "1", "035")], entry=entry)
    assert codes(exc) == ["BZ-ENTRY-NO-INVALID"]


def test_every_error_is_reported_together() -> None:
    lines = [
        ConversionLineInput(1, 99, "1", "035"),  # unknown item
        ConversionLineInput(2, 4, "1", "001"),  # unit mismatch
        ConversionLineInput(3, 4, "-1", "035"),  # negative quantity
        ConversionLineInput(4, 4, 1.5, "035"),  # float
        ConversionLineInput(6, 4, "1", "035"),  # out of order
    ]
    with pytest.raises(BzError) as exc:
        convert("frozen", "bonded", lines, entry="x", rmk="a\x00b")
    assert codes(exc) == [
        "BZ-ENTRY-NO-INVALID",
        "BZ-TEXT-INVALID",
        "BZ-INVT-UNKNOWN-ITEM",
        "BZ-INVT-UNIT-MISMATCH",
        "BZ-QTY-INVALID",
        "BZ-QTY-INVALID",
        "BZ-INVT-LINE-SEQNO",
        "BZ-TEXT-INVALID",
    ]
    assert isinstance(exc.value, ErrorGroup)
    details = [e.detail for e in exc.value.errors]
    assert details[1]["field"] == "fromStatus"
    assert [d["gdsSeqno"] for d in details[2:6]] == [1, 2, 3, 4]
    assert details[6] == {"position": 5, "gdsSeqno": 6}
    assert details[7]["field"] == "rmk"


def test_no_lines_is_refused() -> None:
    with pytest.raises(BzError) as exc:
        convert("non_bonded", "bonded", [])
    assert codes(exc) == ["BZ-INVT-NO-LINES"]
