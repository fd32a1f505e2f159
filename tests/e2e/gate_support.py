"""Gate fixtures shared by the HTTP tests of the gate (this module holds no tests of its own).

Resources are made through the services (as ``tests/factories.py`` does for lists), so a test
of one route does not depend on the other routes working; the HTTP tests then exercise exactly
the route they are about. ``gate_counts`` is the "changed nothing" check that names the tables
a gate refusal could touch: every gate table, the ledger and the idempotency records.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from bondedzone.adapters.db import tables as t
from bondedzone.bootstrap import Container
from bondedzone.domain.gate import SummaryLineInput
from bondedzone.domain.passes import GatePolicy, PassInput
from bondedzone.domain.rules.m4_two_lanes import GoodsInput, SpotCheckPolicy
from bondedzone.domain.rules.m6_consolidation import DocInput, DocLineInput
from bondedzone.services import gate, invts
from bondedzone.services.authz import Principal, Role
from tests import factories as f

GATE = Principal(Role.GATE, None, "test:gate")
NEVER = GatePolicy(spot_check=SpotCheckPolicy(base_rate=Decimal(0)))
PLATE = "云A12345"
EMPTY_WT = "15000"  # the empty vehicle's weight; its pass declares 0 kg of goods

GATE_TABLES = (
    t.gate_docs,
    t.gate_doc_lines,
    t.gate_passes,
    t.gate_pass_docs,
    t.gate_pass_lines,
    t.gate_crossings,
    t.gate_events,
    t.hazchem_records,
)
LEDGER_TABLES = (t.postings, t.stock_balances, t.doc_events, t.idempotency_keys)


def gate_counts(c: Container) -> dict[str, int]:
    """Rows per gate table, ledger table and idempotency records."""
    with c.engine.connect() as conn:
        return {
            tb.name: int(conn.execute(select(func.count()).select_from(tb)).scalar_one()) for tb in GATE_TABLES + LEDGER_TABLES
        }


def approved_list(c: Container, who: Principal, book: str, spec: list[tuple[int, str]], inner: str, *, mark: str = "I") -> str:
    """A first-line list, declared by ``who`` and approved by customs; returns its bondInvtNo."""
    invt_id = f.new_list(c, who, book, mark, spec, inner=inner)
    f.approve(c, invt_id)
    with c.uow(write=False) as uow:
        no = invts.get_invt(uow, f.CUSTOMS, invt_id).bond_invt_no
    assert no is not None
    return no


def new_pass(c: Container, who: Principal, book: str, raw: PassInput) -> str:
    """A gate pass made through the service; returns its passportNo."""
    with c.uow() as uow:
        gp = gate.create_pass(uow, who, book, raw)
        uow.commit()
    return gp.passport_no


def empty_vehicle(inner: str, plate: str = PLATE, io: str = "I") -> PassInput:
    """An empty-vehicle pass (type 6): no documents, no goods, either lane."""
    return PassInput(inner, "6", io, plate, EMPTY_WT, "0")


def split(inner: str, bond_invt_no: str, qty: str, plate: str = PLATE) -> PassInput:
    """One-doc-many-trucks (bindTypecd 3): this vehicle carries ``qty`` of line 1 (M7)."""
    doc = DocInput("1", bond_invt_no, [DocLineInput(1, qty)])
    return PassInput(inner, "2", "I", plate, "15000", "10000", bind_typecd="3", vehicle_frame_wt="1000", docs=[doc])


def office_supplies(inner: str, plate: str = PLATE) -> PassInput:
    """Non-declared office supplies: no HS code, no weight comparison (M4)."""
    return PassInput(inner, "4", "I", plate, "8000", "500", goods=[GoodsInput("A4 复印纸", "office_supplies", "100", "035")])


def summary(c: Container, who: Principal, book: str, entry_no: str, *, released: bool = False, qty: str = "3") -> str:
    """A two-step summary declaration (M6), released by customs when asked."""
    with c.uow() as uow:
        gate.declare_summary(
            uow, who, gate.DeclareSummary(entry_no, book, "I", [SummaryLineInput(1, "8471300000", "服务器", qty, "001")])
        )
        if released:
            gate.release_summary(uow, f.CUSTOMS, entry_no)
        uow.commit()
    return entry_no


def crossing(c: Container, passport_no: str, state: str, *, plate: str = PLATE, gross: str = EMPTY_WT) -> int:
    """A crossing of ``passport_no`` brought to ``state``: arrived, weighed, passed or held (by weight)."""
    with c.uow() as uow:
        x = gate.arrive(uow, GATE, gate.Arrive("G01", "declared", plate, passport_no))
        if state in ("weighed", "passed", "held"):
            heavy = str(Decimal(gross) * 2) if state == "held" else gross
            x = gate.weigh(uow, GATE, x.id, heavy)
        if state in ("passed", "held"):
            x = gate.decide(uow, GATE, x.id, NEVER)
        uow.commit()
    assert x.status.value == state, (state, x.reasons)
    return x.id


def held_rules(crossing_json: dict[str, Any]) -> set[str]:
    """The rules that held a crossing, from its JSON."""
    return {r["rule"] for r in crossing_json["reasons"] if r["held"]}


def reason(crossing_json: dict[str, Any], rule: str) -> dict[str, Any]:
    """The one reason of ``rule`` in a crossing's JSON."""
    found = [r for r in crossing_json["reasons"] if r["rule"] == rule]
    assert len(found) == 1, (rule, crossing_json["reasons"])
    return found[0]
