"""L2 ledger planning without storage: net changes, overdraw refusals, overflow, legs, corrections."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.ledger import (
    DocType,
    Leg,
    LineAmount,
    PostingView,
    StockKey,
    correction_leg,
    invt_legs,
    keys_of,
    line_amounts,
    plan,
)
from bondedzone.domain.model import InventoryList, InvtLine

B = v.StockStatus.BONDED
N = v.StockStatus.NON_BONDED
K1, K2, K1N = StockKey(1, B), StockKey(2, B), StockKey(1, N)
D = Decimal


def U(q: object) -> int:
    """A quantity as the ledger counts it: 10⁻⁵ units."""
    return v.to_units(D(str(q)))


def leg(line: int, key: StockKey, delta: str, n: int = 0) -> Leg:
    return Leg(line, n, key, U(delta))


def test_a_leg_shows_its_units_as_a_quantity() -> None:
    assert leg(1, K1, "2.5").units == 250_000
    assert leg(1, K1, "-0.00001").delta == D("-0.00001")


def refusals(balances: dict[StockKey, int], legs: list[Leg]) -> list[BzError]:
    with pytest.raises(ErrorGroup) as exc:
        plan(balances, legs)
    return exc.value.errors


def test_plan_nets_changes_per_balance() -> None:
    net = plan({K1: U(5)}, [leg(1, K1, "3"), leg(2, K2, "2.5"), leg(3, K1, "-1"), leg(4, K1N, "4")])
    assert net == {K1: U(2), K2: U("2.5"), K1N: U(4)}


def test_plan_drops_balances_whose_net_is_zero() -> None:
    assert plan({K1: U(5)}, [leg(1, K1, "3"), leg(2, K1, "-3")]) == {}


def test_plan_takes_everything_to_zero() -> None:
    assert plan({K1: U(5)}, [leg(1, K1, "-5")]) == {K1: U(-5)}


def test_overdraw_names_first_short_line_balance_required_shortfall() -> None:  # L2
    errs = refusals({K1: U(5), K2: U(5)}, [leg(1, K2, "-1"), leg(2, K1, "-7")])
    assert len(errs) == 1
    e = errs[0]
    assert e.code == "BZ-LEDGER-NEGATIVE"
    assert e.detail == {
        "gdsSeqno": 2,
        "putrecSeqno": 1,
        "stockStatus": "bonded",
        "balance": "5",
        "required": "7",
        "shortfall": "2",
    }
    assert "balance 5, needs 7, short by 2" in e.message("en")
    assert "余额 5，需要 7，缺少 2" in e.message("zh")


def test_overdraw_of_an_absent_balance_counts_from_zero() -> None:
    (e,) = refusals({}, [leg(1, K1N, "-0.5")])
    assert (e.detail["gdsSeqno"], e.detail["balance"], e.detail["shortfall"], e.detail["stockStatus"]) == (
        1,
        "0",
        "0.5",
        "non_bonded",
    )


def test_several_lines_on_one_balance_add_up() -> None:  # L2: the document posts as a whole
    (e,) = refusals({K1: U(5)}, [leg(1, K1, "-3"), leg(2, K1, "-1"), leg(3, K1, "-2"), leg(4, K1, "-4")])
    # the running balance first goes below zero at line 3
    assert (e.detail["gdsSeqno"], e.detail["required"], e.detail["shortfall"]) == (3, "10", "5")


def test_a_later_increment_in_the_same_document_covers_an_earlier_decrement() -> None:
    assert plan({K1: U(1)}, [leg(1, K1, "-3"), leg(2, K1, "+4")]) == {K1: U(1)}


def test_status_is_part_of_the_key() -> None:  # M9: bonded stock does not cover non-bonded demand
    (e,) = refusals({K1: U(100)}, [leg(1, K1N, "-1")])
    assert e.detail["stockStatus"] == "non_bonded"


def test_every_overdrawn_balance_is_reported_in_line_order() -> None:
    errs = refusals(
        {K1: U(1), K2: U(1), K1N: U(1)},
        [leg(1, K2, "-1"), leg(2, K1N, "-2"), leg(3, K2, "-1"), leg(4, K1, "-5")],
    )
    assert [(e.code, e.detail["gdsSeqno"], e.detail["putrecSeqno"], e.detail["stockStatus"]) for e in errs] == [
        ("BZ-LEDGER-NEGATIVE", 2, 1, "non_bonded"),
        ("BZ-LEDGER-NEGATIVE", 3, 2, "bonded"),
        ("BZ-LEDGER-NEGATIVE", 4, 1, "bonded"),
    ]


def test_overflow_beyond_the_balance_cap() -> None:
    cap = v.MAX_BALANCE_UNITS
    assert plan({K1: cap - U(1)}, [leg(1, K1, "1")]) == {K1: U(1)}
    (e,) = refusals({K1: cap - U(1)}, [leg(1, K1, "1"), leg(2, K1, "0.00001")])
    assert e.code == "BZ-LEDGER-OVERFLOW"
    assert e.detail == {"putrecSeqno": 1, "limit": "10000000000000"}


def test_overdraw_and_overflow_together() -> None:
    errs = refusals({K2: v.MAX_BALANCE_UNITS}, [leg(1, K2, "1"), leg(2, K1, "-1")])
    assert sorted(e.code for e in errs) == ["BZ-LEDGER-NEGATIVE", "BZ-LEDGER-OVERFLOW"]


balances_st = st.dictionaries(st.sampled_from([K1, K2, K1N]), st.integers(0, 50).map(U), max_size=3)
legs_st = st.lists(st.tuples(st.sampled_from([K1, K2, K1N]), st.integers(-30, 30).filter(bool)), min_size=1, max_size=12)


@given(balances_st, legs_st)
def test_plan_never_leaves_a_negative_balance(balances: dict[StockKey, int], spec: list[tuple[StockKey, int]]) -> None:
    legs = [Leg(n, 0, k, U(d)) for n, (k, d) in enumerate(spec, start=1)]
    finals = {k: balances.get(k, 0) + sum(lg.units for lg in legs if lg.key == k) for k in {lg.key for lg in legs}}
    short = {k for k, f in finals.items() if f < 0}
    try:
        net = plan(balances, legs)
    except ErrorGroup as g:
        assert short
        assert {StockKey(e.detail["putrecSeqno"], v.StockStatus(e.detail["stockStatus"])) for e in g.errors} == short
        assert all(
            U(e.detail["shortfall"]) == -finals[StockKey(e.detail["putrecSeqno"], v.StockStatus(e.detail["stockStatus"]))]
            for e in g.errors
        )
        return
    assert not short
    assert all(balances.get(k, 0) + net.get(k, 0) == f for k, f in finals.items())


def _invt(mark: v.ImpexpMark) -> InventoryList:
    lines = (
        InvtLine(1, 1, D("10"), "001", B, "MT-1", "8471300000", "a"),
        InvtLine(2, 2, D("2.5"), "035", N, "MT-2", "3901100090", "b"),
    )
    return InventoryList(7, "X", "T5301W100001", mark, "5034", v.Flow.FIRST_LINE, "1", None, lines)


def test_invt_legs_import_increments_export_decrements() -> None:
    imp, exp = _invt(v.ImpexpMark.IMPORT), _invt(v.ImpexpMark.EXPORT)
    assert invt_legs(imp.impexp_markcd, line_amounts(imp)) == [Leg(1, 0, K1, U("10")), Leg(2, 0, StockKey(2, N), U("2.5"))]
    assert invt_legs(exp.impexp_markcd, line_amounts(exp)) == [Leg(1, 0, K1, U("-10")), Leg(2, 0, StockKey(2, N), U("-2.5"))]


def test_line_amounts_carry_what_approval_posts() -> None:
    assert line_amounts(_invt(v.ImpexpMark.IMPORT)) == [LineAmount(1, 1, B, 1_000_000), LineAmount(2, 2, N, 250_000)]


def test_keys_of_is_sorted_and_unique() -> None:
    assert keys_of([leg(1, K2, "1"), leg(2, K1N, "1"), leg(3, K1, "1"), leg(4, K2, "1")]) == [K1, K1N, K2]


# ---- corrections (L2: a new posting referencing the corrected one) ------------------------------


def _posting(delta: str, corrected: str = "0") -> PostingView:
    return PostingView(41, "T5301W100001", K1, D(delta), DocType.INVT, 7, D(corrected))


@pytest.mark.parametrize(
    ("original", "corrected", "delta", "ok"),
    [
        ("10", "0", "-10", True),  # back to zero
        ("10", "0", "-10.00001", False),  # would flip the sign
        ("10", "0", "5", True),  # same sign, larger
        ("10", "-6", "-4", True),
        ("10", "-6", "-5", False),  # earlier corrections count
        ("-10", "0", "10", True),
        ("-10", "0", "11", False),
        ("-10", "0", "-1", True),
    ],
)
def test_correction_keeps_the_original_sign(original: str, corrected: str, delta: str, ok: bool) -> None:
    if ok:
        made = correction_leg(_posting(original, corrected), delta, "盘点差异")
        assert made == Leg(1, 0, K1, U(delta), corrects=41)
        return
    with pytest.raises(BzError) as exc:
        correction_leg(_posting(original, corrected), delta, "盘点差异")
    assert exc.value.code == "BZ-CORRECTION-INVALID"
    assert "41" in exc.value.message("en") and "41" in exc.value.message("zh")


@pytest.mark.parametrize(("delta", "code"), [("0", "BZ-QTY-INVALID"), (1.5, "BZ-QTY-INVALID"), ("1.000001", "BZ-QTY-INVALID")])
def test_correction_delta_must_be_a_nonzero_exact_quantity(delta: object, code: str) -> None:
    with pytest.raises(BzError) as exc:
        correction_leg(_posting("10"), delta, "reason")
    assert exc.value.code == code
    assert exc.value.detail["field"] == "delta"


def test_correction_needs_a_reason() -> None:
    with pytest.raises(BzError) as exc:
        correction_leg(_posting("10"), "-1", "   ")
    assert (exc.value.code, exc.value.detail["field"]) == ("BZ-TEXT-INVALID", "reason")
