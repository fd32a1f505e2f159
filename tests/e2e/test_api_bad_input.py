"""Bad input over HTTP: each class gets a 4xx with a stable code, both messages, and changes nothing.

From the issue: "malformed JSON, unknown items, wrong units, bad USCC/HS codes, negative or
absurd quantities, oversized payloads — each gets a 4xx with a stable code and changes nothing".
Every case snapshots every table (rows, balances, chain heads, idempotency records) before and
after the request. L1 (identifiers), L2 (quantities), L4 (lines against the book), security.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select, update

from bondedzone import bootstrap
from bondedzone.adapters.db import tables
from bondedzone.config import Settings
from bondedzone.entrypoints.api.app import create_app
from tests import factories as f
from tests.e2e.test_api_support import assert_error, balances, shared_zone, snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

OWNER_USCC_BAD_CHECK = f.OWNER_USCC[:-1] + ("0" if f.OWNER_USCC[-1] != "0" else "1")


def _line(**over: Any) -> dict[str, Any]:
    return {"gdsSeqno": 1, "putrecSeqno": 1, "dclQty": "5", "dclUnitcd": "001", **over}


def _invt(*lines: dict[str, Any], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "etpsInnerInvtNo": "BAD-1",
        "putrecNo": f.OWNER_BOOK,
        "impexpMarkcd": "I",
        "supvModecd": "5034",
        "flow": "first_line",
        "lines": list(lines) if lines else [_line()],
    }
    body.update(over)
    return body


def _item(**over: Any) -> dict[str, Any]:
    return {"putrecSeqno": 9, "gdsMtno": "MT-NEW", "gdecd": "8471300000", "gdsNm": "新商品", "dclUnitcd": "001", **over}


def _enterprise(**over: Any) -> dict[str, Any]:
    uscc = f.make_uscc("MA6T00055")
    return {"uscc": uscc, "customsCode": "5301345555", "name": "新企业", "credit": "ordinary", **over}


def _conversion(**over: Any) -> dict[str, Any]:
    body = {
        "putrecNo": f.OWNER_BOOK,
        "entryNo": "530120260000000001",
        "fromStatus": "bonded",
        "toStatus": "non_bonded",
        "lines": [{"lineNo": 1, "putrecSeqno": 1, "qty": "1", "dclUnitcd": "001"}],
    }
    body.update(over)
    return body


@dataclass
class Case:
    """One bad request: who sends what, and the refusal it must get."""

    method: str
    path: str
    status: int
    code: str
    persona: str | None = "owner"
    json_body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None


def _detail(**expected: Any) -> Callable[[dict[str, Any]], None]:
    def check(body: dict[str, Any]) -> None:
        for k, v in expected.items():
            assert body["detail"].get(k) == v, (k, body["detail"])

    return check


def _field(name: str) -> Callable[[dict[str, Any]], None]:
    def check(body: dict[str, Any]) -> None:
        assert name in [x["field"] for x in body["detail"]["fields"]], body["detail"]

    return check


JSON = {"Content-Type": "application/json"}

CASES: dict[str, Case] = {
    # request shape
    "malformed-json": Case("POST", "/api/v1/invts", 400, "BZ-JSON-MALFORMED", content=b'{"etpsInnerInvtNo": "X",', headers=JSON),
    "json-trailing-garbage": Case("POST", "/api/v1/invts", 400, "BZ-JSON-MALFORMED", content=b"{} {}", headers=JSON),
    "json-array-not-object": Case("POST", "/api/v1/invts", 400, "BZ-JSON-MALFORMED", json_body=[_invt()]),
    "json-scalar-not-object": Case("POST", "/api/v1/invts", 400, "BZ-JSON-MALFORMED", content=b'"a list"', headers=JSON),
    "empty-body": Case("POST", "/api/v1/invts", 400, "BZ-JSON-MALFORMED", content=b"", headers=JSON),
    "unknown-field": Case(
        "POST", "/api/v1/invts", 422, "BZ-VALIDATION", json_body=_invt(dclcusFlg="1"), check=_field("dclcusFlg")
    ),
    "unknown-line-field": Case(
        "POST", "/api/v1/invts", 422, "BZ-VALIDATION", json_body=_invt(_line(gdsNm="x")), check=_field("lines.0.gdsNm")
    ),
    "missing-field": Case(
        "POST",
        "/api/v1/invts",
        422,
        "BZ-VALIDATION",
        json_body={k: v for k, v in _invt().items() if k != "flow"},
        check=_field("flow"),
    ),
    "enum-out-of-range": Case("POST", "/api/v1/invts", 422, "BZ-VALIDATION", json_body=_invt(impexpMarkcd="X")),
    "putrecseqno-absurd": Case("POST", "/api/v1/invts", 422, "BZ-VALIDATION", json_body=_invt(_line(putrecSeqno=10**30))),
    "path-id-not-int": Case("GET", "/api/v1/invts/abc", 422, "BZ-VALIDATION"),
    "path-id-zero": Case("POST", "/api/v1/invts/0/declare", 422, "BZ-VALIDATION"),
    "query-limit-too-big": Case("GET", "/api/v1/invts?limit=100000", 422, "BZ-VALIDATION"),
    # L4: lines are checked against the book
    "unknown-putrecseqno": Case(
        "POST",
        "/api/v1/invts",
        422,
        "BZ-INVT-UNKNOWN-ITEM",
        json_body=_invt(_line(putrecSeqno=99)),
        check=_detail(gdsSeqno=1, putrecSeqno=99, putrecNo=f.OWNER_BOOK),
    ),
    "unit-mismatch": Case(
        "POST",
        "/api/v1/invts",
        422,
        "BZ-INVT-UNIT-MISMATCH",
        json_body=_invt(_line(dclUnitcd="035")),
        check=_detail(dclUnitcd="035", expected="001"),
    ),
    "gdsmtno-mismatch": Case(
        "POST",
        "/api/v1/invts",
        422,
        "BZ-INVT-ITEM-MISMATCH",
        json_body=_invt(_line(gdsMtno="MT-99999")),
        check=_detail(field="gdsMtno", value="MT-99999", expected="MT-00001"),
    ),
    "gdecd-mismatch": Case(
        "POST",
        "/api/v1/invts",
        422,
        "BZ-INVT-ITEM-MISMATCH",
        json_body=_invt(_line(gdecd="3901100090")),
        check=_detail(field="gdecd"),
    ),
    "line-numbers-not-1-2-3": Case(
        "POST", "/api/v1/invts", 422, "BZ-INVT-LINE-SEQNO", json_body=_invt(_line(gdsSeqno=2)), check=_detail(gdsSeqno=2)
    ),
    "no-lines": Case("POST", "/api/v1/invts", 422, "BZ-INVT-NO-LINES", json_body={**_invt(), "lines": []}),
    "too-many-lines": Case(
        "POST",
        "/api/v1/invts",
        422,
        "BZ-INVT-TOO-MANY-LINES",
        json_body=_invt(*[_line(gdsSeqno=n) for n in range(1, 10_002)]),
        check=_detail(limit=10_000, count=10_001),
    ),
    "supv-mode-unknown": Case("POST", "/api/v1/invts", 422, "BZ-SUPV-MODE-INVALID", json_body=_invt(supvModecd="9999")),
    "entry-no-short": Case("POST", "/api/v1/invts", 422, "BZ-ENTRY-NO-INVALID", json_body=_invt(entryNo="5301")),
    "duplicate-inner-no": Case("POST", "/api/v1/invts", 409, "BZ-INVT-DUPLICATE", json_body=_invt(etpsInnerInvtNo="SEED-DRAFT")),
    # L2: quantities
    "qty-zero": Case("POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", json_body=_invt(_line(dclQty="0"))),
    "qty-negative": Case("POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", json_body=_invt(_line(dclQty="-1"))),
    "qty-negative-number": Case("POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", json_body=_invt(_line(dclQty=-5))),
    "qty-6-decimals": Case(
        "POST",
        "/api/v1/invts",
        422,
        "BZ-QTY-INVALID",
        json_body=_invt(_line(dclQty="1.000001")),
        check=_detail(reason="more than 5 decimal places", gdsSeqno=1),
    ),
    "qty-1e13": Case("POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", json_body=_invt(_line(dclQty="1e13"))),
    "qty-1e13-number": Case(
        "POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", content=json.dumps(_invt(_line(dclQty=1e13))).encode(), headers=JSON
    ),
    "qty-nan": Case("POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", json_body=_invt(_line(dclQty="NaN"))),
    "qty-infinity": Case("POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", json_body=_invt(_line(dclQty="-Infinity"))),
    "qty-words": Case("POST", "/api/v1/invts", 422, "BZ-QTY-INVALID", json_body=_invt(_line(dclQty="five"))),
    "qty-bool": Case("POST", "/api/v1/invts", 422, "BZ-VALIDATION", json_body=_invt(_line(dclQty=True))),
    "conversion-qty-negative": Case(
        "POST",
        "/api/v1/conversions",
        422,
        "BZ-QTY-INVALID",
        json_body=_conversion(lines=[{"lineNo": 1, "putrecSeqno": 1, "qty": "-1", "dclUnitcd": "001"}]),
    ),
    "conversion-same-status": Case(
        "POST", "/api/v1/conversions", 422, "BZ-CONV-SAME-STATUS", json_body=_conversion(toStatus="bonded")
    ),
    "conversion-overdraw": Case(
        "POST",
        "/api/v1/conversions",
        409,
        "BZ-LEDGER-NEGATIVE",
        json_body=_conversion(lines=[{"lineNo": 1, "putrecSeqno": 1, "qty": "10.00001", "dclUnitcd": "001"}]),
        check=_detail(balance="10", shortfall="0.00001"),
    ),
    "correction-flips-sign": Case(
        "POST",
        "/api/v1/postings/{posting}/corrections",
        422,
        "BZ-CORRECTION-INVALID",
        persona="customs",
        json_body={"delta": "-10.00001", "reason": "录入错误"},
    ),
    "approve-a-draft": Case("POST", "/api/v1/invts/{draft}/approve", 409, "BZ-INVT-STATE", persona="customs"),
    # L1: identifiers and code tables
    "uscc-bad-check-char": Case(
        "POST",
        "/api/v1/enterprises",
        422,
        "BZ-USCC-INVALID",
        persona="customs",
        json_body=_enterprise(uscc=OWNER_USCC_BAD_CHECK),
        check=_detail(value=OWNER_USCC_BAD_CHECK),
    ),
    "uscc-17-chars": Case(
        "POST", "/api/v1/enterprises", 422, "BZ-USCC-INVALID", persona="customs", json_body=_enterprise(uscc=f.OWNER_USCC[:17])
    ),
    "customs-code-lowercase": Case(
        "POST",
        "/api/v1/enterprises",
        422,
        "BZ-CUSTOMS-CODE-INVALID",
        persona="customs",
        json_body=_enterprise(customsCode="5301abcdef"),
    ),
    "enterprise-duplicate": Case(
        "POST",
        "/api/v1/enterprises",
        409,
        "BZ-ENTERPRISE-DUPLICATE",
        persona="customs",
        json_body=_enterprise(uscc=f.OWNER_USCC),
    ),
    "hs-9-digits": Case("POST", f"/api/v1/books/{f.OWNER_BOOK}/items", 422, "BZ-HS-INVALID", json_body=_item(gdecd="847130000")),
    "hs-letters": Case("POST", f"/api/v1/books/{f.OWNER_BOOK}/items", 422, "BZ-HS-INVALID", json_body=_item(gdecd="84713000AB")),
    "hs-chapter-77": Case(
        "POST",
        f"/api/v1/books/{f.OWNER_BOOK}/items",
        422,
        "BZ-HS-INVALID",
        json_body=_item(gdecd="7701000000"),
        check=_detail(reason="chapter 77 does not exist"),
    ),
    "hs-chapter-00": Case(
        "POST", f"/api/v1/books/{f.OWNER_BOOK}/items", 422, "BZ-HS-INVALID", json_body=_item(gdecd="0012345678")
    ),
    "hs-fullwidth-digits": Case(
        "POST", f"/api/v1/books/{f.OWNER_BOOK}/items", 422, "BZ-HS-INVALID", json_body=_item(gdecd="８４７１３０００００")
    ),
    "unit-not-in-table": Case(
        "POST", f"/api/v1/books/{f.OWNER_BOOK}/items", 422, "BZ-UNIT-INVALID", json_body=_item(dclUnitcd="999")
    ),
    "item-duplicate": Case(
        "POST", f"/api/v1/books/{f.OWNER_BOOK}/items", 409, "BZ-ITEM-DUPLICATE", json_body=_item(putrecSeqno=1)
    ),
    "putrecno-lowercase": Case(
        "POST",
        "/api/v1/books",
        422,
        "BZ-PUTRECNO-INVALID",
        persona="customs",
        json_body={"putrecNo": "t5301w100009", "bookType": "logistics", "uscc": f.OWNER_USCC, "masterCuscd": "5301"},
    ),
    "cuscd-letters": Case(
        "POST",
        "/api/v1/books",
        422,
        "BZ-CUSCD-INVALID",
        persona="customs",
        json_body={"putrecNo": "T5301W100009", "bookType": "logistics", "uscc": f.OWNER_USCC, "masterCuscd": "53A1"},
    ),
    "book-duplicate": Case(
        "POST",
        "/api/v1/books",
        409,
        "BZ-BOOK-DUPLICATE",
        persona="customs",
        json_body={"putrecNo": f.OWNER_BOOK, "bookType": "logistics", "uscc": f.OWNER_USCC, "masterCuscd": "5301"},
    ),
    # routing and authentication
    "unknown-route": Case("GET", "/api/v1/nope", 404, "BZ-ROUTE-NOT-FOUND", check=_detail(path="/api/v1/nope")),
    "unknown-version": Case("POST", "/api/v2/invts", 404, "BZ-ROUTE-NOT-FOUND", json_body=_invt()),
    "wrong-method-delete": Case("DELETE", "/api/v1/invts/{draft}", 405, "BZ-METHOD-NOT-ALLOWED", check=_detail(method="DELETE")),
    "wrong-method-put": Case("PUT", "/api/v1/books", 405, "BZ-METHOD-NOT-ALLOWED", json_body={}),
    "no-token": Case("POST", "/api/v1/invts", 401, "BZ-AUTH-REQUIRED", persona=None, json_body=_invt()),
    "unknown-token": Case(
        "POST",
        "/api/v1/invts",
        401,
        "BZ-AUTH-INVALID",
        persona=None,
        json_body=_invt(),
        headers={"Authorization": "Bearer bz_thisTokenWasNeverIssued"},
    ),
    "token-without-prefix": Case(
        "GET", "/api/v1/books", 401, "BZ-AUTH-INVALID", persona=None, headers={"Authorization": "Bearer abc"}
    ),
    "basic-auth": Case(
        "GET", "/api/v1/books", 401, "BZ-AUTH-INVALID", persona=None, headers={"Authorization": "Basic Zm9vOmJhcg=="}
    ),
    "token-oversized": Case(
        "GET", "/api/v1/books", 401, "BZ-AUTH-INVALID", persona=None, headers={"Authorization": "Bearer bz_" + "x" * 5000}
    ),
    "idempotency-key-with-space": Case(
        "POST", "/api/v1/invts", 422, "BZ-IDEMPOTENCY-KEY-INVALID", json_body=_invt(), headers={"Idempotency-Key": "a b"}
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    """One zone per engine for all cases (each case proves it changed nothing), seeded with
    an approved import of 10 × item 1 (one posting) and a draft list in the owner's book."""
    from fastapi.testclient import TestClient

    with shared_zone(request.param, tmp_path_factory.mktemp("bad"), sqlite_template) as zone:
        c = zone.container
        f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10")], inner="SEED-IN"))
        draft = f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(2, "1")], inner="SEED-DRAFT", declare=False)
        with c.engine.connect() as conn:
            posting = int(conn.execute(select(tables.postings.c.id)).scalar_one())
        with TestClient(create_app(c)) as client:
            yield World(client, zone, {"draft": draft, "posting": posting})


