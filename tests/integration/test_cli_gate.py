"""``bondedzone gate …`` against a real server, on both engines (M4, M6, M7, G1).

A uvicorn server runs in a thread over a fresh database holding the demo zone, exactly as
``make run`` serves it; the CLI talks to it over HTTP. The simulator's day must add up (every
vehicle passed or held, every crossing left the gate, the documents that completed are exactly
those whose vehicles all passed) and every deliberate case must be caught by its rule. The
simulator creates its own tokens in the database, as a user running it next to the server would.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.config import Settings
from bondedzone.entrypoints.api.app import create_app
from bondedzone.entrypoints.cli import demo, gate_sim
from bondedzone.entrypoints.cli.main import app
from bondedzone.services import audit, tokens
from bondedzone.services.authz import Principal, Role

runner = CliRunner()
SEED, VEHICLES = 11, 24
DEMO_OWNER = demo.ENTERPRISES[0][0]  # owns T5301W000001


@dataclass
class Server:
    url: str
    database_url: str
    container: bootstrap.Container


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(db_url: str) -> Iterator[Server]:
    """The API on the demo zone, served over HTTP from a thread, as `bondedzone serve` does."""
    # Pinned, whatever the environment says: a 2 % weight tolerance, and a spot-check rate that
    # always selects the dishonest enterprise's vehicles in the non-declared lane (0.2 × 5).
    policy = {"gate_weight_tolerance": Decimal("0.02"), "gate_spot_check_rate": Decimal("0.2")}
    c = bootstrap.build(Settings(database_url=db_url, load_demo=False, **policy))
    demo.load(c.uow)
    port = _free_port()
    config = uvicorn.Config(create_app(c), host="127.0.0.1", port=port, log_level="warning", access_log=False, ws="none")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", db_url, c)
    finally:
        srv.should_exit = True
        thread.join(timeout=20)
        c.engine.dispose()


def run(*args: str) -> tuple[int, str]:
    result: Result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _count(c: bootstrap.Container, table: t.Table, *where: object) -> int:
    with c.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def test_a_simulated_day_adds_up_and_every_deliberate_case_is_caught(server: Server, tmp_path: Path) -> None:
    report_file = tmp_path / "day.json"
    code, out = run(
        "gate",
        "simulate",
        "--vehicles",
        str(VEHICLES),
        "--seed",
        str(SEED),
        "--url",
        server.url,
        "--database-url",
        server.database_url,
        "--report",
        str(report_file),
    )
    assert code == 0, out
    assert "a day at the gate" in out and "deliberate cases" in out and "✗" not in out
    r = json.loads(report_file.read_text(encoding="utf-8"))
    outcomes = r["outcomes"]

    # Every vehicle is counted once: passed or held; holds by rule add up to the vehicles held.
    assert r["vehicles"] == len(outcomes) == VEHICLES == r["passed"] + r["held"]
    assert Counter(o["decision"] for o in outcomes) == {"pass": r["passed"], "hold": r["held"]}
    assert r["heldByRule"] == dict(Counter(rule for o in outcomes if o["decision"] == "hold" for rule in o["heldBy"]))
    assert sum(r["heldByRule"].values()) >= r["held"]
    # A spot check only stops a vehicle nothing else holds; customs inspects and releases each (M4).
    # Seed 11 sends three empty vehicles of the dishonest enterprise through the non-declared lane.
    assert r["spotChecks"] == r["releasedAfterInspection"] == sum(o["released"] for o in outcomes) >= 3
    assert "M4-SPOT-CHECK" not in r["heldByRule"]

    # The deliberate cases (G1, M4, M7), each caught by exactly its rule; hazchem let through and shared.
    cases = {o["deliberate"]: o for o in outcomes if o["deliberate"]}
    assert set(cases) == set(gate_sim.DELIBERATE)
    for case, rule in gate_sim.DELIBERATE.items():
        if rule is None:
            assert cases[case]["decision"] == "pass", cases[case]
        else:
            assert (cases[case]["decision"], cases[case]["heldBy"]) == ("hold", [rule]), cases[case]
    assert all(d["ok"] for d in r["deliberate"]) and r["ok"]
    assert r["hazchemRecords"] >= 1
    c = server.container
    assert _count(c, t.hazchem_records) == r["hazchemRecords"]  # M4: the feed holds what entered

    # Every vehicle left the gate, with every event recorded (G1).
    assert _count(c, t.gate_crossings) == VEHICLES
    assert _count(c, t.gate_crossings, t.gate_crossings.c.status == "left") == VEHICLES
    for kind in ("arrive", "decide", "leave"):
        assert _count(c, t.gate_events, t.gate_events.c.kind == kind) == VEHICLES, kind

    # Documents (M6, M7): complete exactly when every vehicle carrying them passed — except the
    # late truck of the split declaration, which never fitted.
    day = gate_sim.plan(SEED, VEHICLES)
    decision = {o["n"]: o["decision"] for o in outcomes}
    carriers: dict[str, list[int]] = {}
    for v in day.vehicles:
        for key, _ in v.docs:
            if v.deliberate != "over_delivery":
                carriers.setdefault(key, []).append(v.n)
    expected = sum(all(decision[n] == "pass" for n in ns) for ns in carriers.values())
    assert r["documentsBound"] == len(day.docs) and r["documentsCompleted"] == expected
    assert 0 < r["decisionLatencyMs"]["p50"] <= r["decisionLatencyMs"]["p99"]

    # The gate posts nothing to the ledger; what the simulator's lists posted still verifies (L3).
    with c.uow(write=False) as uow:
        assert audit.verify_all(uow, Principal(Role.AUDITOR, None, "test:auditor")).ok


def test_the_same_seed_gives_the_same_day() -> None:
    day = gate_sim.plan(SEED, VEHICLES)
    assert day == gate_sim.plan(SEED, VEHICLES)
    assert day != gate_sim.plan(SEED + 1, VEHICLES)
    assert len(day.vehicles) == VEHICLES and [v.n for v in day.vehicles] == list(range(1, VEHICLES + 1))
    assert Counter(v.deliberate for v in day.vehicles if v.deliberate) == dict.fromkeys(gate_sim.DELIBERATE, 1)
    assert day.vehicles[-1].deliberate == "over_delivery"  # after the trucks that empty its declaration
    kinds = {v.kind for v in day.vehicles}
    assert {"one_doc", "many_docs", "split", "empty", "office_supplies", "labour_protection", "hazardous_chemicals"} <= kinds
    assert len({v.plate for v in day.vehicles}) == VEHICLES
    assert {d.kind for d in day.docs} == {"invt", "summary"}  # M6: a summary declaration rides with a list
    with pytest.raises(ValueError, match="at least 14"):
        gate_sim.plan(SEED, gate_sim.MIN_VEHICLES - 1)


def _token(c: bootstrap.Container, role: str, uscc: str | None = None) -> str:
    with c.uow() as uow:
        tok = tokens.create_token(uow, role, uscc)
        uow.commit()
    return tok


def test_gate_commands_make_a_pass_cross_and_show_the_documents(server: Server, tmp_path: Path) -> None:
    c = server.container
    owner, customs, gate = _token(c, "enterprise", DEMO_OWNER), _token(c, "customs"), _token(c, "gate")
    api = ("--api", server.url)
    summary = tmp_path / "summary.json"
    summary.write_text(
        json.dumps(
            {
                "entryNo": "530120261000000042",
                "putrecNo": "T5301W000001",
                "ioTypecd": "I",
                "lines": [{"gNo": 1, "gdecd": "8471300000", "gdsNm": "笔记本电脑", "dclQty": "12", "dclUnitcd": "001"}],
            }
        ),
        encoding="utf-8",
    )
    code, out = run("gate", "summary", "create", "--file", str(summary), *api, "--token", owner)
    assert code == 0 and "awaiting release" in out, out
    code, out = run("gate", "summary", "release", "530120261000000042", *api, "--token", customs)
    assert code == 0 and "released" in out, out

    body = {
        "areainOriactNo": "T5301W000001",
        "etpsPreentNo": "CLI-M6-1",
        "passportTypecd": "2",
        "ioTypecd": "I",
        "bindTypecd": "2",
        "vehicleNo": "云A12345",
        "vehicleWt": "15000",
        "totalGrossWt": "1200",
        "docs": [{"rltTbTypecd": "4", "rltNo": "530120261000000042"}],
    }
    pass_file = tmp_path / "pass.json"
    pass_file.write_text(json.dumps(body), encoding="utf-8")
    code, out = run("gate", "pass", "create", "--file", str(pass_file), "--key", "cli-pass-1", *api, "--token", owner)
    assert code == 0 and "approved, total 16200 kg" in out, out
    passport = json.loads(out[out.index("{") :])["passportNo"]

    code, out = run(
        "gate",
        "cross",
        "--gate",
        "G01",
        "--lane",
        "declared",
        "--plate",
        "云A12345",
        "--gross",
        "16300",
        "--lang",
        "zh",
        *api,
        "--token",
        gate,
    )
    assert code == 0 and "crossing 1: pass" in out and "过磅毛重 16300 kg" in out, out
    code, out = run("gate", "event", "1", "leave", *api, "--token", gate)
    assert code == 0 and ": left" in out, out
    code, out = run("gate", "pass", "show", passport, *api, "--token", owner)
    assert code == 0 and f"gate pass {passport} — crossed" in out and "G1-WEIGHT" in out, out
    code, out = run("gate", "doc", "4", "530120261000000042", *api, "--token", owner)
    assert code == 0 and "530120261000000042 — complete" in out and "│ 12 " in out, out
    code, out = run("gate", "pass", "list", "--status", "crossed", *api, "--token", gate)
    assert code == 0 and "1 gate passes" in out and passport in out, out

    # Refusals come back with their code, in both languages, and exit 2.
    code, out = run("gate", "cross", "--gate", "G01", "--lane", "declared", "--plate", "ABC123", *api, "--token", gate)
    assert code == 2 and "BZ-PLATE-INVALID" in out and "车牌号" in out, out
    code, out = run("gate", "doc", "1", "QD530126I000999999", *api, "--token", owner)
    assert code == 2 and "BZ-PASS-DOC-NOT-FOUND" in out, out
    code, out = run("gate", "simulate", "--vehicles", "5", "--url", server.url)
    assert code == 2 and "at least 14" in out, out
