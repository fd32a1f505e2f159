"""M4 — two lanes at the gate, graded fields for non-declared goods, risk-based spot checks.

    "设置报关货物通道和非报关货物通道，实行分类通行。对非报关货物分级简化填报要素，优化重量验核，
    实现快速进区。向综合保税区管理机构共享入区危险化学品信息。"

    解读: 保税、免税、退税、征税等海关监管货物，经由报关货物通道进出，实施常规监管；基建物资、劳保用品、
    办公用品、生活消费品等非海关监管货物由非报关货物通道进出，实施低比例的风险式抽查管理。简化与生产料件和
    设备相关的非报关货物填报要素，实行企业自主填报，快速放行；劳保用品、办公用品等非报关货物免予填报商品编码
    等内容，取消重量验核比对；入区后用于企业正常生产经营的柴汽油、硫盐酸等危险化学品，及时将有关进出数据信息
    共享给地方主管部门，实现联防联控。

So: declared goods (pass types 2 and 3) use the declared lane with full checks; non-declared goods
(type 4) use the other lane; an empty vehicle (type 6) may use either. The fields a non-declared
line must carry depend on its category (:data:`GRADES`); the non-declared lane stops a vehicle
only when a reproducible, risk-weighted draw selects it (:func:`spot_check`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from functools import partial
from typing import NamedTuple

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, Collector
from bondedzone.domain.gate import Finding, GatePass, GoodsCategory, Hazchem, Lane, PassLine, PassportType, weight

LANE_RULE = "M4-LANE"
SPOT_RULE = "M4-SPOT-CHECK"


class Grade(NamedTuple):
    """What a category of non-declared goods must declare, and whether its weight is compared."""

    hs_code: str  # "required", "optional" or "exempt" (免予填报商品编码)
    weight_compared: bool
    hazchem: bool  # details shared with the zone administration when it enters


GRADES: dict[GoodsCategory, Grade] = {
    # 与生产料件和设备相关: simplified, self-declared, released fast — but named by HS code.
    GoodsCategory.PRODUCTION_RELATED: Grade("required", True, False),
    GoodsCategory.INFRASTRUCTURE: Grade("optional", True, False),
    GoodsCategory.CONSUMER_GOODS: Grade("optional", True, False),
    # 劳保用品、办公用品: no HS code, no weight comparison.
    GoodsCategory.LABOUR_PROTECTION: Grade("exempt", False, False),
    GoodsCategory.OFFICE_SUPPLIES: Grade("exempt", False, False),
    # 危险化学品 for production: HS code and hazard details, shared with the zone administration.
    GoodsCategory.HAZARDOUS_CHEMICALS: Grade("required", True, True),
}


@dataclass(frozen=True)
class HazchemInput:
    """Hazard details as sent."""

    un_no: str
    hazard_class: str
    cas_no: str | None = None
    usage: str | None = None


@dataclass(frozen=True)
class GoodsInput:
    """A non-declared goods line as sent."""

    gds_nm: str
    category: str
    dcl_qty: str
    dcl_unitcd: str
    gdecd: str | None = None
    gross_wt: str | None = None
    hazchem: HazchemInput | None = None


_UN_NO = re.compile(r"[0-9]{4}")
_HAZARD_CLASS = re.compile(r"[1-9](?:\.[1-6])?")
_CAS = re.compile(r"[0-9]{2,7}-[0-9]{2}-[0-9]")


def _cas_ok(cas: str) -> bool:
    digits = cas.replace("-", "")
    body, check = digits[:-1], int(digits[-1])
    return sum(int(d) * i for i, d in enumerate(reversed(body), start=1)) % 10 == check


def _hazchem(raw: HazchemInput) -> Hazchem:
    c = Collector()
    if not _UN_NO.fullmatch(raw.un_no.strip()):
        c.add(BzError("BZ-HAZCHEM-INVALID", field="unNo", value=raw.un_no, reason="UN number: 4 digits"))
    if not _HAZARD_CLASS.fullmatch(raw.hazard_class.strip()):
        c.add(BzError("BZ-HAZCHEM-INVALID", field="hazardClass", value=raw.hazard_class, reason="class 1–9, e.g. 3 or 2.1"))
    cas = raw.cas_no.strip() if raw.cas_no else None
    if cas is not None and not (_CAS.fullmatch(cas) and _cas_ok(cas)):
        c.add(BzError("BZ-HAZCHEM-INVALID", field="casNo", value=raw.cas_no, reason="CAS number with a valid check digit"))
    usage = c.check(partial(v.text, raw.usage, field="usage", max_len=255)) if raw.usage else None
    c.raise_if_any()
    return Hazchem(raw.un_no.strip(), raw.hazard_class.strip(), cas, usage)


def goods_line(seqno: int, raw: GoodsInput) -> PassLine:
    """Check one non-declared line against its category's grade; every refusal names the line."""
    c = Collector()
    try:
        category = GoodsCategory(raw.category)
    except ValueError:
        raise BzError(
            "BZ-GOODS-CATEGORY-INVALID", passportSeqno=seqno, value=raw.category, allowed=", ".join(GoodsCategory)
        ) from None
    grade = GRADES[category]
    name = c.check(lambda: v.text(raw.gds_nm, field="gdsNm", max_len=512))
    qty = c.check(lambda: v.qty(raw.dcl_qty))
    unit = c.check(lambda: v.unit_code(raw.dcl_unitcd))
    gdecd: str | None = None
    if raw.gdecd:
        gdecd = c.check(lambda: v.hs_code(raw.gdecd or ""))
    elif grade.hs_code == "required":
        c.add(BzError("BZ-GOODS-FIELD-REQUIRED", passportSeqno=seqno, field="gdecd", category=category.value))
    gross = c.check(lambda: weight(raw.gross_wt, field_name="grossWt")) if raw.gross_wt is not None else None
    hz: Hazchem | None = None
    if grade.hazchem:
        if raw.hazchem is None:
            c.add(BzError("BZ-GOODS-FIELD-REQUIRED", passportSeqno=seqno, field="hazchem", category=category.value))
        else:
            hz = c.check(lambda: _hazchem(raw.hazchem))  # type: ignore[arg-type]
    elif raw.hazchem is not None:
        c.add(BzError("BZ-TEXT-INVALID", field="hazchem", reason=f"only for category {GoodsCategory.HAZARDOUS_CHEMICALS}"))
    for e in c.errors:
        e.detail.setdefault("passportSeqno", seqno)
    c.raise_if_any()
    assert name is not None and qty is not None and unit is not None
    return PassLine(seqno, qty, unit, name, gdecd=gdecd, gross_wt=gross, category=category, hazchem=hz)


