"""The smart gate's use cases: gate passes, summary declarations, and the events of a crossing.

Every gate event is one transaction that records the event (G1) together with its effect. A
hold changes only the crossing and its pass's status; only a pass decision adds to what the
bound documents have delivered (M7), under a lock on those documents' lines, so two gates
admitting vehicles of one document at once can never together deliver more than was declared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bondedzone.domain import passes
from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError
from bondedzone.domain.gate import (
    Crossing,
    CrossingStatus,
    DocLine,
    Finding,
    GateDoc,
    GatePass,
    Outcome,
    PassStatus,
    RltTbType,
    SummaryLineInput,
    entry_summary_lines,
    gate_id,
    lane,
    vehicle_no,
    weight,
)
from bondedzone.domain.model import InvtStatus
from bondedzone.domain.passes import GatePolicy, PassInput
from bondedzone.domain.rules import g1_weighing, m4_two_lanes, m7_multi_truck
from bondedzone.domain.rules.m6_consolidation import rlt_type
from bondedzone.services.authz import Action, Principal, Role, may, require_role
from bondedzone.services.ports import DocKey, GateEventRow, HazchemRow, UnitOfWork
from bondedzone.services.registry import book_for

RELEASE_RULE = "CUSTOMS-RELEASE"
# Holds an officer may lift after looking at the vehicle; the others (no valid pass, wrong plate,
# over-delivery …) can only be cured by a new or corrected pass.
RELEASABLE = frozenset({m4_two_lanes.SPOT_RULE, g1_weighing.RULE})


# -- documents --------------------------------------------------------------------------------


def _invt_doc(uow: UnitOfWork, bond_invt_no: str) -> GateDoc | None:
    """An inventory list as the gate counts it, before it is first bound (nothing delivered yet)."""
    invt_id = uow.invts.find_bond_no(bond_invt_no)
    if invt_id is None:
        return None
    invt = uow.invts.get(invt_id)
    assert invt is not None
    lines = tuple(DocLine(ln.gds_seqno, ln.gdecd, ln.gds_nm, ln.dcl_unitcd, v.to_units(ln.dcl_qty), 0) for ln in invt.lines)
    ready = invt.status is InvtStatus.APPROVED
    return GateDoc(RltTbType.INVT, bond_invt_no, invt.owner_uscc, invt.impexp_markcd, invt.flow, ready, lines)


def _docs(uow: UnitOfWork, keys: Sequence[DocKey], *, store: bool) -> dict[DocKey, GateDoc]:
    """Documents by key; an approved list not yet counted is copied in when ``store``."""
    found = uow.gate.docs(keys)
    for key in keys:
        if key in found or key[0] is not RltTbType.INVT:
            continue
        doc = _invt_doc(uow, key[1])
        if doc is None:
            continue
        if store and doc.ready:
            uow.gate.add_doc(doc)
        found[key] = doc
    return found


def gate_doc(uow: UnitOfWork, who: Principal, rlt_tb_typecd: str, rlt_no: str) -> GateDoc:
    """A document with declared, delivered and remaining per line (M7); strangers get not-found."""
    require_role(who, Action.PASS_READ)
    key = (rlt_type(rlt_tb_typecd), rlt_no)
    doc = _docs(uow, [key], store=False).get(key)
    if doc is None or not may(who, Action.PASS_READ, doc.owner_uscc):
        raise BzError("BZ-PASS-DOC-NOT-FOUND", rltTbTypecd=key[0].value, rltNo=rlt_no)
    return doc


# -- two-step summary declarations (M6) ---------------------------------------------------------


@dataclass(frozen=True)
class DeclareSummary:
    """Command: a two-step summary declaration (概要申报) whose goods a gate pass may carry."""

    entry_no: str
    putrec_no: str
    io_typecd: str
    lines: Sequence[SummaryLineInput]


def declare_summary(uow: UnitOfWork, who: Principal, cmd: DeclareSummary) -> GateDoc:
    """Record the summary declaration; it may cross once customs releases it."""
    rec = book_for(uow, who, cmd.putrec_no, Action.PASS_WRITE)
    entry = v.entry_no(cmd.entry_no)
    io = passes.header(PassInput("x", "2", cmd.io_typecd, "", "", ""))[1]
    lines = entry_summary_lines(list(cmd.lines))
    key = (RltTbType.ENTRY_SUMMARY, entry)
    if uow.gate.docs([key]):
        raise BzError("BZ-ENTRY-SUMMARY-DUPLICATE", entryNo=entry)
    doc = GateDoc(RltTbType.ENTRY_SUMMARY, entry, rec.book.owner_uscc, io, None, False, lines)
    uow.gate.add_doc(doc)
    return doc


def release_summary(uow: UnitOfWork, who: Principal, entry_no: str) -> GateDoc:
    """Customs releases (放行) a summary declaration: from now on its goods may cross."""
    require_role(who, Action.ENTRY_RELEASE)
    key = (RltTbType.ENTRY_SUMMARY, entry_no)
    doc = uow.gate.docs([key], lock=True).get(key)
    if doc is None:
        raise BzError("BZ-ENTRY-SUMMARY-NOT-FOUND", entryNo=entry_no)
    if doc.ready:
        raise BzError("BZ-ENTRY-SUMMARY-STATE", entryNo=entry_no)
    uow.gate.set_doc_ready(key)
    return replace(doc, ready=True)


# -- gate passes ---------------------------------------------------------------------------------


def create_pass(uow: UnitOfWork, who: Principal, areain_oriact_no: str, raw: PassInput) -> GatePass:
    """A gate pass for the enterprise owning book ``areain_oriact_no``, checked in full (M4, M6, M7)."""
    rec = book_for(uow, who, areain_oriact_no, Action.PASS_WRITE)
    passes.header(raw)  # the codes first: nothing else can be checked without them
    keys: list[DocKey] = []
    for d in raw.docs:
        try:
            keys.append((rlt_type(d.rlt_tb_typecd), d.rlt_no))
        except BzError:
            continue  # reported with the rest by new_gate_pass
    found = _docs(uow, keys, store=True)
    gp = passes.new_gate_pass(
        raw,
        owner_uscc=rec.book.owner_uscc,
        areain_oriact_no=rec.book.putrec_no,
        master_cuscd=rec.book.master_cuscd,
        found_docs=found,
    )
    if uow.gate.preent_taken(gp.owner_uscc, gp.etps_preent_no):
        raise BzError("BZ-PASS-DUPLICATE", etpsPreentNo=gp.etps_preent_no)
    return uow.gate.add_pass(gp, rec.id)


def _visible_pass(uow: UnitOfWork, who: Principal, passport_no: str, action: Action, *, lock: bool = False) -> GatePass:
    require_role(who, action)
    gp = uow.gate.get_pass(passport_no, lock=lock)
    if gp is None or not may(who, action, gp.owner_uscc):
        raise BzError("BZ-PASS-NOT-FOUND", passportNo=passport_no)
    return gp


def get_pass(uow: UnitOfWork, who: Principal, passport_no: str) -> tuple[GatePass, list[Crossing]]:
    """A pass with its lines and every crossing made with it."""
    gp = _visible_pass(uow, who, passport_no, Action.PASS_READ)
    return gp, uow.gate.crossings_of(gp.id)


def list_passes(
    uow: UnitOfWork, who: Principal, *, status: str | None, vehicle_no: str | None, limit: int, offset: int
) -> tuple[list[GatePass], int]:
    """Passes the caller may read, newest first."""
    require_role(who, Action.PASS_READ)
    owner = who.uscc if who.role is Role.ENTERPRISE else None
    return uow.gate.search_passes(owner_uscc=owner, status=status, vehicle_no=vehicle_no, limit=limit, offset=offset)


def cancel_pass(uow: UnitOfWork, who: Principal, passport_no: str) -> GatePass:
    """作废: only a pass that is not at or past the gate."""
    gp = _visible_pass(uow, who, passport_no, Action.PASS_WRITE, lock=True)
    if gp.status is not PassStatus.APPROVED:
        raise BzError("BZ-PASS-STATE", passportNo=passport_no, status=gp.status.value, action_zh="作废", action_en="cancelled")
    moved = gp.with_status(PassStatus.CANCELLED)
    if not uow.gate.save_pass(moved, gp.version):
        raise BzError("BZ-PASS-STATE", passportNo=passport_no, status=gp.status.value, action_zh="作废", action_en="cancelled")
    return moved


# -- crossings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrive:
    """Command: a vehicle is at a gate, in a lane; the pass number when the gate has read it."""

    gate_id: str
    lane: str
    vehicle_no: str
    passport_no: str | None = None


def _pick_pass(uow: UnitOfWork, plate: str, passport_no: str | None) -> GatePass | None:
    """The pass the gate read, or else the plate's oldest unused pass (locked for this transaction)."""
    if passport_no is not None:
        return uow.gate.pass_for_gate(passport_no)
    candidates = uow.gate.passes_for_plate(plate)
    if not candidates:
        return None
    unused = [p for p in candidates if p.status is PassStatus.APPROVED]
    chosen = min(unused, key=lambda p: p.id) if unused else candidates[-1]
    return uow.gate.pass_for_gate(chosen.passport_no)


