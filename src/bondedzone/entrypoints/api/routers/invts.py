"""Inventory lists (L4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from bondedzone.domain.model import InventoryList, InvtLineInput
from bondedzone.entrypoints.api import schemas as s
from bondedzone.entrypoints.api.deps import ContainerDep, CurrentPrincipal, IdempotencyKey
from bondedzone.entrypoints.api.routers._run import run_write
from bondedzone.services import invts
from bondedzone.services.authz import Principal
from bondedzone.services.ports import UnitOfWork

router = APIRouter(prefix="/api/v1/invts", tags=["inventory lists"])

InvtId = Annotated[int, Path(ge=1, le=2**62, description="the list's id")]


@router.post("", status_code=201, response_model=s.InvtPublic)
def create(body: s.InvtCreate, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey) -> JSONResponse:
    """Enter a draft list; every line is checked against the book (item, unit, quantity)."""
    cmd = invts.CreateInvt(
        etps_inner_invt_no=body.etps_inner_invt_no,
        putrec_no=body.putrec_no,
        impexp_markcd=body.impexp_markcd,
        supv_modecd=body.supv_modecd,
        flow=body.flow,
        dclcus_flag=body.dclcus_flag,
        entry_no=body.entry_no,
        rmk=body.rmk,
        lines=[
            InvtLineInput(ln.gds_seqno, ln.putrec_seqno, ln.dcl_qty, ln.dcl_unitcd, ln.stock_status, ln.gds_mtno, ln.gdecd)
            for ln in body.lines
        ],
    )
    return run_write(request, c, who, key, body, lambda uow: invts.create_invt(uow, who, cmd), s.InvtPublic.of, 201)


@router.get("", response_model=s.Page[s.InvtPublic])
def list_(
    c: ContainerDep,
    who: CurrentPrincipal,
    putrec_no: Annotated[str | None, Query(alias="putrecNo", max_length=64)] = None,
    status: Literal["draft", "declared", "approved", "rejected", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.Page[s.InvtPublic]:
    """List headers, newest first."""
    with c.uow(write=False) as uow:
        rows, total = invts.list_invts(uow, who, putrec_no=putrec_no, status=status, limit=limit, offset=offset)
    return s.Page[s.InvtPublic](data=[s.InvtPublic.of(i, lines=False) for i in rows], count=total)


@router.get("/{invt_id}", response_model=s.InvtPublic)
def get(invt_id: InvtId, c: ContainerDep, who: CurrentPrincipal) -> s.InvtPublic:
    """One list with its lines."""
    with c.uow(write=False) as uow:
        return s.InvtPublic.of(invts.get_invt(uow, who, invt_id))


@router.get("/{invt_id}/history", response_model=s.HistoryPublic)
def history(invt_id: InvtId, c: ContainerDep, who: CurrentPrincipal) -> s.HistoryPublic:
    """The list's state changes and the postings it caused."""
    with c.uow(write=False) as uow:
        invt, events, postings = invts.invt_history(uow, who, invt_id)
    return s.HistoryPublic(
        invt=s.InvtPublic.of(invt, lines=False),
        events=[s.EventPublic.of(e) for e in events],
        postings=[s.PostingPublic.of(p) for p in postings],
    )


Move = Callable[[UnitOfWork, Principal, int], InventoryList]


def _plain(request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey, invt_id: int, fn: Move) -> JSONResponse:
    return run_write(request, c, who, key, None, lambda uow: fn(uow, who, invt_id), _header)


def _header(invt: InventoryList) -> s.InvtPublic:
    """A state move answers with the list's header; ``GET /invts/{id}`` has its lines."""
    return s.InvtPublic.of(invt, lines=False)


@router.post("/{invt_id}/declare", response_model=s.InvtPublic)
def declare(invt_id: InvtId, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey) -> JSONResponse:
    """Draft → declared (the list gets its bondInvtNo)."""
    return _plain(request, c, who, key, invt_id, invts.declare_invt)


@router.post("/{invt_id}/approve", response_model=s.InvtPublic)
def approve(invt_id: InvtId, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey) -> JSONResponse:
    """Declared → approved (customs): posts every line in one transaction, or refuses the whole list."""
    return _plain(request, c, who, key, invt_id, invts.approve_invt)


@router.post("/{invt_id}/reject", response_model=s.InvtPublic)
def reject(
    invt_id: InvtId,
    request: Request,
    c: ContainerDep,
    who: CurrentPrincipal,
    key: IdempotencyKey,
    body: s.ReasonBody | None = None,
) -> JSONResponse:
    """Declared → rejected (customs, 退单)."""
    reason = body.reason if body else None
    return run_write(request, c, who, key, body, lambda uow: invts.reject_invt(uow, who, invt_id, reason), _header)


@router.post("/{invt_id}/cancel", response_model=s.InvtPublic)
def cancel(
    invt_id: InvtId,
    request: Request,
    c: ContainerDep,
    who: CurrentPrincipal,
    key: IdempotencyKey,
    body: s.ReasonBody | None = None,
) -> JSONResponse:
    """Draft / declared → cancelled (删单)."""
    reason = body.reason if body else None
    return run_write(request, c, who, key, body, lambda uow: invts.cancel_invt(uow, who, invt_id, reason), _header)
