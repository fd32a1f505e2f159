"""Stock, postings, corrections, status conversions (M9) and the audit chain (L3)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from bondedzone.domain.chain import ChainFinding
from bondedzone.domain.rules.m9_status_conversion import ConversionLineInput
from bondedzone.entrypoints.api import schemas as s
from bondedzone.entrypoints.api.deps import ContainerDep, CurrentPrincipal, FreshPrincipal, IdempotencyKey
from bondedzone.entrypoints.api.routers._run import run_write
from bondedzone.services import audit, conversions, ledger_ops

router = APIRouter(prefix="/api/v1", tags=["ledger"])


@router.get("/books/{putrec_no}/stock", response_model=s.Page[s.StockPublic])
def stock(putrec_no: str, c: ContainerDep, who: CurrentPrincipal) -> s.Page[s.StockPublic]:
    """Balance per book item × stock status."""
    with c.uow(write=False) as uow:
        data = [s.StockPublic.of(r) for r in ledger_ops.stock(uow, who, putrec_no)]
    return s.Page[s.StockPublic](data=data, count=len(data))


@router.get("/books/{putrec_no}/postings", response_model=s.Page[s.PostingPublic])
def postings(
    putrec_no: str,
    c: ContainerDep,
    who: CurrentPrincipal,
    putrec_seqno: Annotated[int | None, Query(alias="putrecSeqno", ge=1, le=999_999_999)] = None,
    stock_status: Annotated[Literal["bonded", "non_bonded"] | None, Query(alias="stockStatus")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    after_id: Annotated[int, Query(alias="afterId", ge=0, le=2**62)] = 0,
) -> s.Page[s.PostingPublic]:
    """The postings behind a balance, oldest first; page with ``afterId``."""
    with c.uow(write=False) as uow:
        rows = ledger_ops.postings(
            uow, who, putrec_no, putrec_seqno=putrec_seqno, stock_status=stock_status, limit=limit, after_id=after_id
        )
    return s.Page[s.PostingPublic](data=[s.PostingPublic.of(p) for p in rows], count=len(rows))


@router.post("/postings/{posting_id}/corrections", status_code=201, response_model=s.PostingPublic)
def correct(
    posting_id: Annotated[int, Path(ge=1, le=2**62)],
    body: s.CorrectionCreate,
    request: Request,
    c: ContainerDep,
    who: CurrentPrincipal,
    key: IdempotencyKey,
) -> JSONResponse:
    """A customs correction: a new posting on the same balance that references this one."""
    cmd = ledger_ops.CorrectPosting(posting_id, str(body.delta), body.reason)
    return run_write(
        request,
        c,
        who,
        key,
        body,
        lambda uow: ledger_ops.correct_posting(uow, who, cmd),
        lambda r: s.PostingPublic.of(r.posting),
        201,
    )


@router.post("/conversions", status_code=201, response_model=s.ConversionPublic)
def convert(
    body: s.ConversionCreate, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """M9: convert stock between non-bonded and bonded on a completed declaration; posts directly."""
    cmd = conversions.ConvertStatus(
        putrec_no=body.putrec_no,
        entry_no=body.entry_no,
        from_status=body.from_status,
        to_status=body.to_status,
        rmk=body.rmk,
        lines=[ConversionLineInput(ln.line_no, ln.putrec_seqno, ln.qty, ln.dcl_unitcd) for ln in body.lines],
    )
    return run_write(
        request, c, who, key, body, lambda uow: conversions.convert_status(uow, who, cmd), s.ConversionPublic.of, 201
    )


@router.get("/conversions/{conv_id}", response_model=s.ConversionPublic)
def get_conversion(conv_id: Annotated[int, Path(ge=1, le=2**62)], c: ContainerDep, who: CurrentPrincipal) -> s.ConversionPublic:
    """One status conversion."""
    with c.uow(write=False) as uow:
        return s.ConversionPublic.of(conversions.get_conversion(uow, who, conv_id))


def _finding(f: ChainFinding) -> s.FindingPublic:
    return s.FindingPublic(putrec_no=f.putrec_no, seq=f.seq, problem=f.problem, kind=f.kind, ref=f.ref, detail=f.detail)


@router.get("/audit/verify", response_model=s.AuditPublic)
def verify(c: ContainerDep, who: CurrentPrincipal) -> s.AuditPublic:
    """Walk every book's hash chain and name the first broken link (customs, auditor)."""
    with c.uow(write=False) as uow:
        report = audit.verify_all(uow, who)
    first = report.first_broken
    return s.AuditPublic(
        ok=report.ok,
        books=report.books,
        links=report.links,
        first_broken=_finding(first) if first else None,
        findings=[_finding(f) for f in report.findings[:1000]],
    )


@router.get("/whoami", response_model=s.WhoAmI, tags=["auth"])
async def whoami(who: FreshPrincipal) -> s.WhoAmI:
    """The caller as the token describes it (one indexed read: the token lookup, never cached)."""
    return s.WhoAmI(role=who.role.value, uscc=who.uscc, subject=who.subject)
