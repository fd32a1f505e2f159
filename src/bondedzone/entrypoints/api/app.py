"""The FastAPI application: routers, error mapping, body-size limit, request logs."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bondedzone import __version__
from bondedzone.bootstrap import Container
from bondedzone.domain.errors import BzError
from bondedzone.entrypoints.api import errors, schemas
from bondedzone.entrypoints.api.routers import invts, ledger, registry

log = structlog.get_logger("bondedzone.api")


class BodyLimit:
    """Refuse bodies over the limit with 413 before any of it is parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, send)
            return
        seen = 0
        too_large = False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_large = True
                    raise _TooLarge
            return message

        # FastAPI turns an error raised while it reads the body into its own 400 answer, so a
        # streamed (chunked) body over the limit must be refused here, not by catching alone.
        async def guarded(message: Message) -> None:
            if not too_large:
                await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, guarded)
        if too_large:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        lang = "zh" if dict(scope.get("headers") or []).get(b"accept-language", b"").startswith(b"zh") else "en"
        body = json.dumps(errors.error_body(BzError("BZ-PAYLOAD-TOO-LARGE", limit=self.limit), lang)).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def create_app(container: Container) -> FastAPI:
    """The API over ``container``."""
    app = FastAPI(
        title="bondedzone",
        version=__version__,
        description=(
            "Customs e-account books, inventory lists (核注清单) and the ledger of a smart comprehensive bonded zone. "
            "Authenticate with `Authorization: Bearer <token>` from `bondedzone token create`. Every POST accepts "
            "`Idempotency-Key`. Errors are `{code, message, messages, detail, errors}` with a stable `BZ-…` code."
        ),
        # Every refusal has the one error body; without this the schema promises FastAPI's default 422 body.
        responses={"4XX": {"model": schemas.ErrorBody, "description": "A refusal with a stable BZ-… code"}},
    )
    app.state.container = container
    errors.install(app)
    app.include_router(registry.router)
    app.include_router(invts.router)
    app.include_router(ledger.router)

    @app.middleware("http")
    async def _log(request: Any, call_next: Any) -> Any:
        start = time.perf_counter()
        response = await call_next(request)
        log.info(
            "request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=round((time.perf_counter() - start) * 1000, 2),
        )
        return response

    app.add_middleware(BodyLimit, limit=container.settings.max_body_bytes)
    return app
