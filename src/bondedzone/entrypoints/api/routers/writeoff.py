"""M19: the book lifecycle (设立 / 暂停 / 恢复 / 注销), the M3 mode, and write-offs with their report."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bondedzone.adapters.files import writeoff_report
from bondedzone.domain.model import Book
from bondedzone.entrypoints.api import schemas as s
from bondedzone.entrypoints.api import wms_schemas as w
from bondedzone.entrypoints.api.deps import ContainerDep, CurrentPrincipal, IdempotencyKey
from bondedzone.entrypoints.api.routers._run import run_write
from bondedzone.entrypoints.api.routers.registry import _book
from bondedzone.services import writeoff
from bondedzone.services.ports import WriteOff

router = APIRouter(prefix="/api/v1", tags=["write-off"])

PutrecNo = Annotated[str, Path(max_length=12, description="the book's putrecNo")]
WriteOffId = Annotated[int, Path(ge=1, le=2**62, description="the write-off's id")]


def _wo(x: WriteOff) -> w.WriteOffPublic:
    return w.WriteOffPublic.of(x)


def _bk(b: Book) -> s.BookPublic:
    return _book(b)


@router.post("/books/{putrec_no}/lifecycle", response_model=s.BookPublic, tags=["registry"])
def book_lifecycle(
    putrec_no: PutrecNo, body: w.LifecycleIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """M19: customs sets a book up (open), suspends, resumes or closes (注销) it; recorded in the book's chain."""
    return run_write(
        request, c, who, key, body, lambda uow: writeoff.change_book(uow, who, putrec_no, body.action, body.reason), _bk
    )


@router.post("/books/{putrec_no}/mode", response_model=s.BookPublic, tags=["registry"])
def book_mode(
    putrec_no: PutrecNo, body: w.ModeIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """M3: customs lets the ledger of an AEO-advanced, WMS-networked enterprise's logistics book follow its WMS."""
    return run_write(request, c, who, key, body, lambda uow: writeoff.set_wms_driven(uow, who, putrec_no, body.wms_driven), _bk)


@router.post("/writeoffs", status_code=201, response_model=w.WriteOffPublic)
def create_writeoff(
    body: w.WriteOffIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """M19: write a book off over a period: opening + in − out = closing per item and status, against the last stocktake."""
    cmd = writeoff.NewWriteOff(body.putrec_no, body.period_from, body.period_to)
    return run_write(request, c, who, key, body, lambda uow: writeoff.create(uow, who, cmd), _wo, 201)


@router.get("/writeoffs", response_model=s.Page[w.WriteOffPublic])
def list_writeoffs(
    c: ContainerDep,
    who: CurrentPrincipal,
    putrec_no: Annotated[str | None, Query(alias="putrecNo", max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.Page[w.WriteOffPublic]:
    """Write-offs of the books the caller may read, newest first (without their lines)."""
    with c.uow(write=False) as uow:
        rows, total = writeoff.search(uow, who, putrec_no, limit=limit, offset=offset)
    return s.Page[w.WriteOffPublic](data=[w.WriteOffPublic.of(x, with_lines=False) for x in rows], count=total)


@router.get("/writeoffs/{writeoff_id}", response_model=w.WriteOffPublic)
def get_writeoff(writeoff_id: WriteOffId, c: ContainerDep, who: CurrentPrincipal) -> w.WriteOffPublic:
    """A write-off with every line, its difference (盘盈/盘亏) and explanation."""
    with c.uow(write=False) as uow:
        return w.WriteOffPublic.of(writeoff.get(uow, who, writeoff_id))


@router.post("/writeoffs/{writeoff_id}/explanations", response_model=w.WriteOffPublic)
def explain_writeoff(
    writeoff_id: WriteOffId, body: w.ExplanationsIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """The enterprise explains its differences, line by line."""
    notes = [(x.putrec_seqno, x.stock_status, x.explanation) for x in body.lines]
    return run_write(request, c, who, key, body, lambda uow: writeoff.explain(uow, who, writeoff_id, notes), _wo)


@router.post("/writeoffs/{writeoff_id}/submit", response_model=w.WriteOffPublic)
def submit_writeoff(
    writeoff_id: WriteOffId, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Submit to customs; every difference must be explained."""
    return run_write(request, c, who, key, None, lambda uow: writeoff.submit(uow, who, writeoff_id), _wo)


@router.post("/writeoffs/{writeoff_id}/cancel", response_model=w.WriteOffPublic)
def cancel_writeoff(
    writeoff_id: WriteOffId, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Withdraw a draft or returned write-off, e.g. to compute it again after a new stocktake."""
    return run_write(request, c, who, key, None, lambda uow: writeoff.cancel(uow, who, writeoff_id), _wo)


@router.post("/writeoffs/{writeoff_id}/approve", response_model=w.WriteOffPublic)
def approve_writeoff(
    writeoff_id: WriteOffId, body: w.DecisionIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Customs signs the write-off off; its 盘盈/盘亏 are posted so the next period opens at the count."""
    work = lambda uow: writeoff.decide(uow, who, writeoff_id, approve=True, note=body.note)  # noqa: E731
    return run_write(request, c, who, key, body, work, _wo)


@router.post("/writeoffs/{writeoff_id}/return", response_model=w.WriteOffPublic)
def return_writeoff(
    writeoff_id: WriteOffId, body: w.DecisionIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Customs sends the write-off back with a reason; the enterprise explains again and resubmits."""
    work = lambda uow: writeoff.decide(uow, who, writeoff_id, approve=False, note=body.note)  # noqa: E731
    return run_write(request, c, who, key, body, work, _wo)


@router.get("/writeoffs/{writeoff_id}/report", response_model=None)
def writeoff_report_file(
    writeoff_id: WriteOffId,
    c: ContainerDep,
    who: CurrentPrincipal,
    fmt: Annotated[Literal["html", "pdf", "xlsx"], Query(alias="format")] = "html",
) -> Response:
    """The write-off report an officer signs off: a printable page, a PDF or an XLSX file."""
    with c.uow(write=False) as uow:
        wo = writeoff.get(uow, who, writeoff_id)
    name = f"writeoff-{wo.id}-{wo.putrec_no}"
    if fmt == "html":
        return HTMLResponse(writeoff_report.page(wo))
    if fmt == "pdf":
        body, media = writeoff_report.pdf(wo), "application/pdf"
    else:
        body, media = writeoff_report.xlsx(wo), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
