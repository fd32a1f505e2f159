"""(c) HTTP latency of approval with 8 concurrent clients, against a bare endpoint of the same server.

A real ``bondedzone serve`` process (uvicorn) on a free port, on a fresh PostgreSQL schema, demo
zone off. Eight client threads, each with its own keep-alive ``httpx.Client``:

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
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench import common
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


def _serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "bondedzone"
    env = {
        **os.environ,
        "BONDEDZONE_DATABASE_URL": url,
        "BONDEDZONE_LOAD_DEMO": "false",
        "BONDEDZONE_HOST": "127.0.0.1",
        "BONDEDZONE_PORT": str(port),
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


def _phase(base: str, token: str, jobs: list[list[int]] | int, approve: bool) -> tuple[list[float], float, int]:
    """Run one phase with CLIENTS threads; (latencies in ms, wall seconds, failures)."""
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    failures = [0] * CLIENTS
    barrier = threading.Barrier(CLIENTS + 1)
    done = threading.Barrier(CLIENTS + 1)
    headers = {"Authorization": f"Bearer {token}"}

    def client(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            http.get("/api/v1/whoami")  # the connection is open before the clock starts
            barrier.wait()
            work = jobs[n] if isinstance(jobs, list) else range(jobs)
            for item in work:
                start = time.perf_counter()
                if approve:
                    r = http.post(f"/api/v1/invts/{item}/approve", headers={"Idempotency-Key": uuid.uuid4().hex})
                    good = r.status_code == 200 and r.json().get("status") == "approved"
                else:
                    r = http.get("/api/v1/whoami")
                    good = r.status_code == 200
                latencies[n].append((time.perf_counter() - start) * 1000)
                if not good:
                    failures[n] += 1
                    if failures[n] <= 3:
                        print(f"  !! {r.request.method} {r.request.url.path}: {r.status_code} {r.text[:200]}")
            done.wait()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    done.wait()
    wall = time.perf_counter() - start
    for th in threads:
        th.join()
    return [x for xs in latencies for x in xs], wall, sum(failures)


def _stats(lat: list[float], wall: float) -> dict[str, float]:
    return {
        "requests": len(lat),
        "p50_ms": round(common.percentile(lat, 50), 2),
        "p99_ms": round(common.percentile(lat, 99), 2),
        "mean_ms": round(sum(lat) / len(lat), 2),
        "req_per_s": round(len(lat) / wall, 1),
    }


def run(*, per_client: int) -> dict[str, Any]:
    """Approve CLIENTS × per_client lists over HTTP and as many whoami calls; latency figures and ratios."""
    n_lists = CLIENTS * per_client
    warm = CLIENTS * 2
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
                base = f"http://127.0.0.1:{port}"
                try:
                    _phase(base, token, [warm_ids[n::CLIENTS] for n in range(CLIENTS)], approve=True)
                    _phase(base, token, 10, approve=False)
                    half = per_client // 2
                    jobs = [ids[n::CLIENTS] for n in range(CLIENTS)]
                    first = [j[:half] for j in jobs]
                    second = [j[half:] for j in jobs]
                    bare_lat: list[float] = []
                    ours_lat: list[float] = []
                    bare_wall = ours_wall = 0.0
                    failed = 0
                    for approve, part in ((False, half), (True, first), (True, second), (False, per_client - half)):
                        lat, wall, bad = _phase(base, token, part, approve=approve)
                        failed += bad
                        if approve:
                            ours_lat += lat
                            ours_wall += wall
                        else:
                            bare_lat += lat
                            bare_wall += wall
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            with c.engine.connect() as conn:
                approved = conn.execute(
                    select(func.count()).select_from(t.invts).where(t.invts.c.status == "approved")
                ).scalar_one()
            ours, bare = _stats(ours_lat, ours_wall), _stats(bare_lat, bare_wall)
            return {
                "engine": "postgresql",
                "clients": CLIENTS,
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
