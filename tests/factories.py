"""Factories and personas: an owner enterprise, a stranger enterprise, customs, gate, auditor."""

from __future__ import annotations

from dataclasses import dataclass, field

from bondedzone.bootstrap import Container
from bondedzone.domain.model import InvtLineInput
from bondedzone.entrypoints.cli.demo import make_uscc
from bondedzone.services import invts, registry, tokens
from bondedzone.services.authz import Principal, Role

CUSTOMS = Principal(Role.CUSTOMS, None, "test:customs")


OWNER_USCC = make_uscc("MA6T00001")
STRANGER_USCC = make_uscc("MA6T00002")
OWNER_BOOK = "T5301W100001"
STRANGER_BOOK = "T5301W100002"
UNITS = {1: "001", 2: "035", 3: "007"}
HS = {1: "8471300000", 2: "3901100090", 3: "8542319000"}


@dataclass
class Zone:
    container: Container
    tokens: dict[str, str] = field(default_factory=dict)
    owner: Principal = field(default_factory=lambda: Principal(Role.ENTERPRISE, OWNER_USCC, "test:owner"))
    stranger: Principal = field(default_factory=lambda: Principal(Role.ENTERPRISE, STRANGER_USCC, "test:stranger"))
    customs: Principal = CUSTOMS

    def headers(self, persona: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[persona]}", **extra}


def make_zone(container: Container, items: int = 3) -> Zone:
    """Register owner and stranger, one logistics book each with ``items`` items, and tokens."""
    z = Zone(container)
    with container.uow() as uow:
        for n, (u, book) in enumerate(((OWNER_USCC, OWNER_BOOK), (STRANGER_USCC, STRANGER_BOOK)), start=1):
            registry.register_enterprise(
                uow, CUSTOMS, registry.RegisterEnterprise(u, f"530134{n:04d}", f"测试企业{n}", "ordinary", True, True)
            )
            registry.open_book(uow, CUSTOMS, registry.OpenBook(book, "logistics", u, "5301"))
            for seq in range(1, items + 1):
                registry.add_book_item(
                    uow,
                    CUSTOMS,
                    registry.AddBookItem(
                        book, seq, f"MT-{seq:05d}", HS.get(seq, "8471300000"), f"商品{seq}", UNITS.get(seq, "001")
                    ),
                )
        z.tokens["owner"] = tokens.create_token(uow, "enterprise", OWNER_USCC)
        z.tokens["stranger"] = tokens.create_token(uow, "enterprise", STRANGER_USCC)
        for role in ("customs", "gate", "zone_admin", "bank", "auditor"):
            z.tokens[role] = tokens.create_token(uow, role, None)
        uow.commit()
    return z


def lines(*spec: tuple[int, str], status: str = "bonded") -> list[InvtLineInput]:
    """Lines from (putrecSeqno, qty) pairs, in the unit the factory's items are kept in."""
    return [InvtLineInput(n, seq, q, UNITS.get(seq, "001"), status) for n, (seq, q) in enumerate(spec, start=1)]


def new_list(
    container: Container,
    who: Principal,
    book: str,
    mark: str,
    spec: list[tuple[int, str]],
    *,
    inner: str,
    status: str = "bonded",
    declare: bool = True,
) -> int:
    """Create (and by default declare) a list; returns its id."""
    with container.uow() as uow:
        invt = invts.create_invt(
            uow,
            who,
            invts.CreateInvt(
                etps_inner_invt_no=inner,
                putrec_no=book,
                impexp_markcd=mark,
                supv_modecd="5034",
                flow="first_line",
                lines=lines(*spec, status=status),
            ),
        )
        if declare:
            invts.declare_invt(uow, who, invt.id)
        uow.commit()
        return invt.id


def approve(container: Container, invt_id: int) -> None:
    with container.uow() as uow:
        invts.approve_invt(uow, CUSTOMS, invt_id)
        uow.commit()
