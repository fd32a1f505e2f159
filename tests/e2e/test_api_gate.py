"""The smart gate end to end over HTTP, on both engines (M4, M6, M7, G1).

An enterprise's lists are entered, declared and approved through the API; the enterprise makes
gate passes of every kind (one-truck-one-doc, one-truck-many-docs binding a list and a released
two-step summary declaration, one-doc-many-trucks split across vehicles, non-declared goods, an
empty vehicle); the gate drives each vehicle through arrive → weigh → decide → leave or in one
``/gate/cross``; and every decision is checked for its reasons — the rule and its figures — in
the caller's language. The gate never posts to the ledger: stock is the same before and after.

The app here spot-checks nothing (``gate_spot_check_rate`` 0), so that decisions in the
non-declared lane are certain; :func:`test_spot_check_is_explained_and_hazchem_is_shared` runs
an app configured through ``BONDEDZONE_GATE_SPOT_CHECK_RATE`` = 1 over the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from bondedzone import bootstrap
from bondedzone.config import Settings
from bondedzone.entrypoints.api.app import create_app
from tests import factories as f
from tests.conftest import Clock
from tests.e2e.gate_support import gate_counts, held_rules, reason
from tests.e2e.test_api_support import assert_error

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

PLATE = "云A12345"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture
def container(db_url: str, clock: Clock) -> Iterator[bootstrap.Container]:
    """The conftest container, with no spot checks: decisions in the non-declared lane are certain."""
    c = bootstrap.build(Settings(database_url=db_url, load_demo=False, gate_spot_check_rate=Decimal(0)), clock=clock)
    yield c
    c.engine.dispose()


# -- helpers: every step through the API -------------------------------------------------------------


class Api:
    """The owner, customs and the gate talking to the app."""

    def __init__(self, client: TestClient, zone: f.Zone) -> None:
        self.client, self.zone = client, zone

    def post(self, persona: str, path: str, body: Any = None, status: int = 200, **headers: str) -> dict[str, Any]:
        resp = self.client.post(path, json=body, headers=self.zone.headers(persona, **headers))
        assert resp.status_code == status, (path, resp.status_code, resp.text[:1500])
        out: dict[str, Any] = resp.json()
        return out

    def get(self, persona: str, path: str, **headers: str) -> dict[str, Any]:
        resp = self.client.get(path, headers=self.zone.headers(persona, **headers))
        assert resp.status_code == 200, (path, resp.text[:1500])
        out: dict[str, Any] = resp.json()
        return out

    def approved_list(self, inner: str, lines: list[tuple[int, str]], flow: str = "first_line") -> str:
        """Enter, declare (owner) and approve (customs) an import list; returns its bondInvtNo."""
        body = {
            "etpsInnerInvtNo": inner,
            "putrecNo": f.OWNER_BOOK,
            "impexpMarkcd": "I",
            "supvModecd": "5034",
            "flow": flow,
            "lines": [
                {"gdsSeqno": n, "putrecSeqno": seq, "dclQty": q, "dclUnitcd": f.UNITS[seq]}
                for n, (seq, q) in enumerate(lines, start=1)
            ],
        }
        invt = self.post("owner", "/api/v1/invts", body, 201)
        self.post("owner", f"/api/v1/invts/{invt['id']}/declare")
        approved = self.post("customs", f"/api/v1/invts/{invt['id']}/approve")
        assert approved["status"] == "approved"
        no: str = approved["bondInvtNo"]
        return no

    def new_pass(self, inner: str, status: int = 201, **over: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "areainOriactNo": f.OWNER_BOOK,
            "etpsPreentNo": inner,
            "passportTypecd": "2",
            "ioTypecd": "I",
            "vehicleNo": PLATE,
            "vehicleWt": "15000",
            "vehicleFrameWt": "1000",
            "totalGrossWt": "10000",
            **over,
        }
        return self.post("owner", "/api/v1/passports", body, status)

    def cross(self, passport_no: str | None, gross: str | None, plate: str = PLATE, lane: str = "declared", **h: str) -> Any:
        body = {"gateId": "G01", "lane": lane, "vehicleNo": plate, "passportNo": passport_no, "grossWt": gross}
        return self.post("gate", "/api/v1/gate/cross", {k: v for k, v in body.items() if v is not None}, **h)

    def doc(self, kind: str, no: str) -> dict[str, Any]:
        return self.get("owner", f"/api/v1/gate/docs/{kind}/{no}")

    def stock(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.get("owner", f"/api/v1/books/{f.OWNER_BOOK}/stock")["data"]
        return data


@pytest.fixture
def api(client: TestClient, zone: f.Zone) -> Api:
    return Api(client, zone)


def one_doc(kind: str, no: str, lines: list[tuple[int, str]] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"rltTbTypecd": kind, "rltNo": no}
    if lines is not None:
        doc["lines"] = [{"rltGdsSeqno": seq, "dclQty": q} for seq, q in lines]
    return doc


# -- declared goods ----------------------------------------------------------------------------------


def test_one_truck_one_doc_through_arrive_weigh_decide_leave(api: Api) -> None:  # G1, M7
    qd = api.approved_list("GATE-IN-1", [(1, "100"), (2, "5.5")])
    stock = api.stock()
    gp = api.new_pass("P-1", bindTypecd="2", docs=[one_doc("1", qd)])
    no = gp["passportNo"]
    assert len(no) == 24 and no.startswith("Z5301I") and gp["status"] == "approved"
    assert gp["totalWt"] == "26000"  # vehicle 15000 + frame 1000 + goods 10000
    assert [(ln["rltNo"], ln["rltGdsSeqno"], ln["dclQty"]) for ln in gp["lines"]] == [(qd, 1, "100"), (qd, 2, "5.5")]

    arrived = api.post("gate", "/api/v1/gate/crossings", {"gateId": "G01", "lane": "declared", "vehicleNo": PLATE}, 201)
    assert (arrived["status"], arrived["decision"], arrived["passportNo"]) == ("arrived", None, no)  # found by plate
    assert {r["rule"]: r["held"] for r in arrived["reasons"]} == {"PASS-VALID": False, "M4-LANE": False}
    assert api.get("gate", f"/api/v1/passports/{no}")["status"] == "in_gate"

    x = arrived["id"]
    weighed = api.post("gate", f"/api/v1/gate/crossings/{x}/weigh", {"grossWt": "26100"})
    assert (weighed["status"], weighed["grossWt"]) == ("weighed", "26100")
    decided = api.post("gate", f"/api/v1/gate/crossings/{x}/decide")
    assert decided["decision"] == "pass" and not held_rules(decided)
    g1 = reason(decided, "G1-WEIGHT")
    assert g1["figures"] == {
        "passCollectWt": "26100",
        "totalWt": "26000",
        "tolerance": "2%",
        "low": "25480",
        "high": "26520",
        "wtError": "100",
    }
    assert g1["message"] == g1["en"] and "within tolerance" in g1["en"]
    assert reason(decided, "M7-REMAINING")["figures"] == {"lines": 2}
    assert api.get("owner", f"/api/v1/passports/{no}")["status"] == "passed"
    doc = api.doc("1", qd)
    assert doc["complete"] and [(ln["declared"], ln["delivered"], ln["remaining"]) for ln in doc["lines"]] == [
        ("100", "100", "0"),
        ("5.5", "5.5", "0"),
    ]

    left = api.post("gate", f"/api/v1/gate/crossings/{x}/leave")
    assert left["status"] == "left" and left["leftAt"]
    shown = api.get("owner", f"/api/v1/passports/{no}")
    assert shown["status"] == "crossed" and [c["id"] for c in shown["crossings"]] == [x]
    events = api.get("auditor", f"/api/v1/gate/crossings/{x}")["events"]
    assert [e["kind"] for e in events] == ["arrive", "weigh", "decide", "leave"]  # G1: every event recorded
    assert len({e["actor"] for e in events}) == 1 and events[0]["actor"].startswith("token:")
    assert events[1]["grossWt"] == "26100" and events[2]["outcome"] == "pass" and events[3]["through"] is True
    assert api.stock() == stock  # the gate never posts to the ledger


def test_overweight_vehicle_is_held_with_the_figures_in_the_callers_language(api: Api) -> None:  # G1
    qd = api.approved_list("GATE-IN-2", [(1, "100")])
    no = api.new_pass("P-2", bindTypecd="2", docs=[one_doc("1", qd)], totalGrossWt="14050")["passportNo"]  # expects 30050
    before = gate_counts(api.zone.container)
    held = api.cross(no, "31420", **ZH)
    assert held["decision"] == "hold" and held["status"] == "held" and held_rules(held) == {"G1-WEIGHT"}
    g1 = reason(held, "G1-WEIGHT")
    assert g1["figures"] == {
        "passCollectWt": "31420",
        "totalWt": "30050",
        "tolerance": "2%",
        "low": "29449",
        "high": "30651",
        "wtError": "1370",
    }
    assert g1["message"] == g1["zh"] and "过磅毛重 31420 kg" in g1["zh"] and "30050" in g1["zh"] and "超出允许范围" in g1["zh"]
    assert g1["en"].startswith("gross 31420 kg vs expected 30050 kg ± 2% (29449–30651), off by 1370 kg")
    shown = api.get("gate", f"/api/v1/gate/crossings/{held['id']}")  # no Accept-Language: English
    assert reason(shown, "G1-WEIGHT")["message"] == g1["en"]

    # A hold changes the crossing and nothing else: nothing delivered, no posting, the pass usable again.
    after = gate_counts(api.zone.container)
    assert after == {**before, "gate_crossings": before["gate_crossings"] + 1, "gate_events": before["gate_events"] + 3}
    assert api.doc("1", qd)["lines"][0]["delivered"] == "0"
    assert api.get("owner", f"/api/v1/passports/{no}")["status"] == "approved"

    # Customs weighs it again by hand, finds the goods right and releases it; only then is it delivered.
    released = api.post("customs", f"/api/v1/gate/crossings/{held['id']}/release", {"reason": "复磅并开箱查验，货物与申报相符"})
    assert released["decision"] == "pass" and released["reasons"][-1]["rule"] == "CUSTOMS-RELEASE"
    assert "复磅" in released["reasons"][-1]["en"]
    assert api.doc("1", qd)["complete"]


def test_one_truck_many_docs_carries_a_list_and_a_summary_declaration_together(api: Api) -> None:  # M6
    qd = api.approved_list("GATE-IN-3", [(1, "10")])
    entry = "530120261000000123"
    summary = {
        "entryNo": entry,
        "putrecNo": f.OWNER_BOOK,
        "ioTypecd": "I",
        "lines": [{"gNo": 1, "gdecd": "8471500000", "gdsNm": "服务器", "dclQty": "3", "dclUnitcd": "001"}],
    }
    declared = api.post("owner", "/api/v1/entry-summaries", summary, 201)
    assert (declared["rltTbTypecd"], declared["ready"], declared["complete"]) == ("4", False, False)
    both = [one_doc("1", qd), one_doc("4", entry)]
    refused = api.client.post(
        "/api/v1/passports",
        json={
            "areainOriactNo": f.OWNER_BOOK,
            "etpsPreentNo": "P-3",
            "passportTypecd": "2",
            "ioTypecd": "I",
            "bindTypecd": "1",
            "vehicleNo": PLATE,
            "vehicleWt": "15000",
            "totalGrossWt": "10000",
            "docs": both,
        },
        headers=api.zone.headers("owner"),
    )
    assert "not released" in assert_error(refused, 422, "BZ-PASS-BIND")["message"]

    assert api.post("customs", f"/api/v1/entry-summaries/{entry}/release")["ready"] is True
    again = api.client.post(f"/api/v1/entry-summaries/{entry}/release", headers=api.zone.headers("customs"))
    assert_error(again, 409, "BZ-ENTRY-SUMMARY-STATE")
    gp = api.new_pass("P-3", bindTypecd="1", docs=both)
    assert sorted((d["rltTbTypecd"], d["rltNo"]) for d in gp["docs"]) == [("1", qd), ("4", entry)]
    assert [(ln["rltTbTypecd"], ln["dclQty"]) for ln in gp["lines"]] == [("1", "10"), ("4", "3")]
    # One-truck-many-docs is for two or more documents.
    lone = api.client.post(
        "/api/v1/passports",
        json={**_declared_body("P-3b"), "bindTypecd": "1", "docs": [one_doc("1", qd)]},
        headers=api.zone.headers("owner"),
    )
    assert_error(lone, 422, "BZ-PASS-BIND")

    crossed = api.cross(gp["passportNo"], "26000")
    assert crossed["decision"] == "pass", crossed["reasons"]
    assert reason(crossed, "M7-REMAINING")["figures"] == {"lines": 2}
    assert api.doc("1", qd)["complete"] and api.doc("4", entry)["complete"]


def _declared_body(inner: str) -> dict[str, Any]:
    return {
        "areainOriactNo": f.OWNER_BOOK,
        "etpsPreentNo": inner,
        "passportTypecd": "2",
        "ioTypecd": "I",
        "vehicleNo": PLATE,
        "vehicleWt": "15000",
        "totalGrossWt": "10000",
    }


def test_one_doc_many_trucks_delivers_in_parts_and_refuses_over_delivery(api: Api) -> None:  # M7
    qd = api.approved_list("GATE-IN-4", [(1, "100")])

    def split(inner: str, qty: str, plate: str, status: int = 201) -> dict[str, Any]:
        return api.new_pass(inner, status, bindTypecd="3", vehicleNo=plate, docs=[one_doc("1", qd, [(1, qty)])])

    a, b = split("T-1", "60", "云A00001"), split("T-2", "40", "云A00002")
    late = split("T-3", "30", "云A00003")  # fits now (100 remain), no longer once a and b have crossed
    assert [ln["dclQty"] for ln in a["lines"]] == ["60"]
    line = api.doc("1", qd)["lines"][0]
    assert (line["declared"], line["delivered"], line["remaining"]) == ("100", "0", "100")  # a pass reserves nothing

    x = api.post("gate", "/api/v1/gate/crossings", {"gateId": "G01", "lane": "declared", "vehicleNo": "云A00001"}, 201)
    api.post("gate", f"/api/v1/gate/crossings/{x['id']}/weigh", {"grossWt": "25800"})
    assert api.post("gate", f"/api/v1/gate/crossings/{x['id']}/decide")["decision"] == "pass"
    doc = api.doc("1", qd)
    assert (doc["lines"][0]["delivered"], doc["lines"][0]["remaining"], doc["complete"]) == ("60", "40", False)

    # A pass for more than remains is refused when it is made, with the figures.
    too_much = api.client.post(
        "/api/v1/passports",
        json={**_declared_body("T-4"), "bindTypecd": "3", "vehicleNo": "云A00004", "docs": [one_doc("1", qd, [(1, "50")])]},
        headers=api.zone.headers("owner"),
    )
    body = assert_error(too_much, 409, "BZ-PASS-QTY-EXCEEDS")
    assert {k: body["detail"][k] for k in ("dclQty", "remaining", "declared", "delivered")} == {
        "dclQty": "50",
        "remaining": "40",
        "declared": "100",
        "delivered": "60",
    }

    assert api.cross(b["passportNo"], "26000", plate="云A00002")["decision"] == "pass"
    doc = api.doc("1", qd)
    assert doc["complete"] and (doc["lines"][0]["delivered"], doc["lines"][0]["remaining"]) == ("100", "0")

    # The vehicle whose pass was made earlier is held at the gate: the figures say by how much.
    held = api.cross(late["passportNo"], "26000", plate="云A00003")
    assert held["decision"] == "hold" and held_rules(held) == {"M7-REMAINING"}
    assert reason(held, "M7-REMAINING")["figures"] == {
        "rltNo": qd,
        "rltGdsSeqno": 1,
        "carrying": "30",
        "declared": "100",
        "delivered": "100",
        "remaining": "0",
        "excess": "30",
    }
    assert api.doc("1", qd)["lines"][0]["delivered"] == "100"  # never more than declared, never backwards
    # Nothing remains to bind.
    split("T-5", "1", "云A00005", status=422)


# -- non-declared goods and empty vehicles ----------------------------------------------------------


def test_office_supplies_need_no_hs_code_and_no_weighing(api: Api) -> None:  # M4
    goods = [{"gdsNm": "A4 复印纸", "category": "office_supplies", "dclQty": "100", "dclUnitcd": "035"}]
    gp = api.new_pass("N-1", passportTypecd="4", vehicleNo="云A11111", vehicleWt="8000", totalGrossWt="500", goods=goods)
    assert gp["bindTypecd"] is None and gp["docs"] == []
    assert [(ln["category"], ln["gdecd"], ln["grossWt"]) for ln in gp["lines"]] == [("office_supplies", None, None)]

    # Arrive and decide, with no weighing in between.
    lane = {"gateId": "G02", "lane": "non_declared", "vehicleNo": "云A11111"}
    x = api.post("gate", "/api/v1/gate/crossings", lane, 201)
    decided = api.post("gate", f"/api/v1/gate/crossings/{x['id']}/decide")
    assert decided["decision"] == "pass" and decided["grossWt"] is None
    g1 = reason(decided, "G1-WEIGHT")
    assert not g1["held"] and "no weight comparison" in g1["en"] and "免予重量验核" in g1["zh"]
    spot = reason(decided, "M4-SPOT-CHECK")
    assert not spot["held"] and spot["figures"]["rate"] == "0" and "not selected" in spot["en"]
    assert api.post("gate", f"/api/v1/gate/crossings/{x['id']}/leave")["status"] == "left"

    # The same kind of pass in the declared lane is turned away at arrival, with the lane it needs.
    wrong = api.new_pass("N-2", passportTypecd="4", vehicleNo="云A11112", vehicleWt="8000", totalGrossWt="500", goods=goods)
    held = api.cross(wrong["passportNo"], None, plate="云A11112", lane="declared")
    assert held["decision"] == "hold" and held_rules(held) == {"M4-LANE"}
    assert reason(held, "M4-LANE")["figures"] == {"lane": "declared", "passportTypecd": "4", "requiredLane": "non_declared"}
    # Consumer goods are weighed (only labour-protection and office supplies are exempt).
    food = [{"gdsNm": "矿泉水", "category": "consumer_goods", "dclQty": "200", "dclUnitcd": "035", "grossWt": "4000"}]
    consumer = api.new_pass("N-3", passportTypecd="4", vehicleNo="云A11113", vehicleWt="8000", totalGrossWt="4000", goods=food)
    passed = api.cross(consumer["passportNo"], "13100", plate="云A11113", lane="non_declared")
    assert passed["decision"] == "pass" and reason(passed, "G1-WEIGHT")["figures"]["totalWt"] == "13000"  # 8000 + 1000 + 4000


def test_empty_vehicle_may_use_either_lane_and_is_weighed(api: Api) -> None:  # M4, G1
    def empty(inner: str, plate: str, io: str = "I") -> str:
        gp = api.new_pass(inner, passportTypecd="6", ioTypecd=io, vehicleNo=plate, vehicleFrameWt=None, totalGrossWt="0")
        assert gp["totalWt"] == "15000" and gp["lines"] == [] and gp["bindTypecd"] is None
        no: str = gp["passportNo"]
        return no

    declared = api.cross(empty("E-1", "云A20001"), "15100", plate="云A20001", lane="declared")
    assert declared["decision"] == "pass" and "M4-SPOT-CHECK" not in {r["rule"] for r in declared["reasons"]}
    other = api.cross(empty("E-2", "云A20002", io="E"), "14900", plate="云A20002", lane="non_declared")
    assert other["decision"] == "pass" and reason(other, "M4-LANE")["figures"]["requiredLane"] is None
    assert not reason(other, "M4-SPOT-CHECK")["held"]  # the non-declared lane always draws
    loaded = api.cross(empty("E-3", "云A20003"), "25000", plate="云A20003")
    assert loaded["decision"] == "hold" and reason(loaded, "G1-WEIGHT")["figures"]["wtError"] == "10000"


def test_spot_check_is_explained_and_hazchem_is_shared(api: Api, zone: f.Zone, monkeypatch: pytest.MonkeyPatch) -> None:  # M4
    from fastapi.testclient import TestClient

    monkeypatch.setenv("BONDEDZONE_GATE_SPOT_CHECK_RATE", "1")
    monkeypatch.setenv("BONDEDZONE_GATE_SPOT_CHECK_SEED", "zone-5301")
    c = bootstrap.build(Settings(database_url=zone.container.settings.database_url, load_demo=False))
    assert c.gate_policy.spot_check.base_rate == 1 and c.gate_policy.spot_check.seed == "zone-5301"
    diesel = {
        "gdsNm": "柴油",
        "category": "hazardous_chemicals",
        "dclQty": "2000",
        "dclUnitcd": "035",
        "gdecd": "2710192100",
        "hazchem": {"unNo": "1202", "hazardClass": "3", "casNo": "68334-30-5", "usage": "叉车燃料"},
    }
    gp = api.new_pass("H-1", passportTypecd="4", vehicleNo="云A30001", vehicleWt="8000", totalGrossWt="2000", goods=[diesel])
    assert gp["lines"][0]["hazchem"] == {"unNo": "1202", "hazardClass": "3", "casNo": "68334-30-5", "usage": "叉车燃料"}
    try:
        with TestClient(create_app(c)) as spot_client:
            spotting = Api(spot_client, zone)
            held = spotting.cross(gp["passportNo"], "11000", plate="云A30001", lane="non_declared")
            assert held["decision"] == "hold" and held_rules(held) == {"M4-SPOT-CHECK"}
            spot = reason(held, "M4-SPOT-CHECK")
            assert spot["figures"]["rate"] == "1" and spot["figures"]["baseRate"] == "1" and spot["figures"]["attempt"] == 1
            assert spot["figures"]["factors"] == {"credit ordinary": "1", "hazardous chemicals": "2"}
            assert spot["en"].startswith("selected for a spot check: rate 100%") and spot["figures"]["draw"] in spot["en"]
            assert "风险抽查选中" in spot["zh"]
            # Held: nothing is shared yet.
            assert spotting.get("zone_admin", "/api/v1/hazchem-feed") == {"data": [], "count": 0}
            released = spotting.post("customs", f"/api/v1/gate/crossings/{held['id']}/release", {"reason": "查验无误"})
            assert released["decision"] == "pass"
    finally:
        c.engine.dispose()
    feed = api.get("zone_admin", "/api/v1/hazchem-feed")
    assert feed["count"] == 1
    rec = feed["data"][0]
    assert {k: rec[k] for k in ("areainEtpsSccd", "passportNo", "vehicleNo", "gdsNm", "unNo", "casNo", "dclQty")} == {
        "areainEtpsSccd": f.OWNER_USCC,
        "passportNo": gp["passportNo"],
        "vehicleNo": "云A30001",
        "gdsNm": "柴油",
        "unNo": "1202",
        "casNo": "68334-30-5",
        "dclQty": "2000",
    }
    assert api.get("zone_admin", f"/api/v1/hazchem-feed?afterId={rec['id']}") == {"data": [], "count": 0}


# -- holds at arrival --------------------------------------------------------------------------------


def test_vehicles_without_a_valid_pass_are_held_at_arrival(api: Api) -> None:  # M4, G1
    qd = api.approved_list("GATE-IN-6", [(1, "10")])
    no = api.new_pass("P-6", bindTypecd="2", docs=[one_doc("1", qd)])["passportNo"]
    cancelled = api.new_pass("P-7", bindTypecd="2", docs=[one_doc("1", qd)], vehicleNo="云A60007")["passportNo"]
    assert api.post("owner", f"/api/v1/passports/{cancelled}/cancel")["status"] == "cancelled"
    stock, before = api.stock(), gate_counts(api.zone.container)

    cases = [
        ({"passport_no": no, "plate": "云A99999"}, {"PASS-PLATE"}),  # a pass for another plate
        ({"passport_no": None, "plate": "云B54321"}, {"PASS-VALID"}),  # a plate with no pass at all
        ({"passport_no": no, "lane": "non_declared"}, {"M4-LANE"}),  # declared goods in the other lane
        ({"passport_no": cancelled, "plate": "云A60007"}, {"PASS-VALID"}),  # a cancelled pass
    ]
    for kw, rules in cases:
        held = api.cross(kw.pop("passport_no"), "26000", **kw)
        assert held["decision"] == "hold" and held["status"] == "held" and held_rules(held) == rules, (kw, held["reasons"])
        assert held["grossWt"] is None and "G1-WEIGHT" not in {r["rule"] for r in held["reasons"]}  # stopped before weighing
    assert reason(held, "PASS-VALID")["en"] == f"gate pass {cancelled} is cancelled and cannot cross"
    assert api.doc("1", qd)["lines"][0]["delivered"] == "0"
    assert api.get("owner", f"/api/v1/passports/{no}")["status"] == "approved"

    assert api.cross(no, "26000")["decision"] == "pass"
    used = api.cross(no, "26000")
    assert held_rules(used) == {"PASS-VALID"} and "already been used" in reason(used, "PASS-VALID")["en"]
    after = gate_counts(api.zone.container)
    assert after["postings"] == before["postings"] and api.stock() == stock  # holds and passes post nothing
    assert after["gate_crossings"] == before["gate_crossings"] + 6


# -- idempotency -------------------------------------------------------------------------------------


def test_a_retried_gate_event_returns_the_first_answer_and_records_nothing_twice(api: Api) -> None:  # G1, M7
    qd = api.approved_list("GATE-IN-8", [(1, "100")])
    passport = api.new_pass("P-8", bindTypecd="3", docs=[one_doc("1", qd, [(1, "60")])])["passportNo"]
    body = {"gateId": "G01", "lane": "declared", "vehicleNo": PLATE, "passportNo": passport, "grossWt": "26000"}
    first = api.client.post("/api/v1/gate/cross", json=body, headers=api.zone.headers("gate", **{"Idempotency-Key": "cross-8"}))
    assert first.status_code == 200 and first.json()["decision"] == "pass", first.text
    after_first = gate_counts(api.zone.container)
    for _ in range(3):
        again = api.client.post(
            "/api/v1/gate/cross", json=body, headers=api.zone.headers("gate", **{"Idempotency-Key": "cross-8"})
        )
        assert (again.status_code, again.json()) == (200, first.json())
        assert again.headers["Idempotency-Key"] == "cross-8"
    assert gate_counts(api.zone.container) == after_first
    assert api.doc("1", qd)["lines"][0]["delivered"] == "60"  # delivered once, not four times

    # Step by step: a retried weighing answers as the first did instead of "weighed twice".
    other = api.new_pass("P-9", bindTypecd="3", docs=[one_doc("1", qd, [(1, "40")])], vehicleNo="云A00009")["passportNo"]
    x = api.post("gate", "/api/v1/gate/crossings", {"gateId": "G01", "lane": "declared", "vehicleNo": "云A00009"}, 201)
    weigh = f"/api/v1/gate/crossings/{x['id']}/weigh"
    w1 = api.post("gate", weigh, {"grossWt": "26000"}, **{"Idempotency-Key": "weigh-9"})
    counted = gate_counts(api.zone.container)
    w2 = api.post("gate", weigh, {"grossWt": "26000"}, **{"Idempotency-Key": "weigh-9"})
    assert w2 == w1 and gate_counts(api.zone.container) == counted
    mismatch = api.client.post(
        weigh, json={"grossWt": "26500"}, headers=api.zone.headers("gate", **{"Idempotency-Key": "weigh-9"})
    )
    assert_error(mismatch, 409, "BZ-IDEMPOTENCY-MISMATCH")
    # Without the key, the second weighing is a second event, refused as out of order.
    assert_error(api.client.post(weigh, json={"grossWt": "26000"}, headers=api.zone.headers("gate")), 409, "BZ-GATE-EVENT-ORDER")
    assert gate_counts(api.zone.container) == counted
    d1 = api.post("gate", f"/api/v1/gate/crossings/{x['id']}/decide", **{"Idempotency-Key": "decide-9"})
    d2 = api.post("gate", f"/api/v1/gate/crossings/{x['id']}/decide", **{"Idempotency-Key": "decide-9"})
    assert d1 == d2 and d1["decision"] == "pass"
    events = api.get("gate", f"/api/v1/gate/crossings/{x['id']}")["events"]
    assert [e["kind"] for e in events] == ["arrive", "weigh", "decide"]
    assert api.doc("1", qd)["complete"] and other
