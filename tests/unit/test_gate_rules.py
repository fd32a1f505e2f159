"""The gate's rules in the domain, without a database (M4, M6, M7, G1).

Small in-memory passes and documents; every figure asserted exactly. Each test names the measure
it checks.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bondedzone.domain import passes
from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.gate import (
    BindType,
    BoundDoc,
    DocLine,
    Finding,
    GateDoc,
    GatePass,
    GoodsCategory,
    Hazchem,
    Lane,
    PassLine,
    PassportType,
    PassStatus,
    RltTbType,
    container_no,
    vehicle_no,
    weight,
)
from bondedzone.domain.passes import OpenCrossing, PassInput
from bondedzone.domain.rules import g1_weighing, m4_two_lanes, m6_consolidation, m7_multi_truck
from bondedzone.domain.rules.m4_two_lanes import GoodsInput, HazchemInput, SpotCheckPolicy
from bondedzone.domain.rules.m6_consolidation import DocInput, DocLineInput

OWNER = "91530100MA6T000016"
OTHER = "91530100MA6T000024"
IN, OUT = v.ImpexpMark.IMPORT, v.ImpexpMark.EXPORT
QD = "QD5301261000000001"  # an inventory list (rltTbTypecd 1)
ENTRY = "530120261000000123"  # a two-step summary declaration (rltTbTypecd 4)


def codes(exc: pytest.ExceptionInfo[BzError]) -> list[str]:
    """Every code of a refusal, whether it came alone or collected with others."""
    e = exc.value
    return [x.code for x in e.errors] if isinstance(e, ErrorGroup) else [e.code]


def errors(exc: pytest.ExceptionInfo[BzError]) -> list[BzError]:
    e = exc.value
    return list(e.errors) if isinstance(e, ErrorGroup) else [e]


def doc_line(seq: int, declared: str, delivered: str = "0", *, unit: str = "001") -> DocLine:
    return DocLine(seq, "8471300000", f"商品{seq}", unit, v.to_units(Decimal(declared)), v.to_units(Decimal(delivered)))


def gate_doc(
    lines: tuple[DocLine, ...] = (),
    *,
    kind: RltTbType = RltTbType.INVT,
    no: str = QD,
    owner: str = OWNER,
    io: v.ImpexpMark = IN,
    flow: v.Flow | None = v.Flow.FIRST_LINE,
    ready: bool = True,
) -> GateDoc:
    if kind is RltTbType.ENTRY_SUMMARY:
        flow = None
    return GateDoc(kind, no, owner, io, flow, ready, lines or (doc_line(1, "100"),))


def summary(lines: tuple[DocLine, ...] = (), **kw: object) -> GateDoc:
    return gate_doc(lines, kind=RltTbType.ENTRY_SUMMARY, no=ENTRY, **kw)  # type: ignore[arg-type]


def found(*docs: GateDoc) -> dict[tuple[RltTbType, str], GateDoc]:
    return {(d.rlt_tb_typecd, d.rlt_no): d for d in docs}


def gate_pass(
    *,
    ptype: PassportType = PassportType.FIRST_LINE,
    bind: BindType | None = BindType.ONE_TRUCK_ONE_DOC,
    plate: str = "云A12345",
    vehicle: str = "15000",
    frame: str = "1000",
    container: str = "0",
    gross: str = "14050",
    lines: tuple[PassLine, ...] = (),
    status: PassStatus = PassStatus.APPROVED,
    passport_no: str = "Z5301I261123000000000001",
) -> GatePass:
    keys = sorted({(ln.rlt_tb_typecd, ln.rlt_no) for ln in lines if ln.rlt_tb_typecd and ln.rlt_no})
    docs = tuple(BoundDoc(k, no) for k, no in keys)
    return GatePass(
        id=1,
        passport_no=passport_no,
        etps_preent_no="P-1",
        owner_uscc=OWNER,
        areain_oriact_no="T5301W100001",
        master_cuscd="5301",
        passport_typecd=ptype,
        io_typecd=IN,
        bind_typecd=bind,
        vehicle_no=plate,
        vehicle_wt=Decimal(vehicle),
        vehicle_frame_wt=Decimal(frame),
        container_no=None,
        container_wt=Decimal(container),
        total_gross_wt=Decimal(gross),
        docs=docs,
        lines=lines,
        status=status,
    )


def carried(seq: int, qty: str, *, no: str = QD, kind: RltTbType = RltTbType.INVT, n: int = 1) -> PassLine:
    """A pass line carrying ``qty`` of line ``seq`` of a bound document."""
    return PassLine(n, Decimal(qty), "001", f"商品{seq}", kind, no, seq, "8471300000")


def goods(category: str, *, gdecd: str | None = None, hazchem: HazchemInput | None = None, qty: str = "10") -> GoodsInput:
    return GoodsInput("物品", category, qty, "035", gdecd=gdecd, hazchem=hazchem)


def non_declared(*categories: GoodsCategory, hazchem: bool = False) -> GatePass:
    lines = tuple(
        PassLine(
            n,
            Decimal(1),
            "035",
            "物品",
            category=c,
            hazchem=Hazchem("1202", "3") if hazchem and c is GoodsCategory.HAZARDOUS_CHEMICALS else None,
        )
        for n, c in enumerate(categories, start=1)
    )
    return gate_pass(ptype=PassportType.NON_DECLARED, bind=None, lines=lines)


# -- field values: plates, containers, weights -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plate"),
    [
        ("云A12345", "云A12345"),
        ("粤BD12345", "粤BD12345"),  # small new-energy vehicle: D + 5
        ("粤BF1A234", "粤BF1A234"),
        ("粤B12345D", "粤B12345D"),  # large new-energy vehicle: 5 digits + D
        ("鲁A1234挂", "鲁A1234挂"),  # trailer
        ("云a12345", "云A12345"),  # lower case
        (" 云A 12345 ", "云A12345"),  # spaces
        ("云A·12345", "云A12345"),  # the dot printed on plates
        ("云A.12345", "云A12345"),
        ("粤b•d12345", "粤BD12345"),
    ],
)
def test_plates_are_normalised(raw: str, plate: str) -> None:  # M4 (承运车牌号 on the pass and at the gate)
    assert vehicle_no(raw) == plate


@pytest.mark.parametrize(
    "raw",
    [
        "ABC123",  # no province
        "京A1234567",  # too long
        "京A123",  # too short
        "云I12345",  # I is never an issuing letter
        "云O12345",  # nor O
        "云AI2345",  # nor in the serial
        "云AO2345",
        "X A12345",
        "云112345",  # the issuing mark is a letter
        "粤BD123",  # five characters at least
        "粤B1234D5",
        "",
    ],
)
def test_invalid_plates_are_refused(raw: str) -> None:  # M4
    with pytest.raises(BzError) as e:
        vehicle_no(raw)
    assert e.value.code == "BZ-PLATE-INVALID" and e.value.detail == {"value": raw}


def test_container_numbers_follow_iso_6346() -> None:  # M4 (集装箱号)
    assert container_no("CSQU3054383") == "CSQU3054383"
    assert container_no("csqu 305438 3") == "CSQU3054383"
    for bad, reason in (("CSQU3054384", "check digit"), ("CSQU305438", "length"), ("TGHU7645320", "check digit")):
        with pytest.raises(BzError) as e:
            container_no(bad)
        assert e.value.code == "BZ-CONTAINER-INVALID" and e.value.detail["value"] == bad
        assert reason in e.value.detail["reason"]


@pytest.mark.parametrize(
    ("raw", "kg"), [("1", "1"), ("0.00001", "0.00001"), ("31420.5", "31420.5"), ("200000", "200000"), (Decimal("7.25"), "7.25")]
)
def test_weights_are_exact_positive_and_at_most_200_t(raw: object, kg: str) -> None:  # G1
    assert weight(raw, field_name="vehicleWt") == Decimal(kg)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0", "greater than zero"),
        ("-1", "negative"),
        ("200000.00001", "exceeds 200000 kg"),
        ("1.123456", "more than 5 decimal places"),
        (1.5, "not a float"),
        ("abc", "not a number"),
        ("NaN", "finite"),
        ("", "not a number"),
    ],
)
def test_bad_weights_are_refused_with_the_field(raw: object, reason: str) -> None:  # G1
    with pytest.raises(BzError) as e:
        weight(raw, field_name="vehicleWt")
    assert e.value.code == "BZ-WEIGHT-INVALID"
    assert e.value.detail["field"] == "vehicleWt" and reason in e.value.detail["reason"]


def test_zero_weight_is_allowed_only_where_asked() -> None:  # G1 (frame and container may weigh nothing)
    assert weight("0", field_name="vehicleFrameWt", allow_zero=True) == 0


def test_a_pass_with_bad_head_fields_names_every_one() -> None:  # G1, M4
    raw = PassInput("P-1", "4", "I", "云I12345", "-5", "abc", container_no="CSQU3054384", goods=[goods("office_supplies")])
    with pytest.raises(BzError) as e:
        passes.new_gate_pass(raw, owner_uscc=OWNER, areain_oriact_no="T5301W100001", master_cuscd="5301", found_docs={})
    assert sorted(codes(e)) == sorted(["BZ-PLATE-INVALID", "BZ-WEIGHT-INVALID", "BZ-CONTAINER-INVALID", "BZ-WEIGHT-INVALID"])
    assert {x.detail.get("field") for x in errors(e) if x.code == "BZ-WEIGHT-INVALID"} == {"vehicleWt", "totalGrossWt"}


def test_an_empty_vehicle_carries_nothing() -> None:  # M4 (pass type 6)
    ok = passes.new_gate_pass(
        PassInput("P-6", "6", "E", "云A12345", "15000", "0"),
        owner_uscc=OWNER,
        areain_oriact_no="T5301W100001",
        master_cuscd="5301",
        found_docs={},
    )
    assert ok.total_gross_wt == 0 and ok.lines == () and ok.lane is None
    with pytest.raises(BzError) as e:
        passes.new_gate_pass(
            PassInput("P-7", "6", "E", "云A12345", "15000", "10"),
            owner_uscc=OWNER,
            areain_oriact_no="T5301W100001",
            master_cuscd="5301",
            found_docs={},
        )
    assert codes(e) == ["BZ-WEIGHT-INVALID"] and "empty vehicle" in e.value.detail["reason"]


# -- G1: weight check ---------------------------------------------------------------------------


def test_expected_weight_is_vehicle_frame_container_and_goods() -> None:  # G1
    gp = gate_pass(vehicle="13000", frame="1000", container="2200", gross="292.8")
    assert g1_weighing.expected_total(gp) == Decimal("16492.8")


def test_the_issue_example_is_held_with_its_figures() -> None:  # G1: "gross 31,420 kg vs expected 30,050 ± 2 % → hold"
    gp = gate_pass(vehicle="15000", frame="1000", gross="14050")  # 30,050 kg expected
    f = g1_weighing.check_weight(gp, Decimal(31420))
    assert f.rule == "G1-WEIGHT" and f.held
    assert dict(f.figures) == {
        "passCollectWt": "31420",
        "totalWt": "30050",
        "tolerance": "2%",
        "low": "29449",
        "high": "30651",
        "wtError": "1370",
    }
    assert f.en == "gross 31420 kg vs expected 30050 kg ± 2% (29449–30651), off by 1370 kg → hold"
    assert "31420" in f.zh and "30050" in f.zh and "1370" in f.zh


@pytest.mark.parametrize(
    ("weighed", "held", "error"),
    [
        ("30050", False, "0"),
        ("30651", False, "601"),  # exactly at the upper bound: 30,050 × 1.02
        ("30651.00001", True, "601.00001"),  # one 10⁻⁵ kg beyond
        ("29449", False, "-601"),  # exactly at the lower bound
        ("29448.99999", True, "-601.00001"),
    ],
)
def test_weight_tolerance_boundaries(weighed: str, held: bool, error: str) -> None:  # G1
    f = g1_weighing.check_weight(gate_pass(gross="14050"), Decimal(weighed))
    assert f.held is held and f.figures["wtError"] == error
    assert ("→ hold" in f.en) is held and ("within tolerance" in f.en) is not held


def test_tolerance_is_configurable_and_allowance_is_rounded_to_five_places() -> None:  # G1
    gp = gate_pass(vehicle="10000", frame="0", gross="0.00003")  # expected 10,000.00003
    f = g1_weighing.check_weight(gp, Decimal("10050.00003"), Decimal("0.005"))  # 0.5 % → ± 50.00000015 → 50
    assert not f.held and f.figures["tolerance"] == "0.5%" and f.figures["high"] == "10050.00003"
    assert g1_weighing.check_weight(gp, Decimal("10050.00004"), Decimal("0.005")).held
    zero = g1_weighing.check_weight(gp, Decimal("10000.00004"), Decimal(0))
    assert zero.held and zero.figures["tolerance"] == "0%"


# -- M4: two lanes, graded fields, spot checks --------------------------------------------------


@pytest.mark.parametrize("category", ["office_supplies", "labour_protection"])
def test_office_and_labour_supplies_need_no_hs_code_and_skip_weighing(category: str) -> None:  # M4
    line = m4_two_lanes.goods_line(1, goods(category))
    assert line.gdecd is None and line.category is GoodsCategory(category)
    gp = non_declared(GoodsCategory(category))
    why = m4_two_lanes.weight_exempt(gp)
    assert why is not None and category in why[1] and "(M4)" in why[1]
    # the decision records that no comparison was made, and needs no weighing
    d = passes.evaluate(gp, lane=Lane.NON_DECLARED, weighed=None, docs={}, credit=v.Credit.ORDINARY, attempt=1, policy=NEVER)
    (g1,) = [r for r in d.reasons if r.rule == "G1-WEIGHT"]
    assert not g1.held and g1.en.startswith("no weight comparison") and d.outcome.value == "pass"


def test_weight_is_compared_once_any_line_needs_it() -> None:  # M4, G1
    assert m4_two_lanes.weight_exempt(non_declared(GoodsCategory.OFFICE_SUPPLIES, GoodsCategory.INFRASTRUCTURE)) is None
    assert m4_two_lanes.weight_exempt(gate_pass(lines=(carried(1, "1"),))) is None  # declared goods always
    d = passes.evaluate(
        non_declared(GoodsCategory.CONSUMER_GOODS),
        lane=Lane.NON_DECLARED,
        weighed=None,
        docs={},
        credit=v.Credit.ORDINARY,
        attempt=1,
        policy=NEVER,
    )
    assert d.outcome.value == "hold" and [r.en for r in d.reasons if r.held] == ["not weighed yet"]


@pytest.mark.parametrize("category", ["infrastructure", "consumer_goods"])
def test_infrastructure_and_consumer_goods_may_omit_the_hs_code(category: str) -> None:  # M4
    assert m4_two_lanes.goods_line(1, goods(category)).gdecd is None
    assert m4_two_lanes.goods_line(1, goods(category, gdecd="2523290000")).gdecd == "2523290000"


def test_production_related_goods_require_an_hs_code() -> None:  # M4
    with pytest.raises(BzError) as e:
        m4_two_lanes.goods_line(3, goods("production_related"))
    (err,) = errors(e)
    assert err.code == "BZ-GOODS-FIELD-REQUIRED"
    assert err.detail == {"passportSeqno": 3, "field": "gdecd", "category": "production_related"}
    ok = m4_two_lanes.goods_line(3, goods("production_related", gdecd="8483109000"))
    assert ok.gdecd == "8483109000" and ok.passport_seqno == 3


def test_hazardous_chemicals_require_hs_code_un_number_and_class() -> None:  # M4
    with pytest.raises(BzError) as e:
        m4_two_lanes.goods_line(2, goods("hazardous_chemicals"))
    assert sorted(x.detail["field"] for x in errors(e)) == ["gdecd", "hazchem"]
    assert all(x.code == "BZ-GOODS-FIELD-REQUIRED" and x.detail["passportSeqno"] == 2 for x in errors(e))
    line = m4_two_lanes.goods_line(
        2, goods("hazardous_chemicals", gdecd="2710192100", hazchem=HazchemInput(" 1202 ", "3", "7732-18-5", "叉车燃料"))
    )
    assert line.hazchem == Hazchem("1202", "3", "7732-18-5", "叉车燃料")


@pytest.mark.parametrize(
    ("hz", "field"),
    [
        (HazchemInput("120", "3"), "unNo"),
        (HazchemInput("12A2", "3"), "unNo"),
        (HazchemInput("1202", "10"), "hazardClass"),
        (HazchemInput("1202", "2.7"), "hazardClass"),
        (HazchemInput("1202", "3", "7732-18-4"), "casNo"),  # water is 7732-18-5: wrong check digit
        (HazchemInput("1202", "3", "773218-5"), "casNo"),
    ],
)
def test_hazard_details_are_checked(hz: HazchemInput, field: str) -> None:  # M4
    with pytest.raises(BzError) as e:
        m4_two_lanes.goods_line(1, goods("hazardous_chemicals", gdecd="2710192100", hazchem=hz))
    (err,) = errors(e)
    assert err.code == "BZ-HAZCHEM-INVALID" and err.detail["field"] == field and err.detail["passportSeqno"] == 1


def test_hazard_details_only_for_hazardous_chemicals_and_categories_are_known() -> None:  # M4
    with pytest.raises(BzError) as e:
        m4_two_lanes.goods_line(1, goods("office_supplies", hazchem=HazchemInput("1202", "3")))
    assert codes(e) == ["BZ-TEXT-INVALID"]
    with pytest.raises(BzError) as e:
        m4_two_lanes.goods_line(4, goods("fireworks"))
    assert e.value.code == "BZ-GOODS-CATEGORY-INVALID" and e.value.detail["passportSeqno"] == 4


@pytest.mark.parametrize(
    ("ptype", "right", "wrong"),
    [
        (PassportType.FIRST_LINE, Lane.DECLARED, Lane.NON_DECLARED),
        (PassportType.SECOND_LINE, Lane.DECLARED, Lane.NON_DECLARED),
        (PassportType.NON_DECLARED, Lane.NON_DECLARED, Lane.DECLARED),
    ],
)
def test_each_pass_type_has_its_lane(ptype: PassportType, right: Lane, wrong: Lane) -> None:  # M4
    gp = gate_pass(ptype=ptype)
    ok = m4_two_lanes.lane_finding(gp, right)
    assert ok.rule == "M4-LANE" and not ok.held and ok.figures["requiredLane"] == right.value
    bad = m4_two_lanes.lane_finding(gp, wrong)
    assert bad.held and bad.figures == {"lane": wrong.value, "passportTypecd": ptype.value, "requiredLane": right.value}
    assert f"must use the {right.value} lane" in bad.en


@pytest.mark.parametrize("lane", list(Lane))
def test_an_empty_vehicle_may_use_either_lane(lane: Lane) -> None:  # M4
    f = m4_two_lanes.lane_finding(gate_pass(ptype=PassportType.EMPTY, bind=None, gross="0"), lane)
    assert not f.held and f.figures["requiredLane"] is None


NEVER = passes.GatePolicy(spot_check=SpotCheckPolicy(base_rate=Decimal(0)))


def test_spot_check_is_reproducible() -> None:  # M4 (M5: selection is seeded and explains itself)
    policy = SpotCheckPolicy(base_rate=Decimal("0.5"), seed="zone-2026")
    gp = non_declared(GoodsCategory.INFRASTRUCTURE)
    a = m4_two_lanes.spot_check(policy, gp, v.Credit.ORDINARY, 3)
    b = m4_two_lanes.spot_check(policy, gp, v.Credit.ORDINARY, 3)
    assert a == b
    assert m4_two_lanes.draw("zone-2026", gp.passport_no, 3) == Decimal(a.figures["draw"])
    # another attempt, pass or seed draws another number
    others = {
        m4_two_lanes.draw("zone-2026", gp.passport_no, 4),
        m4_two_lanes.draw("zone-2026", "Z5301I261123000000000002", 3),
        m4_two_lanes.draw("other-seed", gp.passport_no, 3),
    }
    assert Decimal(a.figures["draw"]) not in others


@pytest.mark.parametrize(
    ("credit", "hazchem", "base", "rate", "factors"),
    [
        (v.Credit.AEO_ADVANCED, False, "0.03", "0.015", {"credit aeo_advanced": "0.5"}),
        (v.Credit.ORDINARY, False, "0.03", "0.03", {"credit ordinary": "1"}),
        (v.Credit.DISHONEST, False, "0.03", "0.15", {"credit dishonest": "5"}),
        (v.Credit.AEO_ADVANCED, True, "0.03", "0.03", {"credit aeo_advanced": "0.5", "hazardous chemicals": "2"}),
        (v.Credit.DISHONEST, True, "0.03", "0.3", {"credit dishonest": "5", "hazardous chemicals": "2"}),
        (v.Credit.DISHONEST, True, "0.15", "1", {"credit dishonest": "5", "hazardous chemicals": "2"}),  # 1.5 capped at 1
    ],
)
def test_spot_check_rate_is_weighted_by_risk_and_capped(
    credit: v.Credit, hazchem: bool, base: str, rate: str, factors: dict[str, str]
) -> None:  # M4 (risk-based rate)
    gp = non_declared(GoodsCategory.HAZARDOUS_CHEMICALS if hazchem else GoodsCategory.INFRASTRUCTURE, hazchem=hazchem)
    f = m4_two_lanes.spot_check(SpotCheckPolicy(base_rate=Decimal(base)), gp, credit, 1)
    assert f.rule == "M4-SPOT-CHECK"
    assert (f.figures["baseRate"], f.figures["rate"], f.figures["factors"], f.figures["attempt"]) == (base, rate, factors, 1)
    number = f.figures["draw"]
    assert number in f.en and f"{(Decimal(rate) * 100).normalize():f}%" in f.en and number in f.zh
    assert f.held is (Decimal(number) < Decimal(rate))
    if rate == "1":
        assert f.held and f.en.startswith("selected for a spot check")


def test_spot_check_selects_exactly_below_the_rate() -> None:  # M4
    gp = non_declared(GoodsCategory.INFRASTRUCTURE)
    number = m4_two_lanes.draw("bondedzone", gp.passport_no, 1)
    at = m4_two_lanes.spot_check(SpotCheckPolicy(base_rate=number), gp, v.Credit.ORDINARY, 1)
    above = m4_two_lanes.spot_check(SpotCheckPolicy(base_rate=number + Decimal("0.000001")), gp, v.Credit.ORDINARY, 1)
    assert not at.held and at.en.startswith("not selected")  # draw == rate: not below it
    assert above.held and f"draw {number} < " in above.en


def test_a_draw_stays_below_1_so_a_rate_of_1_selects_every_vehicle() -> None:  # M4
    # SHA-256 of this triple starts at 0.99999954… of 2⁶⁴: rounded to nearest it would read 1.000000.
    gp = non_declared(GoodsCategory.INFRASTRUCTURE)
    number = m4_two_lanes.draw("bondedzone", gp.passport_no, 3_832_531)
    assert number == Decimal("0.999999")
    f = m4_two_lanes.spot_check(SpotCheckPolicy(base_rate=Decimal(1)), gp, v.Credit.ORDINARY, 3_832_531)
    assert f.held and f.figures["rate"] == "1"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(seed=st.text(min_size=1, max_size=20), passport_no=st.text(max_size=24), attempt=st.integers(0, 10**9))
def test_every_draw_is_in_0_1(seed: str, passport_no: str, attempt: int) -> None:  # M4
    number = m4_two_lanes.draw(seed, passport_no, attempt)
    assert 0 <= number < 1 and number == number.quantize(Decimal("0.000001"))


def test_spot_check_runs_only_in_the_non_declared_lane_when_nothing_else_holds() -> None:  # M4
    always = passes.GatePolicy(spot_check=SpotCheckPolicy(base_rate=Decimal(1)))
    gp = non_declared(GoodsCategory.OFFICE_SUPPLIES)
    d = passes.evaluate(gp, lane=Lane.NON_DECLARED, weighed=None, docs={}, credit=v.Credit.ORDINARY, attempt=1, policy=always)
    assert d.outcome.value == "hold" and [r.rule for r in d.reasons if r.held] == ["M4-SPOT-CHECK"]
    declared = gate_pass(lines=(carried(1, "10"),))
    d = passes.evaluate(
        declared,
        lane=Lane.DECLARED,
        weighed=Decimal(30050),
        docs=found(gate_doc()),
        credit=v.Credit.ORDINARY,
        attempt=1,
        policy=always,
    )
    assert d.outcome.value == "pass" and "M4-SPOT-CHECK" not in {r.rule for r in d.reasons}


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.6"), places=3),
    seed=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12),
    credit=st.sampled_from(list(v.Credit)),
)
def test_the_selected_share_is_close_to_the_configured_rate(rate: Decimal, seed: str, credit: v.Credit) -> None:  # M4
    n = 1500
    policy = SpotCheckPolicy(base_rate=rate, seed=seed)
    effective = min(rate * policy.credit_factors[credit], Decimal(1))
    base = non_declared(GoodsCategory.CONSUMER_GOODS)
    selected = sum(
        m4_two_lanes.spot_check(policy, replace(base, passport_no=f"Z5301I2611230000{k:08d}"), credit, 1).held for k in range(n)
    )
    p = float(effective)
    spread = 5 * (p * (1 - p) / n) ** 0.5 + 0.002
    assert abs(selected / n - p) <= spread, f"{selected}/{n} selected at rate {p} (±{spread:.4f})"


# -- M6: what one pass binds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ptype", "bind", "n", "ok"),
    [
        (PassportType.FIRST_LINE, BindType.ONE_TRUCK_ONE_DOC, 1, True),
        (PassportType.FIRST_LINE, BindType.ONE_TRUCK_ONE_DOC, 2, False),
        (PassportType.SECOND_LINE, BindType.ONE_DOC_MANY_TRUCKS, 1, True),
        (PassportType.SECOND_LINE, BindType.ONE_DOC_MANY_TRUCKS, 2, False),
        (PassportType.FIRST_LINE, BindType.ONE_TRUCK_MANY_DOCS, 2, True),
        (PassportType.FIRST_LINE, BindType.ONE_TRUCK_MANY_DOCS, 5, True),
        (PassportType.FIRST_LINE, BindType.ONE_TRUCK_MANY_DOCS, 1, False),
        (PassportType.FIRST_LINE, BindType.ONE_TRUCK_ONE_DOC, 0, False),
        (PassportType.FIRST_LINE, None, 1, False),
        (PassportType.NON_DECLARED, None, 0, True),
        (PassportType.NON_DECLARED, None, 1, False),
        (PassportType.NON_DECLARED, BindType.ONE_TRUCK_ONE_DOC, 0, False),
        (PassportType.EMPTY, None, 0, True),
        (PassportType.EMPTY, BindType.ONE_TRUCK_ONE_DOC, 1, False),
    ],
)
def test_document_count_per_bind_type(ptype: PassportType, bind: BindType | None, n: int, ok: bool) -> None:  # M6
    if ok:
        m6_consolidation.check_binding(ptype, bind, n)
        return
    with pytest.raises(BzError) as e:
        m6_consolidation.check_binding(ptype, bind, n)
    assert e.value.code == "BZ-PASS-BIND" and e.value.detail["reason_en"]


def bind(
    wanted: list[DocInput],
    docs: dict[tuple[RltTbType, str], GateDoc],
    *,
    bind_type: BindType = BindType.ONE_TRUCK_ONE_DOC,
    ptype: PassportType = PassportType.FIRST_LINE,
    io: v.ImpexpMark = IN,
) -> tuple[tuple[BoundDoc, ...], list[PassLine]]:
    return m6_consolidation.bind(passport_type=ptype, bind_type=bind_type, io=io, owner_uscc=OWNER, wanted=wanted, found=docs)


def test_a_list_and_a_summary_declaration_travel_on_one_pass() -> None:  # M6
    qd = gate_doc((doc_line(1, "10"), doc_line(2, "2.5")))
    entry = summary((doc_line(1, "3"),))
    bound, lines = bind([DocInput("1", QD), DocInput("4", ENTRY)], found(qd, entry), bind_type=BindType.ONE_TRUCK_MANY_DOCS)
    assert bound == (BoundDoc(RltTbType.INVT, QD), BoundDoc(RltTbType.ENTRY_SUMMARY, ENTRY))
    assert [(ln.passport_seqno, ln.rlt_tb_typecd, ln.rlt_no, ln.rlt_gds_seqno, ln.dcl_qty) for ln in lines] == [
        (1, RltTbType.INVT, QD, 1, Decimal(10)),
        (2, RltTbType.INVT, QD, 2, Decimal("2.5")),
        (3, RltTbType.ENTRY_SUMMARY, ENTRY, 1, Decimal(3)),
    ]


def test_mixing_needs_one_truck_many_docs() -> None:  # M6
    docs = found(gate_doc(), summary())
    with pytest.raises(BzError) as e:
        bind([DocInput("1", QD), DocInput("4", ENTRY)], docs, bind_type=BindType.ONE_TRUCK_ONE_DOC)
    assert codes(e) == ["BZ-PASS-BIND"] and "exactly one document" in e.value.detail["reason_en"]


@pytest.mark.parametrize(
    ("doc", "code", "words"),
    [
        (gate_doc(owner=OTHER), "BZ-PASS-DOC-NOT-FOUND", None),  # another enterprise's list is "not found"
        (gate_doc(ready=False), "BZ-PASS-BIND", "not approved"),
        (summary(ready=False), "BZ-PASS-BIND", "not released"),
        (gate_doc(io=OUT), "BZ-PASS-BIND", "goes E, the pass goes I"),
        (summary(io=OUT), "BZ-PASS-BIND", "goes E, the pass goes I"),
        (gate_doc(flow=v.Flow.INTRA_ZONE), "BZ-PASS-BIND", "intra-zone list and never crosses the gate"),
        (gate_doc(flow=v.Flow.SECOND_LINE), "BZ-PASS-BIND", "second_line list, not for pass type 2"),
        (gate_doc((doc_line(1, "5", "5"),)), "BZ-PASS-BIND", "already crossed"),
    ],
)
def test_a_bound_document_must_be_the_owners_ready_and_going_the_same_way(
    doc: GateDoc, code: str, words: str | None
) -> None:  # M6
    with pytest.raises(BzError) as e:
        bind([DocInput(doc.rlt_tb_typecd.value, doc.rlt_no)], found(doc))
    (err,) = errors(e)
    assert err.code == code
    if words:
        assert words in err.detail["reason_en"], err.detail
    else:
        assert err.detail == {"rltTbTypecd": doc.rlt_tb_typecd.value, "rltNo": doc.rlt_no}


def test_every_problem_of_every_bound_document_is_reported() -> None:  # M6
    other = gate_doc(no="QD5301261000000002", owner=OTHER)
    intra = gate_doc(no="QD5301261000000003", flow=v.Flow.INTRA_ZONE)
    wanted = [
        DocInput("1", other.rlt_no),
        DocInput("1", intra.rlt_no),
        DocInput("1", "QD5301261000000009"),
        DocInput("9", "X"),
        DocInput("4", ENTRY),
        DocInput("4", ENTRY),
    ]
    with pytest.raises(BzError) as e:
        bind(wanted, found(other, intra, summary()), bind_type=BindType.ONE_TRUCK_MANY_DOCS)
    assert codes(e) == ["BZ-PASS-DOC-NOT-FOUND", "BZ-PASS-BIND", "BZ-PASS-DOC-NOT-FOUND", "BZ-PASS-BIND", "BZ-PASS-BIND"]
    assert "bound twice" in errors(e)[-1].detail["reason_en"]
    assert "rltTbTypecd '9'" in errors(e)[3].detail["reason_en"]


def test_a_first_line_list_binds_to_a_first_line_pass_and_second_to_second() -> None:  # M6
    second = gate_doc(flow=v.Flow.SECOND_LINE)
    _, lines = bind([DocInput("1", QD)], found(second), ptype=PassportType.SECOND_LINE)
    assert [ln.dcl_qty for ln in lines] == [Decimal(100)]


def test_a_whole_document_carries_what_remains_of_every_line() -> None:  # M6, M7
    qd = gate_doc((doc_line(1, "10", "4"), doc_line(2, "3", "3"), doc_line(3, "1.5")))
    _, lines = bind([DocInput("1", QD)], found(qd))
    assert [(ln.rlt_gds_seqno, ln.dcl_qty) for ln in lines] == [(1, Decimal(6)), (3, Decimal("1.5"))]  # line 2 is done
    # lines may be given, with gross weights, but must be the whole remainder
    _, lines = bind([DocInput("1", QD, [DocLineInput(1, "6", "120"), DocLineInput(3, "1.5")])], found(qd))
    assert [(ln.dcl_qty, ln.gross_wt) for ln in lines] == [(Decimal(6), Decimal(120)), (Decimal("1.5"), None)]


def test_a_whole_document_cannot_be_split() -> None:  # M6, M7
    qd = gate_doc((doc_line(1, "10"), doc_line(2, "3")))
    with pytest.raises(BzError) as e:
        bind([DocInput("1", QD, [DocLineInput(1, "4"), DocLineInput(2, "3"), DocLineInput(7, "1")])], found(qd))
    assert codes(e) == ["BZ-PASS-BIND", "BZ-PASS-DOC-LINE"]
    assert errors(e)[0].detail["reason_en"] == f"{QD} line 1 must cross whole (remaining 10); use bindTypecd 3 to split"
    assert errors(e)[1].detail == {"rltNo": QD, "rltGdsSeqno": 7}


def test_one_doc_many_trucks_carries_the_split_it_names() -> None:  # M6, M7
    qd = gate_doc((doc_line(1, "100", "60"), doc_line(2, "8")))
    docs = found(qd)
    _, lines = bind(
        [DocInput("1", QD, [DocLineInput(2, "0.5"), DocLineInput(1, "40", "900")])], docs, bind_type=BindType.ONE_DOC_MANY_TRUCKS
    )
    assert [(ln.passport_seqno, ln.rlt_gds_seqno, ln.dcl_qty, ln.gross_wt) for ln in lines] == [
        (1, 2, Decimal("0.5"), None),
        (2, 1, Decimal(40), Decimal(900)),
    ]


def test_one_doc_many_trucks_refuses_a_split_above_what_remains() -> None:  # M7
    qd = gate_doc((doc_line(1, "100", "60"),))
    with pytest.raises(BzError) as e:
        bind([DocInput("1", QD, [DocLineInput(1, "40.00001")])], found(qd), bind_type=BindType.ONE_DOC_MANY_TRUCKS)
    (err,) = errors(e)
    assert err.code == "BZ-PASS-QTY-EXCEEDS"
    assert err.detail == {
        "rltNo": QD,
        "rltGdsSeqno": 1,
        "dclQty": "40.00001",
        "remaining": "40",
        "declared": "100",
        "delivered": "60",
    }


def test_one_doc_many_trucks_needs_lines_known_once_each() -> None:  # M7
    docs = found(gate_doc((doc_line(1, "100"),)))
    with pytest.raises(BzError) as e:
        bind([DocInput("1", QD)], docs, bind_type=BindType.ONE_DOC_MANY_TRUCKS)
    assert codes(e) == ["BZ-PASS-BIND"] and "quantities this vehicle carries" in e.value.detail["reason_en"]
    with pytest.raises(BzError) as e:
        bind(
            [DocInput("1", QD, [DocLineInput(1, "1"), DocLineInput(1, "2"), DocLineInput(2, "1"), DocLineInput(1, "0")])],
            docs,
            bind_type=BindType.ONE_DOC_MANY_TRUCKS,
        )
    assert codes(e) == ["BZ-PASS-BIND", "BZ-PASS-DOC-LINE", "BZ-PASS-BIND"]


# -- M7: delivered vs remaining -----------------------------------------------------------------


def test_deliveries_add_up_per_document_line_in_a_fixed_order() -> None:  # M7
    gp = gate_pass(
        lines=(
            carried(2, "1.5", n=1),
            carried(1, "2", no=ENTRY, kind=RltTbType.ENTRY_SUMMARY, n=2),
            carried(2, "0.25", n=3),
            carried(1, "4", n=4),
        )
    )
    assert m7_multi_truck.deliveries(gp) == [
        m7_multi_truck.Delivery(RltTbType.INVT, QD, 1, 400_000),
        m7_multi_truck.Delivery(RltTbType.INVT, QD, 2, 175_000),
        m7_multi_truck.Delivery(RltTbType.ENTRY_SUMMARY, ENTRY, 1, 200_000),
    ]
    assert m7_multi_truck.deliveries(non_declared(GoodsCategory.OFFICE_SUPPLIES)) == []


def test_a_vehicle_within_what_remains_passes_the_check() -> None:  # M7
    docs = found(gate_doc((doc_line(1, "100", "60"), doc_line(2, "5"))))
    (f,) = m7_multi_truck.check_remaining(gate_pass(lines=(carried(1, "40"), carried(2, "5", n=2))), docs)
    assert not f.held and f.figures == {"lines": 2} and f.en == "all 2 lines carried are within the remaining quantities"


def test_a_vehicle_over_what_remains_is_held_with_the_figures() -> None:  # M7
    docs = found(gate_doc((doc_line(1, "100", "60"), doc_line(2, "5", "5"))))
    held = m7_multi_truck.check_remaining(
        gate_pass(lines=(carried(1, "30"), carried(2, "0.5", n=2), carried(1, "15", n=3))), docs
    )
    assert [f.held for f in held] == [True, True]
    assert dict(held[0].figures) == {
        "rltNo": QD,
        "rltGdsSeqno": 1,
        "carrying": "45",
        "declared": "100",
        "delivered": "60",
        "remaining": "40",
        "excess": "5",
    }
    assert held[0].en == f"{QD} line 1: this vehicle carries 45, remaining 40 (declared 100, delivered 60), over by 5"
    assert (held[1].figures["carrying"], held[1].figures["remaining"], held[1].figures["excess"]) == ("0.5", "0", "0.5")


def test_a_line_that_does_not_exist_holds() -> None:  # M7
    (f,) = m7_multi_truck.check_remaining(gate_pass(lines=(carried(9, "1"),)), found(gate_doc()))
    assert f.held and f.figures == {"rltNo": QD, "rltGdsSeqno": 9}
    (g,) = m7_multi_truck.check_remaining(gate_pass(lines=(carried(1, "1"),)), {})
    assert g.held


def test_apply_is_only_for_what_fits() -> None:  # M7
    docs = found(gate_doc((doc_line(1, "10", "4"),)))
    assert m7_multi_truck.apply(docs, gate_pass(lines=(carried(1, "6"),))) == [
        m7_multi_truck.Delivery(RltTbType.INVT, QD, 1, 600_000)
    ]
    with pytest.raises(AssertionError):
        m7_multi_truck.apply(docs, gate_pass(lines=(carried(1, "6.00001"),)))


def test_a_document_is_complete_when_every_line_has_crossed() -> None:  # M7
    assert not gate_doc((doc_line(1, "10", "10"), doc_line(2, "1", "0.99999"))).complete
    assert gate_doc((doc_line(1, "10", "10"), doc_line(2, "1", "1"))).complete
    assert gate_doc((doc_line(1, "10", "4"),)).lines[0].remaining_units == 600_000


# -- arrival: passes.admit ----------------------------------------------------------------------


def held_rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings if f.held]


def test_a_valid_pass_in_the_right_lane_is_admitted() -> None:  # M4
    f = passes.admit(gate_pass(), "Z5301I261123000000000001", "云A12345", Lane.DECLARED, None)
    assert held_rules(f) == [] and [x.rule for x in f] == ["PASS-VALID", "M4-LANE"]


def test_no_pass_is_held() -> None:  # M4
    (f,) = passes.admit(None, None, "云B54321", Lane.DECLARED, None)
    assert f.held and f.rule == "PASS-VALID" and f.en == "vehicle 云B54321 has no valid gate pass (—)"
    (g,) = passes.admit(None, "Z0000", "云B54321", Lane.DECLARED, None)
    assert g.figures == {"vehicleNo": "云B54321", "passportNo": "Z0000"}


@pytest.mark.parametrize("status", [PassStatus.PASSED, PassStatus.CROSSED])
def test_a_used_pass_is_held(status: PassStatus) -> None:  # M4
    f = passes.admit(gate_pass(status=status), None, "云A12345", Lane.DECLARED, None)
    assert held_rules(f) == ["PASS-VALID"] and "has already been used" in f[0].en


def test_a_pass_in_use_at_another_gate_is_held() -> None:  # M4
    open_at = OpenCrossing(7, "G02", gate_pass().created_at)  # type: ignore[arg-type]
    f = passes.admit(gate_pass(status=PassStatus.IN_GATE), None, "云A12345", Lane.DECLARED, open_at)
    assert held_rules(f) == ["PASS-VALID"]
    assert f[0].en.endswith("is in use at gate G02") and f[0].figures["crossingId"] == 7


def test_a_cancelled_pass_is_held() -> None:  # M4
    f = passes.admit(gate_pass(status=PassStatus.CANCELLED), None, "云A12345", Lane.DECLARED, None)
    assert held_rules(f) == ["PASS-VALID"] and "is cancelled and cannot cross" in f[0].en


def test_a_pass_for_another_plate_is_held_with_both_plates() -> None:  # M4
    f = passes.admit(gate_pass(), None, "云A99999", Lane.DECLARED, None)
    assert held_rules(f) == ["PASS-PLATE"]
    (plate,) = [x for x in f if x.rule == "PASS-PLATE"]
    assert plate.figures == {"vehicleNo": "云A99999", "passVehicleNo": "云A12345"}


def test_every_reason_to_hold_at_arrival_is_given() -> None:  # M4
    f = passes.admit(gate_pass(status=PassStatus.CROSSED), None, "云A99999", Lane.NON_DECLARED, None)
    assert held_rules(f) == ["PASS-VALID", "PASS-PLATE", "M4-LANE"]