Event = tuple[str, str, dict[str, object]]


def _arrival(uow: UnitOfWork, who: Principal, cmd: Arrive) -> tuple[GatePass | None, Crossing, list[Event]]:
    """The arrival's checks (``passes.admit``): the pass (None when held), the crossing and its events so far.

    A hold is recorded here, with its reasons. Otherwise the crossing comes back unwritten, shaped as
    a hold with the admission findings, for the caller to turn into what it becomes.
    """
    gid, ln, plate = gate_id(cmd.gate_id), lane(cmd.lane), vehicle_no(cmd.vehicle_no)
    number = v.text(cmd.passport_no, field="passportNo", max_len=64) if cmd.passport_no is not None else None
    gp = _pick_pass(uow, plate, number)
    open_crossing = uow.gate.open_crossing(gp.id) if gp is not None and gp.status is PassStatus.IN_GATE else None
    admitted = passes.admit(gp, number, plate, ln, open_crossing)
    now = uow.now()
    held = Crossing(
        id=0,
        gate_id=gid,
        lane=ln,
        vehicle_no=plate,
        passport_no=gp.passport_no if gp is not None else number,
        pass_id=gp.id if gp is not None else None,
        status=CrossingStatus.HELD,
        attempt=gp.attempts if gp is not None else 0,
        arrived_at=now,
        outcome=Outcome.HOLD,
        reasons=tuple(f.as_dict() for f in admitted),
        decided_at=now,
    )
    events: list[Event] = [("arrive", who.subject, {"gateId": gid, "lane": ln.value, "vehicleNo": plate, "passportNo": number})]
    if any(f.held for f in admitted):
        events.append(("decide", who.subject, {"outcome": Outcome.HOLD.value}))
        return None, uow.gate.record_crossing(held, events), events
    assert gp is not None
    return gp, held, events


