"""Bad gate messages over HTTP: a clear 4xx with a stable BZ-* code, and nothing changed (M4, M6, M7, G1).

From the issue: "bad gate messages (unknown plate format, missing weights, negative weights,
duplicate events) get clear errors and change nothing". Each case is one bad field (or one
event out of order) on a request that is otherwise valid — the module's fixture proves every base
body is accepted as it is. Around every case the whole database is snapshotted, and the row
counts of every gate table, the ledger and the idempotency records are compared by name.
The body is always ``{code, message, messages, detail, errors}`` with both languages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bondedzone import bootstrap
from bondedzone.config import Settings
from bondedzone.entrypoints.api.app import create_app
from bondedzone.services import gate
from tests import factories as f
from tests.e2e import gate_support as gs
from tests.e2e.test_api_bad_input import _detail, _field
from tests.e2e.test_api_support import assert_error, shared_zone, snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

PLATE = gs.PLATE
UNUSED_PLATE = "云A66666"  # the seed's unused pass: a vehicle that would be admitted
JSON = {"Content-Type": "application/json"}


# -- valid bodies; each case spoils one field ---------------------------------------------------------


def _empty(**over: Any) -> dict[str, Any]:
    """An empty-vehicle pass (type 6)."""
    body = {
        "areainOriactNo": f.OWNER_BOOK,
        "etpsPreentNo": "BAD-1",
        "passportTypecd": "6",
        "ioTypecd": "I",
        "vehicleNo": PLATE,
        "vehicleWt": "15000",
        "totalGrossWt": "0",
    }
    return {**body, **over}


def _goods(**over: Any) -> dict[str, Any]:
    return {"gdsNm": "A4 复印纸", "category": "office_supplies", "dclQty": "100", "dclUnitcd": "035", **over}


def _hazchem(**over: Any) -> dict[str, Any]:
    return {"unNo": "1202", "hazardClass": "3", "casNo": "68334-30-5", "usage": "叉车燃料", **over}


def _diesel(**over: Any) -> dict[str, Any]:
    base = {"gdsNm": "柴油", "category": "hazardous_chemicals", "dclQty": "2000", "gdecd": "2710192100", "hazchem": _hazchem()}
    return _goods(**{**base, **over})


def _non_declared(*goods: dict[str, Any], **over: Any) -> dict[str, Any]:
    """A non-declared pass (type 4) with these goods lines."""
    return _empty(**{"passportTypecd": "4", "totalGrossWt": "500", "goods": list(goods) or [_goods()], **over})


def _split(ids: dict[str, str], qty: str = "10", **over: Any) -> dict[str, Any]:
    """One-doc-many-trucks (M7) carrying ``qty`` of line 1 of the seed's list."""
    doc = {"rltTbTypecd": "1", "rltNo": ids["qd"], "lines": [{"rltGdsSeqno": 1, "dclQty": qty}]}
    return _empty(**{"passportTypecd": "2", "bindTypecd": "3", "totalGrossWt": "10000", "docs": [doc], **over})


def _summary(**over: Any) -> dict[str, Any]:
    body = {
        "entryNo": "530120261000000777",
        "putrecNo": f.OWNER_BOOK,
        "ioTypecd": "I",
        "lines": [{"gNo": 1, "gdecd": "8471300000", "gdsNm": "服务器", "dclQty": "3", "dclUnitcd": "001"}],
    }
    return {**body, **over}


def _arrive(**over: Any) -> dict[str, Any]:
    return {"gateId": "G01", "lane": "declared", "vehicleNo": UNUSED_PLATE, **over}


def _cross(**over: Any) -> dict[str, Any]:
    return _arrive(**{"grossWt": "15000", **over})


Body = Callable[[dict[str, Any]], Any]


@dataclass
class Case:
    """One bad request: who sends what where, and the refusal it must get."""

    method: str
    path: str
    status: int
    code: str
    persona: str = "owner"
    body: Body | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None


