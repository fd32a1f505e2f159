"""bench/loadgen.py against a real uvicorn server (SQLite), and its response parsing."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from bench import loadgen

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.config import Settings
from bondedzone.entrypoints.api.app import create_app
from bondedzone.entrypoints.cli.demo import make_uscc
from bondedzone.services import tokens


class Served:
    def __init__(self, container: bootstrap.Container, port: int, token: str) -> None:
        self.container, self.port, self.token = container, port, token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app under uvicorn in a thread, on a free port, over a fresh SQLite database."""
    path: Path = tmp_path_factory.mktemp("loadgen") / "bz.db"
    bootstrap.migrate(f"sqlite:///{path}")
    c = bootstrap.build(Settings(database_url=f"sqlite:///{path}", load_demo=False, log_level="WARNING"))
    with c.uow() as uow:
        token = tokens.create_token(uow, "customs", None, "loadgen")
        uow.commit()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(c), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield Served(c, port, token)
    server.should_exit = True
    thread.join(timeout=10)
    c.engine.dispose()
    shutil.rmtree(path.parent, ignore_errors=True)


def test_keep_alive_gets_with_latency_figures(served: Served) -> None:
    whoami = loadgen.Request("GET", "/api/v1/whoami")
    res = loadgen.run(
        "127.0.0.1", served.port, connections=4, requests=25, make_request=lambda c, n: whoami, headers=served.auth, warmup=whoami
    )
    s = res.summary()
    assert s["requests"] == 100 and s["statuses"] == {"200": 100} and s["errors"] == 0
    assert s["reconnects"] == 0 and res.ok()
    assert 0 < s["p50_ms"] <= s["p99_ms"] and s["mean_ms"] > 0 and s["req_per_s"] > 0
    assert 0 <= s["client_cpu"] < 2


def test_each_request_its_own_body_and_path(served: Served) -> None:
    """A distinct POST body per request (a new enterprise each), and a per-request path (404s counted)."""
    conns, per = 3, 4

    def request(conn: int, n: int) -> loadgen.Request | None:
        if n >= per:
            return None  # ends this connection's sequence
        if n == per - 1:
            return loadgen.Request("POST", f"/api/v1/invts/{900_000 + conn}/approve")  # no such list
        k = conn * per + n
        body = {
            "uscc": make_uscc(f"MA6L{k:04d}X"),
            "customsCode": f"53013{k:05d}",
            "name": f"负载企业{k}",
            "credit": "ordinary",
        }
        return loadgen.Request("POST", "/api/v1/enterprises", {"Content-Type": "application/json"}, json.dumps(body).encode())

    res = loadgen.run("127.0.0.1", served.port, connections=conns, requests=per + 5, make_request=request, headers=served.auth)
    s = res.summary()
    assert s["statuses"] == {"201": conns * (per - 1), "404": conns}, res.failures
    assert all(" -> 404 " in x and "BZ-INVT-NOT-FOUND" in x for x in res.failures)
    with served.container.engine.connect() as conn:
        assert len(conn.execute(t.enterprises.select()).all()) == conns * (per - 1)


def test_a_connection_the_server_closes_is_reopened(served: Served) -> None:
    closing = loadgen.Request("GET", "/api/v1/whoami", {"Connection": "close"})
    res = loadgen.run("127.0.0.1", served.port, connections=2, requests=3, make_request=lambda c, n: closing, headers=served.auth)
    assert res.ok() and res.summary()["reconnects"] == 4  # the first request of each uses the opened connection


def test_merge_pools_phases() -> None:
    a = loadgen.Result([1.0, 2.0], [200, 200], 1.0, 0.1, 2)
    b = loadgen.Result([3.0], [500], 0.5, 0.1, 2, failures=["x"])
    m = loadgen.Result.merge([a, b]).summary()
    assert m["requests"] == 3 and m["statuses"] == {"200": 2, "500": 1} and m["req_per_s"] == 2.0 and m["p99_ms"] == 3.0


def _parse(raw: bytes) -> tuple[int, bytes, bool]:
    async def go() -> tuple[int, bytes, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await loadgen._read_response(reader)

    return asyncio.run(go())


def test_response_parsing_content_length_chunked_and_close() -> None:
    assert _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi") == (200, b"hi", True)
    chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    assert _parse(chunked) == (201, b"abcde", True)
    assert _parse(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n") == (204, b"", False)
    assert _parse(b"HTTP/1.0 200 OK\r\n\r\nall of it") == (200, b"all of it", False)


def test_request_rendering() -> None:
    raw = loadgen.Request("POST", "/x", {"A": "1"}, b"{}").render("h:1", {"Authorization": "Bearer t", "A": "0"})
    assert raw == b"POST /x HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer t\r\nA: 1\r\nContent-Length: 2\r\n\r\n{}"
    assert b"Content-Length" not in loadgen.Request("GET", "/").render("h")
