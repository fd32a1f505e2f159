"""Reliability under kill -9: nothing acknowledged is lost or posted twice (PRODUCT.md, L2, L3, L4).

A real server process (``python -m bondedzone.entrypoints.cli.main serve``) runs on a fresh database.
Client threads approve declared inventory lists over HTTP, each approval with its own
``Idempotency-Key``. At a random moment the test sends SIGKILL to the server's whole process group,
restarts it, waits until it answers, and resends every approval that was not acknowledged with the
same key. At the end:

* every acknowledged approval is in the ledger exactly once: the list is approved, it has one
  "approved" state change and one posting per line, and the answer the client got matches it;
* no list the client was never told was approved is approved, refused lists posted nothing;
* every balance equals the sum of its postings and never went below zero along the chain;
* ``bondedzone audit verify`` says OK.

At least 20 crashes per engine normally; with ``BZ_SOAK=1`` (``make soak``) 1,000 on PostgreSQL, where
durability is proven, and 200 on SQLite. ``BZ_CRASHES`` overrides both. The counts are printed in
the "crash recovery" section of the pytest summary.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.config import Settings
from bondedzone.services import invts
from tests import factories as f
from tests.conftest import drop_pg_schema, make_pg_schema

SOAK = os.environ.get("BZ_SOAK") == "1"
OVERRIDE = int(os.environ["BZ_CRASHES"]) if os.environ.get("BZ_CRASHES") else None
MIN_CRASHES = {"postgresql": 1000 if SOAK else 20, "sqlite": 200 if SOAK else 20}
CLIENTS = 4  # concurrent client threads, so that a kill usually lands on requests in flight
MAX_KILL_DELAY = 0.4  # seconds of traffic after readiness before the kill
REFILL = 150  # declared lists kept ready for the client
READY_TIMEOUT = 60.0
REQUEST_TIMEOUT = 20.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``bondedzone serve`` process at a time, in its own process group so kill -9 takes all of it."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "BONDEDZONE_DATABASE_URL": database_url,
            "BONDEDZONE_LOAD_DEMO": "false",
            "BONDEDZONE_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, token: str) -> None:
        assert self.proc is None
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts + 1}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bondedzone.entrypoints.cli.main",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(base_url=self.base, timeout=2.0) as client:
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"server exited with {self.proc.returncode} on start {self.starts}:\n{self.log_tail()}")
                try:
                    r = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
                    if r.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"server not ready after {READY_TIMEOUT}s on start {self.starts}:\n{self.log_tail()}")
                time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the whole process group and reap it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


@dataclass
class Ledger:
    """What the client knows: lists it may approve, what it sent, what it was told."""

    lines: dict[int, tuple[str, list[tuple[int, str]]]] = field(default_factory=dict)  # id -> (I/E, lines)
    keys: dict[int, str] = field(default_factory=dict)
    sent: set[int] = field(default_factory=set)
    acked: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # id -> (HTTP status, body)
    counts: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pending(self) -> list[int]:
        return sorted(self.sent - self.acked.keys())

    def fresh(self) -> list[int]:
        return [i for i in self.lines if i not in self.sent]


def _seed_lists(c: bootstrap.Container, zone: f.Zone, ledger: Ledger, rnd: random.Random, n: int) -> None:
    """Declared lists straight through the services, in one transaction: three E lists to one I list."""
    start = len(ledger.lines)
    with c.uow() as uow:
        for k in range(start, start + n):
            mark = "I" if k % 4 == 3 else "E"
            chosen = rnd.sample([1, 2, 3], rnd.randint(1, 3))
            spec = [(item, str(rnd.randint(1, 6)) + rnd.choice(["", ".5"])) for item in chosen]
            cmd = invts.CreateInvt(
                etps_inner_invt_no=f"CR{k:06d}",
                putrec_no=f.OWNER_BOOK,
                impexp_markcd=mark,
                supv_modecd="5034",
                flow="first_line",
                lines=f.lines(*spec),
            )
            invt_id = invts.create_invt(uow, zone.owner, cmd).id
            invts.declare_invt(uow, zone.owner, invt_id)
            ledger.lines[invt_id] = (mark, spec)
            ledger.keys[invt_id] = f"approve-{invt_id}-{rnd.getrandbits(64):016x}"
        uow.commit()


def _client(server: Server, token: str, ledger: Ledger, work: SimpleQueue[int], stop: threading.Event) -> None:
    """Approve lists from ``work`` until it is empty or ``stop`` is set; record what was acknowledged."""
    with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT, headers={"Authorization": f"Bearer {token}"}) as client:
        while not stop.is_set():
            try:
                invt_id = work.get_nowait()
            except Empty:
                return
            with ledger.lock:
                retry = invt_id in ledger.sent
                ledger.sent.add(invt_id)
                ledger.counts["requests"] += 1
                ledger.counts["retried"] += retry
            try:
                r = client.post(f"/api/v1/invts/{invt_id}/approve", headers={"Idempotency-Key": ledger.keys[invt_id]})
            except httpx.TransportError as exc:
                with ledger.lock:
                    # ConnectError: never delivered; anything else: the kill cut a request in flight
                    ledger.counts["not_delivered" if isinstance(exc, httpx.ConnectError) else "cut_in_flight"] += 1
                continue
            body = r.json()
            with ledger.lock:
                ledger.acked[invt_id] = (r.status_code, body)
                ledger.counts["acknowledged"] += 1
                if r.status_code == 200 and body.get("status") == "approved" and body.get("id") == invt_id:
                    ledger.counts["approved"] += 1
                elif r.status_code == 409 and body.get("code") == "BZ-LEDGER-NEGATIVE":
                    ledger.counts["refused_overdraw"] += 1
                else:
                    ledger.unexpected.append(f"list {invt_id} (retry={retry}): {r.status_code} {body}")


def _run_clients(server: Server, token: str, ledger: Ledger, ids: list[int], stop: threading.Event) -> list[threading.Thread]:
    work: SimpleQueue[int] = SimpleQueue()
    for i in ids:
        work.put(i)
    threads = [
        threading.Thread(target=_client, args=(server, token, ledger, work, stop), daemon=True, name=f"bz-client-{n}")
        for n in range(CLIENTS)
    ]
    for th in threads:
        th.start()
    return threads


def _statuses(c: bootstrap.Container, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    with c.engine.connect() as conn:
        return {int(i): s for i, s in conn.execute(select(t.invts.c.id, t.invts.c.status).where(t.invts.c.id.in_(ids)))}


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.pg), "sqlite"])
def crash_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(engine name, URL) of a fresh, migrated database that no other test touches."""
    if request.param == "postgresql":
        schema, url = make_pg_schema("crash")
        try:
            yield "postgresql", url
        finally:
            drop_pg_schema(schema)
    else:
        url = f"sqlite:///{tmp_path / 'crash.db'}"
        bootstrap.migrate(url)
        yield "sqlite", url


