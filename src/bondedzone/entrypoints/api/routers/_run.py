"""The single path by which a POST reaches a service: one transaction, idempotent when keyed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bondedzone.bootstrap import Container
from bondedzone.domain.errors import BzError
from bondedzone.entrypoints.api.errors import STATUS, error_body, lang
from bondedzone.services import idempotency
from bondedzone.services.authz import Principal
from bondedzone.services.ports import UnitOfWork

T = TypeVar("T")


def payload(body: BaseModel | None) -> bytes:
    """A request body as its Idempotency-Key fingerprint sees it: canonical, ASCII-escaped JSON.

    Escaped, a lone surrogate a client sent (JSON allows one) cannot break the fingerprint before
    the content is refused.
    """
    if body is None:
        return b""
    return json.dumps(body.model_dump(mode="json", by_alias=True), ensure_ascii=True, sort_keys=True).encode()


def run_keyed(
    request: Request,
    container: Container,
    who: Principal,
    key: str | None,
    body: bytes,
    work: Callable[[UnitOfWork], T],
    render: Callable[[T], Any],
    status: int = 200,
) -> JSONResponse:
    """Execute ``work`` and answer with the JSON ``render(result)``; a retry with ``key`` gets the first answer.

    ``body`` is what identifies the request under its key, with the method, path and query.
    """
    query = request.url.query
    fp = idempotency.fingerprint(request.method, request.url.path + (f"?{query}" if query else ""), body)

    def _render(result: T) -> tuple[int, Any]:
        return status, render(result)

    language = lang(request)

    def _refusal(e: BzError) -> tuple[int, Any]:
        return STATUS[e.kind], error_body(e, language)

    code, out = idempotency.execute(
        container.uow, work, _render, scope=who.scope, key=key, request_fingerprint=fp, render_error=_refusal
    )
    headers = {"Idempotency-Key": key} if key else None
    return JSONResponse(out, status_code=code, headers=headers)


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
    """:func:`run_keyed` for a pydantic body and a pydantic answer."""
    return run_keyed(
        request,
        container,
        who,
        key,
        payload(body),
        work,
        lambda result: render(result).model_dump(mode="json", by_alias=True),
        status,
    )
