"""Who may do what (PRODUCT.md roles). Checked in every service, never in routes.

An enterprise sees and touches only its own books, lists and stock. For another enterprise's
resource it is told the resource does not exist, so that it cannot even learn which book numbers
are in use. A role that may not do a thing at all is told so (``BZ-FORBIDDEN``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bondedzone.domain.errors import BzError


class Role(StrEnum):
    """The roles of PRODUCT.md."""

    ENTERPRISE = "enterprise"
    CUSTOMS = "customs"
    GATE = "gate"
    ZONE_ADMIN = "zone_admin"
    BANK = "bank"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``uscc`` is set for, and only for, the enterprise role."""

    role: Role
    uscc: str | None
    subject: str

    @property
    def scope(self) -> str:
        """Namespace for idempotency keys: one caller's keys never collide with another's."""
        return f"{self.role.value}:{self.uscc or ''}:{self.subject}"


class Action(StrEnum):
    """Every guarded action."""

    ENTERPRISE_REGISTER = "register enterprises"
    ENTERPRISE_READ = "read enterprises"
    BOOK_OPEN = "open books"
    BOOK_READ = "read books, stock and postings"
    ITEM_ADD = "add book items"
    INVT_WRITE = "create, declare or cancel inventory lists"
    INVT_DECIDE = "approve or reject inventory lists"
    INVT_READ = "read inventory lists"
    CONVERT = "convert stock status"
    CORRECT = "correct postings"
    AUDIT = "verify the audit chain"
    PASS_WRITE = "create or cancel gate passes and summary declarations"
    PASS_READ = "read gate passes and what their documents delivered"
    GATE_OPERATE = "record gate events (arrive, weigh, decide, leave)"
    GATE_RELEASE = "release a vehicle held at the gate"
    ENTRY_RELEASE = "release summary declarations"
    HAZCHEM_READ = "read the shared hazardous-chemicals feed"
    WMS_WRITE = "send WMS movements and stocktakes"
    WMS_READ = "read WMS data and reconciliation findings"
    RECONCILE = "run a reconciliation"
    BOOK_LIFECYCLE = "open, suspend, resume or close books"
    WRITEOFF_WRITE = "prepare, explain and submit write-offs"
    WRITEOFF_DECIDE = "approve or return write-offs"
    WRITEOFF_READ = "read write-offs and their reports"


_ZH = {
    Action.ENTERPRISE_REGISTER: "登记企业",
    Action.ENTERPRISE_READ: "查看企业",
    Action.BOOK_OPEN: "设立账册",
    Action.BOOK_READ: "查看账册、库存和记账记录",
    Action.ITEM_ADD: "备案账册商品",
    Action.INVT_WRITE: "录入、申报或删除核注清单",
    Action.INVT_DECIDE: "审核核注清单",
    Action.INVT_READ: "查看核注清单",
    Action.CONVERT: "办理状态转换",
    Action.CORRECT: "更正记账",
    Action.AUDIT: "校验审计链",
    Action.PASS_WRITE: "录入或作废核放单、概要申报",
    Action.PASS_READ: "查看核放单及单证过卡数量",
    Action.GATE_OPERATE: "记录卡口作业（到达、过磅、判定、离开）",
    Action.GATE_RELEASE: "放行卡口扣留车辆",
    Action.ENTRY_RELEASE: "放行概要申报报关单",
    Action.HAZCHEM_READ: "查看共享的危险化学品信息",
    Action.WMS_WRITE: "报送仓储管理系统（WMS）数据",
    Action.WMS_READ: "查看 WMS 数据和比对结果",
    Action.RECONCILE: "发起自动比对",
    Action.BOOK_LIFECYCLE: "设立、暂停、恢复或注销账册",
    Action.WRITEOFF_WRITE: "编制、说明和提交核销",
    Action.WRITEOFF_DECIDE: "审核核销",
    Action.WRITEOFF_READ: "查看核销及报告",
}

