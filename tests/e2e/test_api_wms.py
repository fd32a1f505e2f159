"""WMS networking over HTTP (M22/W1): batches of movements and stocktakes, and WMS files.

A networked warehouse sends its movements and stocktakes as JSON batches or as export files
(CSV in UTF-8, GBK or GB18030 with field names or Chinese column names, JSON, XML). What must
hold, on SQLite and PostgreSQL: a batch is all or nothing unless ``partial``; every refused record
is named by number (and file line) and field, in Chinese and English; a re-sent or overlapping
batch stores each record once and a re-sent ``batchRef`` or ``Idempotency-Key`` returns the first
answer; the same record with other content is refused. Every refusal leaves the whole database
as it was (``snapshot`` reads every table).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bondedzone.adapters.files.wms_files import HEADER_ALIASES
from bondedzone.domain import wms
from tests import factories as f
from tests.e2e import wms_support as ws
from tests.e2e.test_api_support import assert_error, shared_zone, snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx import Response

MOVES = "/api/v1/wms/movements"
STOCK = "/api/v1/wms/stocktakes"
FILES = "/api/v1/wms/files"
_CJK = re.compile(r"[\u4e00-\u9fff]")
UNIT = 100_000  # 10⁻⁵ units per unit


def _send(
    client: TestClient, zone: f.Zone, records: list[dict[str, Any]], *, path: str = MOVES, persona: str = "owner", **body: Any
) -> Response:
    resp: Response = client.post(path, json={"records": records, **body}, headers=zone.headers(persona))
    return resp


def _upload(client: TestClient, zone: f.Zone, data: bytes, name: str, persona: str = "owner", **params: str) -> Response:
    headers = zone.headers(persona, **{"Content-Type": "application/octet-stream"})
    resp: Response = client.post(FILES, params={"name": name, **params}, content=data, headers=headers)
    return resp


def _answer(accepted: int, duplicates: int = 0, rejections: list[Any] | None = None, **over: Any) -> dict[str, Any]:
    """The parts of an ingest answer that do not depend on the database (not ``batchId``)."""
    rej = rejections or []
    out = {
        "batchRef": None,
        "kind": "movements",
        "records": accepted + duplicates + len(rej),
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": len(rej),
        "rejections": rej,
        "replayed": False,
    }
    out.update(over)
    return out


def _without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: x for k, x in body.items() if k != "batchId"}


def _row(rec: dict[str, Any]) -> ws.MovementRow:
    """The stored form of a valid movement record."""
    seq = rec.get("rltGdsSeqno")
    return (
        rec["putrecNo"],
        rec["wmsRef"],
        rec["kind"],
        rec["gdsMtno"],
        round(float(rec["dclQty"]) * UNIT),
        rec["dclUnitcd"],
        rec["stockStatus"],
        rec.get("fromStatus"),
        ws.utc(rec["occurredAt"]),
        rec.get("rltNo"),
        None if seq is None else int(seq),
        rec.get("fromLocation"),
        rec.get("toLocation"),
    )


def _bilingual(err: dict[str, Any]) -> None:
    zh, en = err["messages"]["zh"], err["messages"]["en"]
    assert zh and en and zh != en, err
    assert _CJK.search(zh), err
    assert re.search(r"[A-Za-z]{3}", en), err


# -- batches: accepted, duplicates, conflicts, replays ------------------------------------------------


def test_a_batch_is_stored_and_the_same_batch_again_changes_nothing(client: TestClient, zone: f.Zone) -> None:
    records = [
        ws.movement("M-1", rltNo="QD530126I000000001", rltGdsSeqno=1, **{"x-operator": "张三"}),
        ws.movement("M-2", kind="issue", gdsMtno="MT-00002", dclQty="2.5", dclUnitcd="035", stockStatus="non_bonded"),
        ws.movement("M-3", kind="transfer", dclQty=7, fromLocation="A-01", toLocation="B-02"),
        ws.movement("M-4", kind="adjustment", dclQty="-0.00001", occurredAt="2026-11-21T10:00:00Z"),
        ws.movement("M-5", kind="status_change", fromStatus="non_bonded", rltNo="530120260000000042", rltGdsSeqno="2"),
    ]
    first = _send(client, zone, records)
    assert first.status_code == 200, first.text
    body = first.json()
    assert isinstance(body["batchId"], int) and body["batchId"] >= 1
    assert _without_id(body) == _answer(5)
    assert ws.movement_rows(zone.container) == {_row(r) for r in records}

    before = snapshot(zone.container)
    # The custom x- field is not content: another operator's name does not make another record.
    again = _send(client, zone, [{**r, "x-operator": "李四"} if "x-operator" in r else r for r in records])
    assert again.status_code == 200, again.text
    assert again.json() == {**_answer(0, 5), "batchId": None}
    assert snapshot(zone.container) == before


def test_overlapping_batches_store_each_record_once(client: TestClient, zone: f.Zone) -> None:
    one, two, three, four = (ws.movement(f"OV-{n}", dclQty=str(n)) for n in range(1, 5))
    assert _send(client, zone, [one, two, three]).json()["accepted"] == 3
    # The overlap and a record repeated inside the batch are duplicates; only OV-4 is new.
    second = _send(client, zone, [two, three, four, four])
    assert second.status_code == 200, second.text
    assert _without_id(second.json()) == _answer(1, 3)
    assert ws.refs(zone.container) == ["OV-1", "OV-2", "OV-3", "OV-4"]
    assert ws.movement_rows(zone.container) == {_row(r) for r in (one, two, three, four)}


def test_the_same_wms_ref_with_other_content_is_refused_naming_the_record(client: TestClient, zone: f.Zone) -> None:
    assert _send(client, zone, [ws.movement("C-1")]).status_code == 200
    before = snapshot(zone.container)
    # Against a stored record …
    resp = _send(client, zone, [ws.movement("C-2"), ws.movement("C-1", dclQty="6")])
    body = assert_error(resp, 422, "BZ-WMS-BATCH-REJECTED")
    assert body["detail"] == {"rejected": 1, "records": 2}
    assert [(e["code"], e["detail"]) for e in body["errors"]] == [
        ("BZ-WMS-REF-CONFLICT", {"field": "wmsRef", "refField": "wmsRef", "ref": "C-1", "record": 2})
    ]
    _bilingual(body["errors"][0])
    assert "C-1" in body["errors"][0]["messages"]["en"] and "C-1" in body["errors"][0]["messages"]["zh"]
    # … and inside one batch: the second C-3 differs from the first.
    resp = _send(client, zone, [ws.movement("C-3"), ws.movement("C-3", occurredAt="2026-11-20T08:31:00+08:00")])
    body = assert_error(resp, 422, "BZ-WMS-BATCH-REJECTED")
    assert [(e["code"], e["detail"]["record"], e["detail"]["ref"]) for e in body["errors"]] == [("BZ-WMS-REF-CONFLICT", 2, "C-3")]
    assert snapshot(zone.container) == before
    # A reference belongs to its enterprise: the stranger may use C-1 in its own book.
    other = _send(client, zone, [ws.movement("C-1", putrecNo=f.STRANGER_BOOK)], persona="stranger")
    assert other.status_code == 200 and other.json()["accepted"] == 1, other.text


def test_a_batch_ref_sent_again_returns_the_first_answer(client: TestClient, zone: f.Zone) -> None:
    records = [ws.movement("R-1"), ws.movement("R-2", dclQty="9")]
    first = _send(client, zone, records, batchRef="WMS-BATCH-0001")
    assert first.status_code == 200, first.text
    assert _without_id(first.json()) == _answer(2, batchRef="WMS-BATCH-0001")
    before = snapshot(zone.container)
    for _ in range(2):
        again = _send(client, zone, records, batchRef="WMS-BATCH-0001")
        assert again.status_code == 200, again.text
        assert again.json() == {**first.json(), "replayed": True}
    assert snapshot(zone.container) == before
    # The same batchRef with other content (or as a stocktake) is refused and changes nothing.
    changed = _send(client, zone, [ws.movement("R-1"), ws.movement("R-2", dclQty="10")], batchRef="WMS-BATCH-0001")
    assert assert_error(changed, 409, "BZ-WMS-BATCH-REF-CONFLICT")["detail"] == {"batchRef": "WMS-BATCH-0001"}
    as_stock = _send(client, zone, [ws.stock("S-1", "MT-00001", "1", "001")], path=STOCK, batchRef="WMS-BATCH-0001")
    assert_error(as_stock, 409, "BZ-WMS-BATCH-REF-CONFLICT")
    assert snapshot(zone.container) == before
    # Batch references are per enterprise.
    theirs = _send(client, zone, [ws.movement("R-1", putrecNo=f.STRANGER_BOOK)], persona="stranger", batchRef="WMS-BATCH-0001")
    assert theirs.status_code == 200 and theirs.json()["replayed"] is False and theirs.json()["accepted"] == 1


def test_an_idempotency_key_retry_returns_the_first_answer(client: TestClient, zone: f.Zone) -> None:
    h = zone.headers("owner", **{"Idempotency-Key": "wms-key-1"})
    body = {"records": [ws.movement("K-1"), ws.movement("K-2")]}
    first = client.post(MOVES, json=body, headers=h)
    assert first.status_code == 200 and first.headers["Idempotency-Key"] == "wms-key-1", first.text
    assert first.json()["accepted"] == 2
    before = snapshot(zone.container)
    again = client.post(MOVES, json=body, headers=h)
    # The first answer (2 accepted), not what running it now would say (2 duplicates).
    assert (again.status_code, again.json(), again.headers["Idempotency-Key"]) == (200, first.json(), "wms-key-1")
    assert snapshot(zone.container) == before
    other = client.post(MOVES, json={"records": [ws.movement("K-3")]}, headers=h)
    assert assert_error(other, 409, "BZ-IDEMPOTENCY-MISMATCH")["detail"] == {"key": "wms-key-1"}
    assert snapshot(zone.container) == before
    # A refused batch is not remembered under its key: fixed and sent again under the same key, it is stored.
    h2 = zone.headers("owner", **{"Idempotency-Key": "wms-key-2"})
    assert_error(
        client.post(MOVES, json={"records": [ws.movement("K-4", dclUnitcd="999")]}, headers=h2), 422, "BZ-WMS-BATCH-REJECTED"
    )
    assert snapshot(zone.container) == before
    fixed = client.post(MOVES, json={"records": [ws.movement("K-4")]}, headers=h2)
    assert fixed.status_code == 200 and fixed.json()["accepted"] == 1, fixed.text


# -- all or nothing, or partial -----------------------------------------------------------------------

_BAD = ws.movement("AON-2", dclQty="-1", stockStatus="frozen", occurredAt="2026-11-20", colour="red")
_BAD_FIELDS = {
    ("BZ-QTY-INVALID", "dclQty"),
    ("BZ-WMS-FIELD-INVALID", "stockStatus"),
    ("BZ-WMS-FIELD-INVALID", "occurredAt"),
    ("BZ-WMS-FIELD-UNKNOWN", "colour"),
}


def test_one_bad_record_of_three_refuses_the_batch_and_stores_nothing(client: TestClient, zone: f.Zone) -> None:
    records = [ws.movement("AON-1"), _BAD, ws.movement("AON-3")]
    before = snapshot(zone.container)
    body = assert_error(_send(client, zone, records), 422, "BZ-WMS-BATCH-REJECTED")
    assert body["detail"] == {"rejected": 1, "records": 3}
    assert "1" in body["messages"]["zh"] and "3" in body["messages"]["en"]
    assert body["errors"], body
    for e in body["errors"]:
        assert e["detail"]["record"] == 2 and e["detail"]["field"], e
        _bilingual(e)
    assert {(e["code"], e["detail"]["field"]) for e in body["errors"]} == _BAD_FIELDS
    assert snapshot(zone.container) == before
    assert ws.refs(zone.container) == []


def test_with_partial_the_valid_records_are_stored_and_the_bad_one_listed(client: TestClient, zone: f.Zone) -> None:
    records = [ws.movement("PA-1"), {**_BAD, "wmsRef": "PA-2"}, ws.movement("PA-3")]
    resp = _send(client, zone, records, partial=True)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["records"], body["accepted"], body["duplicates"], body["rejected"]) == (3, 2, 0, 1)
    [rejection] = body["rejections"]
    assert (rejection["record"], rejection["line"]) == (2, None)
    assert {(e["code"], e["field"]) for e in rejection["errors"]} == _BAD_FIELDS
    for e in rejection["errors"]:
        _bilingual(e)
    assert ws.refs(zone.container) == ["PA-1", "PA-3"]
    # Sent again, partially: the two are duplicates, the bad one is refused again, nothing changes.
    before = snapshot(zone.container)
    again = _send(client, zone, records, partial=True).json()
    assert (again["accepted"], again["duplicates"], again["rejected"], again["batchId"]) == (0, 2, 1, None)
    assert snapshot(zone.container) == before


# Each bad record, sent after a good one: (the record, the refusals it must get as (code, field)).
BAD_RECORDS: dict[str, tuple[dict[str, Any], set[tuple[str, str]]]] = {
    "missing-occurredAt": (ws.movement("B", occurredAt=None), {("BZ-WMS-FIELD-MISSING", "occurredAt")}),
    "blank-gdsMtno": (ws.movement("B", gdsMtno="  "), {("BZ-WMS-FIELD-MISSING", "gdsMtno")}),
    "unknown-kind": (ws.movement("B", kind="receive"), {("BZ-WMS-FIELD-INVALID", "kind")}),
    "zero-receipt": (ws.movement("B", dclQty="0"), {("BZ-QTY-INVALID", "dclQty")}),
    "negative-receipt": (ws.movement("B", dclQty="-3"), {("BZ-QTY-INVALID", "dclQty")}),
    "exponent-qty": (ws.movement("B", dclQty="1e3"), {("BZ-QTY-INVALID", "dclQty")}),
    "fullwidth-qty": (ws.movement("B", dclQty="１０"), {("BZ-QTY-INVALID", "dclQty")}),
    "six-decimals": (ws.movement("B", dclQty="1.000001"), {("BZ-QTY-INVALID", "dclQty")}),
    "float-qty": (ws.movement("B", dclQty=1.5), {("BZ-QTY-INVALID", "dclQty")}),
    "bool-qty": (ws.movement("B", dclQty=True), {("BZ-QTY-INVALID", "dclQty")}),
    "unit-not-in-table": (ws.movement("B", dclUnitcd="999"), {("BZ-WMS-FIELD-INVALID", "dclUnitcd")}),
    "unknown-status": (ws.movement("B", stockStatus="保税"), {("BZ-WMS-FIELD-INVALID", "stockStatus")}),
    "in-the-future": (ws.movement("B", occurredAt="2026-11-24T08:00:00+00:00"), {("BZ-WMS-FIELD-INVALID", "occurredAt")}),
    "date-only": (ws.movement("B", occurredAt="2026-11-20"), {("BZ-WMS-FIELD-INVALID", "occurredAt")}),
    "before-2000": (ws.movement("B", occurredAt="1999-12-31T23:00:00+00:00"), {("BZ-WMS-FIELD-INVALID", "occurredAt")}),
    "not-a-time": (ws.movement("B", occurredAt="2026-13-40T25:00:00"), {("BZ-WMS-FIELD-INVALID", "occurredAt")}),
    "number-as-time": (ws.movement("B", occurredAt=1763600000), {("BZ-WMS-FIELD-INVALID", "occurredAt")}),
    "rltNo-alone": (ws.movement("B", rltNo="QD530126I000000001"), {("BZ-WMS-FIELD-INVALID", "rltGdsSeqno")}),
    "rltGdsSeqno-alone": (ws.movement("B", rltGdsSeqno=1), {("BZ-WMS-FIELD-INVALID", "rltNo")}),
    "rltGdsSeqno-zero": (ws.movement("B", rltNo="QD1", rltGdsSeqno=0), {("BZ-WMS-FIELD-INVALID", "rltGdsSeqno")}),
    "transfer-without-to": (ws.movement("B", kind="transfer", fromLocation="A-01"), {("BZ-WMS-FIELD-MISSING", "toLocation")}),
    "transfer-in-place": (
        ws.movement("B", kind="transfer", fromLocation="A-01", toLocation="A-01"),
        {("BZ-WMS-FIELD-INVALID", "toLocation")},
    ),
    "transfer-with-declaration": (
        ws.movement("B", kind="transfer", fromLocation="A-01", toLocation="B-01", rltNo="QD1", rltGdsSeqno=1),
        {("BZ-WMS-FIELD-INVALID", "rltNo")},
    ),
    "status-change-without-from": (ws.movement("B", kind="status_change"), {("BZ-WMS-FIELD-MISSING", "fromStatus")}),
    "status-change-to-itself": (
        ws.movement("B", kind="status_change", fromStatus="bonded"),
        {("BZ-WMS-FIELD-INVALID", "fromStatus")},
    ),
    "fromStatus-on-receipt": (ws.movement("B", fromStatus="non_bonded"), {("BZ-WMS-FIELD-INVALID", "fromStatus")}),
    "ref-with-space": (ws.movement("B 1"), {("BZ-WMS-FIELD-INVALID", "wmsRef")}),
    "ref-65-chars": (ws.movement("R" * 65), {("BZ-WMS-FIELD-INVALID", "wmsRef")}),
    "ref-a-list": (ws.movement(["B"]), {("BZ-WMS-FIELD-INVALID", "wmsRef")}),  # type: ignore[arg-type]
    "mtno-control-char": (ws.movement("B", gdsMtno="MT\x0000001"), {("BZ-WMS-FIELD-INVALID", "gdsMtno")}),
    "mtno-33-chars": (ws.movement("B", gdsMtno="M" * 33), {("BZ-WMS-FIELD-INVALID", "gdsMtno")}),
    "short-book": (ws.movement("B", putrecNo="T5301"), {("BZ-WMS-FIELD-INVALID", "putrecNo")}),
    "strangers-book": (ws.movement("B", putrecNo=f.STRANGER_BOOK), {("BZ-WMS-BOOK-UNKNOWN", "putrecNo")}),
    "no-such-book": (ws.movement("B", putrecNo="T5301W999999"), {("BZ-WMS-BOOK-UNKNOWN", "putrecNo")}),
    "unknown-field": (ws.movement("B", qty="5"), {("BZ-WMS-FIELD-UNKNOWN", "qty")}),
    "everything-missing": (
        {"x-only": 1},
        {("BZ-WMS-FIELD-MISSING", name) for name in wms.MOVEMENT_REQUIRED},
    ),
}


def test_every_bad_record_is_refused_by_field_and_changes_nothing(client: TestClient, zone: f.Zone) -> None:
    before = snapshot(zone.container)
    problems: list[tuple[str, set[tuple[str, Any]], set[tuple[str, str]]]] = []
    for name, (record, expected) in BAD_RECORDS.items():
        resp = _send(client, zone, [ws.movement(f"GOOD-{len(problems)}"), record])
        body = assert_error(resp, 422, "BZ-WMS-BATCH-REJECTED")
        assert body["detail"] == {"rejected": 1, "records": 2}, (name, body)
        got = {(e["code"], e["detail"].get("field")) for e in body["errors"]}
        if got != expected or any(e["detail"].get("record") != 2 for e in body["errors"]):
            problems.append((name, got, expected))
        for e in body["errors"]:
            _bilingual(e)
    assert problems == []
    assert snapshot(zone.container) == before


# -- stocktakes -------------------------------------------------------------------------------------


def test_a_stocktake_is_stored_with_an_item_the_book_does_not_have(client: TestClient, zone: f.Zone) -> None:
    lines = [
        ws.stock("ST-1", "MT-00001", "10", "001"),
        ws.stock("ST-1", "MT-00001", "3", "001", stockStatus="non_bonded"),
        ws.stock("ST-1", "MT-00002", "0", "035"),  # counted and found empty
        ws.stock("ST-1", "NOT-IN-BOOK-9", "7.25", "007", location="库位 B-02"),  # what the comparison must show
        ws.stock("ST-1", "MT-00003", "2", "007", location=None),  # counted per item, no location
    ]
    resp = _send(client, zone, lines, path=STOCK)
    assert resp.status_code == 200, resp.text
    assert _without_id(resp.json()) == _answer(5, kind="stock")
    taken = ws.utc("2026-11-22T18:00:00+08:00")
    assert ws.stock_rows(zone.container) == {
        (f.OWNER_BOOK, "ST-1", taken, "MT-00001", "bonded", "A-01", 10 * UNIT, "001"),
        (f.OWNER_BOOK, "ST-1", taken, "MT-00001", "non_bonded", "A-01", 3 * UNIT, "001"),
        (f.OWNER_BOOK, "ST-1", taken, "MT-00002", "bonded", "A-01", 0, "035"),
        (f.OWNER_BOOK, "ST-1", taken, "NOT-IN-BOOK-9", "bonded", "库位 B-02", 725_000, "007"),
        (f.OWNER_BOOK, "ST-1", taken, "MT-00003", "bonded", "", 2 * UNIT, "007"),
    }
    before = snapshot(zone.container)
    again = _send(client, zone, lines, path=STOCK).json()
    assert (again["accepted"], again["duplicates"], again["batchId"]) == (0, 5, None)
    # The same snapshot, item, status and location counted again differently: refused, naming it.
    body = assert_error(
        _send(client, zone, [ws.stock("ST-1", "MT-00001", "11", "001")], path=STOCK), 422, "BZ-WMS-BATCH-REJECTED"
    )
    assert [(e["code"], e["detail"]["field"], e["detail"]["ref"], e["detail"]["record"]) for e in body["errors"]] == [
        ("BZ-WMS-REF-CONFLICT", "snapshotRef", "ST-1/MT-00001/bonded/A-01", 1)
    ]
    # Movement fields are not stocktake fields, a count is not negative.
    body = assert_error(
        _send(client, zone, [ws.stock("ST-2", "MT-00001", "-1", "001", wmsRef="X")], path=STOCK), 422, "BZ-WMS-BATCH-REJECTED"
    )
    assert {(e["code"], e["detail"]["field"]) for e in body["errors"]} == {
        ("BZ-QTY-INVALID", "dclQty"),
        ("BZ-WMS-FIELD-UNKNOWN", "wmsRef"),
    }
    assert snapshot(zone.container) == before
    # Another location of the same item in the same snapshot is another line.
    more = _send(client, zone, [ws.stock("ST-1", "MT-00001", "1", "001", location="C-03")], path=STOCK).json()
    assert more["accepted"] == 1


# -- files over HTTP ----------------------------------------------------------------------------------


def _file_variants() -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """The same four movements in every form a WMS exports: (file name, bytes, query)."""
    recs, fields = ws.FILE_RECORDS, wms.MOVEMENT_FIELDS
    return {
        "utf-8 csv": ("movements.csv", ws.csv_bytes(recs, "utf-8"), {}),
        "utf-8 csv with BOM, Chinese headers": (
            "movements-bom.csv",
            ws.csv_bytes(recs, "utf-8", header=ws.chinese_headers(fields), bom=True),
            {},
        ),
        "gbk csv, Chinese headers, detected": (
            "出入库流水.csv",
            ws.csv_bytes(recs, "gbk", header=ws.chinese_headers(fields)),
            {},
        ),
        "gbk csv, declared": ("gbk.csv", ws.csv_bytes(recs, "gbk", header=ws.chinese_headers(fields)), {"encoding": "gbk"}),
        "gb18030 csv, other Chinese headers, semicolons": (
            "gb18030.csv",
            ws.csv_bytes(recs, "gb18030", header=ws.chinese_headers(fields, second=True), delimiter=";"),
            {"encoding": "gb18030"},
        ),
        "json": ("movements.json", ws.json_bytes(recs), {}),
        "json without extension": ("export", ws.json_bytes(recs), {}),
        "xml": ("movements.xml", ws.xml_bytes(recs), {}),
        "gbk xml": ("movements-gbk.xml", ws.xml_bytes(recs, "gbk"), {}),
    }


def test_the_same_records_in_every_file_format_store_the_same_rows(client: TestClient, zone: f.Zone) -> None:
    variants = _file_variants()
    expected = {_row(r) for r in ws.FILE_RECORDS}
    (name, data, params), *rest = variants.values()
    first = _upload(client, zone, data, name, **params)
    assert first.status_code == 200, first.text
    assert _without_id(first.json()) == _answer(4)
    assert ws.movement_rows(zone.container) == expected
    before = snapshot(zone.container)
    # Every other form reads to exactly the same records (every validated field is compared).
    for (label, _), (name, data, params) in zip(list(variants.items())[1:], rest, strict=True):
        resp = _upload(client, zone, data, name, **params)
        assert resp.status_code == 200, (label, resp.text)
        assert resp.json() == {**_answer(0, 4), "batchId": None}, label
    assert snapshot(zone.container) == before


def test_a_files_batch_ref_returns_the_first_answer(client: TestClient, zone: f.Zone) -> None:
    data = ws.json_bytes(ws.FILE_RECORDS, batch_ref="FILE-BATCH-1")
    first = _upload(client, zone, data, "batch.json")
    assert first.status_code == 200, first.text
    assert _without_id(first.json()) == _answer(4, batchRef="FILE-BATCH-1")
    before = snapshot(zone.container)
    again = _upload(client, zone, data, "batch-again.json")
    assert (again.status_code, again.json()) == (200, {**first.json(), "replayed": True})
    changed = ws.json_bytes(ws.FILE_RECORDS[:3], batch_ref="FILE-BATCH-1")
    assert_error(_upload(client, zone, changed, "batch.json"), 409, "BZ-WMS-BATCH-REF-CONFLICT")
    assert snapshot(zone.container) == before


def test_a_gb18030_stocktake_file_with_chinese_headers(client: TestClient, zone: f.Zone) -> None:
    lines = [
        ws.stock("盘点-2026-11", "MT-00001", "10", "001", location="一号库𠀀"),  # a character GBK does not have
        ws.stock("盘点-2026-11", "料号-未备案", "1", "007"),
    ]
    # snapshotRef must be ASCII: the Chinese one is refused by field; the rest is GB18030 text.
    header = ["盘点单号", "账册编号", "盘点时间", "商品料号", "保税状态", "申报数量", "申报单位", "库位"]
    data = ws.csv_bytes(lines, "gb18030", fields=wms.STOCK_FIELDS, header=header)
    body = assert_error(_upload(client, zone, data, "盘点.csv"), 422, "BZ-WMS-BATCH-REJECTED")
    assert {(e["code"], e["detail"]["field"], e["detail"]["record"], e["detail"]["line"]) for e in body["errors"]} == {
        ("BZ-WMS-FIELD-INVALID", "snapshotRef", 1, 2),
        ("BZ-WMS-FIELD-INVALID", "snapshotRef", 2, 3),
    }
    lines = [{**x, "snapshotRef": "ST-2026-11"} for x in lines]
    data = ws.csv_bytes(lines, "gb18030", fields=wms.STOCK_FIELDS, header=header)
    resp = _upload(client, zone, data, "盘点.csv")
    assert resp.status_code == 200, resp.text
    assert _without_id(resp.json()) == _answer(2, kind="stock")
    taken = ws.utc("2026-11-22T18:00:00+08:00")
    assert ws.stock_rows(zone.container) == {
        (f.OWNER_BOOK, "ST-2026-11", taken, "MT-00001", "bonded", "一号库𠀀", 10 * UNIT, "001"),
        (f.OWNER_BOOK, "ST-2026-11", taken, "料号-未备案", "bonded", "A-01", UNIT, "007"),
    }
    # Between this file and the movement files every Chinese column name is read.
    used = set(header) | set(ws.chinese_headers(wms.MOVEMENT_FIELDS)) | set(ws.chinese_headers(wms.MOVEMENT_FIELDS, second=True))
    assert used == set(HEADER_ALIASES)


def _with_bad_lines(data: bytes, replace: dict[int, bytes]) -> bytes:
    lines = data.splitlines(keepends=True)
    for n, raw in replace.items():
        lines[n - 1] = raw
    return b"".join(lines)


def test_an_undecodable_csv_line_is_refused_as_its_record(client: TestClient, zone: f.Zone) -> None:
    header = ws.chinese_headers(wms.MOVEMENT_FIELDS)
    good = ws.csv_bytes(ws.FILE_RECORDS, "gb18030", header=header)
    # Line 3 (record 2) holds bytes neither UTF-8 nor GB18030 can decode; line 4 (record 3) a bad unit.
    bad_unit = ws.csv_bytes([{**ws.FILE_RECORDS[2], "dclUnitcd": "999"}], "gb18030", header=header).splitlines(keepends=True)[1]
    data = _with_bad_lines(good, {3: b"F-2,T5301W100001,transfer,\xff\xfe\x80\x80,4\r\n", 4: bad_unit})
    before = snapshot(zone.container)
    body = assert_error(_upload(client, zone, data, "bad-line.csv"), 422, "BZ-WMS-BATCH-REJECTED")
    assert body["detail"] == {"rejected": 2, "records": 4}
    assert [(e["code"], e["detail"]) for e in body["errors"]] == [
        ("BZ-WMS-FILE-ENCODING", {"line": 3, "encoding": "gb18030", "record": 2}),
        ("BZ-WMS-FIELD-INVALID", {"field": "dclUnitcd", "record": 3, "line": 4}),
    ]
    assert "3" in body["errors"][0]["messages"]["zh"] and "Line 3" in body["errors"][0]["messages"]["en"]
    assert snapshot(zone.container) == before
    # Partially: the two readable, valid records are stored; the answer lists the others by record and line.
    resp = _upload(client, zone, data, "bad-line.csv", partial="true")
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert (answer["records"], answer["accepted"], answer["rejected"]) == (4, 2, 2)
    assert [(r["record"], r["line"], [(e["code"], e["field"]) for e in r["errors"]]) for r in answer["rejections"]] == [
        (2, 3, [("BZ-WMS-FILE-ENCODING", None)]),
        (3, 4, [("BZ-WMS-FIELD-INVALID", "dclUnitcd")]),
    ]
    assert ws.movement_rows(zone.container) == {_row(ws.FILE_RECORDS[0]), _row(ws.FILE_RECORDS[3])}


_GBK_CSV = ws.csv_bytes(ws.FILE_RECORDS, "gbk", header=ws.chinese_headers(wms.MOVEMENT_FIELDS))
_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b"<wms><movement><wmsRef>&lol2;</wmsRef></movement></wms>"
)
# (file name, body, query, status, code, detail that must be in the answer)
BAD_FILES: dict[str, tuple[str, bytes, dict[str, str], int, str, dict[str, Any]]] = {
    "xml-unclosed": ("m.xml", b"<wms><movement><wmsRef>X</wmsRef></movement>", {}, 422, "BZ-WMS-FILE-FORMAT", {}),
    "xml-entities": ("m.xml", _LAUGHS, {}, 422, "BZ-WMS-FILE-FORMAT", {}),
    "xml-nested-field": (
        "m.xml",
        b"<wms><movement><wmsRef><x>1</x></wmsRef></movement></wms>",
        {},
        422,
        "BZ-WMS-BATCH-REJECTED",
        {"rejected": 1, "records": 1},
    ),
    "json-truncated": ("m.json", b'{"records": [{"wmsRef": "X"', {}, 422, "BZ-WMS-FILE-FORMAT", {}),
    "json-extra-key": ("m.json", b'{"records": [], "rows": []}', {}, 422, "BZ-WMS-FILE-FORMAT", {}),
    "json-empty-list": ("m.json", b"[]", {}, 422, "BZ-WMS-BATCH-EMPTY", {}),
    "csv-missing-columns": (
        "m.csv",
        ws.csv_bytes(ws.FILE_RECORDS, "utf-8", fields=[x for x in wms.MOVEMENT_FIELDS if x not in ("dclUnitcd", "occurredAt")]),
        {},
        422,
        "BZ-WMS-FILE-COLUMNS",
        {"columns": "dclUnitcd, occurredAt"},
    ),
    "csv-column-twice": (
        "m.csv",
        ws.csv_bytes(ws.FILE_RECORDS, "utf-8", header=["料号" if x == "wmsRef" else x for x in wms.MOVEMENT_FIELDS]),
        {},
        422,
        "BZ-WMS-FILE-FORMAT",
        {},
    ),
    "csv-header-only": (
        "m.csv",
        b"wmsRef,putrecNo,kind,gdsMtno,dclQty,dclUnitcd,stockStatus,occurredAt\r\n",
        {},
        422,
        "BZ-WMS-BATCH-EMPTY",
        {},
    ),
    "empty-file": ("m.csv", b"", {}, 422, "BZ-WMS-BATCH-EMPTY", {}),
    "bom-and-blanks": ("m.csv", b"\xef\xbb\xbf \r\n\r\n", {}, 422, "BZ-WMS-BATCH-EMPTY", {}),
    "binary-without-extension": ("upload", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", {}, 422, "BZ-WMS-FILE-TYPE", {}),
    "gbk-declared-utf-8": ("m.csv", _GBK_CSV, {"encoding": "utf-8"}, 422, "BZ-WMS-FILE-ENCODING", {"line": 1}),
    "unknown-encoding": ("m.csv", _GBK_CSV, {"encoding": "latin-1"}, 422, "BZ-VALIDATION", {}),
    "strangers-book": ("m.csv", ws.csv_bytes(ws.FILE_RECORDS[:1], "utf-8"), {}, 422, "BZ-WMS-BATCH-REJECTED", {}),
}


def test_a_bad_file_gets_a_coded_4xx_and_changes_nothing(client: TestClient, zone: f.Zone) -> None:
    before = snapshot(zone.container)
    for label, (name, data, params, status, code, detail) in BAD_FILES.items():
        persona = "stranger" if label == "strangers-book" else "owner"
        body = assert_error(_upload(client, zone, data, name, persona=persona, **params), status, code)
        assert detail.items() <= body["detail"].items(), (label, body)
        if label == "strangers-book":
            assert [(e["code"], e["detail"]["field"], e["detail"]["line"]) for e in body["errors"]] == [
                ("BZ-WMS-BOOK-UNKNOWN", "putrecNo", 2)
            ]
    # Without a name the upload is refused by the schema.
    h = zone.headers("owner", **{"Content-Type": "text/csv"})
    assert_error(client.post(FILES, content=ws.csv_bytes(ws.FILE_RECORDS, "utf-8"), headers=h), 422, "BZ-VALIDATION")
    assert snapshot(zone.container) == before


# -- bad input fuzz ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[TestClient, f.Zone]]:
    from fastapi.testclient import TestClient

    from bondedzone.entrypoints.api.app import create_app

    with (
        shared_zone(request.param, tmp_path_factory.mktemp("wmsfuzz"), sqlite_template) as zone,
        TestClient(create_app(zone.container), raise_server_exceptions=False) as client,
    ):
        yield client, zone


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["", " ", "0", "-1", "1e3", "１", "2026-11-20", "2026-11-20T08:30:00", "bonded", "receipt", "001", "x" * 70]
    )
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_NAMES = st.sampled_from(sorted(set(wms.MOVEMENT_FIELDS) | set(wms.STOCK_FIELDS) | {"x-note", "qty", ""})) | st.text(max_size=8)
# Mostly a valid record with fields spoiled, dropped or added; now and then anything at all.
_SPOILED = st.builds(
    lambda base, over, drop: {k: x for k, x in {**base, **over}.items() if k not in drop},
    st.sampled_from([ws.movement("FZ-1"), ws.stock("FZ-S", "MT-00001", "1", "001")]),
    st.dictionaries(_NAMES, _JSON, min_size=1, max_size=3),
    st.sets(st.sampled_from(wms.MOVEMENT_FIELDS + wms.STOCK_FIELDS), max_size=2),
)
_RECORD = _SPOILED | _SPOILED | st.dictionaries(_NAMES, _JSON, max_size=6)
# Mostly well-formed batches of bad records (the records' refusals); now and then a bad body.
_WELL_FORMED = st.fixed_dictionaries(
    {"records": st.lists(_RECORD, min_size=1, max_size=4)},
    optional={"partial": st.booleans(), "batchRef": st.none() | st.text(max_size=8) | st.sampled_from(["FZ-B1", "a b", "批次"])},
)
_ANY_BODY = st.fixed_dictionaries(
    {"records": st.lists(_RECORD | _JSON, max_size=3)},
    optional={"partial": _JSON, "batchRef": _JSON | st.text(min_size=60, max_size=70), "extra": _JSON},
)
_BODY = _WELL_FORMED | _WELL_FORMED | _WELL_FORMED | _ANY_BODY | _JSON


@pytest.mark.parametrize("path", [MOVES, STOCK])
def test_fuzzed_batches_never_fail_with_5xx_and_refusals_change_nothing(path: str, fuzz_world: tuple[TestClient, f.Zone]) -> None:
    client, zone = fuzz_world
    state = {"before": snapshot(zone.container)}
    seen: dict[str, int] = {}

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=_BODY)
    def one(body: Any) -> None:
        resp = client.post(
            path, content=json.dumps(body).encode(), headers=zone.headers("owner", **{"Content-Type": "application/json"})
        )
        assert resp.status_code < 500, (body, resp.text[:800])
        if resp.status_code >= 400:
            code = ws.assert_coded(resp.json())
            assert_error(resp, resp.status_code, code)
            seen[code] = seen.get(code, 0) + 1
            assert snapshot(zone.container) == state["before"], body
        else:
            assert resp.status_code == 200, resp.text
            state["before"] = snapshot(zone.container)  # accepted records change the database, as they should

    one()
    assert seen, "the fuzz never sent a bad batch"
    print(f"{path}: refusals by code {dict(sorted(seen.items()))}")


# -- a known crash ----------------------------------------------------------------------------------

_SURROGATE = (
    "src/bondedzone/services/wms.py:55 _fingerprint encodes the records as UTF-8; a lone surrogate (JSON escape "
    "\\ud800) in any string or field name of a record raises UnicodeEncodeError → 500 BZ-INTERNAL instead of a 4xx"
)


def test_a_lone_surrogate_in_a_record_is_refused_not_a_crash(zone: f.Zone) -> None:
    from fastapi.testclient import TestClient as Client

    from bondedzone.entrypoints.api.app import create_app

    before = snapshot(zone.container)
    with Client(create_app(zone.container), raise_server_exceptions=False) as c:
        resp = c.post(
            MOVES,
            # ASCII JSON: the surrogate travels as the escape \ud800, which JSON allows.
            content=json.dumps({"records": [ws.movement("SG-1", gdsMtno="MT\ud800")]}).encode(),
            headers=zone.headers("owner", **{"Content-Type": "application/json"}),
        )
    assert snapshot(zone.container) == before
    body = assert_error(resp, 422, "BZ-WMS-BATCH-REJECTED")
    assert [(e["code"], e["detail"]["field"]) for e in body["errors"]] == [("BZ-WMS-FIELD-INVALID", "gdsMtno")]


@pytest.mark.parametrize("where", ["value", "field-name", "file"])
def test_a_lone_surrogate_is_a_record_refusal_in_the_service(where: str, zone: f.Zone) -> None:
    # The same crash without the HTTP layer (whose logged traceback takes seconds to render).
    from bondedzone.adapters.files import wms_files
    from bondedzone.domain.errors import ErrorGroup
    from bondedzone.services import wms as wms_service

    if where == "file":  # a JSON export file carries the escape just as well
        parsed = wms_files.read(json.dumps([ws.movement("SG-1", gdsMtno="MT\ud800")]).encode(), "m.json")
        records = [wms_service.RawRecord(r.record, r.line, r.fields) for r in parsed.records]
    else:
        rec = ws.movement("SG-1", gdsMtno="MT\ud800") if where == "value" else {**ws.movement("SG-1"), "x\ud800": "1"}
        records = [wms_service.RawRecord(1, None, rec)]
    with zone.container.uow() as uow, pytest.raises(ErrorGroup) as refused:
        wms_service.ingest(uow, zone.owner, "movements", records)
    assert refused.value.code == "BZ-WMS-BATCH-REJECTED"
