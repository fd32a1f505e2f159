"""The gate end to end through the services, on both engines (M4, M6, M7, G1)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bondedzone.bootstrap import Container
from bondedzone.domain.errors import BzError
from bondedzone.domain.gate import CrossingStatus, GateDoc, Outcome, PassStatus, SummaryLineInput
from bondedzone.domain.passes import GatePolicy, PassInput
from bondedzone.domain.rules.m4_two_lanes import GoodsInput, HazchemInput, SpotCheckPolicy
from bondedzone.domain.rules.m6_consolidation import DocInput, DocLineInput
from bondedzone.services import gate, invts
from bondedzone.services.authz import Principal, Role
from tests import factories as f

GATE = Principal(Role.GATE, None, "test:gate")
ADMIN = Principal(Role.ZONE_ADMIN, None, "test:admin")
NEVER = GatePolicy(spot_check=SpotCheckPolicy(base_rate=Decimal(0)))
ALWAYS = GatePolicy(spot_check=SpotCheckPolicy(base_rate=Decimal(1)))
PLATE = "云A12345"


def approved_list(c: Container, spec: list[tuple[int, str]], inner: str, mark: str = "I") -> str:
    invt_id = f.new_list(c, f.CUSTOMS, f.OWNER_BOOK, mark, spec, inner=inner)
    f.approve(c, invt_id)
    with c.uow() as uow:
        invt = invts.get_invt(uow, f.CUSTOMS, invt_id)
    assert invt.bond_invt_no is not None
    return invt.bond_invt_no


def new_pass(c: Container, raw: PassInput, who: Principal | None = None) -> str:
    with c.uow() as uow:
        gp = gate.create_pass(uow, who or f.Zone(c).owner, f.OWNER_BOOK, raw)
        uow.commit()
    return gp.passport_no


def declared(inner: str, docs: list[DocInput], *, bind: str, gross: str = "10000", plate: str = PLATE) -> PassInput:
    return PassInput(inner, "2", "I", plate, "15000", gross, bind_typecd=bind, vehicle_frame_wt="1000", docs=docs)


def cross(
    c: Container,
    passport_no: str | None,
    gross: str | None,
    *,
    lane: str = "declared",
    plate: str = PLATE,
    policy: GatePolicy = NEVER,
):
    with c.uow() as uow:
        x = gate.cross(uow, GATE, gate.Cross("G01", lane, plate, passport_no, gross), policy)
        uow.commit()
    return x


def doc(c: Container, kind: str, no: str) -> GateDoc:
    with c.uow(write=False) as uow:
        return gate.gate_doc(uow, f.CUSTOMS, kind, no)


def rules_held(x) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["rule"] for r in x.reasons if r["held"]}


def test_one_truck_one_doc_passes_and_delivers_everything(zone: f.Zone) -> None:  # M7, G1
    c = zone.container
    qd = approved_list(c, [(1, "100"), (2, "5.5")], "IN-1")
    no = new_pass(c, declared("P-1", [DocInput("1", qd)], bind="2"))
    x = cross(c, no, "26100")  # 15000 + 1000 + 10000 = 26000, within 2 %
    assert x.outcome is Outcome.PASS, x.reasons
    assert "G1-WEIGHT" in {r["rule"] for r in x.reasons}
    d = doc(c, "1", qd)
    assert d.complete and [ln.remaining_units for ln in d.lines] == [0, 0]
    with c.uow() as uow:
        gate.leave(uow, GATE, x.id)
        uow.commit()
    with c.uow(write=False) as uow:
        gp, crossings = gate.get_pass(uow, zone.owner, no)
    assert gp.status is PassStatus.CROSSED and [k.status for k in crossings] == [CrossingStatus.LEFT]


def test_overweight_vehicle_is_held_with_the_figures_and_nothing_is_delivered(zone: f.Zone) -> None:  # G1
    c = zone.container
    qd = approved_list(c, [(1, "100")], "IN-2")
    no = new_pass(c, declared("P-2", [DocInput("1", qd)], bind="2", gross="14050"))  # expected 30050
    x = cross(c, no, "31420")
    assert x.outcome is Outcome.HOLD and rules_held(x) == {"G1-WEIGHT"}
    (w,) = [r for r in x.reasons if r["rule"] == "G1-WEIGHT"]
    assert w["figures"]["totalWt"] == "30050" and w["figures"]["passCollectWt"] == "31420"
    assert "31420" in w["en"] and "30050" in w["en"] and "2%" in w["en"]
    assert doc(c, "1", qd).lines[0].delivered_units == 0
    with c.uow(write=False) as uow:
        assert gate.get_pass(uow, zone.owner, no)[0].status is PassStatus.APPROVED


def test_one_doc_many_trucks_completes_and_refuses_over_delivery(zone: f.Zone) -> None:  # M7
    c = zone.container
    qd = approved_list(c, [(1, "100")], "IN-3")
    split = lambda inner, q, plate: declared(inner, [DocInput("1", qd, [DocLineInput(1, q)])], bind="3", plate=plate)  # noqa: E731
    a = new_pass(c, split("T-1", "60", "云A00001"))
    b = new_pass(c, split("T-2", "40", "云A00002"))
    over = new_pass(c, split("T-3", "30", "云A00003"))  # fits now (100 remain), not after a and b
    assert cross(c, a, "26000", plate="云A00001").outcome is Outcome.PASS
    d = doc(c, "1", qd)
    assert (d.lines[0].delivered_units, d.lines[0].remaining_units, d.complete) == (6_000_000, 4_000_000, False)
    assert cross(c, b, "26000", plate="云A00002").outcome is Outcome.PASS
    assert doc(c, "1", qd).complete
    x = cross(c, over, "26000", plate="云A00003")
    assert x.outcome is Outcome.HOLD and rules_held(x) == {"M7-REMAINING"}
    (m7,) = [r for r in x.reasons if r["rule"] == "M7-REMAINING"]
    assert (m7["figures"]["carrying"], m7["figures"]["remaining"], m7["figures"]["excess"]) == ("30", "0", "30")
    with pytest.raises(BzError) as e, c.uow() as uow:
        gate.create_pass(uow, zone.owner, f.OWNER_BOOK, split("T-4", "1", "云A00004"))
    assert e.value.code == "BZ-PASS-BIND"  # everything has crossed


def test_a_pass_binds_a_summary_declaration_and_a_list_together(zone: f.Zone) -> None:  # M6
    c = zone.container
    qd = approved_list(c, [(1, "10")], "IN-4")
    entry = "530120261000000123"
    with c.uow() as uow:
        gate.declare_summary(
            uow,
            zone.owner,
            gate.DeclareSummary(entry, f.OWNER_BOOK, "I", [SummaryLineInput(1, "8471300000", "服务器", "3", "001")]),
        )
        uow.commit()
    raw = declared("P-5", [DocInput("1", qd), DocInput("4", entry)], bind="1")
    with pytest.raises(BzError) as e, c.uow() as uow:
        gate.create_pass(uow, zone.owner, f.OWNER_BOOK, raw)
    assert e.value.code == "BZ-PASS-BIND"  # not released yet
    with c.uow() as uow:
        gate.release_summary(uow, f.CUSTOMS, entry)
        uow.commit()
    no = new_pass(c, raw)
    x = cross(c, no, "26000")
    assert x.outcome is Outcome.PASS
    assert doc(c, "4", entry).complete and doc(c, "1", qd).complete


@pytest.mark.parametrize(
    ("plate", "lane", "rule"),
    [("云A99999", "declared", "PASS-PLATE"), (PLATE, "non_declared", "M4-LANE")],
)
def test_wrong_plate_or_lane_is_held_at_arrival(zone: f.Zone, plate: str, lane: str, rule: str) -> None:  # M4
    c = zone.container
    qd = approved_list(c, [(1, "10")], "IN-6")
    no = new_pass(c, declared("P-6", [DocInput("1", qd)], bind="2"))
    x = cross(c, no, "26000", plate=plate, lane=lane)
    assert x.outcome is Outcome.HOLD and rule in rules_held(x)
    assert doc(c, "1", qd).lines[0].delivered_units == 0


def test_a_used_pass_and_no_pass_are_held(zone: f.Zone) -> None:
    c = zone.container
    qd = approved_list(c, [(1, "10")], "IN-7")
    no = new_pass(c, declared("P-7", [DocInput("1", qd)], bind="2"))
    assert cross(c, no, "26000").outcome is Outcome.PASS
    again = cross(c, no, "26000")
    assert again.outcome is Outcome.HOLD and rules_held(again) == {"PASS-VALID"}
    nothing = cross(c, None, "26000", plate="云B54321")
    assert nothing.outcome is Outcome.HOLD and rules_held(nothing) == {"PASS-VALID"}


def test_non_declared_goods_are_graded_spot_checked_and_hazchem_shared(zone: f.Zone) -> None:  # M4
    c = zone.container
    office = PassInput("N-1", "4", "I", "云A11111", "8000", "500", goods=[GoodsInput("A4 纸", "office_supplies", "100", "035")])
    no = new_pass(c, office)
    x = cross(c, no, None, lane="non_declared", plate="云A11111")  # no weight needed for office supplies
    assert x.outcome is Outcome.PASS
    assert any(r["rule"] == "G1-WEIGHT" and "exempt" in r["en"] for r in x.reasons)
    assert any(r["rule"] == "M4-SPOT-CHECK" and "not selected" in r["en"] for r in x.reasons)
    with pytest.raises(BzError) as e, c.uow() as uow:
        gate.create_pass(
            uow,
            zone.owner,
            f.OWNER_BOOK,
            PassInput("N-2", "4", "I", "云A22222", "8000", "500", goods=[GoodsInput("柴油", "hazardous_chemicals", "1", "035")]),
        )
    assert {err.code for err in getattr(e.value, "errors", [e.value])} == {"BZ-GOODS-FIELD-REQUIRED"}
    diesel = GoodsInput(
        "柴油", "hazardous_chemicals", "2000", "035", gdecd="2710192100", hazchem=HazchemInput("1202", "3", usage="叉车燃料")
    )
    fuel = PassInput("N-3", "4", "I", "云A22222", "8000", "2000", goods=[diesel])
    held = cross(c, new_pass(c, fuel), "10000", lane="non_declared", plate="云A22222", policy=ALWAYS)
    assert held.outcome is Outcome.HOLD and rules_held(held) == {"M4-SPOT-CHECK"}
    with c.uow(write=False) as uow:
        assert gate.hazchem_feed(uow, ADMIN, after_id=0, limit=10) == []
    with c.uow() as uow:
        released = gate.release(uow, f.CUSTOMS, held.id, "查验无误")
        uow.commit()
    assert released.outcome is Outcome.PASS
    with c.uow(write=False) as uow:
        (rec,) = gate.hazchem_feed(uow, ADMIN, after_id=0, limit=10)
    assert (rec.un_no, rec.gds_nm, rec.dcl_qty, rec.owner_uscc) == ("1202", "柴油", Decimal(2000), f.OWNER_USCC)