def arrive(uow: UnitOfWork, who: Principal, cmd: Arrive) -> Crossing:
    """Record the arrival; hold at once a vehicle without a valid pass for its plate or in the wrong lane.

    Held at arrival: no pass, a pass for another plate, a pass already used or in use at another
    gate, a cancelled pass, the wrong lane. The hold carries the reason; nothing else changes.
    """
    require_role(who, Action.GATE_OPERATE)
    gp, crossing, events = _arrival(uow, who, cmd)
    if gp is None:  # held: already recorded
        return crossing
    attempt = gp.attempts + 1
    moved = replace(gp.with_status(PassStatus.IN_GATE), attempts=attempt)
    if not uow.gate.save_pass(moved, gp.version):
        raise BzError("BZ-PASS-STATE", passportNo=gp.passport_no, status=gp.status.value, action_zh="过卡", action_en="used")
    arrived = replace(crossing, status=CrossingStatus.ARRIVED, attempt=attempt, outcome=None, decided_at=None)
    return uow.gate.record_crossing(arrived, events)


def _crossing(uow: UnitOfWork, who: Principal, crossing_id: int, action: Action = Action.GATE_OPERATE) -> Crossing:
    require_role(who, action)
    c = uow.gate.get_crossing(crossing_id, lock=True)
    if c is None:
        raise BzError("BZ-CROSSING-NOT-FOUND", id=crossing_id)
    return c


def _order(c: Crossing, zh: str, en: str) -> BzError:
    return BzError("BZ-GATE-EVENT-ORDER", id=c.id, status=c.status.value, event_zh=zh, event_en=en)


def _save(uow: UnitOfWork, before: Crossing, after: Crossing) -> Crossing:
    moved = replace(after, version=before.version + 1)
    if not uow.gate.save_crossing(moved, before.version):
        raise _order(before, "重复处理", "apply this event twice")
    return moved


def weigh(uow: UnitOfWork, who: Principal, crossing_id: int, gross_wt: str) -> Crossing:
    """Record the weighbridge reading (passCollectWt) of a vehicle that arrived and is not yet weighed."""
    c = _crossing(uow, who, crossing_id)
    gross = weight(gross_wt, field_name="grossWt")
    if c.status is not CrossingStatus.ARRIVED:
        raise _order(c, "过磅", "weigh")
    now = uow.now()
    uow.gate.add_event(c.id, "weigh", who.subject, {"grossWt": v.fmt_qty(gross)}, now)
    return _save(uow, c, replace(c, status=CrossingStatus.WEIGHED, gross_wt=gross, weighed_at=now))