# Roles that may perform an action on any enterprise's data; ENTERPRISE is handled by ownership.
_ANY: dict[Action, frozenset[Role]] = {
    Action.ENTERPRISE_REGISTER: frozenset({Role.CUSTOMS}),
    Action.ENTERPRISE_READ: frozenset({Role.CUSTOMS, Role.AUDITOR}),
    Action.BOOK_OPEN: frozenset({Role.CUSTOMS}),
    Action.BOOK_READ: frozenset({Role.CUSTOMS, Role.AUDITOR}),
    Action.ITEM_ADD: frozenset({Role.CUSTOMS}),
    Action.INVT_WRITE: frozenset({Role.CUSTOMS}),
    Action.INVT_DECIDE: frozenset({Role.CUSTOMS}),
    Action.INVT_READ: frozenset({Role.CUSTOMS, Role.AUDITOR}),
    Action.CONVERT: frozenset({Role.CUSTOMS}),
    Action.CORRECT: frozenset({Role.CUSTOMS}),
    Action.AUDIT: frozenset({Role.CUSTOMS, Role.AUDITOR}),
    Action.PASS_WRITE: frozenset({Role.CUSTOMS}),
    # The gate reads passes (it must, to decide) but never books, stock or lists.
    Action.PASS_READ: frozenset({Role.CUSTOMS, Role.GATE, Role.AUDITOR}),
    Action.GATE_OPERATE: frozenset({Role.GATE, Role.CUSTOMS}),
    Action.GATE_RELEASE: frozenset({Role.CUSTOMS}),
    Action.ENTRY_RELEASE: frozenset({Role.CUSTOMS}),
    # M4: shared with the zone administration, which sees nothing of the enterprises' books.
    Action.HAZCHEM_READ: frozenset({Role.ZONE_ADMIN, Role.CUSTOMS, Role.AUDITOR}),
    # M22: the warehouse's own data comes only from its enterprise (its networked WMS).
    Action.WMS_WRITE: frozenset(),
    Action.WMS_READ: frozenset({Role.CUSTOMS, Role.AUDITOR}),
    Action.RECONCILE: frozenset({Role.CUSTOMS}),
    # M19: the book's lifecycle and the sign-off of a write-off are customs decisions.
    Action.BOOK_LIFECYCLE: frozenset({Role.CUSTOMS}),
    Action.WRITEOFF_WRITE: frozenset({Role.CUSTOMS}),
    Action.WRITEOFF_DECIDE: frozenset({Role.CUSTOMS}),
    Action.WRITEOFF_READ: frozenset({Role.CUSTOMS, Role.AUDITOR}),
}

# Actions an enterprise may perform on its own data.
_OWN: frozenset[Action] = frozenset(
    {
        Action.ENTERPRISE_READ,
        Action.BOOK_OPEN,
        Action.BOOK_READ,
        Action.ITEM_ADD,
        Action.INVT_WRITE,
        Action.INVT_READ,
        Action.CONVERT,
        Action.PASS_WRITE,
        Action.PASS_READ,
        Action.WMS_WRITE,
        Action.WMS_READ,
        Action.RECONCILE,
        Action.WRITEOFF_WRITE,
        Action.WRITEOFF_READ,
    }
)


def forbidden(principal: Principal, action: Action) -> BzError:
    """The refusal for a role that may never do ``action``."""
    return BzError(
        "BZ-FORBIDDEN", role=principal.role.value, action=action.name.lower(), action_zh=_ZH[action], action_en=action.value
    )


def require_role(principal: Principal, action: Action) -> None:
    """Refuse at once a role that cannot do ``action`` on anyone's data."""
    if principal.role in _ANY[action]:
        return
    if principal.role is Role.ENTERPRISE and action in _OWN:
        return
    raise forbidden(principal, action)


def may(principal: Principal, action: Action, owner_uscc: str) -> bool:
    """Whether ``principal`` may do ``action`` on data owned by ``owner_uscc``."""
    if principal.role in _ANY[action]:
        return True
    return principal.role is Role.ENTERPRISE and action in _OWN and principal.uscc == owner_uscc
