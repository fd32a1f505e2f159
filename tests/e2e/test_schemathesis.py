"""Fuzzing the HTTP API from its own OpenAPI schema: no input may produce a 5xx (bad input, Reliability).

From the issue: "run schemathesis against the OpenAPI schema in CI (bounded) with zero 5xx".
Schemathesis generates requests for every operation of ``/openapi.json`` — schema-valid ones
(positive) and schema-violating ones (negative) — against the ASGI app over a database holding
the demo zone, with a customs token and with an enterprise token. Each operation runs twice:
with generated path parameters (mostly unknown ids) and with ids that exist in the demo zone,
so that generated bodies reach the domain checks and the ledger, not only the 404 path.

Bounded: ``MAX_EXAMPLES`` per operation, mode and pass; the whole module runs in well under a minute.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from bondedzone import bootstrap
from bondedzone.config import Settings
from bondedzone.entrypoints.api.app import create_app
from bondedzone.entrypoints.cli import demo
from bondedzone.services import tokens

MAX_EXAMPLES = 12
DEMO_OWNER = demo.ENTERPRISES[0][0]  # holds T5301W000001, with lists, postings and the conversion
# Zero 5xx; every answer, success or refusal, matches the schema (errors: ``ErrorBody`` under 4XX).
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
KNOWN = {"putrec_no": "T5301W000001", "uscc": DEMO_OWNER, "invt_id": 4, "posting_id": 1, "conv_id": 1}


@pytest.fixture(scope="module")
def demo_zone(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[bootstrap.Container]:
    path = tmp_path_factory.mktemp("fuzz") / "bz.db"
    shutil.copy(sqlite_template, path)
    c = bootstrap.build(Settings(database_url=f"sqlite:///{path}", load_demo=False))
    demo.load(c.uow)
    yield c
    c.engine.dispose()


def _token(c: bootstrap.Container, role: str, uscc: str | None = None) -> str:
    with c.uow() as uow:
        t = tokens.create_token(uow, role, uscc)
        uow.commit()
    return t


def _fuzz(c: bootstrap.Container, token: str, mode: GenerationMode) -> tuple[list[str], Counter[int]]:
    """Run every operation; return the failures (operation: reason) and the status codes seen."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(c))
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    seen: Counter[int] = Counter()
    for result in schema.get_all_operations():
        op = result.ok()
        names = {p.name for p in op.path_parameters}
        for fixed in ({}, {k: v for k, v in KNOWN.items() if k in names} if names else None):
            if fixed is None:
                continue
            strategy = op.as_strategy(generation_mode=mode, headers=headers, path_parameters=fixed or None)

            @given(case=strategy)
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                resp = case.call()
                seen[resp.status_code] += 1
                case.validate_response(resp, checks=CHECKS)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing of this operation can be made schema-invalid (e.g. no body, free-text path)
            except Exception as e:
                failures.append(f"{op.label} {fixed or ''}: {type(e).__name__}: {str(e)[:2000]}")
    return failures, seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize("role", ["customs", "enterprise"])
def test_no_5xx_from_any_generated_request(demo_zone: bootstrap.Container, role: str, mode: GenerationMode) -> None:
    token = _token(demo_zone, role, DEMO_OWNER if role == "enterprise" else None)
    failures, seen = _fuzz(demo_zone, token, mode)
    assert not failures, "\n\n".join(failures)
    assert not [s for s in seen if s >= 500]
    # The run must have exercised the app, not bounced off authentication.
    assert sum(seen.values()) >= 100 and 401 not in seen, seen
    assert any(200 <= s < 300 for s in seen) or mode is GenerationMode.NEGATIVE, seen
    assert any(400 <= s < 500 for s in seen), seen


def test_demo_zone_still_verifies_after_fuzzing(demo_zone: bootstrap.Container) -> None:
    # Whatever the fuzzer managed to post, the ledger and its chain are still consistent (L2, L3).
    from bondedzone.services import audit
    from bondedzone.services.authz import Principal, Role

    with demo_zone.uow(write=False) as uow:
        report = audit.verify_all(uow, Principal(Role.AUDITOR, None, "test:auditor"))
    assert report.ok, report.findings[:5]
    assert report.books >= 6