def _pass(status: int, code: str, body: Body, check: Callable[[dict[str, Any]], None] | None = None) -> Case:
    return Case("POST", "/api/v1/passports", status, code, body=body, check=check)


def _gate(path: str, status: int, code: str, body: Body | None = None, **kw: Any) -> Case:
    return Case("POST", path, status, code, persona=kw.pop("persona", "gate"), body=body, **kw)


def _without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


CROSSING = "/api/v1/gate/crossings/{%s}"
CASES: dict[str, Case] = {
    # plates (承运车牌号): on the pass and at the gate
    "plate-latin-only": _pass(422, "BZ-PLATE-INVALID", lambda ids: _empty(vehicleNo="ABC123"), _detail(value="ABC123")),
    "plate-lowercase-too-short": _pass(
        422, "BZ-PLATE-INVALID", lambda ids: _empty(vehicleNo="云a1234"), _detail(value="云a1234")
    ),
    "plate-too-long": _pass(422, "BZ-PLATE-INVALID", lambda ids: _empty(vehicleNo="京A1234567")),
    "plate-unknown-province": _pass(422, "BZ-PLATE-INVALID", lambda ids: _empty(vehicleNo="港A12345")),
    "plate-letter-o": _pass(422, "BZ-PLATE-INVALID", lambda ids: _empty(vehicleNo="云A1234O")),
    "plate-empty": _pass(422, "BZ-PLATE-INVALID", lambda ids: _empty(vehicleNo="")),
    "arrive-plate-latin-only": _gate(
        "/api/v1/gate/crossings", 422, "BZ-PLATE-INVALID", lambda ids: _arrive(vehicleNo="ABC123"), check=_detail(value="ABC123")
    ),
    "arrive-plate-lowercase-too-short": _gate(
        "/api/v1/gate/crossings", 422, "BZ-PLATE-INVALID", lambda ids: _arrive(vehicleNo="云a1234")
    ),
    "cross-plate-too-long": _gate("/api/v1/gate/cross", 422, "BZ-PLATE-INVALID", lambda ids: _cross(vehicleNo="京A1234567")),
    # weights: missing, negative, zero, absurd (> 200 t), more than five decimals
    "pass-missing-vehicle-wt": _pass(422, "BZ-VALIDATION", lambda ids: _without(_empty(), "vehicleWt"), _field("vehicleWt")),
    "pass-missing-total-gross-wt": _pass(
        422, "BZ-VALIDATION", lambda ids: _without(_empty(), "totalGrossWt"), _field("totalGrossWt")
    ),
    "vehicle-wt-negative": _pass(
        422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleWt="-15000"), _detail(field="vehicleWt", value="-15000")
    ),
    "vehicle-wt-negative-number": _pass(422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleWt=-15000)),
    "vehicle-wt-zero": _pass(
        422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleWt="0"), _detail(reason="must be greater than zero")
    ),
    "vehicle-wt-absurd": _pass(
        422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleWt="200000.00001"), _detail(reason="exceeds 200000 kg")
    ),
    "vehicle-wt-6-decimals": _pass(
        422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleWt="15000.000001"), _detail(reason="more than 5 decimal places")
    ),
    "vehicle-wt-words": _pass(422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleWt="fifteen tonnes")),
    "vehicle-wt-nan": _pass(422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleWt="NaN")),
    "frame-wt-negative": _pass(
        422, "BZ-WEIGHT-INVALID", lambda ids: _empty(vehicleFrameWt="-1"), _detail(field="vehicleFrameWt")
    ),
    "total-gross-negative": _pass(422, "BZ-WEIGHT-INVALID", lambda ids: _split(ids, totalGrossWt="-10000")),
    "empty-vehicle-declares-goods-weight": _pass(
        422, "BZ-WEIGHT-INVALID", lambda ids: _empty(totalGrossWt="500"), _detail(reason="an empty vehicle carries 0")
    ),
    "line-gross-wt-7-decimals": _pass(
        422, "BZ-WEIGHT-INVALID", lambda ids: _non_declared(_goods(grossWt="500.0000001")), _detail(field="grossWt")
    ),
    "weigh-missing-weight": _gate(CROSSING % "arrived" + "/weigh", 422, "BZ-VALIDATION", lambda ids: {}, check=_field("grossWt")),
    "weigh-zero": _gate(CROSSING % "arrived" + "/weigh", 422, "BZ-WEIGHT-INVALID", lambda ids: {"grossWt": "0"}),
    "weigh-negative": _gate(
        CROSSING % "arrived" + "/weigh",
        422,
        "BZ-WEIGHT-INVALID",
        lambda ids: {"grossWt": "-26000"},
        check=_detail(value="-26000"),
    ),
    "weigh-absurd": _gate(CROSSING % "arrived" + "/weigh", 422, "BZ-WEIGHT-INVALID", lambda ids: {"grossWt": "250000"}),
    "weigh-6-decimals": _gate(CROSSING % "arrived" + "/weigh", 422, "BZ-WEIGHT-INVALID", lambda ids: {"grossWt": "26000.000001"}),
    "weigh-float-7-decimals": _gate(
        CROSSING % "arrived" + "/weigh",
        422,
        "BZ-WEIGHT-INVALID",
        content=b'{"grossWt": 26000.1234567}',
        headers=JSON,
        check=_detail(reason="more than 5 decimal places"),
    ),
    "cross-missing-weight": _gate(
        "/api/v1/gate/cross", 422, "BZ-WEIGHT-INVALID", lambda ids: _arrive(), check=_detail(field="grossWt")
    ),
    "cross-negative-weight": _gate("/api/v1/gate/cross", 422, "BZ-WEIGHT-INVALID", lambda ids: _cross(grossWt="-1")),
    "cross-absurd-weight": _gate("/api/v1/gate/cross", 422, "BZ-WEIGHT-INVALID", lambda ids: _cross(grossWt="1e9")),
    # containers (ISO 6346, checked by python-stdnum)
    "container-bad-check-digit": _pass(
        422,
        "BZ-CONTAINER-INVALID",
        lambda ids: _empty(containerNo="CSQU3054384", containerWt="2200"),
        _detail(value="CSQU3054384"),
    ),
    "container-too-short": _pass(422, "BZ-CONTAINER-INVALID", lambda ids: _empty(containerNo="CSQU305438")),
    "container-digits-only": _pass(422, "BZ-CONTAINER-INVALID", lambda ids: _empty(containerNo="12345678901")),
    "container-weight-without-container": _pass(
        422, "BZ-TEXT-INVALID", lambda ids: _empty(containerWt="2200"), _detail(field="containerWt")
    ),
    # non-declared goods (M4): categories and their graded fields, hazardous chemicals
    "goods-category-unknown": _pass(
        422, "BZ-VALIDATION", lambda ids: _non_declared(_goods(category="fireworks")), _field("goods.0.category")
    ),
    "production-goods-without-hs-code": _pass(
        422,
        "BZ-GOODS-FIELD-REQUIRED",
        lambda ids: _non_declared(_goods(category="production_related")),
        _detail(field="gdecd", category="production_related", passportSeqno=1),
    ),
    "goods-hs-code-9-digits": _pass(422, "BZ-HS-INVALID", lambda ids: _non_declared(_goods(gdecd="482020000"))),
    "goods-qty-zero": _pass(422, "BZ-QTY-INVALID", lambda ids: _non_declared(_goods(dclQty="0"))),
    "goods-unit-unknown": _pass(422, "BZ-UNIT-INVALID", lambda ids: _non_declared(_goods(dclUnitcd="999"))),
    "non-declared-without-goods": _pass(422, "BZ-PASS-NO-GOODS", lambda ids: _non_declared() | {"goods": []}),
    "hazchem-details-missing": _pass(
        422,
        "BZ-GOODS-FIELD-REQUIRED",
        lambda ids: _non_declared(_without(_diesel(), "hazchem")),
        _detail(field="hazchem", category="hazardous_chemicals"),
    ),
    "hazchem-without-un-number": _pass(
        422,
        "BZ-VALIDATION",
        lambda ids: _non_declared(_diesel(hazchem=_without(_hazchem(), "unNo"))),
        _field("goods.0.hazchem.unNo"),
    ),
    "hazchem-un-number-blank": _pass(
        422, "BZ-HAZCHEM-INVALID", lambda ids: _non_declared(_diesel(hazchem=_hazchem(unNo=""))), _detail(field="unNo")
    ),
    "hazchem-un-number-3-digits": _pass(
        422, "BZ-HAZCHEM-INVALID", lambda ids: _non_declared(_diesel(hazchem=_hazchem(unNo="120"))), _detail(field="unNo")
    ),
    "hazchem-bad-cas-check-digit": _pass(
        422,
        "BZ-HAZCHEM-INVALID",
        lambda ids: _non_declared(_diesel(hazchem=_hazchem(casNo="68334-30-4"))),
        _detail(field="casNo", value="68334-30-4"),
    ),
    "hazchem-class-10": _pass(
        422,
        "BZ-HAZCHEM-INVALID",
        lambda ids: _non_declared(_diesel(hazchem=_hazchem(hazardClass="10"))),
        _detail(field="hazardClass"),
    ),
    "hazchem-on-office-supplies": _pass(
        422, "BZ-TEXT-INVALID", lambda ids: _non_declared(_goods(hazchem=_hazchem())), _detail(field="hazchem")
    ),
    # bound documents (M6, M7)
    "doc-unknown": _pass(
        404,
        "BZ-PASS-DOC-NOT-FOUND",
        lambda ids: _split({"qd": "QD530126I000999999"}),
        _detail(rltTbTypecd="1", rltNo="QD530126I000999999"),
    ),
    "doc-of-another-enterprise": _pass(
        404, "BZ-PASS-DOC-NOT-FOUND", lambda ids: _split({"qd": ids["stranger_qd"]}), _detail(rltTbTypecd="1")
    ),
    "summary-unknown": _pass(
        404,
        "BZ-PASS-DOC-NOT-FOUND",
        lambda ids: _empty(
            passportTypecd="2", bindTypecd="2", totalGrossWt="1000", docs=[{"rltTbTypecd": "4", "rltNo": "530120269999999999"}]
        ),
    ),
    "doc-line-unknown": _pass(
        422,
        "BZ-PASS-DOC-LINE",
        lambda ids: (
            _split(ids) | {"docs": [{"rltTbTypecd": "1", "rltNo": ids["qd"], "lines": [{"rltGdsSeqno": 9, "dclQty": "1"}]}]}
        ),
        _detail(rltGdsSeqno=9),
    ),
    "doc-type-unknown": _pass(
        422,
        "BZ-VALIDATION",
        lambda ids: _split(ids) | {"docs": [{"rltTbTypecd": "9", "rltNo": ids["qd"]}]},
        _field("docs.0.rltTbTypecd"),
    ),
    "split-above-remaining": _pass(
        409,
        "BZ-PASS-QTY-EXCEEDS",
        lambda ids: _split(ids, qty="40.00001"),
        _detail(dclQty="40.00001", remaining="40", declared="100", delivered="60"),
    ),
    "split-without-quantities": _pass(
        422, "BZ-PASS-BIND", lambda ids: _split(ids) | {"docs": [{"rltTbTypecd": "1", "rltNo": ids["qd"]}]}
    ),
    "split-zero": _pass(422, "BZ-QTY-INVALID", lambda ids: _split(ids, qty="0")),
    "declared-without-binding-type": _pass(422, "BZ-PASS-BIND", lambda ids: _without(_split(ids), "bindTypecd")),
    "one-truck-one-doc-with-two-docs": _pass(
        422,
        "BZ-PASS-BIND",
        lambda ids: (
            _split(ids)
            | {"bindTypecd": "2", "docs": [{"rltTbTypecd": "1", "rltNo": ids["qd"]}, {"rltTbTypecd": "4", "rltNo": ids["entry"]}]}
        ),
    ),
    "empty-vehicle-binds-a-doc": _pass(
        422, "BZ-PASS-BIND", lambda ids: _empty(bindTypecd="2", docs=[{"rltTbTypecd": "1", "rltNo": ids["qd"]}])
    ),
    # duplicates
    "duplicate-etps-preent-no": _pass(
        409, "BZ-PASS-DUPLICATE", lambda ids: _empty(etpsPreentNo="SEED-UNUSED"), _detail(etpsPreentNo="SEED-UNUSED")
    ),
    "duplicate-summary-declaration": Case(
        "POST", "/api/v1/entry-summaries", 409, "BZ-ENTRY-SUMMARY-DUPLICATE", body=lambda ids: _summary(entryNo=ids["entry"])
    ),
    "summary-entry-no-short": Case(
        "POST", "/api/v1/entry-summaries", 422, "BZ-ENTRY-NO-INVALID", body=lambda ids: _summary(entryNo="5301")
    ),
    "summary-too-many-lines": Case(
        "POST",
        "/api/v1/entry-summaries",
        422,
        "BZ-VALIDATION",
        body=lambda ids: _summary(
            lines=[{"gNo": n, "gdecd": "8471300000", "gdsNm": "x", "dclQty": "1", "dclUnitcd": "001"} for n in range(1, 1002)]
        ),
        check=_field("lines"),
    ),
    "split-too-many-lines": _pass(
        422,
        "BZ-VALIDATION",
        lambda ids: (
            _split(ids)
            | {
                "docs": [
                    {"rltTbTypecd": "1", "rltNo": ids["qd"], "lines": [{"rltGdsSeqno": n, "dclQty": "1"} for n in range(1, 1002)]}
                ]
            }
        ),
        _field("docs.0.lines"),
    ),
    "summary-hs-code-bad": Case(
        "POST",
        "/api/v1/entry-summaries",
        422,
        "BZ-HS-INVALID",
        body=lambda ids: _summary(lines=[{"gNo": 1, "gdecd": "7701000000", "gdsNm": "x", "dclQty": "3", "dclUnitcd": "001"}]),
    ),
    "release-summary-twice": _gate("/api/v1/entry-summaries/{entry}/release", 409, "BZ-ENTRY-SUMMARY-STATE", persona="customs"),
    "release-unknown-summary": _gate(
        "/api/v1/entry-summaries/530120269999999999/release", 404, "BZ-ENTRY-SUMMARY-NOT-FOUND", persona="customs"
    ),
    "cancel-a-used-pass": _gate("/api/v1/passports/{used_pass}/cancel", 409, "BZ-PASS-STATE", persona="owner"),
    # gate events out of order (G1): the same event twice, or a step skipped
    "weigh-twice": _gate(
        CROSSING % "weighed" + "/weigh",
        409,
        "BZ-GATE-EVENT-ORDER",
        lambda ids: {"grossWt": "15000"},
        check=_detail(status="weighed"),
    ),
    "weigh-after-the-decision": _gate(
        CROSSING % "passed" + "/weigh", 409, "BZ-GATE-EVENT-ORDER", lambda ids: {"grossWt": "15000"}
    ),
    "decide-before-weigh": _gate(CROSSING % "arrived" + "/decide", 409, "BZ-GATE-EVENT-ORDER", check=_detail(status="arrived")),
    "decide-twice": _gate(CROSSING % "passed" + "/decide", 409, "BZ-GATE-EVENT-ORDER", check=_detail(status="passed")),
    "decide-after-a-hold-at-arrival": _gate(CROSSING % "no_pass" + "/decide", 409, "BZ-GATE-EVENT-ORDER"),
    "leave-before-decide": _gate(CROSSING % "arrived" + "/leave", 409, "BZ-GATE-EVENT-ORDER", check=_detail(status="arrived")),
    "leave-after-weighing-before-decide": _gate(CROSSING % "weighed" + "/leave", 409, "BZ-GATE-EVENT-ORDER"),
    "leave-twice": _gate(CROSSING % "left" + "/leave", 409, "BZ-GATE-EVENT-ORDER", check=_detail(status="left")),
    "release-a-passed-vehicle": _gate(
        CROSSING % "passed" + "/release", 409, "BZ-GATE-EVENT-ORDER", lambda ids: {"reason": "查验"}, persona="customs"
    ),
    "release-a-vehicle-with-another-plate": _gate(
        CROSSING % "wrong_plate" + "/release",
        409,
        "BZ-GATE-RELEASE",
        lambda ids: {"reason": "放行"},
        persona="customs",
        check=_detail(rules="PASS-PLATE"),
    ),
    # unknown things
    "crossing-unknown-weigh": _gate(
        "/api/v1/gate/crossings/999999/weigh",
        404,
        "BZ-CROSSING-NOT-FOUND",
        lambda ids: {"grossWt": "15000"},
        check=_detail(id=999999),
    ),
    "crossing-unknown-decide": _gate("/api/v1/gate/crossings/999999/decide", 404, "BZ-CROSSING-NOT-FOUND"),
    "crossing-unknown-leave": _gate("/api/v1/gate/crossings/999999/leave", 404, "BZ-CROSSING-NOT-FOUND"),
    "crossing-unknown-get": Case("GET", "/api/v1/gate/crossings/999999", 404, "BZ-CROSSING-NOT-FOUND", persona="gate"),
    "crossing-id-zero": _gate("/api/v1/gate/crossings/0/decide", 422, "BZ-VALIDATION"),
    "crossing-id-not-int": Case("GET", "/api/v1/gate/crossings/abc", 422, "BZ-VALIDATION", persona="gate"),
    "passport-unknown": Case("GET", "/api/v1/passports/Z5301I261123999999999999", 404, "BZ-PASS-NOT-FOUND"),
    "gate-doc-unknown-type": Case("GET", "/api/v1/gate/docs/9/{qd}", 422, "BZ-VALIDATION"),
    "lane-unknown": _gate(
        "/api/v1/gate/crossings", 422, "BZ-VALIDATION", lambda ids: _arrive(lane="express"), check=_field("lane")
    ),
    "gate-id-with-space": _gate(
        "/api/v1/gate/crossings", 422, "BZ-TEXT-INVALID", lambda ids: _arrive(gateId="G 01"), check=_detail(field="gateId")
    ),
    # the shape of the request
    "pass-malformed-json": Case(
        "POST", "/api/v1/passports", 400, "BZ-JSON-MALFORMED", content=b'{"etpsPreentNo": "X",', headers=JSON
    ),
    "cross-malformed-json": _gate("/api/v1/gate/cross", 400, "BZ-JSON-MALFORMED", content=b'{"gateId": "G01"', headers=JSON),
    "weigh-malformed-json": _gate(
        CROSSING % "arrived" + "/weigh", 400, "BZ-JSON-MALFORMED", content=b'{"grossWt": 26000,,}', headers=JSON
    ),
    "cross-json-array": _gate("/api/v1/gate/cross", 400, "BZ-JSON-MALFORMED", lambda ids: [_cross()]),
    "arrive-empty-body": _gate("/api/v1/gate/crossings", 400, "BZ-JSON-MALFORMED", content=b"", headers=JSON),
    "pass-unknown-field": _pass(422, "BZ-VALIDATION", lambda ids: _empty(passportStucd="1"), _field("passportStucd")),
    "pass-type-unknown": _pass(422, "BZ-VALIDATION", lambda ids: _empty(passportTypecd="5"), _field("passportTypecd")),
}