def lane_finding(gp: GatePass, lane: Lane) -> Finding:
    """Declared goods in the declared lane, non-declared in the other; an empty vehicle in either."""
    wanted = gp.lane
    figures = {"lane": lane.value, "passportTypecd": gp.passport_typecd.value, "requiredLane": wanted.value if wanted else None}
    if wanted is None or wanted is lane:
        return Finding(LANE_RULE, False, f"通道正确（{lane.value}）", f"right lane ({lane.value})", figures)
    return Finding(
        LANE_RULE,
        True,
        f"核放单类型 {gp.passport_typecd.value} 应走 {wanted.value} 通道，车辆在 {lane.value} 通道",
        f"pass type {gp.passport_typecd.value} must use the {wanted.value} lane, vehicle is in the {lane.value} lane",
        figures,
    )


def weight_exempt(gp: GatePass) -> tuple[str, str] | None:
    """Why no weight comparison is made for this pass, or None when the weight must be compared."""
    if gp.passport_typecd is not PassportType.NON_DECLARED:
        return None
    categories = {ln.category for ln in gp.lines}
    if categories and all(c is not None and not GRADES[c].weight_compared for c in categories):
        names = ", ".join(sorted(c.value for c in categories if c is not None))
        return (f"非报关货物（{names}）取消重量验核比对", f"non-declared goods ({names}) are exempt (M4)")
    return None


def hazchem_lines(gp: GatePass) -> list[PassLine]:
    """Lines whose hazard details go to the zone administration when they enter."""
    return [ln for ln in gp.lines if ln.hazchem is not None]


# -- spot checks ---------------------------------------------------------------------------------

CREDIT_FACTORS: dict[v.Credit, Decimal] = {
    v.Credit.AEO_ADVANCED: Decimal("0.5"),
    v.Credit.ORDINARY: Decimal(1),
    v.Credit.DISHONEST: Decimal(5),
}


@dataclass(frozen=True)
class SpotCheckPolicy:
    """The non-declared lane's risk-based sampling: a low base rate weighted by risk factors.

    ``seed`` makes every selection reproducible: the same pass at the same attempt draws the
    same number, so anyone can recompute why a vehicle was (or was not) stopped.
    """

    base_rate: Decimal = Decimal("0.03")
    seed: str = "bondedzone"
    credit_factors: Mapping[v.Credit, Decimal] = field(default_factory=lambda: dict(CREDIT_FACTORS))
    hazchem_factor: Decimal = Decimal(2)


def draw(seed: str, passport_no: str, attempt: int) -> Decimal:
    """A uniform number in [0, 1) from SHA-256 of the seed, the pass and the attempt."""
    digest = hashlib.sha256(f"{seed}|{passport_no}|{attempt}".encode()).digest()
    # Rounded down: rounding to nearest would turn the top draws into 1.000000, which a rate of 1 misses.
    return (Decimal(int.from_bytes(digest[:8], "big")) / Decimal(2**64)).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)


def spot_check(policy: SpotCheckPolicy, gp: GatePass, credit: v.Credit, attempt: int) -> Finding:
    """Select the vehicle for inspection when its draw is below its risk-weighted rate; explain either way."""
    factors: dict[str, str] = {f"credit {credit.value}": str(policy.credit_factors.get(credit, Decimal(1)))}
    rate = policy.base_rate * policy.credit_factors.get(credit, Decimal(1))
    if hazchem_lines(gp):
        rate *= policy.hazchem_factor
        factors["hazardous chemicals"] = str(policy.hazchem_factor)
    rate = min(rate, Decimal(1))
    number = draw(policy.seed, gp.passport_no, attempt)
    figures = {
        "baseRate": str(policy.base_rate),
        "factors": factors,
        "rate": str(rate.normalize()),
        "draw": str(number),
        "attempt": attempt,
    }
    shown = ", ".join(f"{k} ×{f}" for k, f in factors.items())
    pct = f"{(rate * 100).normalize():f}%"
    if number < rate:
        return Finding(
            SPOT_RULE,
            True,
            f"非报关通道风险抽查选中：抽查率 {pct}（基础 {policy.base_rate}，{shown}），随机数 {number} < {rate.normalize()}",
            f"selected for a spot check: rate {pct} (base {policy.base_rate}, {shown}), draw {number} < {rate.normalize()}",
            figures,
        )
    return Finding(
        SPOT_RULE,
        False,
        f"未被抽中：抽查率 {pct}（{shown}），随机数 {number}",
        f"not selected: rate {pct} ({shown}), draw {number}",
        figures,
    )
