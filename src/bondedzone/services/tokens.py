"""API tokens: created by the operator's CLI, stored only as a hash, resolved on every request."""

from __future__ import annotations

import hashlib
import secrets

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError
from bondedzone.services.authz import Principal, Role
from bondedzone.services.ports import UnitOfWork

PREFIX = "bz_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(uow: UnitOfWork, role: str, uscc: str | None, label: str = "") -> str:
    """A new token for ``role``; an enterprise token is bound to a registered enterprise."""
    try:
        r = Role(role)
    except ValueError:
        allowed = ", ".join(x.value for x in Role)
        raise BzError(
            "BZ-ROLE-INVALID", reason_zh=f"角色应为 {allowed} 之一", reason_en=f"role must be one of {allowed}"
        ) from None
    if r is Role.ENTERPRISE:
        if not uscc:
            raise BzError("BZ-ROLE-INVALID", reason_zh="企业令牌需要 --uscc", reason_en="an enterprise token needs --uscc")
        uscc = v.uscc(uscc)
        if uow.enterprises.get(uscc) is None:
            raise BzError("BZ-ENTERPRISE-NOT-FOUND", uscc=uscc)
    elif uscc:
        raise BzError("BZ-ROLE-INVALID", reason_zh="只有企业令牌绑定 USCC", reason_en="only enterprise tokens carry a USCC")
    token = PREFIX + secrets.token_urlsafe(32)
    uow.tokens.add(_digest(token), r.value, uscc, label or r.value, uow.now())
    return token


def authenticate(uow: UnitOfWork, token: str | None) -> Principal:
    """The principal behind a bearer token, or ``BZ-AUTH-REQUIRED`` / ``BZ-AUTH-INVALID``."""
    if not token:
        raise BzError("BZ-AUTH-REQUIRED")
    if not token.startswith(PREFIX) or len(token) > 200:
        raise BzError("BZ-AUTH-INVALID")
    rec = uow.tokens.get(_digest(token))
    if rec is None or rec.revoked:
        raise BzError("BZ-AUTH-INVALID")
    return Principal(Role(rec.role), rec.uscc, f"token:{rec.id}")