def _pass_of(uow: UnitOfWork, c: Crossing) -> GatePass:
    assert c.passport_no is not None
    gp = uow.gate.pass_for_gate(c.passport_no)
    assert gp is not None
    return gp


def _deliver(uow: UnitOfWork, gp: GatePass, c: Crossing, docs: dict[DocKey, GateDoc]) -> None:
    """The effects of letting the vehicle through: deliveries (M7) and the hazchem feed (M4)."""
    uow.gate.deliver(m7_multi_truck.apply(docs, gp))
    if gp.io_typecd is v.ImpexpMark.IMPORT and m4_two_lanes.hazchem_lines(gp):
        uow.gate.add_hazchem(c, gp, uow.now())


def _credit(uow: UnitOfWork, gp: GatePass) -> v.Credit:
    if gp.owner_credit is not None:
        return gp.owner_credit
    owner = uow.enterprises.get(gp.owner_uscc)
    assert owner is not None
    return owner.credit


def decide(uow: UnitOfWork, who: Principal, crossing_id: int, policy: GatePolicy) -> Crossing:
    """Pass or hold, with every reason: weight (G1), remaining quantities (M7), spot check (M4)."""
    c = _crossing(uow, who, crossing_id)
    if c.status not in (CrossingStatus.ARRIVED, CrossingStatus.WEIGHED):
        raise _order(c, "判定", "decide")
    gp = _pass_of(uow, c)
    if c.gross_wt is None and m4_two_lanes.weight_exempt(gp) is None:
        raise _order(c, "在过磅前判定", "decide before the vehicle is weighed")
    docs = uow.gate.docs([(d.rlt_tb_typecd, d.rlt_no) for d in gp.docs], lock=True)
    decision = passes.evaluate(
        gp, lane=c.lane, weighed=c.gross_wt, docs=docs, credit=_credit(uow, gp), attempt=c.attempt, policy=policy
    )
    now = uow.now()
    reasons = c.reasons + tuple(f.as_dict() for f in decision.reasons)
    if decision.outcome is Outcome.PASS:
        _deliver(uow, gp, c, docs)
        after_pass, after = PassStatus.PASSED, CrossingStatus.PASSED
    else:
        after_pass, after = PassStatus.APPROVED, CrossingStatus.HELD
    if not uow.gate.save_pass(gp.with_status(after_pass), gp.version):
        raise _order(c, "判定", "decide")
    uow.gate.add_event(c.id, "decide", who.subject, {"outcome": decision.outcome.value}, now)
    return _save(uow, c, replace(c, status=after, outcome=decision.outcome, reasons=reasons, decided_at=now))


def leave(uow: UnitOfWork, who: Principal, crossing_id: int) -> Crossing:
    """The vehicle leaves the gate: through it after a pass, back out after a hold."""
    c = _crossing(uow, who, crossing_id)
    if c.status not in (CrossingStatus.PASSED, CrossingStatus.HELD):
        raise _order(c, "离开", "leave")
    now = uow.now()
    if c.status is CrossingStatus.PASSED:
        gp = _pass_of(uow, c)
        if not uow.gate.save_pass(gp.with_status(PassStatus.CROSSED), gp.version):
            raise _order(c, "离开", "leave")
    uow.gate.add_event(c.id, "leave", who.subject, {"through": c.status is CrossingStatus.PASSED}, now)
    return _save(uow, c, replace(c, status=CrossingStatus.LEFT, left_at=now))


@dataclass(frozen=True)
class Cross:
    """Command: the gate's automation reports arrival and weight and asks for the decision at once."""

    gate_id: str
    lane: str
    vehicle_no: str
    passport_no: str | None = None
    gross_wt: str | None = None


