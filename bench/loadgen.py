"""A lean HTTP/1.1 load generator: raw asyncio streams, keep-alive, pre-rendered requests, in its own process.

A Python client built on a full HTTP library (httpx, requests) spends more CPU per request than a
small server endpoint does, and on a 2-core machine it takes that CPU from the server it measures.
This one does almost nothing per request: the request bytes are rendered before the clock starts,
and a response is read as a status line, headers (``Content-Length`` or ``chunked``) and a body.
It runs in a separate process (a fresh interpreter) with one event loop (uvloop when installed), so its CPU
use is bounded by one core and reported (``client_cpu``: CPU seconds ÷ wall seconds).

    from bench import loadgen

    def approve(conn: int, n: int) -> loadgen.Request:   # one distinct request per (connection, n)
        invt_id = ids[n * CONNECTIONS + conn]
        return loadgen.Request("POST", f"/api/v1/invts/{invt_id}/approve", {"Idempotency-Key": f"k-{invt_id}"})

    result = loadgen.run("127.0.0.1", 8000, connections=16, requests=100, make_request=approve,
                         headers={"Authorization": "Bearer bz_…"})
    result.summary()   # requests, p50_ms, p99_ms, mean_ms, req_per_s, statuses, errors, client_cpu, …

``make_request(conn, n)`` is called in the calling process, before the load starts, for
``n = 0 … requests-1`` of each connection (returning ``None`` ends that connection's sequence), so
it may be any callable. Every connection opens (and sends ``warmup`` if given) before the clock
starts; then each sends its requests one after another, waiting for each answer (closed loop, no
pipelining). The latency of a request runs from writing it to reading the last byte of its answer.
A connection that the server closes is reopened (counted in ``reconnects``); a transport error
counts as status 0. ``max_seconds`` bounds the run: connections stop sending when it has passed.

Command line (ad-hoc runs)::

    python -m bench.loadgen http://127.0.0.1:8000/api/v1/whoami -c 16 -n 500 -H "Authorization: Bearer bz_…"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_FAILURE_SAMPLES = 5


@dataclass(frozen=True)
class Request:
    """One request; rendered to bytes once, before the clock starts."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def render(self, host: str, common: Mapping[str, str] | None = None) -> bytes:
        """The HTTP/1.1 request bytes (``Host``, ``Content-Length`` added; ``common`` headers first)."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        merged = {**(common or {}), **self.headers}
        lines += [f"{k}: {v}" for k, v in merged.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


MakeRequest = Callable[[int, int], "Request | bytes | None"]


@dataclass
class Result:
    """What one run measured; :meth:`summary` gives the figures."""

    latencies_ms: list[float]
    statuses: list[int]
    wall_s: float
    client_cpu_s: float
    connections: int
    reconnects: int = 0
    failures: list[str] = field(default_factory=list)  # the first few non-2xx answers, abridged

    def summary(self) -> dict[str, Any]:
        """requests, p50/p99/mean latency (ms), req/s, status counts, errors, client CPU share."""
        lat = self.latencies_ms
        n = len(lat)
        counts = Counter(self.statuses)
        return {
            "requests": n,
            "p50_ms": round(percentile(lat, 50), 2) if n else None,
            "p99_ms": round(percentile(lat, 99), 2) if n else None,
            "mean_ms": round(sum(lat) / n, 2) if n else None,
            "req_per_s": round(n / self.wall_s, 1) if self.wall_s > 0 else None,
            "statuses": {str(k): counts[k] for k in sorted(counts)},
            "errors": counts.get(0, 0),
            "connections": self.connections,
            "reconnects": self.reconnects,
            "wall_s": round(self.wall_s, 3),
            "client_cpu": round(self.client_cpu_s / self.wall_s, 3) if self.wall_s > 0 else None,
        }

    def ok(self, status: int = 200) -> bool:
        """Every request answered ``status``."""
        return bool(self.statuses) and all(s == status for s in self.statuses)

    @staticmethod
    def merge(results: Sequence[Result]) -> Result:
        """Several phases as one: latencies and statuses pooled, wall and CPU times added."""
        return Result(
            latencies_ms=[x for r in results for x in r.latencies_ms],
            statuses=[x for r in results for x in r.statuses],
            wall_s=sum(r.wall_s for r in results),
            client_cpu_s=sum(r.client_cpu_s for r in results),
            connections=max((r.connections for r in results), default=0),
            reconnects=sum(r.reconnects for r in results),
            failures=[x for r in results for x in r.failures][:_FAILURE_SAMPLES],
        )


def percentile(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100), as in :func:`bench.common.percentile`."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def run(
    host: str,
    port: int,
    *,
    connections: int,
    requests: int,
    make_request: MakeRequest,
    headers: Mapping[str, str] | None = None,
    warmup: Request | None = None,
    max_seconds: float = 120.0,
    timeout: float = 60.0,
    cpu: int | None = None,
) -> Result:
    """Run ``connections`` keep-alive connections of up to ``requests`` requests each, in a child process.

    ``headers`` are sent with every request (e.g. ``Authorization``). ``cpu`` pins the client
    process to that CPU. Blocks until the child is done; raises if it failed.
    """
    if connections < 1 or requests < 0:
        raise ValueError("connections must be ≥ 1 and requests ≥ 0")
    hostname = f"{host}:{port}"
    plans: list[list[bytes]] = []
    for conn in range(connections):
        plan: list[bytes] = []
        for n in range(requests):
            req = make_request(conn, n)
            if req is None:
                break
            plan.append(req if isinstance(req, bytes) else req.render(hostname, headers))
        plans.append(plan)
    warm = warmup.render(hostname, headers) if warmup is not None else None
    job = pickle.dumps((host, port, plans, warm, max_seconds, timeout, cpu))
    # A fresh interpreter running this file: it inherits none of the caller's threads, pools or
    # locks, imports only the standard library (and uvloop), and never re-runs the caller's main.
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child"],
        input=job,
        capture_output=True,
        timeout=max_seconds + timeout + 60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator exited with {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return Result(**pickle.loads(proc.stdout))


# --- the child process -------------------------------------------------------------------------


def _child() -> None:
    host, port, plans, warmup, max_seconds, timeout, cpu = pickle.loads(sys.stdin.buffer.read())
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(_drive(host, port, plans, warmup, max_seconds, timeout))
    sys.stdout.buffer.write(pickle.dumps(asdict(result)))
    sys.stdout.buffer.flush()


class _Conn:
    """One keep-alive connection that reopens itself when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Write ``request`` and read its answer: (status, body); reopens first if closed."""
        if self.writer is None:
            await self.open()
            self.reconnects += 1
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        status, body, keep = await _read_response(self.reader)
        if not keep:
            self.close()
        return status, body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one response; Content-Length or chunked bodies."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    keep = b"\r\nconnection: close" not in lower and not head.startswith(b"HTTP/1.0")
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        return status, await reader.readexactly(int(lower[at + 17 : end])), keep
    if b"\r\ntransfer-encoding: chunked" in lower:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return status, b"".join(parts), keep
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", keep
    return status, await reader.read(), False  # body ends when the server closes


async def _drive(
    host: str, port: int, plans: list[list[bytes]], warmup: bytes | None, max_seconds: float, timeout: float
) -> Result:
    conns = [_Conn(host, port) for _ in plans]
    await asyncio.gather(*(c.open() for c in conns))
    if warmup is not None:

        async def warm(c: _Conn) -> None:
            async with asyncio.timeout(timeout):
                await c.send(warmup)

        await asyncio.gather(*(warm(c) for c in conns))
    for c in conns:
        c.reconnects = 0
    latencies: list[float] = []
    statuses: list[int] = []
    failures: list[str] = []
    clock = time.perf_counter
    cpu0 = _cpu()
    start = clock()
    stop_at = start + max_seconds

    async def one(conn: _Conn, plan: list[bytes]) -> None:
        add_lat, add_status = latencies.append, statuses.append
        for request in plan:
            t0 = clock()
            if t0 > stop_at:
                return
            try:
                async with asyncio.timeout(timeout):
                    status, body = await conn.send(request)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as e:
                conn.close()
                status, body = 0, f"{type(e).__name__}: {e}".encode()
            add_lat((clock() - t0) * 1000)
            add_status(status)
            if not 200 <= status < 300 and len(failures) < _FAILURE_SAMPLES:
                first = request.split(b"\r\n", 1)[0].decode("latin-1")
                failures.append(f"{first} -> {status} {body[:300].decode('utf-8', 'replace')}")

    await asyncio.gather(*(one(c, p) for c, p in zip(conns, plans, strict=True)))
    wall = clock() - start
    cpu = _cpu() - cpu0
    for c in conns:
        c.close()
    return Result(latencies, statuses, wall, cpu, len(conns), sum(c.reconnects for c in conns), failures)


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("url", help="http://host:port/path")
    ap.add_argument("-c", "--connections", type=int, default=16)
    ap.add_argument("-n", "--requests", type=int, default=200, help="requests per connection")
    ap.add_argument("-X", "--method", default="GET")
    ap.add_argument("-H", "--header", action="append", default=[], help="'Name: value' (repeatable)")
    ap.add_argument("-d", "--data", default="", help="request body")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    args = ap.parse_args(argv)
    u = urlsplit(args.url)
    if u.scheme != "http" or not u.hostname:
        ap.error("only http://host[:port]/path URLs")
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    if args.data and "content-type" not in {k.lower() for k in headers}:
        headers["Content-Type"] = "application/json"
    req = Request(args.method.upper(), (u.path or "/") + (f"?{u.query}" if u.query else ""), headers, args.data.encode())
    res = run(
        u.hostname,
        u.port or 80,
        connections=args.connections,
        requests=args.requests,
        make_request=lambda _c, _n: req,
        max_seconds=args.max_seconds,
    )
    print(json.dumps({**res.summary(), "failures": res.failures}, indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        _child()
    else:
        sys.exit(main())
