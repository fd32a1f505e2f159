"""G1 — weight verification at the gate (重量验核).

    "weight checks compare gross weight against vehicle + frame + declared goods within a
    tolerance; each decision carries its reasons (which rule, which figure)."

The weighbridge reading (``passCollectWt``) is compared with what the gate pass declares:
``totalWt = vehicleWt + vehicleFrameWt + containerWt + totalGrossWt`` (the three 金关二期 samples
all satisfy this sum). The difference is ``wtError``. A reading outside ``expected ± tolerance``
holds the vehicle and says by how much.

M4 removes the comparison for labour-protection and office supplies in the non-declared lane
("取消重量验核比对"): :func:`bondedzone.domain.rules.m4_two_lanes.weight_exempt` decides that.
"""

from __future__ import annotations

from decimal import Decimal

from bondedzone.domain import values as v
from bondedzone.domain.gate import Finding, GatePass

RULE = "G1-WEIGHT"
DEFAULT_TOLERANCE = Decimal("0.02")


def expected_total(gp: GatePass) -> Decimal:
    """What the scale should read: the vehicle, its frame, its container and the declared goods."""
    return gp.vehicle_wt + gp.vehicle_frame_wt + gp.container_wt + gp.total_gross_wt


def check_weight(gp: GatePass, weighed: Decimal, tolerance: Decimal = DEFAULT_TOLERANCE) -> Finding:
    """Pass when ``|weighed − expected| ≤ expected × tolerance``; otherwise hold with the figures."""
    expected = expected_total(gp)
    allowed = (expected * tolerance).quantize(v.QTY_QUANTUM)
    error = weighed - expected
    figures = {
        "passCollectWt": v.fmt_qty(weighed),
        "totalWt": v.fmt_qty(expected),
        "tolerance": f"{(tolerance * 100).normalize():f}%",
        "low": v.fmt_qty(expected - allowed),
        "high": v.fmt_qty(expected + allowed),
        "wtError": v.fmt_qty(error),
    }
    pct = f"{(tolerance * 100).normalize():f}"
    if abs(error) <= allowed:
        return Finding(
            RULE,
            held=False,
            zh=f"过磅毛重 {figures['passCollectWt']} kg，核放单总重 {figures['totalWt']} kg ± {pct}%，在允许范围内",
            en=f"gross {figures['passCollectWt']} kg vs expected {figures['totalWt']} kg ± {pct}% → within tolerance",
            figures=figures,
        )
    return Finding(
        RULE,
        held=True,
        zh=(
            f"过磅毛重 {figures['passCollectWt']} kg，核放单总重 {figures['totalWt']} kg ± {pct}%"
            f"（{figures['low']}–{figures['high']}），相差 {figures['wtError']} kg，超出允许范围"
        ),
        en=(
            f"gross {figures['passCollectWt']} kg vs expected {figures['totalWt']} kg ± {pct}% "
            f"({figures['low']}–{figures['high']}), off by {figures['wtError']} kg → hold"
        ),
        figures=figures,
    )


def exempt(reason_zh: str, reason_en: str) -> Finding:
    """The record that no weight comparison was made, and why (M4 graded management)."""
    return Finding(RULE, held=False, zh=f"免予重量验核：{reason_zh}", en=f"no weight comparison: {reason_en}", figures={})