def test_kill_9_during_approvals_loses_nothing_acknowledged(
    crash_db: tuple[str, str], tmp_path: Path, report_counts: Callable[[str, dict[str, int]], None]
) -> None:
    engine_name, url = crash_db
    min_crashes = OVERRIDE if OVERRIDE is not None else MIN_CRASHES[engine_name]
    rnd = random.Random(int(os.environ.get("BZ_CRASH_SEED", "9")))
    c = bootstrap.build(Settings(database_url=url, load_demo=False, pool_size=2))
    server = Server(url, tmp_path / "server.log")
    ledger = Ledger()
    started = time.monotonic()
    try:
        zone = f.make_zone(c, items=3)  # enterprises, books, items and a customs token (services.tokens)
        token = zone.tokens["customs"]
        f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "60"), (2, "60"), (3, "60")], inner="CR-OPEN"))
        _seed_lists(c, zone, ledger, rnd, REFILL * 2)

        crashes = 0
        while crashes < min_crashes:
            if len(ledger.fresh()) < REFILL:
                _seed_lists(c, zone, ledger, rnd, REFILL)  # the server is down: straight through the services
            server.start(token)
            retries = ledger.pending
            # Approvals that committed but whose answer the kill swallowed: the retry must replay the answer.
            committed = [i for i, s in _statuses(c, retries).items() if s == "approved"]
            ledger.counts["committed_unacknowledged"] += len(committed)
            stop = threading.Event()
            threads = _run_clients(server, token, ledger, retries + ledger.fresh()[:REFILL], stop)
            time.sleep(rnd.uniform(0, MAX_KILL_DELAY))
            stop.set()  # no new requests; those in flight are cut by the kill
            before = ledger.counts["cut_in_flight"]
            server.kill()
            crashes += 1
            for th in threads:
                th.join(timeout=REQUEST_TIMEOUT + 10)
                assert not th.is_alive(), "a client thread hung after the kill"
            ledger.counts["kills_cutting_requests"] += ledger.counts["cut_in_flight"] > before

        # Last run: no kill; every request still unacknowledged is retried with its key until answered.
        server.start(token)
        committed = [i for i, s in _statuses(c, ledger.pending).items() if s == "approved"]
        ledger.counts["committed_unacknowledged"] += len(committed)
        threads = _run_clients(server, token, ledger, ledger.pending, threading.Event())
        for th in threads:
            th.join(timeout=120)
            assert not th.is_alive(), "a client thread hung on the final retries"
        server.kill()
        assert not ledger.pending, f"still unacknowledged without any crash: {ledger.pending[:10]}"

        counts = {"crashes": crashes, "server_starts": server.starts, **ledger.counts}
        counts["seconds"] = round(time.monotonic() - started)
        report_counts(f"crash recovery on {engine_name}", counts)

        assert crashes >= min_crashes
        unexpected = ledger.unexpected
        assert not unexpected, unexpected[:5]
        # The kills did land on requests in flight (else this test proves nothing about recovery).
        assert ledger.counts["kills_cutting_requests"] > 0 and ledger.counts["retried"] > 0, counts
        _verify_store(c, ledger)
        _verify_audit_cli(url)
    finally:
        server.kill()
        c.engine.dispose()


