"""Dependencies: the container, the caller, the idempotency key.

They are ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, a hop that costs more
than these do. Only the token lookup touches the database, and it goes to the thread pool itself.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from bondedzone.bootstrap import Container
from bondedzone.services import idempotency, tokens
from bondedzone.services.authz import Principal


async def get_container(request: Request) -> Container:
    """The wired adapters, set on the app at creation."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


class TokenCache:
    """The principals of tokens this process authenticated in the last ``ttl`` seconds.

    Keyed by the token's SHA-256, so no token is kept in memory. Only successful authentications
    are kept, each for ``ttl`` seconds from its lookup in the token table, never renewed by use:
    a token revoked in the database is refused by every server process at most ``ttl`` seconds
    later (``BONDEDZONE_TOKEN_CACHE_SECONDS``; 0 keeps nothing and reads the table every time).
    Used only from the event loop's thread, so it needs no lock.
    """

    def __init__(self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[bytes, tuple[Principal, float]] = {}

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> Principal | None:
        """The principal behind ``token`` if it was authenticated less than ``ttl`` seconds ago."""
        if self.ttl <= 0:
            return None
        key = self._key(token)
        hit = self._entries.get(key)
        if hit is None:
            return None
        if self._clock() >= hit[1]:
            del self._entries[key]
            return None
        return hit[0]

    def put(self, token: str, principal: Principal, looked_up_at: float) -> None:
        """Remember a successful authentication made at ``looked_up_at`` (this cache's clock)."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # a burst of distinct tokens: start over rather than track ages
        self._entries[self._key(token)] = (principal, looked_up_at + self.ttl)

    def now(self) -> float:
        """The time on the cache's clock (monotonic seconds)."""
        return self._clock()

    def clear(self) -> None:
        """Forget every token (e.g. after revoking one in this process)."""
        self._entries.clear()


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else authorization


def _authenticate(container: Container, token: str | None) -> Principal:
    with container.uow(write=False) as uow:
        return tokens.authenticate(uow, token)


AuthorizationHeader = Annotated[str | None, Header(description="Bearer <token> from `bondedzone token create`")]


async def get_principal(request: Request, container: ContainerDep, authorization: AuthorizationHeader = None) -> Principal:
    """Authenticate the request: a token seen in the last seconds, else one indexed read of the token table."""
    token = _bearer(authorization)
    cache: TokenCache = request.app.state.token_cache
    if token:
        found = cache.get(token)
        if found is not None:
            return found
    looked_up_at = cache.now()
    principal = await run_in_threadpool(_authenticate, container, token)
    if token:
        cache.put(token, principal, looked_up_at)
    return principal


async def get_fresh_principal(container: ContainerDep, authorization: AuthorizationHeader = None) -> Principal:
    """Authenticate the request with one indexed read of the token table, never from the cache."""
    return await run_in_threadpool(_authenticate, container, _bearer(authorization))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
FreshPrincipal = Annotated[Principal, Depends(get_fresh_principal)]


async def get_idempotency_key(
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="retries with the same key return the first answer")
    ] = None,
) -> str | None:
    """The validated key, or None."""
    return None if idempotency_key is None else idempotency.check_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(get_idempotency_key)]
