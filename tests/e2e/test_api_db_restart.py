"""The database drops the API's connections (a restart, a failover): pooled connections are not
pinged before use, so the request that meets a dead connection is answered 503 BZ-DB-UNAVAILABLE
with nothing committed, the pool reconnects, and a retry under the same Idempotency-Key takes
effect exactly once. PostgreSQL only: an embedded SQLite file has no connection to lose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, func, select

from bondedzone.adapters.db import tables
from tests import factories as f
from tests.conftest import PG_URL
from tests.e2e import gate_support as gs
from tests.e2e.test_api_idempotency import _invt
from tests.e2e.test_api_support import assert_error

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _drop_pool_connections(zone: f.Zone) -> int:
    """Terminate, from outside, every backend the API's pool holds; returns how many."""
    pool = zone.container.engine.pool
    held = []
    for _ in range(pool.checkedin()):
        conn = zone.container.engine.connect()
        held.append(conn)
    pids = [int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) for c in held]
    for c in held:
        c.close()
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        for pid in pids:
            conn.exec_driver_sql("SELECT pg_terminate_backend(%s)", (pid,))
    admin.dispose()
    return len(pids)


def test_a_dropped_connection_costs_one_503_and_the_retry_takes_effect_once(client: TestClient, zone: f.Zone) -> None:
    owner = zone.headers("owner")
    assert client.get("/api/v1/whoami", headers=owner).status_code == 200
    assert _drop_pool_connections(zone) >= 1

    h = zone.headers("owner", **{"Idempotency-Key": "after-restart"})
    lost = client.post("/api/v1/invts", json=_invt("RESTART-1"), headers=h)
    assert_error(lost, 503, "BZ-DB-UNAVAILABLE")
    assert lost.headers["Retry-After"] == "1"
    assert "Idempotency-Key" in lost.json()["messages"]["en"]

    again = client.post("/api/v1/invts", json=_invt("RESTART-1"), headers=h)
    assert again.status_code == 201, again.text
    assert client.post("/api/v1/invts", json=_invt("RESTART-1"), headers=h).json() == again.json()
    with zone.container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.invts)).scalar_one() == 1


def test_the_gate_hot_path_reports_a_dropped_connection_the_same_way(client: TestClient, zone: f.Zone) -> None:
    """``/gate/cross`` reads the pass with the driver's cursor directly; a dead connection still
    ends as 503 and invalidates the pool, and the retry decides the vehicle once."""
    gp = gs.new_pass(zone.container, zone.owner, f.OWNER_BOOK, gs.empty_vehicle("RESTART-GP"))
    # A route that caches the gate's authentication, so that the crossing's first statement is
    # the pass read and not the token lookup.
    assert client.get("/api/v1/gate/crossings/999", headers=zone.headers("gate")).status_code == 404
    assert _drop_pool_connections(zone) >= 1

    body = {"gateId": "G01", "lane": "declared", "vehicleNo": gs.PLATE, "passportNo": gp, "grossWt": gs.EMPTY_WT}
    h = zone.headers("gate", **{"Idempotency-Key": "cross-after-restart"})
    assert_error(client.post("/api/v1/gate/cross", json=body, headers=h), 503, "BZ-DB-UNAVAILABLE")
    # The pool was invalidated as a whole: the next request, on any connection, goes through.
    again = client.post("/api/v1/gate/cross", json=body, headers=h)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "passed"
    assert gs.gate_counts(zone.container)["gate_crossings"] == 1
