"""Stateful property test of one-doc-many-trucks at the gate, on SQLite and PostgreSQL (M7, G1, M4).

A Hypothesis ``RuleBasedStateMachine`` delivers one approved inventory list (or one released
two-step summary declaration, M6) with a few lines by many vehicles. Its rules create gate passes
with random splits (within what remains, or above it once other vehicles have delivered), cancel
passes, and send arrive / weigh / decide / leave / release and the one-shot ``cross`` in random
and out-of-order sequences, for several vehicles of the same document interleaved, with keyed
retries of the same event (through ``services.idempotency.execute``, as the API does) and repeats
without a key (which get ``BZ-GATE-EVENT-ORDER``). A plain-Python model predicts every answer.

After every step the storage itself is read back:

* delivered per line never exceeds declared and never goes backwards (M7);
* delivered equals the sum of the quantities of the passes whose crossing was decided pass, and
  each pass is decided pass at most once (M7: a used pass never crosses again);
* a held crossing changes no delivery (checked around every event that holds);
* the document is complete exactly when delivered == declared on every line (M7);
* pass and crossing statuses equal the model's, and every crossing has exactly the events the
  model saw, in order (G1: every gate event is recorded once);
* the ledger (balances, postings, state changes) never changes through gate events.

The machine must be able to fail: planted bugs (mutants of the real code) are each caught.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import delete, select, update

from bondedzone.adapters.db import gate_repo
from bondedzone.adapters.db import tables as t
from bondedzone.adapters.db import uow as sql_uow
from bondedzone.domain import passes
from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.gate import Crossing, Finding, GatePass, Outcome, PassStatus, SummaryLineInput, weight
from bondedzone.domain.passes import GatePolicy, PassInput
from bondedzone.domain.rules import m7_multi_truck
from bondedzone.domain.rules.m4_two_lanes import SpotCheckPolicy
from bondedzone.domain.rules.m6_consolidation import DocInput, DocLineInput
from bondedzone.services import gate, idempotency, invts
from bondedzone.services.authz import Principal, Role
from bondedzone.services.ports import UnitOfWork
from tests import factories as f
from tests.conftest import drop_pg_schema, make_pg_schema
from tests.integration.test_stateful_ledger import Db, PgDb, SqliteDb
from tests.stateful_support import SOAK, Profile, hypothesis_settings

GATE = Principal(Role.GATE, None, "test:gate")
POLICY = GatePolicy(spot_check=SpotCheckPolicy(base_rate=Decimal(0)))  # the declared lane is never spot-checked anyway
TOLERANCE = POLICY.weight_tolerance
ENTRY = "530120261000000123"
PLATES = ("云A10001", "云A10002", "粤BD12345")
NO_SUCH_PASS = "Z5301I269999000000000999"
VEHICLE, FRAME = Decimal(15000), Decimal(1000)

# -- strategies -----------------------------------------------------------------------------------

DECLARED_QTY = st.sampled_from(["10", "3.5", "0.00005", "7.12345", "1", "24"])
DOC_LINES = st.lists(DECLARED_QTY, min_size=1, max_size=3)
# What a vehicle carries of a line: all or half of what remains (as the model sees it when the pass
# is made), a given figure, or one unit of 10⁻⁵ more than remains (refused when the pass is made).
SPLIT_MODE = st.sampled_from(["all", "half", "half", "given", "given", "over"])
GIVEN = st.sampled_from(["1", "2.5", "0.1", "0.00001", "4"])
SPLIT = st.lists(st.tuples(st.integers(1, 3), SPLIT_MODE, GIVEN), min_size=1, max_size=3, unique_by=lambda x: x[0])
GROSS = st.sampled_from(["2000", "5000.5"])
# The weighbridge: exact, within ±2 % (the bounds themselves included), or outside.
READING = st.sampled_from(["1", "1", "1.01", "1.02", "0.98", "1.03", "0.9"])
BAD_READING = st.sampled_from(["-1", "0", "abc", "200000.00001", "1.000001"])
KEYED = st.sampled_from([0, 1, 1, 2])
THEN = st.sampled_from(
    ["leave", "leave", "stay", "release"]
)  # after the decision  # no key, a key, a key and at once again (a lost answer)
RARELY = st.integers(0, 9).map(lambda n: n == 0)


# -- profiles -------------------------------------------------------------------------------------


CI_PROFILE = Profile(examples=24, steps=32, minimum=600)
SOAK_PROFILE = Profile(examples=200, steps=80, minimum=10_000)
PROFILE = SOAK_PROFILE if SOAK else CI_PROFILE
MUTANT_BUDGET = Profile(examples=10, steps=30, minimum=150)
MUTANT_SETTINGS = hypothesis_settings(MUTANT_BUDGET, shrink=False, suppress=(HealthCheck.filter_too_much,))


# -- the model ------------------------------------------------------------------------------------


@dataclass
class MPass:
    """What the model knows of a gate pass."""

    no: str
    plate: str
    gross: Decimal
    lines: dict[int, int]  # document line -> units this vehicle carries
    status: str = "approved"

    @property
    def expected_kg(self) -> Decimal:
        return VEHICLE + FRAME + self.gross


@dataclass
class MCrossing:
    """What the model knows of one vehicle's visit to the gate."""

    id: int
    pass_no: str | None
    status: str
    outcome: str | None
    held: frozenset[str]
    weighed: Decimal | None = None
    events: list[str] = field(default_factory=list)
    m7: list[list[Any]] = field(default_factory=list)  # (line, carrying, remaining) of each M7 hold


@dataclass(frozen=True)
class Req:
    """A request as the API would receive it; its repr is its fingerprint."""

    kind: str  # create | cancel | arrive | weigh | decide | leave | release | cross
    actor: str  # owner | gate | customs
    crossing: int = 0
    passport_no: str | None = None
    plate: str = ""
    lane: str = "declared"
    reading: str | None = None
    inner: str = ""
    gross: str = ""
    split: tuple[tuple[int, str], ...] = ()

    def fingerprint(self) -> str:
        return idempotency.fingerprint("POST", f"/{self.kind}", repr(self).encode())


