"""The smart gate (M4, M6, M7, G1): gate passes, summary declarations, crossings, the hazchem feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bondedzone.domain.gate import Crossing, SummaryLineInput
from bondedzone.domain.passes import PassInput
from bondedzone.domain.rules.m4_two_lanes import GoodsInput, HazchemInput
from bondedzone.domain.rules.m6_consolidation import DocInput, DocLineInput
from bondedzone.entrypoints.api import gate_schemas as g
from bondedzone.entrypoints.api import schemas as s
from bondedzone.entrypoints.api.deps import ContainerDep, CurrentPrincipal, IdempotencyKey
from bondedzone.entrypoints.api.errors import lang
from bondedzone.entrypoints.api.gate_schemas import wt_in
from bondedzone.entrypoints.api.routers._run import run_write
from bondedzone.services import gate
from bondedzone.services.ports import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["gate"])

PassportNo = Annotated[str, Path(max_length=64, description="passportNo")]
Work = Callable[[UnitOfWork], Crossing]
CrossingId = Annotated[int, Path(ge=1, le=2**62, description="the crossing's id")]


def _crossing_write(
    request: Request,
    c: ContainerDep,
    who: CurrentPrincipal,
    key: str | None,
    body: BaseModel | None,
    work: Work,
    status: int = 200,
) -> JSONResponse:
    """A gate event through :func:`run_write`, answered with the crossing in the caller's language."""
    language = lang(request)
    return run_write(request, c, who, key, body, work, lambda x: g.CrossingPublic.of(x, language), status)


def _pass_input(body: g.PassCreate) -> PassInput:
    return PassInput(
        etps_preent_no=body.etps_preent_no,
        passport_typecd=body.passport_typecd,
        io_typecd=body.io_typecd,
        vehicle_no=body.vehicle_no,
        vehicle_wt=str(body.vehicle_wt),
        total_gross_wt=str(body.total_gross_wt),
        bind_typecd=body.bind_typecd,
        vehicle_frame_wt=wt_in(body.vehicle_frame_wt),
        container_no=body.container_no,
        container_wt=wt_in(body.container_wt),
        docs=[
            DocInput(
                d.rlt_tb_typecd,
                d.rlt_no,
                [DocLineInput(ln.rlt_gds_seqno, str(ln.dcl_qty), wt_in(ln.gross_wt)) for ln in d.lines]
                if d.lines is not None
                else None,
            )
            for d in body.docs
        ],
        goods=[
            GoodsInput(
                x.gds_nm,
                x.category,
                str(x.dcl_qty),
                x.dcl_unitcd,
                x.gdecd,
                wt_in(x.gross_wt),
                HazchemInput(x.hazchem.un_no, x.hazchem.hazard_class, x.hazchem.cas_no, x.hazchem.usage) if x.hazchem else None,
            )
            for x in body.goods
        ],
        rmk=body.rmk,
    )


# First: routes are matched in order, and this is the one the gate's automation calls for
# every vehicle.
@router.post("/gate/cross", response_model=g.CrossingPublic, tags=["gate"])
def cross(body: g.CrossIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey) -> JSONResponse:
    """The gate's automation in one message: arrival, weight and the decision (each event recorded)."""
    cmd = gate.Cross(body.gate_id, body.lane, body.vehicle_no, body.passport_no, wt_in(body.gross_wt))
    return _crossing_write(request, c, who, key, body, lambda uow: gate.cross(uow, who, cmd, c.gate_policy))