@dataclass
class World:
    client: TestClient
    zone: f.Zone
    ids: dict[str, int]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_coded_4xx_and_changes_nothing(name: str, world: World) -> None:
    case, zone = CASES[name], world.zone
    headers = dict(zone.headers(case.persona)) if case.persona else {}
    headers.update(case.headers)
    kwargs: dict[str, Any] = {"headers": headers}
    if case.content is not None:
        kwargs["content"] = case.content
    elif case.json_body is not None:
        kwargs["json"] = case.json_body
    before, held = snapshot(zone.container), balances(zone.container)
    assert held, "the seed must hold stock, or 'balances unchanged' proves nothing"
    body = assert_error(world.client.request(case.method, case.path.format(**world.ids), **kwargs), case.status, case.code)
    if case.check:
        case.check(body)
    assert balances(zone.container) == held
    assert snapshot(zone.container) == before


def test_every_error_of_a_list_is_reported_at_once(client: TestClient, zone: f.Zone) -> None:
    # L4: a form can show every problem in one round trip; the first names the code.
    bad = _invt(_line(putrecSeqno=99), _line(gdsSeqno=2, dclQty="-1"), _line(gdsSeqno=3, dclUnitcd="035"))
    before = snapshot(zone.container)
    body = assert_error(client.post("/api/v1/invts", json=bad, headers=zone.headers("owner")), 422, "BZ-INVT-UNKNOWN-ITEM")
    assert [(e["code"], e["detail"]["gdsSeqno"]) for e in body["errors"]] == [
        ("BZ-INVT-UNKNOWN-ITEM", 1),
        ("BZ-QTY-INVALID", 2),
        ("BZ-INVT-UNIT-MISMATCH", 3),
    ]
    assert all(e["messages"]["zh"] and e["messages"]["en"] for e in body["errors"])
    assert snapshot(zone.container) == before


