"""WMS networking (M22/W1) and reconciliation (W2, W3): ingestion, runs, findings, exports."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bondedzone.adapters.files import exports, wms_files
from bondedzone.entrypoints.api import schemas as s
from bondedzone.entrypoints.api import wms_schemas as w
from bondedzone.entrypoints.api.deps import ContainerDep, CurrentPrincipal, IdempotencyKey
from bondedzone.entrypoints.api.routers._run import payload, run_keyed
from bondedzone.services import reconcile
from bondedzone.services import wms as wms_service
from bondedzone.services.authz import Principal
from bondedzone.services.ports import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["wms"])

RunId = Annotated[int, Path(ge=1, le=2**62, description="the reconciliation run's id")]
FindingId = Annotated[int, Path(ge=1, le=2**62, description="the finding's id")]


def _as_is(answer: dict[str, Any]) -> dict[str, Any]:
    return answer


def _batch(
    kind: wms_service.Kind, body: w.BatchIn, request: Request, c: ContainerDep, who: Principal, key: str | None
) -> JSONResponse:
    records = [wms_service.RawRecord(i, None, r) for i, r in enumerate(body.records, start=1)]

    def work(uow: UnitOfWork) -> dict[str, Any]:
        answer = wms_service.ingest(uow, who, kind, records, batch_ref=body.batch_ref, partial=body.partial, source="api")
        return w.IngestAnswer.model_validate(answer).model_dump(mode="json", by_alias=True)

    return run_keyed(request, c, who, key, payload(body), work, _as_is)


@router.post("/wms/movements", response_model=w.IngestAnswer)
def send_movements(
    body: w.BatchIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """M22/W1: a batch of WMS stock movements (receipt, issue, transfer, status_change, adjustment).

    All or nothing unless ``partial``; a record already received is a duplicate; the answer says
    which records were refused and why, by record number and field.
    """
    return _batch("movements", body, request, c, who, key)


@router.post("/wms/stocktakes", response_model=w.IngestAnswer)
def send_stocktakes(
    body: w.BatchIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """M22/W1: lines of a WMS stocktake (盘点): what was counted per item, status and location."""
    return _batch("stock", body, request, c, who, key)


@router.post(
    "/wms/files",
    response_model=w.IngestAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "string"}},
                "application/xml": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upload_file(
    request: Request,
    c: ContainerDep,
    who: CurrentPrincipal,
    key: IdempotencyKey,
    name: Annotated[str, Query(min_length=1, max_length=255, description="the file's name; .csv, .json or .xml")],
    encoding: Annotated[
        Literal["utf-8", "utf-8-sig", "gbk", "gb2312", "gb18030"] | None, Query(description="default: detected")
    ] = None,
    partial: Annotated[bool, Query(description="store the valid records even if some are refused")] = False,
) -> JSONResponse:
    """M22/W1: a WMS export file as the request body (CSV, JSON or XML; UTF-8, GBK or GB18030).

    Movements or stocktake lines (a file with ``snapshotRef`` is a stocktake); CSV headers may be
    the field names or the usual Chinese column names. Undecodable lines are refused record by
    record; nothing is stored if anything is refused, unless ``partial``.
    """
    data = await request.body()

    def upload() -> JSONResponse:
        parsed = wms_files.read(data, name, encoding=encoding)
        records = [wms_service.RawRecord(r.record, r.line, r.fields) for r in parsed.records]

        def work(uow: UnitOfWork) -> dict[str, Any]:
            answer = wms_service.ingest(
                uow,
                who,
                parsed.kind,
                records,
                batch_ref=parsed.batch_ref,
                partial=partial,
                source="upload",
                filename=name,
                read_errors=parsed.errors,
            )
            return w.IngestAnswer.model_validate(answer).model_dump(mode="json", by_alias=True)

        return run_keyed(request, c, who, key, data, work, _as_is)

    return await run_in_threadpool(upload)


@router.post("/reconciliations", status_code=201, response_model=w.RunPublic)
def start_reconciliation(
    body: w.ReconIn, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """W2: compare WMS data with the declarations and the ledger over a period, now.

    Customs compares any books; an enterprise its own. The run and its findings are kept; read
    them with the routes below, or export them.
    """
    tolerance = c.recon_tolerance if body.tolerance_minutes is None else timedelta(minutes=body.tolerance_minutes)
    done = reconcile.compute(
        c.uow,
        who,
        c.compare_engine(),
        period_from=body.period_from,
        period_to=body.period_to,
        tolerance=tolerance,
        putrec_no=body.putrec_no,
    )

    def work(uow: UnitOfWork) -> dict[str, Any]:
        summary = reconcile.store(uow, who, done, engine_name=c.settings.recon_engine)
        return w.RunPublic.of(summary.run).model_dump(mode="json", by_alias=True)

    return run_keyed(request, c, who, key, payload(body), work, _as_is, status=201)


@router.get("/reconciliations/{run_id}", response_model=w.RunPublic)
def get_reconciliation(run_id: RunId, c: ContainerDep, who: CurrentPrincipal) -> w.RunPublic:
    """A reconciliation run: its period, engine and counts per class."""
    with c.uow(write=False) as uow:
        return w.RunPublic.of(reconcile.get_run(uow, who, run_id))


@router.get("/reconciliations/{run_id}/findings", response_model=s.Page[w.FindingPublic])
def run_findings(
    run_id: RunId,
    c: ContainerDep,
    who: CurrentPrincipal,
    cls: Annotated[str | None, Query(max_length=40, description="one class, e.g. quantity_mismatch")] = None,
    putrec_no: Annotated[str | None, Query(alias="putrecNo", max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.Page[w.FindingPublic]:
    """The findings of a run, each with its class, both sides' figures and the time it is about."""
    with c.uow(write=False) as uow:
        rows, total = reconcile.findings(uow, who, run_id, cls=cls, putrec_no=putrec_no, limit=limit, offset=offset)
    return s.Page[w.FindingPublic](data=[w.FindingPublic.of(f) for f in rows], count=total)