def cross(uow: UnitOfWork, who: Principal, cmd: Cross, policy: GatePolicy) -> Crossing:
    """Arrive, weigh and decide in one transaction: the same checks and events as the three steps.

    This is the gate automation's hot path, so the crossing is written once, in its final state,
    with its arrive / weigh / decide events, rather than inserted and then updated twice.
    """
    require_role(who, Action.GATE_OPERATE)
    gross = weight(cmd.gross_wt, field_name="grossWt") if cmd.gross_wt is not None else None
    gp, base, events = _arrival(uow, who, Arrive(cmd.gate_id, cmd.lane, cmd.vehicle_no, cmd.passport_no))
    if gp is None:  # held at arrival: already recorded
        return base
    if gross is None and m4_two_lanes.weight_exempt(gp) is None:
        raise BzError("BZ-WEIGHT-INVALID", field="grossWt", value="", reason="required: this vehicle's weight is compared (G1)")
    attempt = gp.attempts + 1
    docs = uow.gate.docs([(d.rlt_tb_typecd, d.rlt_no) for d in gp.docs], lock=True)
    decision = passes.evaluate(
        gp, lane=base.lane, weighed=gross, docs=docs, credit=_credit(uow, gp), attempt=attempt, policy=policy
    )
    if gross is not None:
        events.append(("weigh", who.subject, {"grossWt": v.fmt_qty(gross)}))
    events.append(("decide", who.subject, {"outcome": decision.outcome.value}))
    passed = decision.outcome is Outcome.PASS
    moved = replace(gp.with_status(PassStatus.PASSED if passed else PassStatus.APPROVED), attempts=attempt)
    if not uow.gate.save_pass(moved, gp.version):
        raise BzError("BZ-PASS-STATE", passportNo=gp.passport_no, status=gp.status.value, action_zh="过卡", action_en="used")
    crossing = uow.gate.record_crossing(
        replace(
            base,
            status=CrossingStatus.PASSED if passed else CrossingStatus.HELD,
            attempt=attempt,
            gross_wt=gross,
            weighed_at=base.arrived_at if gross is not None else None,
            outcome=decision.outcome,
            reasons=base.reasons + tuple(f.as_dict() for f in decision.reasons),
        ),
        events,
    )
    if passed:
        _deliver(uow, gp, crossing, docs)
    return crossing


def release(uow: UnitOfWork, who: Principal, crossing_id: int, reason: str) -> Crossing:
    """Customs lets a held vehicle through after inspecting it: only spot-check and weight holds."""
    c = _crossing(uow, who, crossing_id, Action.GATE_RELEASE)
    note = v.text(reason, field="reason", max_len=2000)
    if c.status is not CrossingStatus.HELD:
        raise _order(c, "放行", "release")
    rules = sorted({str(r["rule"]) for r in c.reasons if r.get("held")})
    if c.pass_id is None or not rules or not set(rules) <= RELEASABLE:
        raise BzError("BZ-GATE-RELEASE", id=c.id, rules=", ".join(rules))
    gp = _pass_of(uow, c)
    if gp.status is not PassStatus.APPROVED:
        raise _order(c, "放行", "release")
    docs = uow.gate.docs([(d.rlt_tb_typecd, d.rlt_no) for d in gp.docs], lock=True)
    still = [f for f in m7_multi_truck.check_remaining(gp, docs) if f.held]
    now = uow.now()
    if still:  # another vehicle of the same document crossed meanwhile: it no longer fits
        raise BzError("BZ-GATE-RELEASE", id=c.id, rules=m7_multi_truck.RULE)
    _deliver(uow, gp, c, docs)
    if not uow.gate.save_pass(gp.with_status(PassStatus.PASSED), gp.version):
        raise _order(c, "放行", "release")
    finding = Finding(RELEASE_RULE, False, f"关员 {who.subject} 查验后放行：{note}", f"released by {who.subject}: {note}", {})
    uow.gate.add_event(c.id, "release", who.subject, {"reason": note}, now)
    return _save(uow, c, replace(c, status=CrossingStatus.PASSED, outcome=Outcome.PASS, reasons=(*c.reasons, finding.as_dict())))


def get_crossing(uow: UnitOfWork, who: Principal, crossing_id: int) -> tuple[Crossing, list[GateEventRow]]:
    """A crossing and its events; an enterprise sees only crossings made with its own passes."""
    require_role(who, Action.PASS_READ)
    c = uow.gate.get_crossing(crossing_id)
    visible = c is not None
    if c is not None and who.role is Role.ENTERPRISE:
        gp = uow.gate.get_pass(c.passport_no) if c.passport_no and c.pass_id else None
        visible = gp is not None and may(who, Action.PASS_READ, gp.owner_uscc)
    if c is None or not visible:
        raise BzError("BZ-CROSSING-NOT-FOUND", id=crossing_id)
    return c, uow.gate.events(c.id)


def hazchem_feed(uow: UnitOfWork, who: Principal, *, after_id: int, limit: int) -> list[HazchemRow]:
    """M4: hazardous chemicals that entered the zone, oldest first, for the zone administration."""
    require_role(who, Action.HAZCHEM_READ)
    return uow.gate.hazchem(after_id, limit)