def test_message_follows_accept_language(client: TestClient, zone: f.Zone) -> None:
    path = "/api/v1/books/T5301W999999"
    en = assert_error(client.get(path, headers=zone.headers("owner")), 404, "BZ-BOOK-NOT-FOUND")
    zh = assert_error(
        client.get(path, headers=zone.headers("owner", **{"Accept-Language": "zh-CN,zh;q=0.9"})), 404, "BZ-BOOK-NOT-FOUND"
    )
    assert en["message"] == en["messages"]["en"] == "Book T5301W999999 does not exist"
    assert zh["message"] == zh["messages"]["zh"] == "账册 T5301W999999 不存在"


def test_revoked_token_is_refused(client: TestClient, zone: f.Zone) -> None:
    with zone.container.engine.begin() as conn:
        conn.execute(update(tables.api_tokens).where(tables.api_tokens.c.uscc == f.OWNER_USCC).values(revoked=True))
    resp = client.get("/api/v1/books", headers=zone.headers("owner"))
    assert_error(resp, 401, "BZ-AUTH-INVALID")
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/api/v1/books", headers=zone.headers("stranger")).status_code == 200


@pytest.fixture
def small_limit_client(zone: f.Zone, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app whose body limit comes from BONDEDZONE_MAX_BODY_BYTES, over the same database."""
    from fastapi.testclient import TestClient

    monkeypatch.setenv("BONDEDZONE_MAX_BODY_BYTES", "4096")
    c = bootstrap.build(Settings(database_url=zone.container.settings.database_url, load_demo=False))
    assert c.settings.max_body_bytes == 4096
    with TestClient(create_app(c)) as tc:
        yield tc
    c.engine.dispose()


def _padded(size: int) -> bytes:
    """A valid list body padded with JSON whitespace to exactly ``size`` bytes."""
    raw = json.dumps(_invt(etpsInnerInvtNo="PAD-1")).encode()
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def test_oversized_body_is_413_whether_declared_or_streamed(small_limit_client: Any, zone: f.Zone) -> None:
    headers = zone.headers("owner", **JSON, **{"Idempotency-Key": "big-1"})
    before = snapshot(zone.container)
    declared = small_limit_client.post("/api/v1/invts", content=_padded(4097), headers=headers)
    body = assert_error(declared, 413, "BZ-PAYLOAD-TOO-LARGE")
    assert body["detail"] == {"limit": 4096}

    def chunks() -> Any:  # no Content-Length: the limit must be enforced while reading
        data = _padded(40_000)
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    streamed = small_limit_client.post("/api/v1/invts", content=chunks(), headers=headers)
    assert_error(streamed, 413, "BZ-PAYLOAD-TOO-LARGE")
    assert snapshot(zone.container) == before
    # At the limit exactly, the same request goes through.
    ok = small_limit_client.post("/api/v1/invts", content=_padded(4096), headers=headers)
    assert ok.status_code == 201, ok.text