@router.get("/reconciliations/{run_id}/export")
def export_run(
    run_id: RunId,
    c: ContainerDep,
    who: CurrentPrincipal,
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv",
) -> Response:
    """The run's findings as CSV (UTF-8 with BOM, opens in Excel) or XLSX."""
    with c.uow(write=False) as uow:
        run = reconcile.get_run(uow, who, run_id)
        rows = [w.FindingPublic.of(f) for f in reconcile.all_findings(uow, who, run_id)]
    table = [r.model_dump(mode="json", by_alias=True) for r in rows]
    name = f"reconciliation-{run.id}"
    if fmt == "xlsx":
        body = exports.findings_xlsx(table, title=f"{name} {run.period_from.isoformat()} – {run.period_to.isoformat()}")
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, media = exports.findings_csv(table), "text/csv; charset=utf-8"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/discrepancies", response_model=s.Page[w.FindingPublic])
def open_discrepancies(
    c: ContainerDep,
    who: CurrentPrincipal,
    cls: Annotated[str | None, Query(max_length=40)] = None,
    putrec_no: Annotated[str | None, Query(alias="putrecNo", max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.Page[w.FindingPublic]:
    """W3: the discrepancies open now, kept current in the background as movements and approvals arrive."""
    with c.uow(write=False) as uow:
        rows, total = reconcile.findings(uow, who, None, cls=cls, putrec_no=putrec_no, limit=limit, offset=offset)
    return s.Page[w.FindingPublic](data=[w.FindingPublic.of(f) for f in rows], count=total)


@router.get("/findings/{finding_id}", response_model=w.FindingDetail)
def get_finding(finding_id: FindingId, c: ContainerDep, who: CurrentPrincipal) -> w.FindingDetail:
    """One finding with its evidence: the WMS movements and stock lines and the declaration lines behind it."""
    with c.uow(write=False) as uow:
        f, evidence = reconcile.finding(uow, who, finding_id)
    return w.FindingDetail.model_validate({**w.FindingPublic.of(f).model_dump(), "evidence": evidence})
