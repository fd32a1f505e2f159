"""Idempotency-Key over HTTP (L2: "idempotent under retries"): a retry returns the first answer
and changes nothing; a key reused for another request is refused; keys belong to their caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from bondedzone.adapters.db import tables
from tests import factories as f
from tests.e2e.test_api_support import assert_error, counts, snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def _invt(inner: str, book: str = f.OWNER_BOOK, qty: str = "5", mark: str = "I") -> dict[str, Any]:
    return {
        "etpsInnerInvtNo": inner,
        "putrecNo": book,
        "impexpMarkcd": mark,
        "supvModecd": "5034",
        "flow": "first_line",
        "lines": [{"gdsSeqno": 1, "putrecSeqno": 1, "dclQty": qty, "dclUnitcd": "001"}],
    }


def _count(zone: f.Zone, table: Any) -> int:
    with zone.container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_retried_create_returns_first_answer_and_creates_one_list(client: TestClient, zone: f.Zone) -> None:
    h = zone.headers("owner", **{"Idempotency-Key": "create-1"})
    first = client.post("/api/v1/invts", json=_invt("IDEM-1"), headers=h)
    assert first.status_code == 201, first.text
    assert first.headers["Idempotency-Key"] == "create-1"
    after_first = snapshot(zone.container)
    for _ in range(3):
        again = client.post("/api/v1/invts", json=_invt("IDEM-1"), headers=h)
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers["Idempotency-Key"] == "create-1"
    assert snapshot(zone.container) == after_first
    assert _count(zone, tables.invts) == 1
    # Without a key the same body is a second request, refused as a duplicate list number.
    assert_error(client.post("/api/v1/invts", json=_invt("IDEM-1"), headers=zone.headers("owner")), 409, "BZ-INVT-DUPLICATE")


def test_retried_approval_posts_once(client: TestClient, zone: f.Zone) -> None:
    c = zone.container
    invt = f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10"), (2, "3")], inner="IDEM-A")
    h = zone.headers("customs", **{"Idempotency-Key": "approve-1"})
    first = client.post(f"/api/v1/invts/{invt}/approve", headers=h)
    assert first.status_code == 200 and first.json()["status"] == "approved"
    after_first = snapshot(c)
    assert _count(zone, tables.postings) == 2
    again = client.post(f"/api/v1/invts/{invt}/approve", headers=h)
    assert (again.status_code, again.json()) == (200, first.json())
    assert snapshot(c) == after_first
    stock = client.get(f"/api/v1/books/{f.OWNER_BOOK}/stock", headers=zone.headers("owner")).json()["data"]
    assert {(r["putrecSeqno"], r["quantity"]) for r in stock} == {(1, "10"), (2, "3")}
    # The same approval without the key is a new request: refused by the list's state, nothing posts.
    assert_error(client.post(f"/api/v1/invts/{invt}/approve", headers=zone.headers("customs")), 409, "BZ-INVT-STATE")
    assert snapshot(c) == after_first


def test_retried_conversion_posts_once(client: TestClient, zone: f.Zone) -> None:
    c = zone.container
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10")], inner="IDEM-C0"))
    body = {
        "putrecNo": f.OWNER_BOOK,
        "entryNo": "530120260000000042",
        "fromStatus": "bonded",
        "toStatus": "non_bonded",
        "lines": [{"lineNo": 1, "putrecSeqno": 1, "qty": "4", "dclUnitcd": "001"}],
    }
    h = zone.headers("owner", **{"Idempotency-Key": "conv-1"})
    first = client.post("/api/v1/conversions", json=body, headers=h)
    assert first.status_code == 201, first.text
    after_first = snapshot(c)
    again = client.post("/api/v1/conversions", json=body, headers=h)
    assert (again.status_code, again.json()) == (201, first.json())
    assert snapshot(c) == after_first
    stock = client.get(f"/api/v1/books/{f.OWNER_BOOK}/stock", headers=zone.headers("owner")).json()["data"]
    assert {(r["stockStatus"], r["quantity"]) for r in stock} == {("bonded", "6"), ("non_bonded", "4")}


def test_same_key_different_request_is_refused(client: TestClient, zone: f.Zone) -> None:
    h = zone.headers("owner", **{"Idempotency-Key": "reuse-1"})
    assert client.post("/api/v1/invts", json=_invt("IDEM-R1"), headers=h).status_code == 201
    before = snapshot(zone.container)
    # A different body …
    body = assert_error(client.post("/api/v1/invts", json=_invt("IDEM-R1", qty="6"), headers=h), 409, "BZ-IDEMPOTENCY-MISMATCH")
    assert body["detail"] == {"key": "reuse-1"}
    # … or the same key on another route is not "the same request".
    assert_error(
        client.post(
            f"/api/v1/books/{f.OWNER_BOOK}/items",
            json={"putrecSeqno": 7, "gdsMtno": "MT-7", "gdecd": "8471300000", "gdsNm": "x", "dclUnitcd": "001"},
            headers=h,
        ),
        409,
        "BZ-IDEMPOTENCY-MISMATCH",
    )
    assert snapshot(zone.container) == before


@pytest.mark.parametrize(
    "key", ["", "has space", "x" * 201, "tab\tkey", "ключ"], ids=["empty", "space", "201-chars", "tab", "non-ascii"]
)
def test_invalid_key_is_422_and_changes_nothing(key: str, client: TestClient, zone: f.Zone) -> None:
    before = snapshot(zone.container)
    headers: dict[str, str | bytes] = dict(zone.headers("owner"))
    headers["Idempotency-Key"] = key.encode()  # raw UTF-8 bytes on the wire for the non-ASCII key
    resp = client.post("/api/v1/invts", json=_invt("IDEM-BAD"), headers=headers)
    assert_error(resp, 422, "BZ-IDEMPOTENCY-KEY-INVALID")
    assert snapshot(zone.container) == before


def test_key_of_200_printable_chars_is_accepted(client: TestClient, zone: f.Zone) -> None:
    key = "".join(chr(33 + i % 94) for i in range(200))
    h = zone.headers("owner", **{"Idempotency-Key": key})
    first = client.post("/api/v1/invts", json=_invt("IDEM-LONG"), headers=h)
    assert first.status_code == 201, first.text
    assert client.post("/api/v1/invts", json=_invt("IDEM-LONG"), headers=h).json() == first.json()
    assert _count(zone, tables.invts) == 1


def test_keys_are_per_caller(client: TestClient, zone: f.Zone) -> None:
    key = {"Idempotency-Key": "shared-key"}
    mine = client.post("/api/v1/invts", json=_invt("IDEM-S"), headers=zone.headers("owner", **key))
    theirs = client.post("/api/v1/invts", json=_invt("IDEM-S", book=f.STRANGER_BOOK), headers=zone.headers("stranger", **key))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert (mine.json()["putrecNo"], theirs.json()["putrecNo"]) == (f.OWNER_BOOK, f.STRANGER_BOOK)
    assert _count(zone, tables.invts) == 2
    # Replaying the owner's exact request under the owner's key, as the stranger, does not hand
    # over the owner's stored answer: the stranger's request runs as its own, and is refused.
    before = snapshot(zone.container)
    replay = client.post(
        "/api/v1/invts", json=_invt("IDEM-S"), headers=zone.headers("stranger", **{"Idempotency-Key": "owner-only"})
    )
    assert (
        client.post(
            "/api/v1/invts", json=_invt("IDEM-T"), headers=zone.headers("owner", **{"Idempotency-Key": "owner-only"})
        ).status_code
        == 201
    )
    assert_error(replay, 404, "BZ-BOOK-NOT-FOUND")
    stolen = client.post(
        "/api/v1/invts", json=_invt("IDEM-T"), headers=zone.headers("stranger", **{"Idempotency-Key": "owner-only"})
    )
    assert_error(stolen, 404, "BZ-BOOK-NOT-FOUND")
    assert counts(snapshot(zone.container))["invts"] == counts(before)["invts"] + 1


def test_a_refusal_is_not_remembered(client: TestClient, zone: f.Zone) -> None:
    # Nothing was done, so nothing is stored: the caller may fix the request and retry under
    # the same key (a refusal is recomputed, not replayed).
    h = zone.headers("owner", **{"Idempotency-Key": "fix-and-retry"})
    before = snapshot(zone.container)
    assert_error(client.post("/api/v1/invts", json=_invt("IDEM-F", qty="0"), headers=h), 422, "BZ-QTY-INVALID")
    assert snapshot(zone.container) == before
    fixed = client.post("/api/v1/invts", json=_invt("IDEM-F", qty="1"), headers=h)
    assert fixed.status_code == 201, fixed.text
    assert client.post("/api/v1/invts", json=_invt("IDEM-F", qty="1"), headers=h).json() == fixed.json()
    assert _count(zone, tables.idempotency_keys) == 1


def test_a_refused_approval_is_the_first_answer(client: TestClient, zone: f.Zone) -> None:
    # An overdraw is a decision on the ledger's state, so under its key it stays the answer: stock
    # arriving later must not turn a retry into an approval the caller was told did not happen.
    c = zone.container
    export = f.new_list(c, zone.owner, f.OWNER_BOOK, "E", [(1, "4")], inner="IDEM-OVER")
    h = zone.headers("customs", **{"Idempotency-Key": "approve-over"})
    first = client.post(f"/api/v1/invts/{export}/approve", headers=h)
    assert_error(first, 409, "BZ-LEDGER-NEGATIVE")
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10")], inner="IDEM-STOCK"))
    after_stock = snapshot(c)
    again = client.post(f"/api/v1/invts/{export}/approve", headers=h)
    assert (again.status_code, again.json()) == (409, first.json())
    assert snapshot(c) == after_stock
    # A new key is a new decision, taken on today's stock.
    fresh = client.post(
        f"/api/v1/invts/{export}/approve", headers=zone.headers("customs", **{"Idempotency-Key": "approve-over-2"})
    )
    assert fresh.status_code == 200 and fresh.json()["status"] == "approved"
