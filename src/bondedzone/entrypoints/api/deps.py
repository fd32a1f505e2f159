"""Dependencies: the container, the caller, the idempotency key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from bondedzone.bootstrap import Container
from bondedzone.services import idempotency, tokens
from bondedzone.services.authz import Principal


def get_container(request: Request) -> Container:
    """The wired adapters, set on the app at creation."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_principal(
    container: ContainerDep,
    authorization: Annotated[str | None, Header(description="Bearer <token> from `bondedzone token create`")] = None,
) -> Principal:
    """Authenticate every request with one indexed read of the token table."""
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else authorization
    with container.uow(write=False) as uow:
        return tokens.authenticate(uow, token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_idempotency_key(
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="retries with the same key return the first answer")
    ] = None,
) -> str | None:
    """The validated key, or None."""
    return None if idempotency_key is None else idempotency.check_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(get_idempotency_key)]