@dataclass(frozen=True)
class Expect:
    """The model's prediction: a refusal code, or an answer and how it changes the model."""

    code: str | None = None
    answer: dict[str, Any] | None = None  # for crossings: status, decision, held rules, M7 figures
    apply: Callable[[dict[str, Any]], None] | None = None


def crossing_answer(x: Crossing) -> tuple[int, dict[str, Any]]:
    held = sorted({str(r["rule"]) for r in x.reasons if r["held"]})
    m7 = sorted(
        (r["figures"]["rltGdsSeqno"], r["figures"]["carrying"], r["figures"]["remaining"])
        for r in x.reasons
        if r["held"] and r["rule"] == "M7-REMAINING"
    )
    return 200, {
        "id": x.id,
        "passportNo": x.passport_no,
        "status": x.status.value,
        "decision": x.outcome.value if x.outcome else None,
        "held": held,
        "m7": [list(m) for m in m7],
    }


def pass_answer(gp: GatePass) -> tuple[int, dict[str, Any]]:
    return 201, {"passportNo": gp.passport_no, "status": gp.status.value}


def refusal_answer(e: BzError) -> tuple[int, Any]:
    errors = e.errors if isinstance(e, ErrorGroup) else [e]
    return 409, {"code": e.code, "detail": e.public_detail(), "errors": [x.code for x in errors]}


class Model:
    """The document, the passes and the crossings as the gate's rules say they must be."""

    def __init__(self, declared: dict[int, int]) -> None:
        self.declared = dict(declared)
        self.delivered = dict.fromkeys(declared, 0)
        self.passes: dict[str, MPass] = {}
        self.crossings: dict[int, MCrossing] = {}
        self.keys: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = {}

    def remaining(self, seq: int) -> int:
        return self.declared[seq] - self.delivered[seq]

    @property
    def complete(self) -> bool:
        return all(self.remaining(s) == 0 for s in self.declared)

    # -- gate passes ------------------------------------------------------------------------

    def create(self, req: Req) -> Expect:
        if self.complete:
            return Expect(code="BZ-PASS-BIND")
        split = {seq: v.to_units(Decimal(q)) for seq, q in req.split}
        if any(seq not in self.declared for seq in split):
            return Expect(code="BZ-PASS-DOC-LINE")
        if any(u > self.remaining(seq) for seq, u in split.items()):
            return Expect(code="BZ-PASS-QTY-EXCEEDS")

        def apply(body: dict[str, Any]) -> None:
            self.passes[body["passportNo"]] = MPass(body["passportNo"], req.plate, Decimal(req.gross), split)

        return Expect(answer={"status": "approved"}, apply=apply)

    def cancel(self, req: Req) -> Expect:
        gp = self.passes[str(req.passport_no)]
        if gp.status != "approved":
            return Expect(code="BZ-PASS-STATE")

        def apply(body: dict[str, Any]) -> None:
            gp.status = "cancelled"

        return Expect(answer={"status": "cancelled"}, apply=apply)

    # -- crossings ---------------------------------------------------------------------------

    def _pick(self, req: Req) -> MPass | None:
        """The pass the gate finds: the one it read, else the plate's oldest unused (or in-gate) pass."""
        if req.passport_no is not None:
            return self.passes.get(req.passport_no)
        mine = [p for p in self.passes.values() if p.plate == req.plate and p.status in ("approved", "in_gate")]
        unused = [p for p in mine if p.status == "approved"]
        order = list(self.passes)
        pool = unused or mine
        return min(pool, key=lambda p: order.index(p.no)) if pool else None

    def _admit(self, gp: MPass | None, req: Req) -> set[str]:
        held: set[str] = set()
        if gp is None or gp.status != "approved":
            held.add("PASS-VALID")
        if gp is not None and gp.plate != req.plate:
            held.add("PASS-PLATE")
        if gp is not None and req.lane != "declared":
            held.add("M4-LANE")
        return held

    def _evaluate(self, gp: MPass, weighed: Decimal) -> tuple[set[str], list[list[Any]]]:
        held: set[str] = set()
        expected = gp.expected_kg
        if abs(weighed - expected) > (expected * TOLERANCE).quantize(v.QTY_QUANTUM):
            held.add("G1-WEIGHT")
        over = [
            [seq, v.fmt_units(u), v.fmt_units(self.remaining(seq))]
            for seq, u in sorted(gp.lines.items())
            if u > self.remaining(seq)
        ]
        if over:
            held.add("M7-REMAINING")
        return held, over

    def _deliver(self, gp: MPass) -> None:
        for seq, u in gp.lines.items():
            self.delivered[seq] += u

    def arrive(self, req: Req) -> Expect:
        gp = self._pick(req)
        held = self._admit(gp, req)
        number = gp.no if gp is not None else req.passport_no
        status, decision = ("held", "hold") if held else ("arrived", None)

        def apply(body: dict[str, Any]) -> None:
            events = ["arrive", "decide"] if held else ["arrive"]
            self.crossings[body["id"]] = MCrossing(body["id"], number, status, decision, frozenset(held), events=events)
            if gp is not None and not held:
                gp.status = "in_gate"

        answer = {"passportNo": number, "status": status, "decision": decision, "held": sorted(held), "m7": []}
        return Expect(answer=answer, apply=apply)

    def cross(self, req: Req) -> Expect:
        gp = self._pick(req)
        held = self._admit(gp, req)
        number = gp.no if gp is not None else req.passport_no
        if held:

            def apply_held(body: dict[str, Any]) -> None:
                self.crossings[body["id"]] = MCrossing(
                    body["id"], number, "held", "hold", frozenset(held), events=["arrive", "decide"]
                )

            return Expect(
                answer={"passportNo": number, "status": "held", "decision": "hold", "held": sorted(held), "m7": []},
                apply=apply_held,
            )
        assert gp is not None and req.reading is not None
        weighed = Decimal(req.reading)
        rules, over = self._evaluate(gp, weighed)

        def apply(body: dict[str, Any]) -> None:
            x = MCrossing(
                body["id"], number, "held" if rules else "passed", "hold" if rules else "pass", frozenset(rules), weighed
            )
            x.events, x.m7 = ["arrive", "weigh", "decide"], over
            self.crossings[body["id"]] = x
            if not rules:
                self._deliver(gp)
            gp.status = "approved" if rules else "passed"

        status, decision = ("held", "hold") if rules else ("passed", "pass")
        return Expect(
            answer={"passportNo": number, "status": status, "decision": decision, "held": sorted(rules), "m7": over}, apply=apply
        )

    def weigh(self, req: Req) -> Expect:
        x = self.crossings[req.crossing]
        assert req.reading is not None
        try:
            reading = weight(req.reading, field_name="grossWt")
        except BzError as e:
            return Expect(code=e.code)
        if x.status != "arrived":
            return Expect(code="BZ-GATE-EVENT-ORDER")

        def apply(body: dict[str, Any]) -> None:
            x.status, x.weighed = "weighed", reading
            x.events.append("weigh")

        return Expect(answer={**self._shown(x), "status": "weighed"}, apply=apply)

    def decide(self, req: Req) -> Expect:
        x = self.crossings[req.crossing]
        if x.status not in ("arrived", "weighed") or x.weighed is None:
            return Expect(code="BZ-GATE-EVENT-ORDER")
        gp = self.passes[str(x.pass_no)]
        rules, over = self._evaluate(gp, x.weighed)

        def apply(body: dict[str, Any]) -> None:
            x.status, x.outcome, x.held = ("held", "hold", frozenset(rules)) if rules else ("passed", "pass", frozenset())
            x.events.append("decide")
            x.m7 = over
            if not rules:
                self._deliver(gp)
            gp.status = "approved" if rules else "passed"

        status, decision = ("held", "hold") if rules else ("passed", "pass")
        return Expect(
            answer={**self._shown(x), "status": status, "decision": decision, "held": sorted(rules), "m7": over}, apply=apply
        )

    def leave(self, req: Req) -> Expect:
        x = self.crossings[req.crossing]
        if x.status not in ("passed", "held"):
            return Expect(code="BZ-GATE-EVENT-ORDER")

        def apply(body: dict[str, Any]) -> None:
            if x.status == "passed":
                self.passes[str(x.pass_no)].status = "crossed"
            x.status = "left"
            x.events.append("leave")

        return Expect(answer={**self._shown(x), "status": "left"}, apply=apply)

    def release(self, req: Req) -> Expect:
        """Customs lets through a vehicle held only by the weight check, after looking at it."""
        x = self.crossings[req.crossing]
        gp = self.passes.get(str(x.pass_no))
        if x.status != "held":
            return Expect(code="BZ-GATE-EVENT-ORDER")
        if gp is None or not x.held <= {"G1-WEIGHT", "M4-SPOT-CHECK"}:  # no pass: nothing an officer may lift
            return Expect(code="BZ-GATE-RELEASE")
        if gp.status != "approved":
            return Expect(code="BZ-GATE-EVENT-ORDER")
        if any(u > self.remaining(seq) for seq, u in gp.lines.items()):
            return Expect(code="BZ-GATE-RELEASE")

        def apply(body: dict[str, Any]) -> None:
            x.status, x.outcome = "passed", "pass"
            x.events.append("release")
            self._deliver(gp)
            gp.status = "passed"

        return Expect(answer={**self._shown(x), "status": "passed", "decision": "pass"}, apply=apply)

    @staticmethod
    def _shown(x: MCrossing) -> dict[str, Any]:
        return {
            "id": x.id,
            "passportNo": x.pass_no,
            "status": x.status,
            "decision": x.outcome,
            "held": sorted(x.held),
            "m7": x.m7,
        }

    def predict(self, req: Req) -> Expect:
        return {
            "create": self.create,
            "cancel": self.cancel,
            "arrive": self.arrive,
            "cross": self.cross,
            "weigh": self.weigh,
            "decide": self.decide,
            "leave": self.leave,
            "release": self.release,
        }[req.kind](req)


