"""Idempotent execution: a retried request returns the first answer and changes nothing.

The answer is stored in the same transaction as the effect, so after a crash either both are
there (the retry gets the stored answer) or neither is (the retry executes for the first time).
Requests with the same key from the same caller are serialised by :meth:`IdempotencyRepo.lock`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from bondedzone.domain.errors import BzError
from bondedzone.services.ports import StoredResponse, UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What identifies "the same request" under one key."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def check_key(key: str) -> str:
    """A key is 1–200 printable ASCII characters."""
    if not (1 <= len(key) <= 200) or not all(33 <= ord(c) <= 126 for c in key):
        raise BzError("BZ-IDEMPOTENCY-KEY-INVALID")
    return key


def execute(
    uow_factory: UnitOfWorkFactory,
    work: Callable[[UnitOfWork], T],
    render: Callable[[T], tuple[int, Any]],
    *,
    scope: str,
    key: str | None,
    request_fingerprint: str,
) -> tuple[int, Any]:
    """Run ``work`` in one write transaction and return its rendered answer.

    Without a key this is simply a transaction. With a key, the first answer is stored with the
    effect; a later request with the same key and the same fingerprint gets that answer back, and
    one with a different fingerprint is refused with ``BZ-IDEMPOTENCY-MISMATCH``.
    """
    with uow_factory(write=True) as uow:
        if key is not None:
            uow.idempotency.lock(scope, key)
            prior = uow.idempotency.get(scope, key)
            if prior is not None:
                if prior.fingerprint != request_fingerprint:
                    raise BzError("BZ-IDEMPOTENCY-MISMATCH", key=key)
                return prior.status, prior.body
        result = work(uow)
        status, body = render(result)
        if key is not None:
            uow.idempotency.put(scope, key, StoredResponse(request_fingerprint, status, body), uow.now())
        uow.commit()
        return status, body
