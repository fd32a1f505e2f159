"""Mapping refusals to HTTP: ``{code, message, messages, detail, errors}`` — nothing else."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bondedzone.domain.errors import BzError, ErrorGroup, Kind

STATUS: dict[Kind, int] = {
    "malformed": 400,
    "invalid": 422,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "internal": 500,
    "unavailable": 503,
}

log = structlog.get_logger("bondedzone.api")


def lang(request: Request) -> str:
    """``zh`` when the caller's Accept-Language starts with it, else ``en``."""
    return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"


def _one(e: BzError) -> dict[str, Any]:
    return {"code": e.code, "messages": {"zh": e.message("zh"), "en": e.message("en")}, "detail": _jsonable(e.public_detail())}


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (x if isinstance(x, (str, int, float, bool, type(None), list, dict)) else str(x)) for k, x in d.items()}


def error_body(e: BzError, lang: str) -> dict[str, Any]:
    """The body for one refusal (with all its siblings when it is a group)."""
    body = _one(e)
    body["message"] = e.message(lang)
    body["errors"] = [_one(x) for x in e.errors] if isinstance(e, ErrorGroup) else []
    return body


def error_response(e: BzError, request: Request) -> JSONResponse:
    """The HTTP answer to a refusal."""
    headers = {"WWW-Authenticate": "Bearer"} if e.kind == "unauthenticated" else None
    return JSONResponse(error_body(e, lang(request)), status_code=STATUS[e.kind], headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a coded error body."""

    @app.exception_handler(BzError)
    async def _bz(request: Request, exc: BzError) -> JSONResponse:
        return error_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errs):
            summary = "; ".join(str(err.get("ctx", {}).get("error", err.get("msg"))) for err in errs)[:500]
            return error_response(BzError("BZ-JSON-MALFORMED", summary=summary), request)
        if any(tuple(err.get("loc", ())) == ("body",) for err in errs):
            # The body parsed, but is not an object (an array, a scalar, or not sent as JSON).
            summary = "the body must be a JSON object sent with Content-Type: application/json"
            return error_response(BzError("BZ-JSON-MALFORMED", summary=summary), request)
        # The schema caps ``lines`` so that an oversized list is refused before its lines are
        # checked; it is still the domain's refusal and keeps the domain's code. Only an inventory
        # list's: other bodies with ``lines`` (gate passes, summary declarations, conversions) are
        # not inventory lists and get BZ-VALIDATION naming the field.
        for err in errs:
            loc = tuple(err.get("loc", ()))
            if err.get("type") == "too_long" and loc == ("body", "lines") and request.url.path == "/api/v1/invts":
                ctx = err.get("ctx", {})
                too_many = BzError("BZ-INVT-TOO-MANY-LINES", limit=ctx.get("max_length"), count=ctx.get("actual_length"))
                return error_response(too_many, request)
        fields = [
            {
                "code": "BZ-VALIDATION",
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "reason": str(err.get("msg")),
            }
            for err in errs
        ]
        summary = "; ".join(f"{f['field']}: {f['reason']}" for f in fields[:5])
        resp = error_response(BzError("BZ-VALIDATION", summary=summary, fields=fields[:100]), request)
        return resp

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(BzError("BZ-ROUTE-NOT-FOUND", path=request.url.path), request)
        if exc.status_code == 405:
            resp = error_response(BzError("BZ-METHOD-NOT-ALLOWED", method=request.method), request)
            resp.status_code = 405
            return resp
        e = BzError("BZ-VALIDATION", summary=str(exc.detail))
        resp = error_response(e, request)
        resp.status_code = exc.status_code
        return resp

    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        # Connections are not pinged before use (one round trip less per request): when the
        # database restarts, the requests on stale connections end here, their transactions never
        # committed, and the pool reconnects for the next ones.
        if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
            return await _crash(request, exc)
        ref = uuid.uuid4().hex[:12]
        log.warning("database unavailable", ref=ref, path=request.url.path, error=str(exc.orig))
        resp = error_response(BzError("BZ-DB-UNAVAILABLE", ref=ref), request)
        resp.headers["Retry-After"] = "1"
        return resp

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.error("unhandled", ref=ref, path=request.url.path, exc_info=exc)
        return error_response(BzError("BZ-INTERNAL", ref=ref), request)