# -- the state machine ----------------------------------------------------------------------------


class GateMachine(RuleBasedStateMachine):
    """Many vehicles deliver one document; every answer and the storage are checked against the model."""

    db: ClassVar[Db]

    def __init__(self) -> None:
        super().__init__()
        self.c = self.db.fresh()
        zone = f.make_zone(self.c)
        self.who = {"owner": zone.owner, "gate": GATE, "customs": zone.customs}
        self.model = Model({})
        self.kind = ""
        self.rlt = ("", "")
        self.keyed: list[tuple[Req, str]] = []
        self.serial = 0
        self.ledger_before: tuple[Any, ...] = ()
        self.delivered_before: dict[int, int] = {}

    def teardown(self) -> None:
        self.db.release(self.c)

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _step(self) -> None:
        self.db.steps += 1

    # -- sending -----------------------------------------------------------------------------

    def _work(self, req: Req, who: Principal) -> tuple[Callable[[UnitOfWork], Any], Callable[[Any], tuple[int, Any]]]:
        if req.kind == "create":
            kind, no = self.rlt
            raw = PassInput(
                req.inner,
                "2",
                "I",
                req.plate,
                str(VEHICLE),
                req.gross,
                bind_typecd="3",
                vehicle_frame_wt=str(FRAME),
                docs=[DocInput(kind, no, [DocLineInput(seq, q) for seq, q in req.split])],
            )
            return (lambda uow: gate.create_pass(uow, who, f.OWNER_BOOK, raw)), pass_answer
        if req.kind == "cancel":
            number = str(req.passport_no)
            return (lambda uow: gate.cancel_pass(uow, who, number)), lambda gp: (200, pass_answer(gp)[1])
        cid, reading = req.crossing, req.reading
        work: dict[str, Callable[[UnitOfWork], Crossing]] = {
            "arrive": lambda uow: gate.arrive(uow, who, gate.Arrive("G01", req.lane, req.plate, req.passport_no)),
            "cross": lambda uow: gate.cross(uow, who, gate.Cross("G02", req.lane, req.plate, req.passport_no, reading), POLICY),
            "weigh": lambda uow: gate.weigh(uow, who, cid, str(reading)),
            "decide": lambda uow: gate.decide(uow, who, cid, POLICY),
            "leave": lambda uow: gate.leave(uow, who, cid),
            "release": lambda uow: gate.release(uow, who, cid, "查验无误"),
        }
        return work[req.kind], crossing_answer

    def send(self, req: Req, key: str | None) -> dict[str, Any] | None:
        """Send ``req`` the way the API does; compare the answer with the model's; update the model."""
        who = self.who[req.actor]
        work, render = self._work(req, who)
        tag = f"{req} with key {key!r}"
        stored = self.model.keys.get((who.scope, key)) if key is not None else None
        if key is not None:
            self.keyed.append((req, key))
        if stored is not None and stored[0] == req.fingerprint():
            # A retry of an answered request: the first answer comes back, nothing changes.
            got = self._execute(req, who, key, work, render)
            assert got == stored[1:], f"{tag}: a retry answered {got}, the first answer was {stored[1:]}"
            self.db.outcomes[f"{req.kind} replayed"] += 1
            return None
        expected = self.model.predict(req)
        try:
            status, body = self._execute(req, who, key, work, render)
        except BzError as e:
            self.db.outcomes[f"{req.kind} refused {e.code}"] += 1
            assert expected.code == e.code, f"{tag}: refused with {e.code} ({e}); the model expected {expected}"
            assert key is None or e.kind != "conflict", f"{tag}: a keyed conflict {e.code} should be answered and stored"
            return None
        if status >= 400:
            self.db.outcomes[f"{req.kind} refused {body['code']} (stored)"] += 1
            assert expected.code == body["code"], f"{tag}: answered {status} {body}; the model expected {expected}"
            assert key is not None
            self.model.keys[(who.scope, key)] = (req.fingerprint(), status, body)
            return None
        assert expected.code is None, f"{tag}: answered {status} {body}; the model expected the refusal {expected.code}"
        assert expected.answer is not None and expected.apply is not None
        differ = {k: (body.get(k), w) for k, w in expected.answer.items() if k != "id" and body.get(k) != w}
        assert not differ, f"{tag}: answered {body}; (got, expected) differ in {differ}"
        self.db.outcomes[f"{req.kind} {body.get('decision') or body.get('status')}"] += 1
        if req.kind in ("arrive", "cross", "decide"):
            self.db.outcomes.update(f"held by {r}" for r in body.get("held", ()))
        expected.apply(body)
        if key is not None:
            self.model.keys[(who.scope, key)] = (req.fingerprint(), status, body)
        return dict(body)

    def _execute(
        self,
        req: Req,
        who: Principal,
        key: str | None,
        work: Callable[[UnitOfWork], Any],
        render: Callable[[Any], tuple[int, Any]],
    ) -> tuple[int, Any]:
        before = self._delivered()
        status, body = idempotency.execute(
            self.c.uow,
            work,
            render,
            scope=who.scope,
            key=key,
            request_fingerprint=req.fingerprint(),
            render_error=refusal_answer,
        )
        if body.get("decision") == "hold" or status >= 400:
            # M7: a hold (or a refusal) changes no delivery.
            assert self._delivered() == before, f"{req}: answered {status} {body} yet deliveries moved"
        return status, body

    def _send(self, req: Req, keyed: int) -> dict[str, Any] | None:
        key = f"k-{self._next()}" if keyed else None
        body = self.send(req, key)
        if keyed == 2:
            self.send(req, key)
        return body

    # -- reading storage ---------------------------------------------------------------------

    def _delivered(self) -> dict[int, int]:
        dl = t.gate_doc_lines.c
        with self.c.engine.connect() as conn:
            return {int(s): int(d) for s, d in conn.execute(select(dl.gds_seqno, dl.delivered_units))}

    def _ledger(self) -> tuple[Any, ...]:
        with self.c.engine.connect() as conn:
            return (
                sorted(tuple(r) for r in conn.execute(select(t.stock_balances))),
                sorted(tuple(r) for r in conn.execute(select(t.postings))),
                sorted(tuple(r) for r in conn.execute(select(t.doc_events))),
            )

    # -- choosing what to act on -----------------------------------------------------------

    def _pick_pass(self, data: st.DataObject, fits: tuple[str, ...] = ()) -> str:
        """Mostly a pass in a state the move fits (so vehicles advance), sometimes any pass."""
        numbers = list(self.model.passes)[::-1]  # newest first: Hypothesis leans to the first
        fitting = [n for n in numbers if self.model.passes[n].status in fits]
        if fitting and data.draw(st.integers(0, 3), label="any pass") != 3:
            return data.draw(st.sampled_from(fitting), label="pass")
        return data.draw(st.sampled_from(numbers), label="pass")

    def _pick_crossing(self, data: st.DataObject, fits: tuple[str, ...], only: frozenset[str] | None = None) -> int:
        """Mostly a crossing in a state the event fits (held only by ``only``, when given), sometimes any."""
        ids = sorted(self.model.crossings, reverse=True)
        fitting = [
            i for i in ids if self.model.crossings[i].status in fits and (only is None or self.model.crossings[i].held <= only)
        ]
        if fitting and data.draw(st.integers(0, 3), label="any crossing") != 3:
            return data.draw(st.sampled_from(fitting), label="crossing")
        return data.draw(st.sampled_from(ids), label="crossing")

    def _reading(self, number: str | None, factor: str) -> str:
        gp = self.model.passes.get(number or "")
        kg = gp.expected_kg if gp is not None else VEHICLE + FRAME + 2000
        return format((kg * Decimal(factor)).quantize(v.QTY_QUANTUM), "f")

    # -- rules ----------------------------------------------------------------------------------

    @initialize(kind=st.sampled_from(["1", "1", "4"]), declared=DOC_LINES)
    def one_document(self, kind: str, declared: list[str]) -> None:
        """One approved inventory list (I, first line), or one released summary declaration (M6)."""
        self._step()
        spec = [(seq, q) for seq, q in enumerate(declared, start=1)]
        if kind == "1":
            invt_id = f.new_list(self.c, f.CUSTOMS, f.OWNER_BOOK, "I", spec, inner="GATE-DOC")
            f.approve(self.c, invt_id)
            with self.c.uow(write=False) as uow:
                no = invts.get_invt(uow, f.CUSTOMS, invt_id).bond_invt_no
            assert no is not None
        else:
            no = ENTRY
            lines = [SummaryLineInput(seq, f.HS[seq], f"商品{seq}", q, f.UNITS[seq]) for seq, q in spec]
            with self.c.uow() as uow:
                gate.declare_summary(uow, self.who["owner"], gate.DeclareSummary(no, f.OWNER_BOOK, "I", lines))
                gate.release_summary(uow, self.who["customs"], no)
                uow.commit()
        self.kind, self.rlt = kind, (kind, no)
        self.model = Model({seq: v.to_units(Decimal(q)) for seq, q in spec})
        self.ledger_before = self._ledger()
        self.delivered_before = dict.fromkeys(self.model.declared, 0)

    def _split(self, split: list[tuple[int, str, str]]) -> tuple[tuple[int, str], ...]:
        chosen: dict[int, str] = {}
        for seq, mode, given in split:
            seq = seq if seq in self.model.declared else min(self.model.declared)
            left = self.model.remaining(seq)
            if mode == "all" and left > 0:
                units = left
            elif mode == "half" and left >= 2:
                units = left // 2
            elif mode == "over":
                units = left + 1
            else:
                units = v.to_units(Decimal(given))
            chosen.setdefault(seq, v.fmt_units(units))
        return tuple(chosen.items())

    @rule(split=SPLIT, plate=st.sampled_from(PLATES), gross=GROSS, keyed=KEYED)
    def create_pass(self, split: list[tuple[int, str, str]], plate: str, gross: str, keyed: int) -> None:
        """M7: a vehicle's share of the document — within what remains when the pass is made, or above it."""
        self._step()
        req = Req("create", "owner", inner=f"P-{self._next()}", plate=plate, gross=gross, split=self._split(split))
        self._send(req, keyed)

    @rule(split=SPLIT, plate=st.sampled_from(PLATES), gross=GROSS, factor=READING, keyed=KEYED, then=THEN)
    def new_vehicle(self, split: list[tuple[int, str, str]], plate: str, gross: str, factor: str, keyed: int, then: str) -> None:
        """M7: a pass for a new vehicle that then drives through the gate at once."""
        self._step()
        req = Req("create", "owner", inner=f"P-{self._next()}", plate=plate, gross=gross, split=self._split(split))
        body = self._send(req, keyed)
        if body is not None:
            self._drive(body["passportNo"], factor, keyed, then)

    @precondition(lambda self: bool(self.model.passes))
    @rule(data=st.data(), keyed=KEYED)
    def cancel_pass(self, data: st.DataObject, keyed: int) -> None:
        """作废: only a pass that has not reached the gate (BZ-PASS-STATE otherwise)."""
        self._step()
        # Mostly a pass that is at or past the gate (refused), so that enough passes are left to cross.
        fits = (
            ("approved",)
            if data.draw(st.integers(0, 2), label="cancel an unused pass") == 0
            else ("in_gate", "passed", "crossed")
        )
        self._send(Req("cancel", "owner", passport_no=self._pick_pass(data, fits)), keyed)

    def _arrival(self, data: st.DataObject, wrong_plate: bool, wrong_lane: bool, by_plate: bool) -> tuple[str | None, str, str]:
        if not self.model.passes or data.draw(st.integers(0, 12), label="no pass") == 0:
            return (None if by_plate else NO_SUCH_PASS), data.draw(st.sampled_from(PLATES), label="plate"), "declared"
        number = self._pick_pass(data, ("approved",))
        plate = self.model.passes[number].plate
        if wrong_plate:
            plate = data.draw(st.sampled_from([p for p in PLATES if p != plate]), label="other plate")
        return (None if by_plate else number), plate, "non_declared" if wrong_lane else "declared"

    @rule(data=st.data(), wrong_plate=RARELY, wrong_lane=RARELY, by_plate=RARELY, keyed=KEYED)
    def arrive(self, data: st.DataObject, wrong_plate: bool, wrong_lane: bool, by_plate: bool, keyed: int) -> None:
        """M4: a vehicle at the gate; no valid pass, a used or busy pass, another plate or the wrong lane hold it."""
        self._step()
        number, plate, lane = self._arrival(data, wrong_plate, wrong_lane, by_plate)
        self._send(Req("arrive", "gate", passport_no=number, plate=plate, lane=lane), keyed)

    @rule(data=st.data(), factor=READING, wrong_plate=RARELY, wrong_lane=RARELY, by_plate=RARELY, keyed=KEYED)
    def cross(self, data: st.DataObject, factor: str, wrong_plate: bool, wrong_lane: bool, by_plate: bool, keyed: int) -> None:
        """G1, M7: the gate's automation — arrive, weigh and decide in one message."""
        self._step()
        number, plate, lane = self._arrival(data, wrong_plate, wrong_lane, by_plate)
        reading = self._reading(number, factor)
        self._send(Req("cross", "gate", passport_no=number, plate=plate, lane=lane, reading=reading), keyed)

    @rule(
        data=st.data(),
        split=SPLIT,
        plates=st.permutations(PLATES),
        factors=st.tuples(READING, READING),
        keyed=KEYED,
    )
    def two_vehicles_interleaved(
        self, data: st.DataObject, split: list[tuple[int, str, str]], plates: list[str], factors: tuple[str, str], keyed: int
    ) -> None:
        """M7: two vehicles carry the same share — each fits what remains, both together may not — and
        their events interleave at two gates; the second decided is held with the figures if it no
        longer fits."""
        self._step()
        shares = self._split(split)
        numbers: list[str] = []
        for plate in plates[:2]:
            body = self._send(Req("create", "owner", inner=f"P-{self._next()}", plate=plate, gross="2000", split=shares), keyed)
            if body is not None:
                numbers.append(body["passportNo"])
        # Each vehicle: arrive, weigh, decide, leave in order; the two sequences interleave at random.
        todo = {n: ["arrive", "weigh", "decide", "leave"] for n in numbers}
        crossing: dict[str, int] = {}
        while todo:
            n = data.draw(st.sampled_from(sorted(todo)), label="next vehicle")
            event = todo[n].pop(0)
            if not todo[n]:
                del todo[n]
            gp = self.model.passes[n]
            if event == "arrive":
                body = self._send(Req("arrive", "gate", passport_no=n, plate=gp.plate), keyed)
                if body is None or body["status"] != "arrived":
                    todo.pop(n, None)
                    continue
                crossing[n] = int(body["id"])
            elif event == "weigh":
                factor = factors[numbers.index(n)]
                self._send(Req("weigh", "gate", crossing=crossing[n], reading=self._reading(n, factor)), keyed)
            else:
                self._send(Req(event, "gate", crossing=crossing[n]), keyed)

    @precondition(lambda self: any(p.status == "approved" for p in self.model.passes.values()))
    @rule(data=st.data(), factor=READING, keyed=KEYED, then=THEN)
    def drive_through(self, data: st.DataObject, factor: str, keyed: int, then: str) -> None:
        """M7, G1: the usual visit, step by step — arrive, weigh, decide and (often) leave."""
        self._step()
        self._drive(self._pick_pass(data, ("approved",)), factor, keyed, then)

    def _drive(self, number: str, factor: str, keyed: int, then: str) -> None:
        body = self._send(Req("arrive", "gate", passport_no=number, plate=self.model.passes[number].plate), keyed)
        if body is None or body["status"] != "arrived":
            return
        cid = int(body["id"])
        self._send(Req("weigh", "gate", crossing=cid, reading=self._reading(number, factor)), keyed)
        body = self._send(Req("decide", "gate", crossing=cid), keyed)
        if then == "release" and body is not None and body["held"] == ["G1-WEIGHT"]:
            self._send(Req("release", "customs", crossing=cid), keyed)  # customs weighs again and lets it through
        if then != "stay":
            self._send(Req("leave", "gate", crossing=cid), keyed)

    @precondition(lambda self: bool(self.model.crossings))
    @rule(data=st.data(), factor=READING, keyed=KEYED)
    def weigh(self, data: st.DataObject, factor: str, keyed: int) -> None:
        """G1: the weighbridge reading of a vehicle that arrived (BZ-GATE-EVENT-ORDER otherwise)."""
        self._step()
        cid = self._pick_crossing(data, ("arrived",))
        reading = self._reading(self.model.crossings[cid].pass_no, factor)
        self._send(Req("weigh", "gate", crossing=cid, reading=reading), keyed)

    @precondition(lambda self: bool(self.model.crossings))
    @rule(data=st.data(), reading=BAD_READING)
    def weigh_badly(self, data: st.DataObject, reading: str) -> None:
        """G1: a bad reading (negative, zero, not a number, too heavy, too precise) is refused and changes nothing."""
        self._step()
        self._send(Req("weigh", "gate", crossing=self._pick_crossing(data, ("arrived",)), reading=reading), 0)

    @precondition(lambda self: bool(self.model.crossings))
    @rule(data=st.data(), keyed=KEYED)
    def decide(self, data: st.DataObject, keyed: int) -> None:
        """G1, M7: pass (counts the vehicle's quantities) or hold (counts nothing), with the reasons."""
        self._step()
        self._send(Req("decide", "gate", crossing=self._pick_crossing(data, ("weighed", "arrived"))), keyed)

    @precondition(lambda self: bool(self.model.crossings))
    @rule(data=st.data(), keyed=KEYED)
    def leave(self, data: st.DataObject, keyed: int) -> None:
        """The vehicle leaves: through after a pass (the pass is used), back out after a hold."""
        self._step()
        self._send(Req("leave", "gate", crossing=self._pick_crossing(data, ("passed", "held"))), keyed)

    @precondition(lambda self: bool(self.model.crossings))
    @rule(data=st.data(), keyed=KEYED)
    def release(self, data: st.DataObject, keyed: int) -> None:
        """G1: customs lets through a vehicle held only by the weight check — if its quantities still fit (M7)."""
        self._step()
        self._send(Req("release", "customs", crossing=self._pick_crossing(data, ("held",), frozenset({"G1-WEIGHT"}))), keyed)

    @precondition(lambda self: bool(self.model.crossings))
    @rule(data=st.data(), event=st.sampled_from(["weigh", "decide", "leave"]))
    def repeat_event(self, data: st.DataObject, event: str) -> None:
        """A duplicate event without a key: the first applies (if it may), the second is BZ-GATE-EVENT-ORDER."""
        self._step()
        cid = self._pick_crossing(data, ({"weigh": "arrived", "decide": "weighed", "leave": "passed"}[event],))
        reading = self._reading(self.model.crossings[cid].pass_no, "1") if event == "weigh" else None
        req = Req(event, "gate", crossing=cid, reading=reading)
        self.send(req, None)
        self.send(req, None)

    @precondition(lambda self: bool(self.keyed))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """Idempotency: replay an earlier keyed request; its stored answer comes back and nothing changes."""
        self._step()
        req, key = data.draw(st.sampled_from(self.keyed[::-1]), label="replayed")
        self.send(req, key)

    # -- invariants, read from storage after every step --------------------------------------

    @invariant()
    def storage_keeps_the_gate_invariants(self) -> None:
        if not self.kind:
            return
        check_storage(self.c, self.model, self.rlt, self.delivered_before, self.ledger_before, self._ledger())
        self.delivered_before = dict(self.model.delivered)