@dataclass
class World:
    client: TestClient
    zone: f.Zone
    ids: dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    """One zone per engine for every case (each case proves it changed nothing), seeded with:

    the owner's approved list of 100 × item 1, of which a one-doc-many-trucks vehicle delivered
    60 (40 remain); the stranger's approved list; a released summary declaration; an unused pass
    (etpsPreentNo ``SEED-UNUSED``); and crossings arrived, weighed, passed, left, held for want of
    any pass, and held for a plate that is not the pass's.
    """
    from fastapi.testclient import TestClient

    with shared_zone(request.param, tmp_path_factory.mktemp("gatebad"), sqlite_template) as zone:
        c, owner = zone.container, zone.owner
        qd = gs.approved_list(c, owner, f.OWNER_BOOK, [(1, "100")], "SEED-IN")
        ids: dict[str, Any] = {
            "qd": qd,
            "stranger_qd": gs.approved_list(c, zone.stranger, f.STRANGER_BOOK, [(1, "7")], "SEED-STR"),
            "entry": gs.summary(c, owner, f.OWNER_BOOK, "530120261000000001", released=True),
        }
        delivered = gs.new_pass(c, owner, f.OWNER_BOOK, gs.split("SEED-SPLIT", qd, "60", plate="云A60000"))
        gs.crossing(c, delivered, "passed", plate="云A60000", gross="26000")
        gs.new_pass(c, owner, f.OWNER_BOOK, gs.empty_vehicle("SEED-UNUSED", plate=UNUSED_PLATE))
        for state, plate in (("arrived", "云A10001"), ("weighed", "云A10002"), ("passed", "云A10003"), ("left", "云A10004")):
            passport = gs.new_pass(c, owner, f.OWNER_BOOK, gs.empty_vehicle(f"SEED-{state}", plate=plate))
            ids[state] = gs.crossing(c, passport, "passed" if state == "left" else state, plate=plate)
            if state == "passed":
                ids["used_pass"] = passport
        other_plate = gs.new_pass(c, owner, f.OWNER_BOOK, gs.empty_vehicle("SEED-PLATE", plate="云A10005"))
        with c.uow() as uow:
            gate.leave(uow, gs.GATE, ids["left"])
            ids["no_pass"] = gate.arrive(uow, gs.GATE, gate.Arrive("G01", "declared", "云C00001")).id
            ids["wrong_plate"] = gate.arrive(uow, gs.GATE, gate.Arrive("G01", "declared", "云A10006", other_plate)).id
            uow.commit()
        with TestClient(create_app(c)) as client:
            # Every base body is accepted as it is: a case fails for its one bad field alone.
            for n, body in enumerate((_empty(), _non_declared(), _non_declared(_diesel()), _split(ids)), start=1):
                ok = client.post("/api/v1/passports", json={**body, "etpsPreentNo": f"BASE-{n}"}, headers=zone.headers("owner"))
                assert ok.status_code == 201, ok.text
            assert client.post("/api/v1/entry-summaries", json=_summary(), headers=zone.headers("owner")).status_code == 201
            yield World(client, zone, ids)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_gate_message_gets_coded_4xx_and_changes_nothing(name: str, world: World) -> None:
    case, zone = CASES[name], world.zone
    headers = dict(zone.headers(case.persona))
    headers.update(case.headers)
    kwargs: dict[str, Any] = {"headers": headers}
    if case.content is not None:
        kwargs["content"] = case.content
    elif case.body is not None:
        kwargs["json"] = case.body(world.ids)
    counts, before = gs.gate_counts(zone.container), snapshot(zone.container)
    resp = world.client.request(case.method, case.path.format(**world.ids), **kwargs)
    body = assert_error(resp, case.status, case.code)
    if case.check:
        case.check(body)
    assert gs.gate_counts(zone.container) == counts
    assert snapshot(zone.container) == before


