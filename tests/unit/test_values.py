"""L1/L2 value constructors: every bad input is refused with the code that names it; no I/O."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as uscc_lib

from bondedzone.domain import values as v
from bondedzone.domain.codes import HS_CHAPTERS, SUPERVISION_MODES, UNITS
from bondedzone.domain.errors import BzError


def _uscc(org: str = "MA6T00001", region: str = "530100") -> str:
    body = "91" + region + org
    return body + uscc_lib.calc_check_digit(body + "0")


def _refused(code: str, fn: object, *args: object, **kwargs: object) -> BzError:
    assert callable(fn)
    with pytest.raises(BzError) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value
    return exc.value


# ---- quantities (L2: exact decimals, never floats) --------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", Decimal("1.00000")),
        ("12.5", Decimal("12.50000")),
        (" 0.00001 ", Decimal("0.00001")),
        ("1.10000000000", Decimal("1.10000")),  # trailing zeros are not extra places
        ("1e3", Decimal("1000.00000")),
        (7, Decimal("7.00000")),
        (Decimal("2.25"), Decimal("2.25000")),
        ("1000000000000", Decimal("1000000000000.00000")),  # exactly the line cap
        ("999999999999.99999", Decimal("999999999999.99999")),
    ],
)
def test_qty_accepts_exact_decimals_and_quantizes_to_five_places(raw: object, expected: Decimal) -> None:
    q = v.qty(raw)
    assert q == expected
    assert q.as_tuple().exponent == -5


@pytest.mark.parametrize("raw", [0.1, 1.0, 2.5, float("nan"), float("inf"), True, False])
def test_qty_refuses_floats_and_bools(raw: object) -> None:
    e = _refused("BZ-QTY-INVALID", v.qty, raw)
    assert e.detail["field"] == "dclQty"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("NaN", "not a finite number"),
        ("sNaN", "not a finite number"),
        ("Infinity", "not a finite number"),
        ("-inf", "not a finite number"),
        (Decimal("NaN"), "not a finite number"),
        ("abc", "not a number"),
        ("", "not a number"),
        ("1.2.3", "not a number"),
        ("1.000001", "more than 5 decimal places"),
        ("0.000001", "more than 5 decimal places"),
        ("1e-1000000", "more than 5 decimal places"),
        # 29 significant digits: beyond the default context precision, so it must not be rounded away.
        ("1.0000000000000000000000000001", "more than 5 decimal places"),
        ("1000000000000.00001", "exceeds"),
        ("1e13", "exceeds"),
        ("-1000000000001", "exceeds"),
        ("-1", "must not be negative"),
        ("-0.00001", "must not be negative"),
        ("0", "must be greater than zero"),
        ("0.00000", "must be greater than zero"),
    ],
)
def test_qty_refusals_name_the_reason(raw: object, reason: str) -> None:
    e = _refused("BZ-QTY-INVALID", v.qty, raw, field="delta")
    assert reason in e.detail["reason"]
    assert e.detail["field"] == "delta"
    assert e.detail["value"] == str(raw)


def test_qty_zero_and_negative_only_when_allowed() -> None:
    assert v.qty("0", allow_zero=True) == 0
    assert v.qty("-3.5", allow_negative=True) == Decimal("-3.5")
    _refused("BZ-QTY-INVALID", v.qty, "0", allow_negative=True)
    _refused("BZ-QTY-INVALID", v.qty, "-1", allow_zero=True)


def test_float_arithmetic_trap_is_not_reachable() -> None:
    # 0.1 + 0.2 as floats is 0.30000000000000004; as decimal strings it is exactly 0.3.
    assert v.qty("0.1") + v.qty("0.2") == v.qty("0.3")
    _refused("BZ-QTY-INVALID", v.qty, 0.1 + 0.2)


quantities = st.decimals(min_value=-v.MAX_LINE_QTY, max_value=v.MAX_LINE_QTY, places=5, allow_nan=False, allow_infinity=False)


@given(quantities)
def test_units_round_trip_is_exact(d: Decimal) -> None:
    q = v.qty(d, allow_zero=True, allow_negative=True)
    n = v.to_units(q)
    assert isinstance(n, int)
    assert v.from_units(n) == q == d
    assert abs(n) <= 10**17  # fits a signed 64-bit column with room for a balance of 10^13


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_from_units_then_to_units_is_identity(n: int) -> None:
    assert v.to_units(v.from_units(n)) == n


@given(quantities)
def test_fmt_qty_parses_back_to_the_same_quantity(d: Decimal) -> None:
    s = v.fmt_qty(d)
    assert Decimal(s) == d
    assert not (("." in s) and s.endswith("0"))


def test_fmt_qty_examples() -> None:
    assert v.fmt_qty(Decimal("12.50000")) == "12.5"
    assert v.fmt_qty(Decimal("12")) == "12"
    assert v.fmt_qty(Decimal("0.00001")) == "0.00001"
    assert v.fmt_qty(Decimal("100")) == "100"


# ---- identifiers (L1) -------------------------------------------------------------------------


@pytest.mark.parametrize("org", ["MA6T00001", "MA6K0002Y", "123456789", "0000000AB"])
def test_uscc_with_correct_check_character(org: str) -> None:
    code = _uscc(org)
    assert v.uscc(code) == code


def test_uscc_is_compacted() -> None:
    code = _uscc()
    assert v.uscc(f" {code[:8]} {code[8:]} ") == code


@pytest.mark.parametrize("org", ["MA6T00001", "123456789"])
def test_uscc_with_any_wrong_check_character_is_refused(org: str) -> None:
    good = _uscc(org)
    for ch in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if ch == good[-1]:
            continue
        e = _refused("BZ-USCC-INVALID", v.uscc, good[:-1] + ch)
        assert e.detail["value"] == good[:-1] + ch
        assert e.detail["reason"]


@pytest.mark.parametrize("bad", ["", "9153010", "91530100MA6T000015X", "915301OOMA6T00001I", "xxxxxxxxxxxxxxxxxx"])
def test_uscc_malformed_is_refused(bad: str) -> None:
    _refused("BZ-USCC-INVALID", v.uscc, bad)


@pytest.mark.parametrize("good", ["5301340001", "530196000A", "ABCDEFGHIJ", "1234567890"])
def test_customs_code_ten_digits_or_capitals(good: str) -> None:
    assert v.customs_code(good) == good


@pytest.mark.parametrize(
    "bad", ["", "530134000", "53013400011", "530134000a", "5301 40001", "5301340001\n", "５３０１３４０００１"]
)
def test_customs_code_refused(bad: str) -> None:
    e = _refused("BZ-CUSTOMS-CODE-INVALID", v.customs_code, bad)
    assert e.detail["value"] == bad


@pytest.mark.parametrize("good", ["8471300000", "0101210010", "9706000000", "7601100000", "7801100000"])
def test_hs_code_accepts_ten_digits_in_a_chapter(good: str) -> None:
    assert v.hs_code(good) == good


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("7700000000", "chapter 77"),  # reserved, holds no goods
        ("7712345678", "chapter 77"),
        ("0000000000", "chapter 00"),
        ("9800000000", "chapter 98"),
        ("9912345678", "chapter 99"),
        ("847130000", "exactly 10 digits"),
        ("84713000000", "exactly 10 digits"),
        ("847130000A", "exactly 10 digits"),
        ("8471.30000", "exactly 10 digits"),
        ("８４７１３０００００", "exactly 10 digits"),  # full-width digits are digits to str.isdigit
        ("٨٤٧١٣٠٠٠٠٠", "exactly 10 digits"),  # Arabic-Indic digits likewise
        ("", "exactly 10 digits"),
    ],
)
def test_hs_code_refused(bad: str, reason: str) -> None:
    e = _refused("BZ-HS-INVALID", v.hs_code, bad)
    assert reason in e.detail["reason"]


def test_hs_chapters_are_01_to_97_without_77() -> None:
    assert len(HS_CHAPTERS) == 96
    assert "77" not in HS_CHAPTERS
    assert {"01", "76", "78", "97"} <= HS_CHAPTERS


@pytest.mark.parametrize("code", sorted(UNITS))
def test_every_unit_in_the_table_is_accepted(code: str) -> None:
    assert v.unit_code(code) == code


@pytest.mark.parametrize("bad", ["024", "000", "35", "0035", "999", "KGM", "", "035 "])
def test_unit_not_in_the_table_is_refused(bad: str) -> None:
    _refused("BZ-UNIT-INVALID", v.unit_code, bad)


def test_unit_table_shape() -> None:
    assert all(len(k) == 3 and k.isdigit() for k in UNITS)
    assert UNITS["035"] == "千克"
    assert UNITS["001"] == "台"


@pytest.mark.parametrize("good", ["T3111W000076", "E5214B0A0027", "H5301D000005", "TABCDEFGHIJK"])
def test_putrec_no_accepted(good: str) -> None:
    assert v.putrec_no(good) == good


@pytest.mark.parametrize(
    "bad", ["t3111W000076", "13111W000076", "T3111W00007", "T3111W0000766", "T3111w000076", "T3111W-00076", ""]
)
def test_putrec_no_refused(bad: str) -> None:
    _refused("BZ-PUTRECNO-INVALID", v.putrec_no, bad)


def test_entry_no_eighteen_digits() -> None:
    assert v.entry_no("530120260000000017") == "530120260000000017"
    for bad in ("53012026000000001", "5301202600000000170", "53012026000000001A", "", "５３０１２０２６００００００００１７"):
        _refused("BZ-ENTRY-NO-INVALID", v.entry_no, bad)


def test_cuscd_and_supervision_mode() -> None:
    assert v.cuscd("5301") == "5301"
    for bad in ("530", "53011", "53A1", ""):
        _refused("BZ-CUSCD-INVALID", v.cuscd, bad)
    for mode in SUPERVISION_MODES:
        assert v.supv_mode(mode) == mode
    for bad in ("0001", "5034 ", "503", "ABCD", ""):
        _refused("BZ-SUPV-MODE-INVALID", v.supv_mode, bad)


def test_text_is_trimmed_bounded_and_free_of_control_characters() -> None:
    assert v.text("  云岭电子  ", field="name", max_len=10) == "云岭电子"
    assert v.text("", field="rmk", max_len=4, min_len=0) == ""
    e = _refused("BZ-TEXT-INVALID", v.text, "   ", field="name", max_len=10)
    assert e.detail["field"] == "name"
    _refused("BZ-TEXT-INVALID", v.text, "x" * 11, field="name", max_len=10)
    for ctl in ("a\x00b", "a\nb", "a\x1fb", "a\x7fb"):
        e = _refused("BZ-TEXT-INVALID", v.text, ctl, field="name", max_len=10)
        assert "control" in e.detail["reason"]


def test_enumerations_use_the_glossary_values() -> None:
    assert {c.value for c in v.Credit} == {"aeo_advanced", "ordinary", "dishonest"}
    assert {s.value for s in v.StockStatus} == {"bonded", "non_bonded"}
    assert {m.value for m in v.ImpexpMark} == {"I", "E"}
    assert {b.value for b in v.BookType} == {"logistics", "processing", "equipment"}
