"""What the Hypothesis state machines share: step budgets and settings (CI derandomized, soak not)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings

SOAK = os.environ.get("BZ_SOAK") == "1"


@dataclass(frozen=True)
class Profile:
    """How many examples of how many steps, and the fewest steps that count as a real run."""

    examples: int
    steps: int
    minimum: int


def hypothesis_settings(p: Profile, *, shrink: bool = True, suppress: tuple[HealthCheck, ...] = ()) -> settings:
    """CI is derandomized so that it is stable; a soak explores new sequences and prints the blob that reproduces a failure."""
    phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])]
    return settings(
        max_examples=p.examples,
        stateful_step_count=p.steps,
        deadline=None,
        derandomize=not SOAK,
        database=None,
        phases=phases,
        print_blob=SOAK,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, *suppress],
    )
