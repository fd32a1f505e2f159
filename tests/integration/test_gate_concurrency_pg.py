"""M7 under real concurrency on PostgreSQL: several gate processes, each with its own engine and pool.

* Four gates admit, at once, sixteen vehicles of the same one-doc-many-trucks declaration whose
  splits together are far above the declared quantity — half of the gates with the one-shot
  ``cross``, half step by step (arrive, weigh, decide, leave, each its own transaction). The
  remaining quantity is never overdrawn: exactly as many vehicles pass as fit, each counted once;
  every other vehicle is held by ``M7-REMAINING`` with the figures (carrying, declared, delivered,
  remaining, excess) as they stood when it was decided; no deadlock or driver error leaks out.
* Four gates read the same pass at the same moment: exactly one admits the vehicle, the others
  hold it (in use at another gate, or already used) and change nothing.

PostgreSQL only: SQLite serialises writers on the database file, so it has no races to prove.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import select

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.config import Settings
from bondedzone.domain import values as v
from bondedzone.domain.gate import Crossing, CrossingStatus
from bondedzone.domain.passes import GatePolicy, PassInput
from bondedzone.domain.rules.m4_two_lanes import SpotCheckPolicy
from bondedzone.domain.rules.m6_consolidation import DocInput, DocLineInput
from bondedzone.services import gate, invts
from bondedzone.services.authz import Principal, Role
from tests import factories as f
from tests.conftest import drop_pg_schema, make_pg_schema
from tests.integration.test_concurrency_pg import _outcome, _run_processes

pytestmark = [pytest.mark.pg, pytest.mark.slow]

GATES = 4
VEHICLES_PER_GATE = 4
GATE = Principal(Role.GATE, None, "test:gate")
POLICY = GatePolicy(spot_check=SpotCheckPolicy(base_rate=Decimal(0)))
DECLARED = {1: "100", 2: "10"}
SPLIT = {1: "15", 2: "1.5"}  # six vehicles fit (90 and 9), the seventh would need 105 and 10.5
FITTING = 6
GROSS = "5000"
READING = "21000"  # 15,000 vehicle + 1,000 frame + 5,000 goods
Reports = dict[int, list[tuple[str, Any]]]  # gate -> (passportNo, answer or error) in order


# ---- worker processes (top-level: the "spawn" context imports this module in each child) ----------------


def _summary(x: Crossing) -> dict[str, Any]:
    return {
        "id": x.id,
        "passportNo": x.passport_no,
        "status": x.status.value,
        "decision": x.outcome.value if x.outcome else None,
        "held": sorted({str(r["rule"]) for r in x.reasons if r["held"]}),
        "reasons": [dict(r) for r in x.reasons if r["held"]],
    }


def _gate_worker(url: str, numbers: list[tuple[str, str]], mode: str, barrier: Any, out: Any, proc: int) -> None:
    """Gate ``G{proc}``: let each (passportNo, plate) through, in one message or step by step."""
    results: list[tuple[str, Any]] = []
    try:
        c = bootstrap.build(Settings(database_url=url, load_demo=False, pool_size=2))
        with c.uow(write=False) as uow:  # open the pool before the start line, not after it
            uow.books.heads()
        gid = f"G{proc}"
        barrier.wait(timeout=60)
        for number, plate in numbers:
            try:
                if mode == "cross":
                    with c.uow() as uow:
                        x = gate.cross(uow, GATE, gate.Cross(gid, "declared", plate, number, READING), POLICY)
                        uow.commit()
                else:
                    with c.uow() as uow:
                        x = gate.arrive(uow, GATE, gate.Arrive(gid, "declared", plate, number))
                        uow.commit()
                    if x.status is CrossingStatus.ARRIVED:
                        with c.uow() as uow:
                            gate.weigh(uow, GATE, x.id, READING)
                            uow.commit()
                        with c.uow() as uow:
                            x = gate.decide(uow, GATE, x.id, POLICY)
                            uow.commit()
                with c.uow() as uow:
                    gate.leave(uow, GATE, x.id)
                    uow.commit()
                results.append((number, _summary(x)))
            except Exception as e:
                results.append((number, _outcome(e)))
        c.engine.dispose()
    except Exception as e:  # pragma: no cover - reported to the parent, which fails the test
        results.append(("", _outcome(e)))
    out.put((proc, results))


def _same_pass_worker(url: str, numbers: list[tuple[str, str, str]], barrier: Any, out: Any, proc: int) -> None:
    """For each pass, wait for every gate, then all arrive (or cross) with it at the same moment."""
    results: list[tuple[str, Any]] = []
    try:
        c = bootstrap.build(Settings(database_url=url, load_demo=False, pool_size=2))
        with c.uow(write=False) as uow:
            uow.books.heads()
        gid = f"G{proc}"
        for number, plate, how in numbers:
            barrier.wait(timeout=60)
            try:
                with c.uow() as uow:
                    if how == "arrive":
                        x = gate.arrive(uow, GATE, gate.Arrive(gid, "declared", plate, number))
                    else:
                        x = gate.cross(uow, GATE, gate.Cross(gid, "declared", plate, number, READING), POLICY)
                    uow.commit()
                results.append((number, _summary(x)))
            except Exception as e:
                results.append((number, _outcome(e)))
        c.engine.dispose()
    except Exception as e:  # pragma: no cover
        results.append(("", _outcome(e)))
    out.put((proc, results))


# ---- fixtures and helpers ------------------------------------------------------------------------------


@pytest.fixture
def pg_container() -> Iterator[bootstrap.Container]:
    schema, url = make_pg_schema("gateconc")
    c = bootstrap.build(Settings(database_url=url, load_demo=False))
    try:
        yield c
    finally:
        c.engine.dispose()
        drop_pg_schema(schema)


def _approved_list(c: bootstrap.Container, spec: dict[int, str], inner: str) -> str:
    invt_id = f.new_list(c, f.CUSTOMS, f.OWNER_BOOK, "I", list(spec.items()), inner=inner)
    f.approve(c, invt_id)
    with c.uow(write=False) as uow:
        no = invts.get_invt(uow, f.CUSTOMS, invt_id).bond_invt_no
    assert no is not None
    return no


def _passes(c: bootstrap.Container, zone: f.Zone, qd: str, n: int, prefix: str) -> list[tuple[str, str]]:
    """``n`` one-doc-many-trucks passes, each carrying SPLIT; each fits on its own when made."""
    made: list[tuple[str, str]] = []
    with c.uow() as uow:
        for k in range(n):
            plate = f"云A{prefix}{k:04d}"
            raw = PassInput(
                f"{prefix}-{k}",
                "2",
                "I",
                plate,
                "15000",
                GROSS,
                bind_typecd="3",
                vehicle_frame_wt="1000",
                docs=[DocInput("1", qd, [DocLineInput(seq, q) for seq, q in SPLIT.items()])],
            )
            made.append((gate.create_pass(uow, zone.owner, f.OWNER_BOOK, raw).passport_no, plate))
        uow.commit()
    return made


def _storage(c: bootstrap.Container) -> tuple[dict[int, tuple[int, int]], dict[str, str], list[Any], Counter[str]]:
    dl, p, x, e = t.gate_doc_lines.c, t.gate_passes.c, t.gate_crossings.c, t.gate_events.c
    with c.engine.connect() as conn:
        lines = {
            int(s): (int(d), int(dv)) for s, d, dv in conn.execute(select(dl.gds_seqno, dl.declared_units, dl.delivered_units))
        }
        statuses = {no: s for no, s in conn.execute(select(p.passport_no, p.status))}
        crossings = list(conn.execute(select(x.id, x.passport_no, x.status, x.outcome, x.gate_id)).all())
        kinds = Counter(k for (k,) in conn.execute(select(e.kind)))
    return lines, statuses, crossings, kinds


def _ledger(c: bootstrap.Container) -> tuple[list[Any], int]:
    with c.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(t.stock_balances))), len(conn.execute(select(t.postings)).all())


# ---- the tests ----------------------------------------------------------------------------------------


def test_gates_admitting_one_declaration_at_once_never_overdraw_it(pg_container: bootstrap.Container) -> None:
    """M7: sixteen vehicles, room for six; four gates at once; each delivery counted exactly once."""
    c = pg_container
    zone = f.make_zone(c)
    qd = _approved_list(c, DECLARED, "GC-1")
    made = _passes(c, zone, qd, GATES * VEHICLES_PER_GATE, "3")
    ledger_before = _ledger(c)
    work = [made[p::GATES] for p in range(GATES)]  # gates take vehicles in turn, so they meet on the same lines
    modes = ["cross" if p % 2 == 0 else "steps" for p in range(GATES)]
    url = c.settings.database_url
    reports = cast(Reports, _run_processes(_gate_worker, [(url, work[p], modes[p], p) for p in range(GATES)]))

    answers: dict[str, Any] = {}
    for proc, results in reports.items():
        assert [n for n, _ in results] == [n for n, _ in work[proc]], f"gate {proc} did not report every vehicle: {results[-3:]}"
        answers.update(results)
    unexpected = {n: a for n, a in answers.items() if not isinstance(a, dict)}
    assert not unexpected, unexpected

    passed = [n for n, a in answers.items() if a["decision"] == "pass"]
    held = [n for n, a in answers.items() if a["decision"] == "hold"]
    assert len(passed) == FITTING and len(held) == len(made) - FITTING, {n: a["held"] for n, a in answers.items()}
    # Every loser is held by the remaining check alone, with the figures as they stood: six vehicles through.
    for n in held:
        a = answers[n]
        assert a["held"] == ["M7-REMAINING"], (n, a["held"])
        figures = sorted((r["figures"]["rltGdsSeqno"], r["figures"]) for r in a["reasons"])
        assert [fig for _, fig in figures] == [
            {
                "rltNo": qd,
                "rltGdsSeqno": 1,
                "carrying": "15",
                "declared": "100",
                "delivered": "90",
                "remaining": "10",
                "excess": "5",
            },
            {
                "rltNo": qd,
                "rltGdsSeqno": 2,
                "carrying": "1.5",
                "declared": "10",
                "delivered": "9",
                "remaining": "1",
                "excess": "0.5",
            },
        ], (n, figures)

    lines, statuses, crossings, kinds = _storage(c)
    # Never overdrawn, and delivered is exactly the winners' quantities, each counted once.
    want = {seq: FITTING * v.to_units(Decimal(q)) for seq, q in SPLIT.items()}
    assert {s: dv for s, (_, dv) in lines.items()} == want
    assert all(dv <= d for d, dv in lines.values())
    by_outcome = Counter((no, outcome) for _, no, _, outcome, _ in crossings)
    assert {no for (no, o) in by_outcome if o == "pass"} == set(passed)
    assert all(n == 1 for (_, o), n in by_outcome.items() if o == "pass"), by_outcome
    assert len(crossings) == len(made) and all(s == "left" for _, _, s, _, _ in crossings)
    # Winners' passes are used; losers' passes are back to approved (a hold changes nothing else).
    assert {n: statuses[n] for n, _ in made} == {n: "crossed" if n in passed else "approved" for n, _ in made}
    assert kinds == Counter({"arrive": len(made), "weigh": len(made), "decide": len(made), "leave": len(made)})
    assert _ledger(c) == ledger_before, "gate events changed the ledger"
    with c.uow(write=False) as uow:
        doc = gate.gate_doc(uow, f.CUSTOMS, "1", qd)
    assert not doc.complete and [v.fmt_units(ln.remaining_units) for ln in doc.lines] == ["10", "1"]


def test_gates_reading_the_same_pass_at_once_admit_it_once(pg_container: bootstrap.Container) -> None:
    """M4/M7: a pass lets one vehicle cross once, even when four gates read it at the same moment."""
    c = pg_container
    zone = f.make_zone(c)
    qd = _approved_list(c, {1: "1000", 2: "100"}, "GC-2")
    made = _passes(c, zone, qd, 8, "5")
    rounds = [(n, plate, "arrive" if k % 2 == 0 else "cross") for k, (n, plate) in enumerate(made)]
    url = c.settings.database_url
    reports = cast(Reports, _run_processes(_same_pass_worker, [(url, rounds, p) for p in range(GATES)]))

    by_pass: dict[str, list[dict[str, Any]]] = {n: [] for n, _ in made}
    for proc, results in reports.items():
        assert [n for n, _ in results] == [n for n, _, _ in rounds], f"gate {proc}: {results[-3:]}"
        for n, a in results:
            assert isinstance(a, dict), (proc, n, a)
            by_pass[n].append(a)
    lines, statuses, crossings, kinds = _storage(c)
    for n, _plate, how in rounds:
        answers = by_pass[n]
        admitted = [a for a in answers if a["status"] in ("arrived", "passed")]
        refused = [a for a in answers if a["status"] == "held"]
        assert len(admitted) == 1 and len(refused) == GATES - 1, (n, how, answers)
        for a in refused:  # held at arrival, saying why: in use at the winner's gate, or already used
            assert a["held"] == ["PASS-VALID"], (n, a)
            (reason,) = a["reasons"]
            assert reason["en"].endswith(("is in use at gate " + str(reason["figures"].get("gateId")), "has already been used"))
        winner = admitted[0]
        if how == "arrive":
            assert statuses[n] == "in_gate"
            for a in refused:
                assert a["reasons"][0]["figures"]["crossingId"] == winner["id"]
        else:
            assert winner["decision"] == "pass" and statuses[n] == "passed"
    # Only the crossed vehicles delivered, once each.
    crossed = sum(1 for _, _, how in rounds if how == "cross")
    assert {s: dv for s, (_, dv) in lines.items()} == {seq: crossed * v.to_units(Decimal(q)) for seq, q in SPLIT.items()}
    assert len(crossings) == GATES * len(made)
    assert kinds["arrive"] == GATES * len(made) and kinds["weigh"] == crossed