def check_storage(
    c: Any,
    m: Model,
    rlt: tuple[str, str],
    delivered_before: dict[int, int],
    ledger_before: tuple[Any, ...],
    ledger_now: tuple[Any, ...],
) -> None:
    """The M7 / G1 / M4 invariants, from the database's own rows."""
    dl, p, pl, x, e = t.gate_doc_lines.c, t.gate_passes.c, t.gate_pass_lines.c, t.gate_crossings.c, t.gate_events.c
    with c.engine.connect() as conn:
        lines = {
            int(s): (int(d), int(dv)) for s, d, dv in conn.execute(select(dl.gds_seqno, dl.declared_units, dl.delivered_units))
        }
        statuses = {no: s for no, s in conn.execute(select(p.passport_no, p.status))}
        crossings = {int(i): (s, o, no) for i, s, o, no in conn.execute(select(x.id, x.status, x.outcome, x.passport_no))}
        passed_lines = conn.execute(
            select(x.pass_id, pl.rlt_gds_seqno, pl.dcl_qty)
            .join(t.gate_pass_lines, pl.pass_id == x.pass_id)
            .where(x.outcome == "pass")
        ).all()
        passed_passes = Counter(int(i) for (i,) in conn.execute(select(x.pass_id).where(x.outcome == "pass")))
        events: dict[int, list[str]] = {}
        for cid, kind in conn.execute(select(e.crossing_id, e.kind).order_by(e.id)):
            events.setdefault(int(cid), []).append(kind)

    if not lines:
        # An inventory list is counted by the gate from the moment a pass first binds it.
        assert rlt[0] == "1" and not m.passes, "the bound document has no lines in storage"
        lines = {s: (d, 0) for s, d in m.declared.items()}
    # M7: delivered never exceeds declared, never goes backwards, and is what the model says.
    assert {s: d for s, (d, _) in lines.items()} == m.declared, f"declared {lines} vs the model's {m.declared}"
    for seq, (declared, delivered) in lines.items():
        assert 0 <= delivered <= declared, f"line {seq}: delivered {delivered} of {declared} units"
        assert delivered >= delivered_before.get(seq, 0), (
            f"line {seq}: delivered went back from {delivered_before[seq]} to {delivered}"
        )
    got = {s: dv for s, (_, dv) in lines.items()}
    assert got == m.delivered, f"delivered {got}, the model says {m.delivered}"

    # M7: delivered is the sum over the passes decided pass, each counted once.
    twice = [i for i, n in passed_passes.items() if n > 1]
    assert not twice, f"passes decided pass more than once: {twice}"
    sums: Counter[int] = Counter()
    for _, seq, qty in passed_lines:
        sums[int(seq)] += int(qty)
    assert {s: sums.get(s, 0) for s in lines} == got, f"passes decided pass carry {dict(sums)}, delivered is {got}"

    # M7: complete exactly when every line has crossed in full.
    with c.uow(write=False) as uow:
        doc = gate.gate_doc(uow, f.CUSTOMS, *rlt)
    full = all(dv == d for d, dv in lines.values())
    assert doc.complete is full is m.complete, f"complete={doc.complete} with delivered/declared {lines}"

    # The passes and crossings themselves, and every event once, in order (G1).
    assert statuses == {n: gp.status for n, gp in m.passes.items()}, "pass statuses differ from the model"
    want = {i: (x_.status, x_.outcome, x_.pass_no) for i, x_ in m.crossings.items()}
    assert crossings == want, f"crossings {crossings} differ from the model's {want}"
    assert events == {i: x_.events for i, x_ in m.crossings.items()}, "gate events differ from the model's"

    # The ledger never changes through gate events.
    assert ledger_now == ledger_before, "the ledger changed through a gate event"


