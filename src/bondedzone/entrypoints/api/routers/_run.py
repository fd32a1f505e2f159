"""The single path by which a POST reaches a service: one transaction, idempotent when keyed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bondedzone.bootstrap import Container
from bondedzone.domain.errors import BzError
from bondedzone.entrypoints.api.errors import STATUS, error_body
from bondedzone.services import idempotency
from bondedzone.services.authz import Principal
from bondedzone.services.ports import UnitOfWork

T = TypeVar("T")


def run_write(
    request: Request,
    container: Container,
    who: Principal,
    key: str | None,
    body: BaseModel | None,
    work: Callable[[UnitOfWork], T],
    render: Callable[[T], BaseModel],
    status: int = 200,
) -> JSONResponse:
    """Execute ``work`` and answer with ``render(result)``; a retry with ``key`` gets the first answer."""
    payload = body.model_dump_json(by_alias=True).encode() if body is not None else b""
    fp = idempotency.fingerprint(request.method, request.url.path, payload)

    def _render(result: T) -> tuple[int, Any]:
        return status, render(result).model_dump(mode="json", by_alias=True)

    lang = "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"

    def _refusal(e: BzError) -> tuple[int, Any]:
        return STATUS[e.kind], error_body(e, lang)

    code, out = idempotency.execute(
        container.uow, work, _render, scope=who.scope, key=key, request_fingerprint=fp, render_error=_refusal
    )
    headers = {"Idempotency-Key": key} if key else None
    return JSONResponse(out, status_code=code, headers=headers)
