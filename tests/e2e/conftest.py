"""End-to-end helpers: counts that long-running tests report in the pytest terminal summary."""

from __future__ import annotations

from collections.abc import Callable

import pytest

CRASH_COUNTS = pytest.StashKey[list[tuple[str, dict[str, int]]]]()


@pytest.fixture
def report_counts(request: pytest.FixtureRequest) -> Callable[[str, dict[str, int]], None]:
    """``report_counts(name, counts)`` shows ``counts`` under "crash recovery" at the end of the run."""

    def record(name: str, counts: dict[str, int]) -> None:
        request.config.stash.setdefault(CRASH_COUNTS, []).append((name, dict(counts)))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    rows = config.stash.get(CRASH_COUNTS, [])
    if not rows:
        return
    terminalreporter.section("crash recovery")
    for name, counts in rows:
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
