"""(c) HTTP latency of approval with 8 concurrent clients, against a bare endpoint of the same server.

A real ``bondedzone serve`` process (uvicorn) on a free port, on a fresh PostgreSQL schema, demo
zone off. The client is :mod:`bench.loadgen` in a process of its own: eight keep-alive connections
(``clients``), requests rendered before the clock starts, so that the client's own CPU takes as
little as possible from the server on a small machine (``client_cpu`` reports its share of a core):

* ours — ``POST /api/v1/invts/{id}/approve`` with a fresh ``Idempotency-Key`` for a pre-declared
  10-line list (lists spread over 8 books, as a zone with several enterprises);
* bare — ``GET /api/v1/whoami``: authentication only, one indexed read (the token lookup), through
  the same middleware, logging and connection pool.

Phases alternate A B B A (bare, ours, ours, bare). The figures are p50/p99 latency and throughput
of each, and bare ÷ ours for p50, p99 and throughput (1.0 = approval costs no more than the bare
endpoint). Every approval must answer 200, and after the run every list is approved and the audit
chain verifies.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench import common, loadgen
from bondedzone.adapters.db import tables as t
from bondedzone.services import tokens

CLIENTS = 8
LINES = 10
BOOKS = 8
ITEMS_PER_BOOK = 500


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``bondedzone serve`` on ``url`` and ``port`` (``env``: more settings, e.g. ``BONDEDZONE_WORKERS``)."""
    exe = Path(sys.executable).parent / "bondedzone"
    env = {
        **os.environ,
        "BONDEDZONE_DATABASE_URL": url,
        "BONDEDZONE_LOAD_DEMO": "false",
        "BONDEDZONE_HOST": "127.0.0.1",
        "BONDEDZONE_PORT": str(port),
        **(env or {}),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen([str(exe), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bondedzone serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/whoami", timeout=1).status_code == 401:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("bondedzone serve did not answer within 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server started by :func:`_serve`: politely, then for good after 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _phase(port: int, token: str, jobs: list[list[int]] | int, approve: bool, clients: int) -> loadgen.Result:
    """One phase: ``clients`` keep-alive connections from the load generator's own process."""
    whoami = loadgen.Request("GET", "/api/v1/whoami")

    def request(conn: int, n: int) -> loadgen.Request | None:
        if not approve:
            return whoami if isinstance(jobs, int) and n < jobs else None
        assert isinstance(jobs, list)
        work = jobs[conn]
        if n >= len(work):
            return None
        return loadgen.Request("POST", f"/api/v1/invts/{work[n]}/approve", {"Idempotency-Key": uuid.uuid4().hex})

    per_conn = jobs if isinstance(jobs, int) else max(len(j) for j in jobs)
    res = loadgen.run(
        "127.0.0.1",
        port,
        connections=clients,
        requests=per_conn,
        make_request=request,
        headers={"Authorization": f"Bearer {token}"},
        warmup=whoami,  # every connection is open before the clock starts
    )
    for failure in res.failures[:3]:
        print(f"  !! {failure}")
    return res


def _stats(res: loadgen.Result) -> dict[str, float]:
    summary = res.summary()
    return {k: summary[k] for k in ("requests", "p50_ms", "p99_ms", "mean_ms", "req_per_s", "client_cpu")}


def run(*, per_client: int, clients: int = CLIENTS) -> dict[str, Any]:
    """Approve clients × per_client lists over HTTP and as many whoami calls; latency figures and ratios."""
    n_lists = clients * per_client
    warm = clients * 2
    with common.database("postgresql") as url:
        c = common.container(url)
        try:
            books = common.setup_zone(c, [ITEMS_PER_BOOK] * BOOKS)
            with c.uow() as uow:
                token = tokens.create_token(uow, "customs", None, "bench")
                uow.commit()
            by_book: list[list[int]] = []
            for b, book in enumerate(books):
                count = (n_lists + warm + BOOKS - 1) // BOOKS
                specs = [common.spread_spec(LINES, ITEMS_PER_BOOK, offset=k * 7) for k in range(count)]
                by_book.append(common.declare_lists(c, book, specs, prefix=f"H{b}", per_tx=50))
            ids = [x for group in zip(*by_book, strict=True) for x in group]  # interleave the books
            warm_ids, ids = ids[:warm], ids[warm : warm + n_lists]
            with tempfile.TemporaryDirectory(prefix="bzbench-http-") as d:
                port = _free_port()
                proc = _serve(url, port, Path(d) / "server.log")
                try:
                    _phase(port, token, [warm_ids[n::clients] for n in range(clients)], True, clients)
                    _phase(port, token, 10, False, clients)
                    half = per_client // 2
                    jobs = [ids[n::clients] for n in range(clients)]
                    first = [j[:half] for j in jobs]
                    second = [j[half:] for j in jobs]
                    bare_parts: list[loadgen.Result] = []
                    ours_parts: list[loadgen.Result] = []
                    for approve, part in ((False, half), (True, first), (True, second), (False, per_client - half)):
                        res = _phase(port, token, part, approve, clients)
                        (ours_parts if approve else bare_parts).append(res)
                finally:
                    _stop(proc)
            ours_res, bare_res = loadgen.Result.merge(ours_parts), loadgen.Result.merge(bare_parts)
            failed = sum(s != 200 for s in ours_res.statuses) + sum(s != 200 for s in bare_res.statuses)
            with c.engine.connect() as conn:
                approved = conn.execute(
                    select(func.count()).select_from(t.invts).where(t.invts.c.status == "approved")
                ).scalar_one()
            ours, bare = _stats(ours_res), _stats(bare_res)
            return {
                "engine": "postgresql",
                "clients": clients,
                "lines_per_list": LINES,
                "approve": ours,
                "whoami": bare,
                "ratio_p50": round(bare["p50_ms"] / ours["p50_ms"], 3),
                "ratio_p99": round(bare["p99_ms"] / ours["p99_ms"], 3),
                "ratio_throughput": round(ours["req_per_s"] / bare["req_per_s"], 3),
                "failed": failed,
                "all_approved": approved == n_lists + warm,
                "audit_ok": common.audit_ok(c),
            }
        finally:
            c.engine.dispose()
