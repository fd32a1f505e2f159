"""Enterprises, books and book items (L1)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bondedzone.domain.model import Book
from bondedzone.entrypoints.api import schemas as s
from bondedzone.entrypoints.api.deps import ContainerDep, CurrentPrincipal, IdempotencyKey
from bondedzone.entrypoints.api.routers._run import run_write
from bondedzone.services import registry
from bondedzone.services.authz import Action

router = APIRouter(prefix="/api/v1", tags=["registry"])


@router.post("/enterprises", status_code=201, response_model=s.EnterprisePublic)
def register_enterprise(
    body: s.EnterpriseCreate, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """Register an enterprise (customs). USCC is checked with its check character."""
    cmd = registry.RegisterEnterprise(body.uscc, body.customs_code, body.name, body.credit, body.wms_networked, body.inside_fence)
    return run_write(
        request, c, who, key, body, lambda uow: registry.register_enterprise(uow, who, cmd), s.EnterprisePublic.of, 201
    )


@router.get("/enterprises", response_model=s.Page[s.EnterprisePublic])
def list_enterprises(c: ContainerDep, who: CurrentPrincipal) -> s.Page[s.EnterprisePublic]:
    """Enterprises the caller may see (an enterprise sees itself)."""
    with c.uow(write=False) as uow:
        data = [s.EnterprisePublic.of(e) for e in registry.list_enterprises(uow, who)]
    return s.Page[s.EnterprisePublic](data=data, count=len(data))


@router.get("/enterprises/{uscc}", response_model=s.EnterprisePublic)
def get_enterprise(uscc: str, c: ContainerDep, who: CurrentPrincipal) -> s.EnterprisePublic:
    """One enterprise."""
    with c.uow(write=False) as uow:
        return s.EnterprisePublic.of(registry.get_enterprise(uow, who, uscc))


def _book(b: Book) -> s.BookPublic:
    return s.BookPublic(
        putrec_no=b.putrec_no,
        book_type=b.book_type.value,
        uscc=b.owner_uscc,
        master_cuscd=b.master_cuscd,
        status=b.status,
        wms_driven=b.wms_driven,
    )


@router.post("/books", status_code=201, response_model=s.BookPublic)
def open_book(body: s.BookCreate, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey) -> JSONResponse:
    """设立 a book for an enterprise inside the fence."""
    cmd = registry.OpenBook(body.putrec_no, body.book_type, body.uscc, body.master_cuscd)
    return run_write(request, c, who, key, body, lambda uow: registry.open_book(uow, who, cmd), _book, 201)


@router.get("/books", response_model=s.Page[s.BookPublic])
def list_books(c: ContainerDep, who: CurrentPrincipal) -> s.Page[s.BookPublic]:
    """Books the caller may read."""
    with c.uow(write=False) as uow:
        data = [_book(b) for b in registry.list_books(uow, who)]
    return s.Page[s.BookPublic](data=data, count=len(data))


@router.get("/books/{putrec_no}", response_model=s.BookPublic)
def get_book(putrec_no: str, c: ContainerDep, who: CurrentPrincipal) -> s.BookPublic:
    """One book."""
    with c.uow(write=False) as uow:
        return _book(registry.book_for(uow, who, putrec_no, Action.BOOK_READ).book)


@router.post("/books/{putrec_no}/items", status_code=201, response_model=s.BookItemPublic)
def add_item(
    putrec_no: str, body: s.BookItemCreate, request: Request, c: ContainerDep, who: CurrentPrincipal, key: IdempotencyKey
) -> JSONResponse:
    """备案 a book item: number, part number, 10-digit HS code, name, declared unit."""
    cmd = registry.AddBookItem(putrec_no, body.putrec_seqno, body.gds_mtno, body.gdecd, body.gds_nm, body.dcl_unitcd)
    return run_write(
        request,
        c,
        who,
        key,
        body,
        lambda uow: registry.add_book_item(uow, who, cmd),
        lambda it: s.BookItemPublic.of(putrec_no, it),
        201,
    )


@router.get("/books/{putrec_no}/items", response_model=s.Page[s.BookItemPublic])
def list_items(putrec_no: str, c: ContainerDep, who: CurrentPrincipal) -> s.Page[s.BookItemPublic]:
    """Every item of a book."""
    with c.uow(write=False) as uow:
        data = [s.BookItemPublic.of(putrec_no, it) for it in registry.list_items(uow, who, putrec_no)]
    return s.Page[s.BookItemPublic](data=data, count=len(data))
