"""L2/L4 through the services on both engines: approval posts once, overdraw refuses the whole list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bondedzone.domain.errors import BzError
from bondedzone.services import audit, invts, ledger_ops
from tests import factories as f


def _stock(zone: f.Zone, book: str = f.OWNER_BOOK) -> dict[tuple[int, str], Decimal]:
    with zone.container.uow(write=False) as uow:
        return {(r.putrec_seqno, r.stock_status): r.quantity for r in ledger_ops.stock(uow, zone.customs, book)}


def test_import_then_export_posts_each_line_once(zone: f.Zone) -> None:
    c = zone.container
    i1 = f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10"), (2, "2.5")], inner="A1")
    f.approve(c, i1)
    e1 = f.new_list(c, zone.owner, f.OWNER_BOOK, "E", [(1, "4")], inner="A2")
    f.approve(c, e1)
    assert _stock(zone) == {(1, "bonded"): Decimal("6"), (2, "bonded"): Decimal("2.5")}
    with c.uow(write=False) as uow:
        report = audit.verify_all(uow, zone.customs)
    assert report.ok, report.findings
    assert report.links == 3 + 3 + 3  # created+declared+approved events, 3 postings


def test_overdraw_refuses_whole_list_naming_line_balance_shortfall(zone: f.Zone) -> None:
    c = zone.container
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "5"), (2, "5")], inner="B1"))
    e = f.new_list(c, zone.owner, f.OWNER_BOOK, "E", [(2, "1"), (1, "7")], inner="B2")
    with pytest.raises(BzError) as exc:
        f.approve(c, e)
    assert exc.value.code == "BZ-LEDGER-NEGATIVE"
    assert exc.value.detail["gdsSeqno"] == 2
    assert exc.value.detail["balance"] == "5"
    assert exc.value.detail["shortfall"] == "2"
    assert _stock(zone) == {(1, "bonded"): Decimal("5"), (2, "bonded"): Decimal("5")}
    with c.uow(write=False) as uow:
        assert invts.get_invt(uow, zone.customs, e).status.value == "declared"


def test_second_approval_is_refused_and_posts_nothing(zone: f.Zone) -> None:
    c = zone.container
    i1 = f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "3")], inner="C1")
    f.approve(c, i1)
    with pytest.raises(BzError) as exc:
        f.approve(c, i1)
    assert exc.value.code == "BZ-INVT-STATE"
    assert _stock(zone) == {(1, "bonded"): Decimal("3")}


def test_cancelled_list_never_posts(zone: f.Zone) -> None:
    c = zone.container
    i1 = f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "3")], inner="D1")
    with c.uow() as uow:
        invts.cancel_invt(uow, zone.owner, i1, "mistake")
        uow.commit()
    with pytest.raises(BzError) as exc:
        f.approve(c, i1)
    assert exc.value.code == "BZ-INVT-STATE"
    assert _stock(zone) == {}
