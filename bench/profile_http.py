"""Where the API's time goes, per request: the ASGI app driven in-process, profiled with yappi.

    .venv/bin/python -m bench.profile_http                          # GET /api/v1/whoami on PostgreSQL
    .venv/bin/python -m bench.profile_http --what approve -n 300    # POST …/approve of 10-line lists
    .venv/bin/python -m bench.profile_http --what gate -n 300       # POST /api/v1/gate/cross
    .venv/bin/python -m bench.profile_http --engine sqlite --sort ttot --limit 60

No HTTP server and no client: requests go straight into the app (its middleware, routing,
dependencies, thread pool and database), one after another, so the profile shows the app's own
cost. yappi follows the event loop and the thread-pool threads together (cProfile sees only the
thread that started it); the CPU clock leaves out time spent waiting for the database. Before the
profiled run, the same number of requests is timed without the profiler (wall and CPU ms per
request). Not a benchmark: the profiler slows everything; compare the shares, not the totals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
import yappi

from bench import common, gate_decisions
from bondedzone.entrypoints import logs
from bondedzone.entrypoints.api.app import create_app
from bondedzone.services import tokens

Call = Callable[[int], Coroutine[Any, Any, int]]


def _asgi_caller(
    app: Any, token: str, method: str, path_of: Callable[[int], str], body_of: Callable[[int], bytes] | None = None
) -> Call:
    async def call(n: int) -> int:
        path = path_of(n)
        body = body_of(n) if body_of else b""
        headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
        if method == "POST":
            headers.append((b"idempotency-key", uuid.uuid4().hex.encode()))
        if body:
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    return call


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def _drive(app: Any, call: Call, n: int, offset: int) -> None:
    async with app.router.lifespan_context(app):
        for i in range(min(n, 20)):  # warm the pool, the caches and the prepared statements
            await call(offset + i)
        offset += min(n, 20)
        wall, cpu = time.perf_counter(), _cpu()
        statuses = [await call(offset + i) for i in range(n)]
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        print(f"unprofiled: {n} requests, {wall / n * 1000:.3f} ms wall and {cpu / n * 1000:.3f} ms CPU per request")
        if any(s >= 400 for s in statuses):
            raise SystemExit(f"unexpected answers: {sorted(set(statuses))}")
        yappi.set_clock_type("cpu")
        yappi.start()
        for i in range(n):
            await call(offset + n + i)
        yappi.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile_http", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--what", choices=["whoami", "approve", "gate"], default="whoami")
    ap.add_argument("-n", "--requests", type=int, default=500, help="requests timed, then as many profiled")
    ap.add_argument("--sort", choices=["tsub", "ttot", "ncall"], default="tsub", help="own time, with callees, or calls")
    ap.add_argument("--limit", type=int, default=40)
    args = ap.parse_args(argv)
    if args.engine == "postgresql" and (problem := common.pg_problem()):
        raise SystemExit(f"PostgreSQL unreachable at {common.PG_URL}: {problem}")
    n = args.requests
    # The request log is part of every request's cost: rendered as in production, written nowhere.
    logs.configure("INFO", "console")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(open(os.devnull, "w")))  # noqa: SIM115
    with common.database(args.engine) as url:
        c = common.container(url)
        try:
            (book,) = common.setup_zone(c, [200])
            with c.uow() as uow:
                token = tokens.create_token(uow, "gate" if args.what == "gate" else "customs", None, "profile")
                uow.commit()
            app = create_app(c)
            if args.what == "approve":
                specs = [common.spread_spec(10, 200, offset=k * 7) for k in range(2 * n + 20)]
                ids = common.declare_lists(c, book, specs, prefix="P", per_tx=100)
                call = _asgi_caller(app, token, "POST", lambda i: f"/api/v1/invts/{ids[i]}/approve")
            elif args.what == "gate":
                plan = gate_decisions._setup(c, book, 2 * n + 20)

                def cross(i: int) -> bytes:
                    v = plan[i]
                    msg = {"gateId": "G01", "lane": "declared", "vehicleNo": v["vehicleNo"]}
                    return json.dumps(msg | {"passportNo": v["passportNo"], "grossWt": v["grossWt"]}).encode()

                call = _asgi_caller(app, token, "POST", lambda _i: "/api/v1/gate/cross", cross)
            else:
                call = _asgi_caller(app, token, "GET", lambda _i: "/api/v1/whoami")
            asyncio.run(_drive(app, call, n, 0))
        finally:
            c.engine.dispose()
    stats = yappi.get_func_stats()
    stats.sort(args.sort, "desc")
    print(f"profiled: {n} requests, CPU clock, all threads, top {args.limit} by {args.sort}")
    stats.print_all(columns={0: ("name", 90), 1: ("ncall", 10), 2: ("tsub", 8), 3: ("ttot", 8), 4: ("tavg", 8)}, limit=args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
