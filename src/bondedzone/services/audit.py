"""L3: verify every book's chain, and that every balance still equals the sum of its postings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from bondedzone.domain import chain
from bondedzone.domain import values as v
from bondedzone.domain.chain import ChainFinding
from bondedzone.services.authz import Action, Principal, require_role
from bondedzone.services.ports import UnitOfWork


@dataclass
class AuditReport:
    """Everything the verification found; ``ok`` only when nothing was."""

    books: int = 0
    links: int = 0
    findings: list[ChainFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no link is broken and every balance matches its postings."""
        return not self.findings

    @property
    def first_broken(self) -> ChainFinding | None:
        """The first broken link of the first broken book."""
        return self.findings[0] if self.findings else None


def verify_all(uow: UnitOfWork, who: Principal, progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Walk every chain; report all findings as values (never stops at the first)."""
    require_role(who, Action.AUDIT)
    report = AuditReport()
    heads = uow.books.heads()
    for n, (book_id, putrec_no, head) in enumerate(heads, start=1):
        count = 0

        def counted(book_id: int = book_id, putrec_no: str = putrec_no) -> Iterator[chain.StoredLink]:
            nonlocal count
            for link in uow.ledger.links(book_id, putrec_no):
                count += 1
                yield link

        report.findings.extend(chain.verify(putrec_no, counted(), head))
        sums = uow.ledger.posting_sums(book_id)
        balances = uow.ledger.all_balances(book_id)
        for key in sorted(set(sums) | set(balances)):
            s, b = sums.get(key, Decimal(0)), balances.get(key, Decimal(0))
            if s != b or b < 0:
                report.findings.append(
                    ChainFinding(
                        putrec_no,
                        0,
                        "balance_mismatch",
                        None,
                        None,
                        f"item {key.putrec_seqno} {key.stock_status.value}: balance {v.fmt_qty(b)}, postings sum {v.fmt_qty(s)}",
                    )
                )
        report.books += 1
        report.links += count
        if progress:
            progress(n, len(heads))
    return report