def test_every_problem_of_a_pass_is_reported_at_once(world: World) -> None:
    # One round trip shows every bad field of the form: the plate, the weights and the container.
    bad = _empty(vehicleNo="ABC123", vehicleWt="-1", containerNo="CSQU3054384", goods=[])
    before = snapshot(world.zone.container)
    resp = world.client.post("/api/v1/passports", json=bad, headers=world.zone.headers("owner", **{"Accept-Language": "zh"}))
    body = assert_error(resp, 422, "BZ-PLATE-INVALID")
    assert [(e["code"], e["detail"].get("field")) for e in body["errors"]] == [
        ("BZ-PLATE-INVALID", None),
        ("BZ-WEIGHT-INVALID", "vehicleWt"),
        ("BZ-CONTAINER-INVALID", None),
    ]
    assert body["message"] == body["messages"]["zh"] and "车牌号" in body["message"]
    assert snapshot(world.zone.container) == before


def test_a_refused_event_with_a_key_answers_the_same_on_retry(world: World) -> None:
    # G1: "weigh twice" is a conflict with the crossing's state. Under an Idempotency-Key the
    # refusal is the key's first answer (as for an overdraw), so a retry cannot record a second
    # weighing later; the crossing itself is untouched.
    z = world.zone
    headers = z.headers("gate", **{"Idempotency-Key": "weigh-twice-1"})
    path = f"/api/v1/gate/crossings/{world.ids['weighed']}/weigh"
    counts = gs.gate_counts(z.container)
    first = assert_error(world.client.post(path, json={"grossWt": "15000"}, headers=headers), 409, "BZ-GATE-EVENT-ORDER")
    again = world.client.post(path, json={"grossWt": "15000"}, headers=headers)
    assert again.status_code == 409 and again.json() == first
    after = gs.gate_counts(z.container)
    assert after == {**counts, "idempotency_keys": counts["idempotency_keys"] + 1}
    shown = world.client.get(f"/api/v1/gate/crossings/{world.ids['weighed']}", headers=z.headers("gate")).json()
    assert [e["kind"] for e in shown["events"]] == ["arrive", "weigh"]


