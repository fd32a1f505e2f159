"""(d) Gate decisions over HTTP with 16 concurrent clients on PostgreSQL, against a bare endpoint.

A real ``bondedzone serve`` process on a free port and a fresh PostgreSQL schema. Before the clock
starts: one enterprise, approved inventory lists of two lines each, and a gate pass per vehicle —
most one-truck-one-doc, some one-doc-many-trucks (two vehicles per list, M7), and one vehicle in
ten weighing 5 % over its pass (a G1 hold). The gate's automation then sends one message per
vehicle, ``POST /api/v1/gate/cross`` (arrive + weigh + decide in one transaction, every event
recorded, with an ``Idempotency-Key``), from :mod:`bench.loadgen` in a process of its own.

* ours — decisions: latency p50/p99 and decisions/s;
* bare — ``GET /api/v1/whoami`` on the same server: authentication and one indexed read.

Phases alternate A B B A (bare, ours, ours, bare). Goals (issue 3): ours p99 ≤ 3 × bare p99 and
≥ 500 decisions/s. After the run: every answer was 200, every vehicle got the decision its setup
implies (holds exactly for the overweight ones), and no document line was delivered beyond what
was declared.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import common, loadgen
from bench.http_latency import _free_port, _serve, _stop
from bondedzone.adapters.db import tables as t
from bondedzone.domain.passes import PassInput
from bondedzone.domain.rules.m6_consolidation import DocInput, DocLineInput
from bondedzone.services import gate, invts, tokens

CLIENTS = 16
ITEMS = 200


def _plate(n: int) -> str:
    return f"云A{n:05d}"


def _pass(n: int, gross: str, bind: str, doc: DocInput) -> PassInput:
    return PassInput(f"GP{n}", "2", "I", _plate(n), "15000", gross, bind, "1000", docs=[doc])


def _setup(c: Any, book: str, vehicles: int) -> list[dict[str, Any]]:
    """Approved lists and one pass per vehicle; returns what each vehicle will send and should get."""
    lists = vehicles  # one or two vehicles per list; a few lists stay unused
    specs = [[(1 + k % ITEMS, "10"), (1 + (k + 7) % ITEMS, "4")] for k in range(lists)]
    ids = common.declare_lists(c, book, specs, prefix="GD", per_tx=100)
    for start in range(0, len(ids), 100):
        with c.uow() as uow:
            for i in ids[start : start + 100]:
                invts.approve_invt(uow, common.CUSTOMS, i)
            uow.commit()
    with c.uow(write=False) as uow:
        numbers = [invts.get_invt(uow, common.CUSTOMS, i).bond_invt_no for i in ids]
    plan: list[dict[str, Any]] = []
    k = 0
    with c.uow() as uow:
        while len(plan) < vehicles:
            qd = numbers[k]
            k += 1
            if k % 4 == 0:  # one-doc-many-trucks: two vehicles share the list (M7)
                splits = [[DocLineInput(1, "6"), DocLineInput(2, "4")], [DocLineInput(1, "4")]]
                raws = [_pass(len(plan) + j, "900", "3", DocInput("1", qd, s)) for j, s in enumerate(splits)]
            else:
                raws = [_pass(len(plan), "1400", "2", DocInput("1", qd))]
            for raw in raws:
                if len(plan) >= vehicles:
                    break
                gp = gate.create_pass(uow, common.CUSTOMS, book, raw)
                expected = gp.vehicle_wt + gp.vehicle_frame_wt + gp.total_gross_wt
                heavy = len(plan) % 10 == 9
                plan.append(
                    {
                        "passportNo": gp.passport_no,
                        "vehicleNo": gp.vehicle_no,
                        "grossWt": str(expected * 105 / 100 if heavy else expected),
                        "expect": "hold" if heavy else "pass",
                    }
                )
        uow.commit()
    return plan


def run(*, per_client: int, clients: int = CLIENTS) -> dict[str, Any]:
    """``clients`` × ``per_client`` gate decisions and as many whoami calls; latency, rate, ratios."""
    warm = clients * 2
    vehicles = clients * per_client + warm
    with common.database("postgresql") as url:
        c = common.container(url)
        try:
            (book,) = common.setup_zone(c, [ITEMS])
            with c.uow() as uow:
                token = tokens.create_token(uow, "gate", None, "bench-gate")
                uow.commit()
            plan = _setup(c, book, vehicles)
            warm_plan, plan = plan[:warm], plan[warm:]
            whoami = loadgen.Request("GET", "/api/v1/whoami")

            def phase(port: int, jobs: list[list[dict[str, Any]]] | int) -> loadgen.Result:
                def request(conn: int, n: int) -> loadgen.Request | None:
                    if isinstance(jobs, int):
                        return whoami if n < jobs else None
                    work = jobs[conn]
                    if n >= len(work):
                        return None
                    v = work[n]
                    body = {"gateId": f"G{conn % 4 + 1:02d}", "lane": "declared", "vehicleNo": v["vehicleNo"]}
                    body |= {"passportNo": v["passportNo"], "grossWt": v["grossWt"]}
                    headers = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
                    return loadgen.Request("POST", "/api/v1/gate/cross", headers, json.dumps(body).encode())

                per_conn = jobs if isinstance(jobs, int) else max(len(j) for j in jobs)
                res = loadgen.run(
                    "127.0.0.1",
                    port,
                    connections=clients,
                    requests=per_conn,
                    make_request=request,
                    headers={"Authorization": f"Bearer {token}"},
                    warmup=whoami,
                )
                for failure in res.failures[:3]:
                    print(f"  !! {failure}")
                return res

            with tempfile.TemporaryDirectory(prefix="bzbench-gate-") as d:
                port = _free_port()
                proc = _serve(url, port, Path(d) / "server.log")
                try:
                    phase(port, [warm_plan[n::clients] for n in range(clients)])
                    phase(port, 10)
                    jobs = [plan[n::clients] for n in range(clients)]
                    half = per_client // 2
                    bare_parts: list[loadgen.Result] = []
                    ours_parts: list[loadgen.Result] = []
                    for part in (half, [j[:half] for j in jobs], [j[half:] for j in jobs], per_client - half):
                        res = phase(port, part)
                        (bare_parts if isinstance(part, int) else ours_parts).append(res)
                finally:
                    _stop(proc)
            ours_res, bare_res = loadgen.Result.merge(ours_parts), loadgen.Result.merge(bare_parts)
            failed = sum(s != 200 for s in ours_res.statuses) + sum(s != 200 for s in bare_res.statuses)
            expected = {v["passportNo"]: v["expect"] for v in warm_plan + plan}
            with c.engine.connect() as conn:
                got = dict(conn.execute(select(t.gate_crossings.c.passport_no, t.gate_crossings.c.outcome)).all())
                over = conn.execute(
                    select(func.count())
                    .select_from(t.gate_doc_lines)
                    .where(t.gate_doc_lines.c.delivered_units > t.gate_doc_lines.c.declared_units)
                ).scalar_one()
            ours, bare = ours_res.summary(), bare_res.summary()
            keep = ("requests", "p50_ms", "p99_ms", "mean_ms", "req_per_s", "client_cpu")
            ours_s, bare_s = {k: ours[k] for k in keep}, {k: bare[k] for k in keep}
            return {
                "engine": "postgresql",
                "clients": clients,
                "decide": ours_s,
                "whoami": bare_s,
                "p99_over_bare_p99": round(ours_s["p99_ms"] / bare_s["p99_ms"], 3),
                "decisions_per_s": ours_s["req_per_s"],
                "goal_p99_ok": ours_s["p99_ms"] <= 3 * bare_s["p99_ms"],
                "goal_rate_ok": ours_s["req_per_s"] >= 500,
                "failed": failed,
                "decisions_as_expected": got == expected,
                "holds": sum(1 for x in got.values() if x == "hold"),
                "over_delivered_lines": int(over),
            }
        finally:
            c.engine.dispose()
