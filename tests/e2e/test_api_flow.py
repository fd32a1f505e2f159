"""The happy path over HTTP, as a zone enterprise and a customs officer would walk it (L1–L4, M9).

Register an enterprise, open its book, record items, enter / declare / approve an import list
(stock grows) and an export list (stock shrinks), read the list, its history, the stock and the
postings behind a balance, convert status under M9, verify the audit chain — and see an overdraw
refused with the line, the balance and the shortfall, changing nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

from bondedzone.services import tokens
from tests import factories as f
from tests.e2e.test_api_support import assert_error, snapshot

USCC = f.make_uscc("MA6T00077")
BOOK = "T5301W100077"


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.status_code, resp.text[:800])
    return resp.json()


def _stock(client: TestClient, h: dict[str, str]) -> dict[tuple[int, str], str]:
    page = _ok(client.get(f"/api/v1/books/{BOOK}/stock", headers=h))
    assert page["count"] == len(page["data"])
    return {(r["putrecSeqno"], r["stockStatus"]): r["quantity"] for r in page["data"]}


def _list(client: TestClient, h: dict[str, str], inner: str, mark: str, lines: list[tuple[int, str, str]]) -> dict[str, Any]:
    body = {
        "etpsInnerInvtNo": inner,
        "putrecNo": BOOK,
        "impexpMarkcd": mark,
        "supvModecd": "5034",
        "flow": "first_line",
        "lines": [
            {"gdsSeqno": n, "putrecSeqno": seq, "dclQty": q, "dclUnitcd": unit} for n, (seq, q, unit) in enumerate(lines, start=1)
        ],
    }
    return dict(_ok(client.post("/api/v1/invts", json=body, headers=h), 201))


def test_enterprise_lifecycle_over_http(client: TestClient, zone: f.Zone) -> None:
    customs = zone.headers("customs")

    # L1: customs registers the enterprise; the USCC check character is verified.
    ent = _ok(
        client.post(
            "/api/v1/enterprises",
            json={
                "uscc": USCC,
                "customsCode": "5301349077",
                "name": "滇中保税物流有限公司",
                "credit": "aeo_advanced",
                "wmsNetworked": True,
            },
            headers=customs,
        ),
        201,
    )
    assert ent == {
        "uscc": USCC,
        "customsCode": "5301349077",
        "name": "滇中保税物流有限公司",
        "credit": "aeo_advanced",
        "wmsNetworked": True,
        "insideFence": True,
    }
    # Tokens come from the operator's CLI; the service is what it calls.
    with zone.container.uow() as uow:
        token = tokens.create_token(uow, "enterprise", USCC)
        uow.commit()
    me = {"Authorization": f"Bearer {token}"}
    assert _ok(client.get("/api/v1/whoami", headers=me))["uscc"] == USCC
    assert _ok(client.get("/api/v1/enterprises", headers=me))["data"] == [ent]

    book = _ok(
        client.post(
            "/api/v1/books",
            json={"putrecNo": BOOK, "bookType": "logistics", "uscc": USCC, "masterCuscd": "5301"},
            headers=customs,
        ),
        201,
    )
    assert book == {
        "putrecNo": BOOK,
        "bookType": "logistics",
        "uscc": USCC,
        "masterCuscd": "5301",
        "status": "active",
        "wmsDriven": False,
    }
    assert _ok(client.get(f"/api/v1/books/{BOOK}", headers=me)) == book
    for seq, mtno, hs, name, unit in (
        (1, "LP-14", "8471300000", "笔记本电脑", "001"),
        (2, "PE-25", "3901100090", "聚乙烯", "035"),
    ):
        item = _ok(
            client.post(
                f"/api/v1/books/{BOOK}/items",
                json={"putrecSeqno": seq, "gdsMtno": mtno, "gdecd": hs, "gdsNm": name, "dclUnitcd": unit},
                headers=customs,
            ),
            201,
        )
        assert item["putrecNo"] == BOOK and item["gdsMtno"] == mtno
    assert [i["putrecSeqno"] for i in _ok(client.get(f"/api/v1/books/{BOOK}/items", headers=me))["data"]] == [1, 2]
    assert _stock(client, me) == {}

    # L4: an import list (核增): draft → declared → approved; stock grows only on approval.
    imp = _list(client, me, "FLOW-I-1", "I", [(1, "100", "001"), (2, "12.5", "035")])
    assert imp["status"] == "draft" and imp["bondInvtNo"] is None
    assert [(ln["gdsMtno"], ln["gdsNm"], ln["dclQty"]) for ln in imp["lines"]] == [
        ("LP-14", "笔记本电脑", "100"),
        ("PE-25", "聚乙烯", "12.5"),
    ]
    declared = _ok(client.post(f"/api/v1/invts/{imp['id']}/declare", headers=me))
    assert declared["status"] == "declared"
    assert declared["bondInvtNo"] == f"QD530126I{imp['id']:09d}"
    assert _stock(client, me) == {}
    approved = _ok(client.post(f"/api/v1/invts/{imp['id']}/approve", headers=customs))
    assert approved["status"] == "approved" and approved["version"] == 3
    assert _stock(client, me) == {(1, "bonded"): "100", (2, "bonded"): "12.5"}

    # An export list (核减): the stock shrinks by exactly the declared quantity.
    exp = _list(client, me, "FLOW-E-2", "E", [(1, "30", "001")])
    _ok(client.post(f"/api/v1/invts/{exp['id']}/declare", headers=me))
    _ok(client.post(f"/api/v1/invts/{exp['id']}/approve", headers=customs))
    assert _stock(client, me) == {(1, "bonded"): "70", (2, "bonded"): "12.5"}

    got = _ok(client.get(f"/api/v1/invts/{exp['id']}", headers=me))
    assert got["status"] == "approved" and got["impexpMarkcd"] == "E"
    assert [(ln["putrecSeqno"], ln["dclQty"]) for ln in got["lines"]] == [(1, "30")]
    listed = _ok(client.get("/api/v1/invts", params={"putrecNo": BOOK}, headers=me))
    assert listed["count"] == 2 and {i["id"] for i in listed["data"]} == {imp["id"], exp["id"]}
    assert all(i["lines"] is None for i in listed["data"])  # headers only

    hist = _ok(client.get(f"/api/v1/invts/{exp['id']}/history", headers=me))
    assert [(e["fromStatus"], e["toStatus"]) for e in hist["events"]] == [
        (None, "draft"),
        ("draft", "declared"),
        ("declared", "approved"),
    ]
    assert [(p["putrecSeqno"], p["delta"], p["docType"], p["docId"]) for p in hist["postings"]] == [(1, "-30", "invt", exp["id"])]

    # L2: the postings behind a balance sum to it.
    behind = _ok(client.get(f"/api/v1/books/{BOOK}/postings", params={"putrecSeqno": 1, "stockStatus": "bonded"}, headers=me))[
        "data"
    ]
    assert [p["delta"] for p in behind] == ["100", "-30"]
    assert sum(Decimal(p["delta"]) for p in behind) == Decimal(_stock(client, me)[(1, "bonded")])
    seqs = [p["chainSeq"] for p in behind]
    assert seqs == sorted(seqs)

    # M9: status conversion on a completed declaration posts directly (no gate crossing).
    conv = _ok(
        client.post(
            "/api/v1/conversions",
            json={
                "putrecNo": BOOK,
                "entryNo": "530120260000000777",
                "fromStatus": "bonded",
                "toStatus": "non_bonded",
                "lines": [{"lineNo": 1, "putrecSeqno": 2, "qty": "2.5", "dclUnitcd": "035"}],
            },
            headers=me,
        ),
        201,
    )
    assert _stock(client, me) == {(1, "bonded"): "70", (2, "bonded"): "10", (2, "non_bonded"): "2.5"}
    assert _ok(client.get(f"/api/v1/conversions/{conv['id']}", headers=me)) == conv
    legs = _ok(client.get(f"/api/v1/books/{BOOK}/postings", params={"putrecSeqno": 2}, headers=me))["data"]
    assert [(p["stockStatus"], p["delta"], p["docType"]) for p in legs] == [
        ("bonded", "12.5", "invt"),
        ("bonded", "-2.5", "conversion"),
        ("non_bonded", "2.5", "conversion"),
    ]

    # L3: the chain verifies: 3+3 list events, 1 conversion event, 2+1 list postings, 2 conversion legs.
    report = _ok(client.get("/api/v1/audit/verify", headers=customs))
    assert report["ok"] is True and report["firstBroken"] is None and report["findings"] == []
    assert report["links"] == 3 + 3 + 1 + 3 + 2

    # L2: an overdraw is refused as a whole, naming the line, balance and shortfall; nothing changes.
    over = _list(client, me, "FLOW-E-3", "E", [(2, "1", "035"), (1, "70.00001", "001")])
    _ok(client.post(f"/api/v1/invts/{over['id']}/declare", headers=me))
    before = snapshot(zone.container)
    body = assert_error(client.post(f"/api/v1/invts/{over['id']}/approve", headers=customs), 409, "BZ-LEDGER-NEGATIVE")
    assert body["detail"] == {
        "gdsSeqno": 2,
        "putrecSeqno": 1,
        "stockStatus": "bonded",
        "balance": "70",
        "required": "70.00001",
        "shortfall": "0.00001",
    }
    assert [e["code"] for e in body["errors"]] == ["BZ-LEDGER-NEGATIVE"]
    assert snapshot(zone.container) == before
    assert _ok(client.get(f"/api/v1/invts/{over['id']}", headers=me))["status"] == "declared"
    assert _stock(client, me) == {(1, "bonded"): "70", (2, "bonded"): "10", (2, "non_bonded"): "2.5"}
    zh = client.post(f"/api/v1/invts/{over['id']}/approve", headers={**customs, "Accept-Language": "zh-CN"}).json()
    assert zh["message"] == zh["messages"]["zh"] and "缺少 0.00001" in zh["message"]
    assert _ok(client.get("/api/v1/audit/verify", headers=customs))["ok"] is True
