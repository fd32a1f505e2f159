"""Idempotent execution: a retried request returns the first answer and changes nothing.

The answer is stored in the same transaction as the effect, so after a crash either both are
there (the retry gets the stored answer) or neither is (the retry executes for the first time).
The first answer is claimed optimistically: the work runs, and the answer is inserted under the
key at the end of the same transaction, unless the key already has one (:meth:`IdempotencyRepo.claim`
waits for a concurrent transaction holding the same key and then reports it taken). A retry
therefore runs the work once more, sees the key taken, rolls back and returns the stored answer:
one statement on the common path (a first request) instead of a lock and a read before the work.
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
    render_error: Callable[[BzError], tuple[int, Any]] | None = None,
) -> tuple[int, Any]:
    """Run ``work`` in one write transaction and return its rendered answer.

    Without a key this is simply a transaction. With a key, the first answer is stored with the
    effect; a later request with the same key and the same fingerprint gets that answer back (even
    if running it again now would be refused), and one with a different fingerprint is refused with
    ``BZ-IDEMPOTENCY-MISMATCH``.

    A refusal that depends on the state of the ledger (kind ``conflict``: an overdraw, a list no
    longer in the right state) is a first answer too: its effect is rolled back and, if
    ``render_error`` is given, the rendered refusal is stored under the key in a transaction of its
    own — so a list refused for an overdraw is not approved by a retry after stock arrives; the
    caller must decide to ask again with a new key. Refusals of the request itself (invalid,
    not found, forbidden) are not stored: the same request would be refused again anyway, and the
    caller may fix it and retry under the same key.
    """
    with uow_factory(write=True) as uow:
        try:
            result = work(uow)
        except BzError as refusal:
            uow.rollback()
            if key is None:
                raise
            if (prior := _stored(uow_factory, scope, key, request_fingerprint)) is not None:
                return prior  # a retry: the first answer stands, whatever the ledger says now
            if render_error is None or refusal.kind != "conflict":
                raise
            return _store_refusal(uow_factory, scope, key, request_fingerprint, render_error(refusal))
        status, body = render(result)
        if key is not None and not uow.idempotency.claim(
            scope, key, StoredResponse(request_fingerprint, status, body), uow.now()
        ):
            # The key already has an answer (a retry, or a twin that committed first): this
            # execution's effect is rolled back and the stored answer returned.
            uow.rollback()
        else:
            uow.commit()
            return status, body
    assert key is not None
    prior = _stored(uow_factory, scope, key, request_fingerprint)
    if prior is None:  # pragma: no cover - a stored answer is never deleted
        raise RuntimeError(f"idempotency key {key!r} claimed but not readable")
    return prior


def _stored(uow_factory: UnitOfWorkFactory, scope: str, key: str, request_fingerprint: str) -> tuple[int, Any] | None:
    """The key's stored answer, read after any transaction that stored it has committed."""
    with uow_factory(write=False) as uow:
        prior = uow.idempotency.get(scope, key)
    if prior is None:
        return None
    if prior.fingerprint != request_fingerprint:
        raise BzError("BZ-IDEMPOTENCY-MISMATCH", key=key)
    return prior.status, prior.body


def _store_refusal(
    uow_factory: UnitOfWorkFactory, scope: str, key: str, request_fingerprint: str, answer: tuple[int, Any]
) -> tuple[int, Any]:
    """Store a refusal as the key's answer, unless a concurrent request stored one first."""
    with uow_factory(write=True) as uow:
        if uow.idempotency.claim(scope, key, StoredResponse(request_fingerprint, answer[0], answer[1]), uow.now()):
            uow.commit()
            return answer
    prior = _stored(uow_factory, scope, key, request_fingerprint)
    if prior is None:  # pragma: no cover - a stored answer is never deleted
        raise RuntimeError(f"idempotency key {key!r} claimed but not readable")
    return prior
