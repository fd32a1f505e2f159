"""The FastAPI application: routers, error mapping, body-size limit, request logs."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bondedzone import __version__
from bondedzone.adapters import background
from bondedzone.bootstrap import Container
from bondedzone.domain.errors import BzError
from bondedzone.entrypoints.api import deps, errors, schemas
from bondedzone.entrypoints.api.routers import gate, invts, ledger, registry, wms, writeoff

log = structlog.get_logger("bondedzone.api")


class RequestLog:
    """One structured log line per request (method, path, status, ms), as a pure ASGI middleware.

    Starlette's ``@app.middleware("http")`` (``BaseHTTPMiddleware``) runs every request through an
    extra task and memory streams; this only watches the response start go by. A request that
    ends in an unhandled exception is logged with status 500 (the error handler answers it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on and log it when its answer is sent."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - start) * 1000, 2),
            )


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
        declared = _header(scope, b"content-length")
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
        lang = "zh" if (_header(scope, b"accept-language") or b"").lower().startswith(b"zh") else "en"
        body = json.dumps(errors.error_body(BzError("BZ-PAYLOAD-TOO-LARGE", limit=self.limit), lang)).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case), as the ASGI server passed it."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value)
    return None


def background_loops(container: Container) -> list[Any]:
    """The server's background work: the continuous comparison (W3) and the watched folder (M22)."""
    s = container.settings
    loops: list[Any] = []
    if s.recon_continuous:
        loops.append(
            background.ContinuousReconciler(
                container.uow,
                container.compare_engine(),
                db=container.engine,
                interval=s.recon_interval_seconds,
                window=timedelta(days=s.recon_window_days),
                tolerance=container.recon_tolerance,
            )
        )
    if s.wms_watch_dir:
        loops.append(background.FolderWatcher(container.uow, Path(s.wms_watch_dir), interval=s.recon_interval_seconds))
    return loops


def create_app(container: Container) -> FastAPI:
    """The API over ``container``."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes and the token lookup run in the thread pool, each holding one pooled database
        # connection. More threads than the pool keeps connections would make the extra ones open
        # and close a PostgreSQL connection per request (a process fork on the server), and would
        # only contend for the GIL: requests beyond the pool wait for a thread instead.
        anyio.to_thread.current_default_thread_limiter().total_tokens = container.settings.pool_size
        loops = background_loops(container)
        for loop in loops:
            loop.start()
        try:
            yield
        finally:
            for loop in loops:
                loop.stop()

    app = FastAPI(
        lifespan=lifespan,
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
    app.state.token_cache = deps.TokenCache(container.settings.token_cache_seconds)
    errors.install(app)
    # The gate first: its automation is the busiest caller, and routes are matched in this order.
    app.include_router(gate.router)
    app.include_router(registry.router)
    app.include_router(invts.router)
    app.include_router(ledger.router)
    app.include_router(wms.router)
    app.include_router(writeoff.router)

    # The last added is the outermost: every request is logged, a refused oversized body too.
    app.add_middleware(BodyLimit, limit=container.settings.max_body_bytes)
    app.add_middleware(RequestLog)
    return app


def create_app_from_environment() -> FastAPI:
    """The API over a container built from ``BONDEDZONE_*``: what each worker of ``serve`` runs."""
    from bondedzone import bootstrap
    from bondedzone.entrypoints import logs

    container = bootstrap.build()
    logs.configure(container.settings.log_level, container.settings.log_format)
    return create_app(container)