@pytest.fixture
def small_limit_client(zone: f.Zone, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app whose body limit comes from BONDEDZONE_MAX_BODY_BYTES, over the same database."""
    from fastapi.testclient import TestClient

    monkeypatch.setenv("BONDEDZONE_MAX_BODY_BYTES", "4096")
    c = bootstrap.build(Settings(database_url=zone.container.settings.database_url, load_demo=False))
    with TestClient(create_app(c)) as tc:
        yield tc
    c.engine.dispose()


def test_oversized_gate_messages_are_413_and_change_nothing(small_limit_client: Any, zone: f.Zone) -> None:
    # A pass with 200 goods lines is ~20 kB: over the 4 kB limit whether announced or streamed.
    big = json.dumps(_non_declared(*[_goods(gdsNm=f"办公用品 {n}") for n in range(200)])).encode()
    assert len(big) > 4096
    before, counts = snapshot(zone.container), gs.gate_counts(zone.container)
    headers = zone.headers("owner", **JSON)
    body = assert_error(small_limit_client.post("/api/v1/passports", content=big, headers=headers), 413, "BZ-PAYLOAD-TOO-LARGE")
    assert body["detail"] == {"limit": 4096}

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    assert_error(small_limit_client.post("/api/v1/passports", content=chunks(), headers=headers), 413, "BZ-PAYLOAD-TOO-LARGE")
    gate = zone.headers("gate", **JSON)
    padded = json.dumps(_cross()).encode()[:-1] + b" " * 5000 + b"}"
    assert_error(small_limit_client.post("/api/v1/gate/cross", content=padded, headers=gate), 413, "BZ-PAYLOAD-TOO-LARGE")
    assert snapshot(zone.container) == before and gs.gate_counts(zone.container) == counts
