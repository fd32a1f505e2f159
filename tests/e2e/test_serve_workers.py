"""``bondedzone serve`` with BONDEDZONE_WORKERS=2: two uvicorn worker processes share the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from bench import loadgen

from bondedzone import bootstrap
from bondedzone.config import Settings
from bondedzone.services import tokens


def _workers(pid: int) -> int | None:
    """How many worker processes ``pid`` has started (multiprocessing's spawn), or None without /proc."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return sum(b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes() for p in children if Path(f"/proc/{p}").exists())


def test_two_workers_answer_and_stop_with_the_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bz.db'}"
    bootstrap.migrate(url)
    c = bootstrap.build(Settings(database_url=url, load_demo=False))
    with c.uow() as uow:
        token = tokens.create_token(uow, "auditor", None, "workers")
        uow.commit()
    c.engine.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BONDEDZONE_DATABASE_URL": url, "BONDEDZONE_LOAD_DEMO": "false", "BONDEDZONE_WORKERS": "2"}
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bondedzone.entrypoints.cli.main", "serve", "--port", str(port)],
            env={**env, "BONDEDZONE_LOG_LEVEL": "WARNING"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/whoami", timeout=1).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.05)
        whoami = loadgen.Request("GET", "/api/v1/whoami")
        res = loadgen.run(
            "127.0.0.1",
            port,
            connections=4,
            requests=10,
            make_request=lambda c, n: whoami,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert res.ok(), res.failures
        assert _workers(proc.pid) in (None, 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