@router.post("/passports", status_code=201, response_model=g.PassPublic, tags=["gate passes"])
def create_pass(
    body: g.PassCreate, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """A gate pass (核放单): bound documents (M6, M7) or non-declared goods (M4), checked in full."""
    raw = _pass_input(body)
    return run_write(
        request, c, who, key, body, lambda uow: gate.create_pass(uow, who, body.areain_oriact_no, raw), g.PassPublic.of, 201
    )


@router.get("/passports", response_model=s.Page[g.PassPublic], tags=["gate passes"])
def list_passes(
    c: ContainerDep,
    who: CurrentPrincipal,
    status: Literal["approved", "in_gate", "passed", "crossed", "cancelled"] | None = None,
    vehicle_no: Annotated[str | None, Query(alias="vehicleNo", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.Page[g.PassPublic]:
    """Passes the caller may read, newest first."""
    with c.uow(write=False) as uow:
        rows, total = gate.list_passes(uow, who, status=status, vehicle_no=vehicle_no, limit=limit, offset=offset)
    return s.Page[g.PassPublic](data=[g.PassPublic.of(p) for p in rows], count=total)


@router.get("/passports/{passport_no}", response_model=g.PassPublic, tags=["gate passes"])
def get_pass(passport_no: PassportNo, request: Request, c: ContainerDep, who: CurrentPrincipal) -> g.PassPublic:
    """A pass with its lines and every crossing made with it (decisions and reasons)."""
    with c.uow(write=False) as uow:
        gp, crossings = gate.get_pass(uow, who, passport_no)
    return g.PassPublic.of(gp, crossings, lang(request))


@router.post("/passports/{passport_no}/cancel", response_model=g.PassPublic, tags=["gate passes"])
def cancel_pass(
    passport_no: PassportNo, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """作废 a pass that has not reached the gate."""
    return run_write(request, c, who, key, None, lambda uow: gate.cancel_pass(uow, who, passport_no), g.PassPublic.of)


@router.post("/entry-summaries", status_code=201, response_model=g.GateDocPublic, tags=["gate passes"])
def declare_summary(
    body: g.SummaryCreate, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """A two-step summary declaration (概要申报, M6) whose goods a pass may carry once released."""
    cmd = gate.DeclareSummary(
        body.entry_no,
        body.putrec_no,
        body.io_typecd,
        [SummaryLineInput(ln.g_no, ln.gdecd, ln.gds_nm, str(ln.dcl_qty), ln.dcl_unitcd) for ln in body.lines],
    )
    return run_write(request, c, who, key, body, lambda uow: gate.declare_summary(uow, who, cmd), g.GateDocPublic.of, 201)


@router.post("/entry-summaries/{entry_no}/release", response_model=g.GateDocPublic, tags=["gate passes"])
def release_summary(
    entry_no: Annotated[str, Path(max_length=64)], request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Customs releases (放行) a summary declaration."""
    return run_write(request, c, who, key, None, lambda uow: gate.release_summary(uow, who, entry_no), g.GateDocPublic.of)


@router.get("/gate/docs/{rlt_tb_typecd}/{rlt_no}", response_model=g.GateDocPublic, tags=["gate passes"])
def gate_doc(
    rlt_tb_typecd: Literal["1", "4"], rlt_no: Annotated[str, Path(max_length=64)], c: ContainerDep, who: CurrentPrincipal
) -> g.GateDocPublic:
    """A bound document's declared, delivered (actlPassQty) and remaining quantities per line (M7)."""
    with c.uow(write=False) as uow:
        return g.GateDocPublic.of(gate.gate_doc(uow, who, rlt_tb_typecd, rlt_no))


@router.post("/gate/crossings", status_code=201, response_model=g.CrossingPublic, tags=["gate"])
def arrive(body: g.ArriveIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey) -> JSONResponse:
    """A vehicle arrives at a gate: held at once without a valid pass for its plate, or in the wrong lane."""
    cmd = gate.Arrive(body.gate_id, body.lane, body.vehicle_no, body.passport_no)
    language = lang(request)
    return run_write(
        request, c, who, key, body, lambda uow: gate.arrive(uow, who, cmd), lambda x: g.CrossingPublic.of(x, language), 201
    )


@router.post("/gate/crossings/{crossing_id}/weigh", response_model=g.CrossingPublic, tags=["gate"])
def weigh(
    crossing_id: CrossingId, body: g.WeighIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """The weighbridge reading (passCollectWt) of the vehicle."""
    gross = str(body.gross_wt)
    return _crossing_write(request, c, who, key, body, lambda uow: gate.weigh(uow, who, crossing_id, gross))


@router.post("/gate/crossings/{crossing_id}/decide", response_model=g.CrossingPublic, tags=["gate"])
def decide(
    crossing_id: CrossingId, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Pass or hold, with every reason: weight (G1), remaining quantities (M7), spot check (M4)."""
    return _crossing_write(request, c, who, key, None, lambda uow: gate.decide(uow, who, crossing_id, c.gate_policy))


@router.post("/gate/crossings/{crossing_id}/leave", response_model=g.CrossingPublic, tags=["gate"])
def leave(crossing_id: CrossingId, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey) -> JSONResponse:
    """The vehicle leaves: through the gate after a pass, back out after a hold."""
    language = lang(request)
    return run_write(
        request, c, who, key, None, lambda uow: gate.leave(uow, who, crossing_id), lambda x: g.CrossingPublic.of(x, language)
    )


@router.post("/gate/crossings/{crossing_id}/release", response_model=g.CrossingPublic, tags=["gate"])
def release(
    crossing_id: CrossingId, body: g.ReleaseIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Customs lets a vehicle held by a spot check or the weight check through after inspecting it."""
    language = lang(request)
    reason = body.reason
    return run_write(
        request,
        c,
        who,
        key,
        body,
        lambda uow: gate.release(uow, who, crossing_id, reason),
        lambda x: g.CrossingPublic.of(x, language),
    )


@router.get("/gate/crossings/{crossing_id}", response_model=g.CrossingPublic, tags=["gate"])
def get_crossing(crossing_id: CrossingId, request: Request, c: ContainerDep, who: CurrentPrincipal) -> g.CrossingPublic:
    """A crossing with its decision, reasons and every recorded event."""
    with c.uow(write=False) as uow:
        x, events = gate.get_crossing(uow, who, crossing_id)
    return g.CrossingPublic.of(x, lang(request), events)


@router.get("/hazchem-feed", response_model=s.Page[g.HazchemPublic], tags=["gate"])
def hazchem_feed(
    c: ContainerDep,
    who: CurrentPrincipal,
    after_id: Annotated[int, Query(alias="afterId", ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> s.Page[g.HazchemPublic]:
    """M4: hazardous chemicals that entered the zone, oldest first, shared with the zone administration.

    A feed rather than a listing: ``count`` is the number of records on this page; read on with
    ``afterId`` = the last ``id`` until a page comes back empty.
    """
    with c.uow(write=False) as uow:
        rows = gate.hazchem_feed(uow, who, after_id=after_id, limit=limit)
    return s.Page[g.HazchemPublic](data=[g.HazchemPublic.of(r) for r in rows], count=len(rows))