def machine_on(db: Db) -> type[GateMachine]:
    return type(f"GateMachineOn{type(db).__name__}", (GateMachine,), {"db": db})


# -- the runs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_gate_url() -> Iterator[str]:
    schema, url = make_pg_schema("gatesm")
    yield url
    drop_pg_schema(schema)


def _db(engine: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Db:
    if engine == "sqlite":
        return SqliteDb(sqlite_template, tmp_path)
    return PgDb(request.getfixturevalue("pg_gate_url"))


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_one_doc_many_trucks_invariants_hold_under_random_gate_events(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> None:
    """M7, G1, M4 on each engine: a few hundred steps in CI, 10,000 or more with BZ_SOAK=1."""
    db = _db(engine, request, tmp_path, sqlite_template)
    run_state_machine_as_test(machine_on(db), settings=hypothesis_settings(PROFILE, suppress=(HealthCheck.filter_too_much,)))
    for _ in range(4):
        if not SOAK or db.steps >= PROFILE.minimum:
            break
        run_state_machine_as_test(machine_on(db), settings=hypothesis_settings(PROFILE, suppress=(HealthCheck.filter_too_much,)))
    print(f"stateful gate on {engine}: {db.steps} steps in {db.examples} examples")  # shown with -s / -rP
    assert db.steps >= PROFILE.minimum, f"only {db.steps} steps ran on {engine}; the profile needs {PROFILE.minimum}"
    # The run met the interesting cases, not only refusals of events in the wrong order.
    for outcome in (
        "create approved",
        "create refused BZ-PASS-QTY-EXCEEDS",
        "cross pass",
        "cross hold",
        "decide pass",
        "decide hold",
        "arrive arrived",
        "arrive hold",
        "weigh refused BZ-GATE-EVENT-ORDER",
        "weigh refused BZ-WEIGHT-INVALID",
        "leave pass",  # left through the gate
        "leave hold",  # turned back
        "release pass",
        "replayed",
        "held by M7-REMAINING",  # over-delivery held at the gate, not only refused when the pass is made
        "held by G1-WEIGHT",
        "held by PASS-VALID",
        "held by PASS-PLATE",
        "held by M4-LANE",
    ):
        assert any(outcome in seen for seen in db.outcomes), f"no '{outcome}' in the {engine} run: {sorted(db.outcomes.items())}"


# -- planted bugs: each must make the machine fail -------------------------------------------------


def _deliver_on_hold(mp: pytest.MonkeyPatch) -> None:
    """A held vehicle's quantities are counted anyway (whatever of them still fits)."""
    real = gate.decide

    def decide(uow: UnitOfWork, who: Principal, crossing_id: int, policy: GatePolicy) -> Crossing:
        out = real(uow, who, crossing_id, policy)
        gp = uow.gate.get_pass(out.passport_no) if out.outcome is Outcome.HOLD and out.passport_no else None
        if gp is not None:
            docs = uow.gate.docs([(d.rlt_tb_typecd, d.rlt_no) for d in gp.docs])
            fits = []
            for d in m7_multi_truck.deliveries(gp):
                line = docs[(d.rlt_tb_typecd, d.rlt_no)].line(d.gds_seqno)
                if line is not None and d.units <= line.remaining_units:
                    fits.append(d)
            uow.gate.deliver(fits)
        return out

    mp.setattr(gate, "decide", decide)


def _no_remaining_check(mp: pytest.MonkeyPatch) -> None:
    """Skip the remaining check at the gate: no M7 hold, and storage adds without its guard."""
    mp.setattr(m7_multi_truck, "check_remaining", lambda gp, docs: [])
    mp.setattr(m7_multi_truck, "apply", lambda docs, gp: m7_multi_truck.deliveries(gp))

    def deliver(self: gate_repo.SqlGateRepo, deliveries: Any) -> None:
        d, dl = t.gate_docs, t.gate_doc_lines
        for x in deliveries:
            doc_id = select(d.c.id).where(d.c.rlt_tb_typecd == x.rlt_tb_typecd.value, d.c.rlt_no == x.rlt_no).scalar_subquery()
            self.conn.execute(
                update(dl)
                .where(dl.c.gate_doc_id == doc_id, dl.c.gds_seqno == x.gds_seqno)
                .values(delivered_units=dl.c.delivered_units + x.units)
            )

    mp.setattr(gate_repo.SqlGateRepo, "deliver", deliver)


def _used_pass_crosses_again(mp: pytest.MonkeyPatch) -> None:
    """A pass already used (passed or crossed) is admitted as if it were new."""
    real = passes.admit

    def admit(gp: GatePass | None, *args: Any) -> list[Finding]:
        if gp is not None and gp.status in (PassStatus.PASSED, PassStatus.CROSSED):
            gp = replace(gp, status=PassStatus.APPROVED)
        return real(gp, *args)

    mp.setattr(passes, "admit", admit)


def _leave_delivers_again(mp: pytest.MonkeyPatch) -> None:
    """Leaving through the gate counts the vehicle's quantities a second time (what still fits)."""
    real = gate.leave

    def leave(uow: UnitOfWork, who: Principal, crossing_id: int) -> Crossing:
        before = uow.gate.get_crossing(crossing_id)
        out = real(uow, who, crossing_id)
        if before is not None and before.outcome is Outcome.PASS and out.passport_no:
            gp = uow.gate.get_pass(out.passport_no)
            assert gp is not None
            docs = uow.gate.docs([(d.rlt_tb_typecd, d.rlt_no) for d in gp.docs])
            fits = []
            for d in m7_multi_truck.deliveries(gp):
                line = docs[(d.rlt_tb_typecd, d.rlt_no)].line(d.gds_seqno)
                if line is not None and d.units <= line.remaining_units:
                    fits.append(d)
            uow.gate.deliver(fits)
        return out

    mp.setattr(gate, "leave", leave)


def _retry_applies_again(mp: pytest.MonkeyPatch) -> None:
    """A keyed retry runs the event again instead of returning the stored answer."""
    real_claim = sql_uow.SqlIdempotencyRepo.claim

    def claim(self: sql_uow.SqlIdempotencyRepo, scope: str, key: str, response: Any, created_at: Any) -> bool:
        c = t.idempotency_keys.c
        self.conn.execute(delete(t.idempotency_keys).where(c.scope == scope, c.key == key))
        return real_claim(self, scope, key, response, created_at)

    mp.setattr(sql_uow.SqlIdempotencyRepo, "claim", claim)


MUTANTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "deliver-on-hold": _deliver_on_hold,
    "no-remaining-check": _no_remaining_check,
    "used-pass-crosses-again": _used_pass_crosses_again,
    "leave-delivers-again": _leave_delivers_again,
    "retry-applies-again": _retry_applies_again,
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_planted_bug_is_caught(mutant: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_template: Path) -> None:
    """The machine can fail: each planted bug breaks an M7 / G1 check within a modest budget (SQLite)."""
    db = SqliteDb(sqlite_template, tmp_path)
    MUTANTS[mutant](monkeypatch)
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(machine_on(db), settings=MUTANT_SETTINGS)
    assert db.steps > 0, caught.value
    print(f"{mutant}: caught after {db.steps} steps: {str(caught.value).splitlines()[0][:300]}")


def test_unmutated_machine_passes_the_mutant_budget(tmp_path: Path, sqlite_template: Path) -> None:
    """The same budget without a planted bug passes, so the failures above are the bugs' doing."""
    db = SqliteDb(sqlite_template, tmp_path)
    run_state_machine_as_test(machine_on(db), settings=MUTANT_SETTINGS)
    assert db.steps >= MUTANT_BUDGET.minimum, db.steps