def _verify_store(c: bootstrap.Container, ledger: Ledger) -> None:
    p, e, inv = t.postings.c, t.doc_events.c, t.invts.c
    with c.engine.connect() as conn:
        status = {int(i): (s, int(ver)) for i, s, ver in conn.execute(select(inv.id, inv.status, inv.version))}
        postings: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
        for doc_id, line, leg, item, delta in conn.execute(
            select(p.doc_id, p.doc_line, p.leg, p.putrec_seqno, p.delta).where(p.doc_type == "invt")
        ):
            postings[int(doc_id)].append((int(line), int(leg), int(item), int(delta)))
        approvals = Counter(
            int(d) for (d,) in conn.execute(select(e.doc_id).where(e.doc_type == "invt", e.to_status == "approved"))
        )
        twice = conn.execute(
            select(p.doc_type, p.doc_id, p.doc_line, p.leg)
            .group_by(p.doc_type, p.doc_id, p.doc_line, p.leg)
            .having(func.count() > 1)
        ).all()
        running: dict[tuple[int, int, str], int] = defaultdict(int)
        for book_id, seq, item, st, delta in conn.execute(
            select(p.book_id, p.chain_seq, p.putrec_seqno, p.stock_status, p.delta).order_by(p.book_id, p.chain_seq)
        ):
            running[(book_id, item, st)] += delta
            assert running[(book_id, item, st)] >= 0, f"balance below zero at chain seq {seq} of book {book_id}"
        balances = {
            (int(b), int(i), s): int(q)
            for b, i, s, q in conn.execute(
                select(
                    t.stock_balances.c.book_id,
                    t.stock_balances.c.putrec_seqno,
                    t.stock_balances.c.stock_status,
                    t.stock_balances.c.quantity,
                )
            )
        }
    assert not twice, f"lines posted twice: {twice[:5]}"
    assert {k: q for k, q in balances.items() if q} == {k: q for k, q in running.items() if q}

    approved_ok = {i for i, (code, _) in ledger.acked.items() if code == 200}
    for invt_id, (mark, spec) in ledger.lines.items():
        st, version = status[invt_id]
        if invt_id in approved_ok:
            body = ledger.acked[invt_id][1]
            assert st == "approved" and body["status"] == "approved" and body["version"] == version, (invt_id, st, body)
            sign = 1 if mark == "I" else -1
            want = sorted((n, 0, item, sign * int(Decimal(q) * 100_000)) for n, (item, q) in enumerate(spec, start=1))
            assert sorted(postings[invt_id]) == want, (invt_id, postings[invt_id])
            assert approvals[invt_id] == 1, (invt_id, approvals[invt_id])
        else:
            # refused with BZ-LEDGER-NEGATIVE, or never sent: declared, nothing posted, never approved
            assert st == "declared", (invt_id, st, ledger.acked.get(invt_id))
            assert invt_id not in postings and approvals[invt_id] == 0
    opening = [i for i in postings if i not in ledger.lines]
    assert len(opening) == 1  # the opening-stock list approved before the server first started


def _verify_audit_cli(url: str) -> None:
    env = {**os.environ, "BONDEDZONE_DATABASE_URL": url, "BONDEDZONE_LOAD_DEMO": "false"}
    r = subprocess.run(
        [sys.executable, "-m", "bondedzone.entrypoints.cli.main", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
