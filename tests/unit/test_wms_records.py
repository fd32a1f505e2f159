"""M22/W1 WMS records: every field checked, every problem named by field, all of a record's problems at once."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bondedzone.domain import values as v
from bondedzone.domain import wms
from bondedzone.domain.errors import BzError, ErrorGroup

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BOOK = "T5301W000001"


def _movement(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "wmsRef": "WMS-2026-000001",
        "putrecNo": BOOK,
        "kind": "receipt",
        "gdsMtno": "料号-A001",
        "dclQty": "12.5",
        "dclUnitcd": "035",
        "stockStatus": "bonded",
        "occurredAt": "2026-05-20T08:30:00",
        "rltNo": "QD530126I000000001",
        "rltGdsSeqno": "3",
    }
    raw.update(overrides)
    return {k: x for k, x in raw.items() if x is not None}


def _transfer(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "transfer",
        "rltNo": None,
        "rltGdsSeqno": None,
        "fromLocation": "A-01-01",
        "toLocation": "B-02-03",
    }
    base.update(overrides)
    return _movement(**base)


def _stock(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "snapshotRef": "PD-2026-05",
        "putrecNo": BOOK,
        "takenAt": "2026-05-31T18:00:00+08:00",
        "gdsMtno": "料号-A001",
        "stockStatus": "non_bonded",
        "dclQty": "100",
        "dclUnitcd": "007",
        "location": "A-01-01",
    }
    raw.update(overrides)
    return {k: x for k, x in raw.items() if x is not None}


def _errors(fn: object, raw: dict[str, object]) -> list[BzError]:
    assert callable(fn)
    with pytest.raises(ErrorGroup) as exc:
        fn(raw, now=NOW)
    return exc.value.errors


def _named(errors: list[BzError]) -> set[tuple[str, str]]:
    return {(e.code, str(e.detail.get("field"))) for e in errors}


# ---- a valid record ---------------------------------------------------------------------------


def test_a_receipt_is_read_field_by_field() -> None:
    m = wms.movement(_movement(), now=NOW)
    assert m == wms.Movement(
        wms_ref="WMS-2026-000001",
        putrec_no=BOOK,
        kind=wms.MovementKind.RECEIPT,
        gds_mtno="料号-A001",
        units=1_250_000,
        dcl_unitcd="035",
        stock_status=v.StockStatus.BONDED,
        from_status=None,
        occurred_at=datetime(2026, 5, 20, 0, 30, tzinfo=UTC),
        rlt_no="QD530126I000000001",
        rlt_gds_seqno=3,
        from_location=None,
        to_location=None,
    )


def test_values_are_trimmed_and_integers_accepted_where_text_is_expected() -> None:
    m = wms.movement(_movement(wmsRef="  W1 ", gdsMtno=4711, dclQty=7, rltGdsSeqno=12, stockStatus=" bonded "), now=NOW)
    assert (m.wms_ref, m.gds_mtno, m.units, m.rlt_gds_seqno, m.stock_status) == ("W1", "4711", 700_000, 12, v.StockStatus.BONDED)


def test_a_stock_line_is_read_field_by_field() -> None:
    s = wms.stock_line(_stock(), now=NOW)
    assert s == wms.StockLine(
        snapshot_ref="PD-2026-05",
        putrec_no=BOOK,
        taken_at=datetime(2026, 5, 31, 10, 0, tzinfo=UTC),
        gds_mtno="料号-A001",
        stock_status=v.StockStatus.NON_BONDED,
        units=10_000_000,
        dcl_unitcd="007",
        location="A-01-01",
    )


def test_a_stock_line_without_location_counts_per_item() -> None:
    assert wms.stock_line(_stock(location=None), now=NOW).location == ""
    assert wms.stock_line(_stock(location="   "), now=NOW).location == ""


def test_a_stock_line_may_count_zero_but_not_less() -> None:
    assert wms.stock_line(_stock(dclQty="0"), now=NOW).units == 0
    assert _named(_errors(wms.stock_line, _stock(dclQty="-1"))) == {("BZ-QTY-INVALID", "dclQty")}


def test_custom_fields_prefixed_x_are_allowed_and_others_are_not() -> None:
    assert wms.movement(_movement(**{"x-operator": "张三"}), now=NOW).wms_ref == "WMS-2026-000001"
    errors = _errors(wms.movement, _movement(operator="张三", gdsName="螺丝"))
    assert _named(errors) == {("BZ-WMS-FIELD-UNKNOWN", "operator"), ("BZ-WMS-FIELD-UNKNOWN", "gdsName")}
    assert _named(_errors(wms.stock_line, _stock(kind="receipt"))) == {("BZ-WMS-FIELD-UNKNOWN", "kind")}


# ---- every required field, and each field's rules ------------------------------------------------


@pytest.mark.parametrize("field", wms.MOVEMENT_REQUIRED)
@pytest.mark.parametrize("absent", [None, "", "   "])
def test_each_required_movement_field_is_named_when_missing(field: str, absent: str | None) -> None:
    errors = _errors(wms.movement, _movement(**{field: absent}))
    assert _named(errors) == {("BZ-WMS-FIELD-MISSING", field)}
    assert errors[0].message("zh") == f"缺少字段 {field}"
    assert errors[0].message("en") == f"Field {field} is missing"


@pytest.mark.parametrize("field", wms.STOCK_REQUIRED)
def test_each_required_stock_field_is_named_when_missing(field: str) -> None:
    assert _named(_errors(wms.stock_line, _stock(**{field: None}))) == {("BZ-WMS-FIELD-MISSING", field)}


INVALID_MOVEMENTS: list[tuple[str, object, str]] = [
    ("wmsRef", "WMS 1", "BZ-WMS-FIELD-INVALID"),  # a space
    ("wmsRef", "单号1", "BZ-WMS-FIELD-INVALID"),  # not ASCII
    ("wmsRef", "W" * 65, "BZ-WMS-FIELD-INVALID"),
    ("wmsRef", True, "BZ-WMS-FIELD-INVALID"),  # a boolean is not text
    ("wmsRef", ["W1"], "BZ-WMS-FIELD-INVALID"),
    ("putrecNo", "T5301W00001", "BZ-WMS-FIELD-INVALID"),  # 11 characters
    ("putrecNo", "t5301w000001", "BZ-WMS-FIELD-INVALID"),
    ("kind", "入库", "BZ-WMS-FIELD-INVALID"),
    ("kind", "Receipt", "BZ-WMS-FIELD-INVALID"),
    ("gdsMtno", "A" * 33, "BZ-WMS-FIELD-INVALID"),
    ("gdsMtno", "A\x00B", "BZ-WMS-FIELD-INVALID"),
    ("gdsMtno", "A\tB", "BZ-WMS-FIELD-INVALID"),
    ("dclQty", "abc", "BZ-QTY-INVALID"),
    ("dclQty", "0", "BZ-QTY-INVALID"),
    ("dclQty", "-1", "BZ-QTY-INVALID"),  # only an adjustment is signed
    ("dclQty", "1.000001", "BZ-QTY-INVALID"),  # six decimals
    ("dclQty", "1000000000001", "BZ-QTY-INVALID"),  # over 10¹²
    ("dclQty", 1.5, "BZ-QTY-INVALID"),  # a float, never
    ("dclQty", "NaN", "BZ-QTY-INVALID"),
    ("dclQty", True, "BZ-QTY-INVALID"),
    ("dclUnitcd", "999", "BZ-WMS-FIELD-INVALID"),
    ("dclUnitcd", "千克", "BZ-WMS-FIELD-INVALID"),
    ("stockStatus", "free", "BZ-WMS-FIELD-INVALID"),
    ("stockStatus", "保税", "BZ-WMS-FIELD-INVALID"),
    ("occurredAt", "yesterday", "BZ-WMS-FIELD-INVALID"),
    ("occurredAt", "2026-05-20", "BZ-WMS-FIELD-INVALID"),  # a date is not a moment
    ("occurredAt", "1999-12-31T23:59:59+00:00", "BZ-WMS-FIELD-INVALID"),
    ("occurredAt", "2026-06-01T12:06:00+00:00", "BZ-WMS-FIELD-INVALID"),  # six minutes ahead of NOW
    ("occurredAt", 1_780_000_000, "BZ-WMS-FIELD-INVALID"),  # epoch seconds are not accepted
    ("rltNo", "QD 1", "BZ-WMS-FIELD-INVALID"),
    ("rltGdsSeqno", "0", "BZ-WMS-FIELD-INVALID"),
    ("rltGdsSeqno", "100000000", "BZ-WMS-FIELD-INVALID"),
    ("rltGdsSeqno", "3.0", "BZ-WMS-FIELD-INVALID"),
    ("rltGdsSeqno", -3, "BZ-WMS-FIELD-INVALID"),
    ("rltGdsSeqno", True, "BZ-WMS-FIELD-INVALID"),
    ("fromLocation", "A" * 33, "BZ-WMS-FIELD-INVALID"),
    ("toLocation", "B\n1", "BZ-WMS-FIELD-INVALID"),
]


@pytest.mark.parametrize(("field", "value", "code"), INVALID_MOVEMENTS, ids=[f"{f}={x!r}"[:40] for f, x, _ in INVALID_MOVEMENTS])
def test_each_invalid_movement_field_is_named(field: str, value: object, code: str) -> None:
    errors = _errors(wms.movement, _movement(**{field: value}))
    assert _named(errors) == {(code, field)}
    for lang in ("zh", "en"):
        assert field in errors[0].message(lang) or code == "BZ-QTY-INVALID"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("snapshotRef", "PD 1"),
        ("putrecNo", "5301W0000011"),
        ("takenAt", "2026-13-01T00:00:00"),
        ("gdsMtno", ""),
        ("stockStatus", "BONDED"),
        ("dclQty", "1e13"),
        ("dclUnitcd", "35"),
        ("location", "L" * 33),
    ],
)
def test_each_invalid_stock_field_is_named(field: str, value: str) -> None:
    errors = _errors(wms.stock_line, _stock(**{field: value}))
    assert {str(e.detail.get("field")) for e in errors} == {field}


def test_bounds_of_references_and_locations_are_inclusive() -> None:
    m = wms.movement(_transfer(wmsRef="W" * 64, gdsMtno="M" * 32, fromLocation="库" * 32, toLocation="~"), now=NOW)
    assert (len(m.wms_ref), len(m.gds_mtno), len(m.from_location or ""), m.to_location) == (64, 32, 32, "~")


def test_every_error_of_a_record_is_reported_at_once() -> None:
    raw = _movement(wmsRef="W 1", putrecNo="X", kind="move", dclQty="-2", dclUnitcd="999", occurredAt="soon", rltGdsSeqno="0")
    del raw["gdsMtno"]
    del raw["stockStatus"]
    errors = _errors(wms.movement, {**raw, "colour": "red"})
    assert _named(errors) == {
        ("BZ-WMS-FIELD-UNKNOWN", "colour"),
        ("BZ-WMS-FIELD-INVALID", "wmsRef"),
        ("BZ-WMS-FIELD-INVALID", "putrecNo"),
        ("BZ-WMS-FIELD-INVALID", "kind"),
        ("BZ-WMS-FIELD-MISSING", "gdsMtno"),
        ("BZ-QTY-INVALID", "dclQty"),
        ("BZ-WMS-FIELD-INVALID", "dclUnitcd"),
        ("BZ-WMS-FIELD-MISSING", "stockStatus"),
        ("BZ-WMS-FIELD-INVALID", "occurredAt"),
        ("BZ-WMS-FIELD-INVALID", "rltGdsSeqno"),
    }
    assert len(errors) == 10


def test_every_error_of_a_stock_line_is_reported_at_once() -> None:
    errors = _errors(wms.stock_line, {"putrecNo": "bad", "dclQty": "x", "location": "\x01"})
    assert _named(errors) == {
        ("BZ-WMS-FIELD-MISSING", "snapshotRef"),
        ("BZ-WMS-FIELD-INVALID", "putrecNo"),
        ("BZ-WMS-FIELD-MISSING", "takenAt"),
        ("BZ-WMS-FIELD-MISSING", "gdsMtno"),
        ("BZ-WMS-FIELD-MISSING", "stockStatus"),
        ("BZ-QTY-INVALID", "dclQty"),
        ("BZ-WMS-FIELD-MISSING", "dclUnitcd"),
        ("BZ-WMS-FIELD-INVALID", "location"),
    }


def test_field_messages_are_in_both_languages() -> None:
    (e,) = _errors(wms.movement, _movement(stockStatus="free"))
    assert e.message("zh") == "字段 stockStatus 不合法：应为 bonded 或 non_bonded"
    assert e.message("en") == "Field stockStatus is invalid: must be bonded or non_bonded"
    (u,) = _errors(wms.movement, _movement(dclUnitcd="999"))
    assert u.message("en") == "Field dclUnitcd is invalid: '999' is not in the unit code table"


# ---- times: without an offset they are China Standard Time -----------------------------------------


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-05-20T08:30:00", datetime(2026, 5, 20, 0, 30, tzinfo=UTC)),  # no offset: UTC+8
        ("2026-05-20 08:30:00", datetime(2026, 5, 20, 0, 30, tzinfo=UTC)),
        ("2026/05/20 08:30", datetime(2026, 5, 20, 0, 30, tzinfo=UTC)),
        ("2026-05-20T00:00:00", datetime(2026, 5, 19, 16, 0, tzinfo=UTC)),  # the day before in UTC
        ("2026-05-20T08:30:00+08:00", datetime(2026, 5, 20, 0, 30, tzinfo=UTC)),
        ("2026-05-20T08:30:00Z", datetime(2026, 5, 20, 8, 30, tzinfo=UTC)),
        ("2026-05-20T08:30:00z", datetime(2026, 5, 20, 8, 30, tzinfo=UTC)),
        ("2026-05-20T08:30:00-05:00", datetime(2026, 5, 20, 13, 30, tzinfo=UTC)),
        ("2000-01-01T08:00:00", datetime(2000, 1, 1, 0, 0, tzinfo=UTC)),  # the earliest accepted moment
    ],
)
def test_times_are_read_as_china_standard_time_unless_they_say_otherwise(text: str, utc: datetime) -> None:
    at = wms.movement(_movement(occurredAt=text), now=NOW).occurred_at
    assert at == utc
    assert at.utcoffset() == timedelta(0)


def test_the_earliest_moment_is_2000_in_utc() -> None:
    # 2000-01-01T07:59 in China is 1999 in UTC
    assert _named(_errors(wms.movement, _movement(occurredAt="2000-01-01T07:59:59"))) == {("BZ-WMS-FIELD-INVALID", "occurredAt")}


def test_the_future_is_refused_with_five_minutes_of_clock_skew() -> None:
    assert wms.movement(_movement(occurredAt="2026-06-01T20:04:00"), now=NOW).occurred_at == NOW + timedelta(minutes=4)
    (e,) = _errors(wms.movement, _movement(occurredAt="2026-06-01T20:06:00"))
    assert e.message("en") == "Field occurredAt is invalid: is in the future"
    # without a clock nothing is in the future
    assert wms.movement(_movement(occurredAt="2030-01-01T00:00:00")).occurred_at.year == 2029
    (t,) = _errors(wms.stock_line, _stock(takenAt="2026-06-02T00:00:00+00:00"))
    assert t.detail["field"] == "takenAt"


def test_a_date_alone_is_refused_with_its_reason() -> None:
    (e,) = _errors(wms.movement, _movement(occurredAt="2026-05-20"))
    assert e.message("en") == "Field occurredAt is invalid: must be a date and a time such as 2026-11-20T08:30:00+08:00"


# ---- adjustments are signed, and only they ---------------------------------------------------------


def test_an_adjustment_may_be_negative() -> None:
    m = wms.movement(_movement(kind="adjustment", dclQty="-2.5", rltNo=None, rltGdsSeqno=None), now=NOW)
    assert m.units == -250_000
    assert wms.movement(_movement(kind="adjustment", dclQty="4", rltNo=None, rltGdsSeqno=None), now=NOW).units == 400_000


def test_an_adjustment_of_zero_is_refused() -> None:
    errors = _errors(wms.movement, _movement(kind="adjustment", dclQty="-0", rltNo=None, rltGdsSeqno=None))
    assert _named(errors) == {("BZ-QTY-INVALID", "dclQty")}


NEGATIVE = {
    "receipt": _movement(kind="receipt", dclQty="-1"),
    "issue": _movement(kind="issue", dclQty="-1"),
    "status_change": _movement(kind="status_change", fromStatus="non_bonded", dclQty="-1"),
    "transfer": _transfer(dclQty="-1"),
}


@pytest.mark.parametrize("kind", sorted(NEGATIVE))
def test_no_other_kind_is_signed(kind: str) -> None:
    (e,) = _errors(wms.movement, NEGATIVE[kind])
    assert (e.code, e.detail["field"], e.detail["reason"]) == ("BZ-QTY-INVALID", "dclQty", "must not be negative")
    assert wms.movement({**NEGATIVE[kind], "dclQty": "1"}, now=NOW).units == 100_000


# ---- transfers, status changes and the declaration line --------------------------------------------


def test_a_transfer_names_both_locations() -> None:
    m = wms.movement(_transfer(), now=NOW)
    assert (m.kind, m.from_location, m.to_location, m.rlt_no) == (wms.MovementKind.TRANSFER, "A-01-01", "B-02-03", None)


def test_a_transfer_without_locations_names_each() -> None:
    errors = _errors(wms.movement, _transfer(fromLocation=None, toLocation=None))
    assert _named(errors) == {("BZ-WMS-FIELD-MISSING", "fromLocation"), ("BZ-WMS-FIELD-MISSING", "toLocation")}
    assert _named(_errors(wms.movement, _transfer(toLocation=""))) == {("BZ-WMS-FIELD-MISSING", "toLocation")}


def test_a_transfer_to_the_same_location_is_refused() -> None:
    (e,) = _errors(wms.movement, _transfer(toLocation=" A-01-01 "))
    assert (e.code, e.detail["field"]) == ("BZ-WMS-FIELD-INVALID", "toLocation")
    assert e.message("zh") == "字段 toLocation 不合法：移库前后库位相同"


def test_a_transfer_has_no_declaration() -> None:
    errors = _errors(wms.movement, _transfer(rltNo="QD1", rltGdsSeqno="1"))
    assert _named(errors) == {("BZ-WMS-FIELD-INVALID", "rltNo")}


def test_an_invalid_location_is_not_also_reported_missing() -> None:
    assert _named(_errors(wms.movement, _transfer(fromLocation="\x07"))) == {("BZ-WMS-FIELD-INVALID", "fromLocation")}


def test_locations_on_other_kinds_are_kept() -> None:
    m = wms.movement(_movement(toLocation="C-1"), now=NOW)
    assert (m.from_location, m.to_location) == (None, "C-1")


def test_rlt_no_and_its_line_go_together() -> None:
    (e,) = _errors(wms.movement, _movement(rltGdsSeqno=None))
    assert (e.detail["field"], e.message("en")) == (
        "rltGdsSeqno",
        "Field rltGdsSeqno is invalid: rltNo and rltGdsSeqno go together",
    )
    (f,) = _errors(wms.movement, _movement(rltNo=None))
    assert f.detail["field"] == "rltNo"
    m = wms.movement(_movement(rltNo=None, rltGdsSeqno=None), now=NOW)
    assert (m.rlt_no, m.rlt_gds_seqno) == (None, None)


def test_an_invalid_rlt_no_is_not_also_reported_unpaired() -> None:
    assert _named(_errors(wms.movement, _movement(rltNo="Q D", rltGdsSeqno=None))) == {("BZ-WMS-FIELD-INVALID", "rltNo")}
    assert _named(_errors(wms.movement, _movement(rltNo=None, rltGdsSeqno="x"))) == {("BZ-WMS-FIELD-INVALID", "rltGdsSeqno")}


def test_a_status_change_names_where_it_comes_from() -> None:
    m = wms.movement(_movement(kind="status_change", fromStatus="non_bonded"), now=NOW)
    assert (m.from_status, m.stock_status) == (v.StockStatus.NON_BONDED, v.StockStatus.BONDED)
    assert _named(_errors(wms.movement, _movement(kind="status_change"))) == {("BZ-WMS-FIELD-MISSING", "fromStatus")}
    assert _named(_errors(wms.movement, _movement(kind="status_change", fromStatus="bonded"))) == {
        ("BZ-WMS-FIELD-INVALID", "fromStatus")
    }
    assert _named(_errors(wms.movement, _movement(kind="status_change", fromStatus="x"))) == {
        ("BZ-WMS-FIELD-INVALID", "fromStatus")
    }


def test_from_status_is_only_for_a_status_change() -> None:
    (e,) = _errors(wms.movement, _movement(fromStatus="non_bonded"))
    assert (e.detail["field"], e.message("en")) == ("fromStatus", "Field fromStatus is invalid: is only for a status_change")


# ---- fingerprints: the same record, field for field ---------------------------------------------------


def test_identical_records_have_the_same_fingerprint() -> None:
    a = wms.movement(_movement(), now=NOW)
    b = wms.movement(dict(_movement()), now=NOW)
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 64 and int(a.fingerprint, 16) >= 0


def test_the_same_values_written_differently_are_the_same_record() -> None:
    a = wms.movement(_movement(), now=NOW)
    b = wms.movement(
        _movement(dclQty="12.50000", occurredAt="2026-05-20T00:30:00Z", rltGdsSeqno=3, wmsRef=" WMS-2026-000001"), now=NOW
    )
    assert a.fingerprint == b.fingerprint


MOVEMENT_CHANGES: list[tuple[str, object]] = [
    ("wmsRef", "WMS-2026-000002"),
    ("putrecNo", "T5301W000002"),
    ("kind", "issue"),
    ("gdsMtno", "料号-A002"),
    ("dclQty", "12.50001"),
    ("dclUnitcd", "007"),
    ("stockStatus", "non_bonded"),
    ("occurredAt", "2026-05-20T08:30:01"),
    ("rltNo", "QD530126I000000002"),
    ("rltGdsSeqno", "4"),
    ("fromLocation", "A-1"),
    ("toLocation", "B-1"),
]


@pytest.mark.parametrize(("field", "value"), MOVEMENT_CHANGES)
def test_any_different_movement_field_changes_the_fingerprint(field: str, value: object) -> None:
    assert wms.movement(_movement(**{field: value}), now=NOW).fingerprint != wms.movement(_movement(), now=NOW).fingerprint


def test_kind_specific_fields_change_the_fingerprint() -> None:
    conv = wms.movement(_movement(kind="status_change", fromStatus="non_bonded"), now=NOW)
    assert (
        conv.fingerprint
        != wms.movement(_movement(kind="status_change", fromStatus="non_bonded", dclQty="1"), now=NOW).fingerprint
    )
    adj = wms.movement(_movement(kind="adjustment", dclQty="-1", rltNo=None, rltGdsSeqno=None), now=NOW)
    assert (
        adj.fingerprint
        != wms.movement(_movement(kind="adjustment", dclQty="1", rltNo=None, rltGdsSeqno=None), now=NOW).fingerprint
    )
    t = wms.movement(_transfer(), now=NOW)
    assert t.fingerprint != wms.movement(_transfer(fromLocation="B-02-03", toLocation="A-01-01"), now=NOW).fingerprint


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("snapshotRef", "PD-2026-06"),
        ("putrecNo", "T5301W000002"),
        ("takenAt", "2026-05-31T18:00:01+08:00"),
        ("gdsMtno", "料号-A002"),
        ("stockStatus", "bonded"),
        ("dclQty", "101"),
        ("dclUnitcd", "011"),
        ("location", "A-01-02"),
    ],
)
def test_any_different_stock_field_changes_the_fingerprint(field: str, value: str) -> None:
    same = wms.stock_line(_stock(), now=NOW).fingerprint
    assert wms.stock_line(_stock(), now=NOW).fingerprint == same
    assert wms.stock_line(_stock(**{field: value}), now=NOW).fingerprint != same


def test_a_stock_line_without_location_differs_from_one_with() -> None:
    assert wms.stock_line(_stock(location=None), now=NOW).fingerprint != wms.stock_line(_stock(), now=NOW).fingerprint


# ---- defects found by fuzzing, fixed in domain/wms.py ----------------------------------------------------


@pytest.mark.parametrize("text", ["2026-05-20+08:00", "2026-05-20Z", "2026-05-20X08:00:00"])
def test_a_date_without_a_time_is_not_a_moment_whatever_follows_it(text: str) -> None:
    (e,) = _errors(wms.movement, _movement(occurredAt=text))
    assert (e.code, e.detail["field"]) == ("BZ-WMS-FIELD-INVALID", "occurredAt")


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-08:00", "1999-12-31T23:59:59+00:00"])
def test_times_at_the_ends_of_the_calendar_are_refused(text: str) -> None:
    (e,) = _errors(wms.movement, _movement(occurredAt=text))
    assert e.detail["field"] == "occurredAt"


@pytest.mark.parametrize("text", ["²", "①", "1" * 5000, "١٢"])
def test_a_line_number_that_is_no_integer_is_refused(text: str) -> None:
    (e,) = _errors(wms.movement, _movement(rltGdsSeqno=text))
    assert e.detail["field"] == "rltGdsSeqno"


@pytest.mark.parametrize("field", ["wmsRef", "dclQty"])
def test_a_huge_integer_is_refused(field: str) -> None:
    (e,) = _errors(wms.movement, _movement(**{field: 10**5000}))
    assert e.detail["field"] == field


@pytest.mark.parametrize("text", ["1_000", "１０", "١٢", "1e3"])
def test_a_quantity_is_plain_ascii_decimal(text: str) -> None:
    (e,) = _errors(wms.movement, _movement(dclQty=text))
    assert (e.code, e.detail["field"]) == ("BZ-QTY-INVALID", "dclQty")


@pytest.mark.parametrize("text", ["MT\u0085X", "MT\u2028X", "MT\u200bX"])
def test_an_item_code_has_no_invisible_characters(text: str) -> None:
    (e,) = _errors(wms.movement, _movement(gdsMtno=text))
    assert e.detail["field"] == "gdsMtno"


# ---- fuzzing: whatever arrives, only a BzError comes out ------------------------------------------------


def _known_defect(raw: dict[str, object]) -> bool:
    """Inputs of defects not yet fixed, excluded so that the fuzzing finds new ones (none at present)."""
    return False


_FIELDS = st.sampled_from(sorted({*wms.MOVEMENT_FIELDS, *wms.STOCK_FIELDS}))
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.from_regex(r"-?[0-9]{1,14}(\.[0-9]{0,7})?", fullmatch=True),
    st.from_regex(
        r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?(Z|[+-][0-9]{2}:[0-9]{2})?", fullmatch=True
    ),
    st.sampled_from([*wms.MovementKind, "bonded", "non_bonded", BOOK, "007", "035"]),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.lists(st.text(max_size=3), max_size=2),
)
_RECORDS = st.dictionaries(st.one_of(_FIELDS, st.text(max_size=10)), _VALUES, max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=_RECORDS)
def test_arbitrary_records_raise_nothing_but_bz_errors(raw: dict[str, object]) -> None:
    assume(not _known_defect(raw))
    for check in (wms.movement, wms.stock_line):
        try:
            result = check(raw, now=NOW)
        except BzError as e:
            assert e.code.startswith("BZ-")
            for err in e.errors if isinstance(e, ErrorGroup) else [e]:
                assert err.message("zh") and err.message("en")
        else:
            assert result.fingerprint == check(dict(raw), now=NOW).fingerprint


@settings(max_examples=300, deadline=None)
@given(field=_FIELDS, value=_VALUES, base=st.sampled_from(["movement", "transfer", "stock"]))
def test_one_arbitrary_field_in_a_valid_record_is_accepted_or_named(field: str, value: object, base: str) -> None:
    raw = _stock() if base == "stock" else _transfer() if base == "transfer" else _movement()
    raw[field] = value
    assume(not _known_defect(raw))
    check = wms.stock_line if base == "stock" else wms.movement
    try:
        check(raw, now=NOW)
    except ErrorGroup as e:
        # a problem is named by the field that has it (or the field it pairs with)
        named = {str(err.detail.get("field")) for err in e.errors}
        assert named, e
        assert named <= {field, "rltNo", "rltGdsSeqno", "fromLocation", "toLocation", "fromStatus"}, (field, value, named)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_arbitrary_text_in_every_field_raises_nothing_but_bz_errors(text: str) -> None:
    for fields, check in ((wms.MOVEMENT_FIELDS, wms.movement), (wms.STOCK_FIELDS, wms.stock_line)):
        raw: dict[str, object] = dict.fromkeys(fields, text)
        assume(not _known_defect(raw))
        with contextlib.suppress(BzError):
            check(raw, now=NOW)


@settings(max_examples=200, deadline=None)
@given(q=st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(10**12), places=5))
def test_every_valid_quantity_is_kept_exactly(q: Decimal) -> None:
    assert wms.movement(_movement(dclQty=str(q)), now=NOW).units == int(q * 100_000)
    assert wms.movement(_movement(kind="adjustment", dclQty=str(-q), rltNo=None, rltGdsSeqno=None), now=NOW).units == -int(
        q * 100_000
    )
