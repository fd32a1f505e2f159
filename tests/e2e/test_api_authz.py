"""Authorisation on every route (Security): who may do what, and that refusals change nothing.

PRODUCT.md: "an enterprise never sees or touches another's data"; the issue: "an enterprise token
cannot read or change another enterprise's books, lists or stock — a test covers every route".
The table below is checked against ``app.routes``, so a new route without a row fails the build.

For each route: no token → 401; gate, zone_admin, bank → 403 unless the row lets them in; the
stranger enterprise on the owner's book / list / posting / conversion / gate pass / summary
declaration / bound document / crossing → 404 exactly as for a resource that does not exist
(existence hidden); the auditor reads but cannot write; customs approves and releases; an
enterprise cannot approve its own list. Every refusal leaves every table unchanged.

The gate (M4, M6, M7, G1): the gate role records crossings and reads passes and what their
documents delivered, but never books, stock or lists; the zone administration reads the
hazardous-chemicals feed and nothing of the enterprises'; the bank has no gate route; only
customs releases a summary declaration or a held vehicle.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI

from bondedzone.domain.rules.m9_status_conversion import ConversionLineInput
from bondedzone.entrypoints.api.app import create_app
from bondedzone.services import conversions, reconcile, registry, writeoff
from bondedzone.services import wms as wms_service
from tests import factories as f
from tests.e2e import gate_support as gs
from tests.e2e.test_api_support import assert_error, shared_zone, snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

REFUSED_ROLES = ("gate", "zone_admin", "bank")
NEW_USCC = f.make_uscc("MA6T00066")
MISSING = {
    "putrec_no": "T5301W999999",
    "uscc": f.make_uscc("MA6T00099"),
    "invt_id": 999_999,
    "posting_id": 999_999,
    "conv_id": 999_999,
    "passport_no": "Z5301I261123999999999999",
    "entry_no": "530120269999999999",
    "rlt_no": "QD530126I000999999",
    "crossing_id": 999_999,
    "run_id": 999_999,
    "writeoff_id": 999_999,
    "finding_id": 999_999,
}

Body = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Spec:
    """Who may call a route, on which of the owner's resources, and what a stranger sees."""

    ok: frozenset[str]  # personas that succeed on the owner's resource
    status: int = 200  # their success status
    stranger: int = 404  # the stranger enterprise on the owner's resource
    not_found: str | None = None  # the code a hidden resource answers with
    invt: str = "approved"  # which of the owner's lists {invt_id} names
    body: Body | None = None
    write: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # query parameters
    fresh: tuple[str, ...] = ()  # gate resources of the owner made for each test: "pass", "summary"
    crossing: str | None = None  # the state of the owner's crossing {crossing_id} names, made for each test
    writeoff: str | None = None  # the state of the owner's write-off {writeoff_id} names, made for each test


READERS = frozenset({"owner", "customs", "auditor"})
EVERYONE_READ = READERS | {"stranger"}
PASS_READERS = READERS | {"gate"}  # the gate reads passes (it must, to decide), never books
GATE_OPERATORS = frozenset({"gate", "customs"})


def _invt_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "etpsInnerInvtNo": f"AUTHZ-NEW-{ids['n']}",
        "putrecNo": ids["putrec_no"],
        "impexpMarkcd": "I",
        "supvModecd": "5034",
        "flow": "first_line",
        "lines": [{"gdsSeqno": 1, "putrecSeqno": 1, "dclQty": "1", "dclUnitcd": "001"}],
    }


def _conv_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "putrecNo": ids["putrec_no"],
        "entryNo": f"5301202600000{ids['n']:05d}",
        "fromStatus": "bonded",
        "toStatus": "non_bonded",
        "lines": [{"lineNo": 1, "putrecSeqno": 1, "qty": "0.5", "dclUnitcd": "001"}],
    }


def _pass_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "areainOriactNo": ids["putrec_no"],
        "etpsPreentNo": f"AUTHZ-PASS-{ids['n']}",
        "passportTypecd": "4",
        "ioTypecd": "I",
        "vehicleNo": gs.PLATE,
        "vehicleWt": "8000",
        "totalGrossWt": "500",
        "goods": [{"gdsNm": "A4 复印纸", "category": "office_supplies", "dclQty": "100", "dclUnitcd": "035"}],
    }


def _summary_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "entryNo": f"530120261{ids['n']:09d}",
        "putrecNo": ids["putrec_no"],
        "ioTypecd": "I",
        "lines": [{"gNo": 1, "gdecd": "8471300000", "gdsNm": "服务器", "dclQty": "3", "dclUnitcd": "001"}],
    }


def _movement(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "wmsRef": f"AUTHZ-MV-{ids['n']}",
        "putrecNo": ids["putrec_no"],
        "kind": "receipt",
        "gdsMtno": "MT-00001",
        "dclQty": "1",
        "dclUnitcd": "001",
        "stockStatus": "bonded",
        "occurredAt": "2026-11-20T08:00:00+08:00",
    }


def _stock_line(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "snapshotRef": f"AUTHZ-ST-{ids['n']}",
        "putrecNo": ids["putrec_no"],
        "takenAt": "2026-11-20T20:00:00+08:00",
        "gdsMtno": "MT-00001",
        "stockStatus": "bonded",
        "dclQty": "100",
        "dclUnitcd": "001",
    }


UNDECLARED = _movement({"n": 0, "putrec_no": f.OWNER_BOOK})
RECON_PERIOD = {"from": "2026-11-01T00:00:00+08:00", "to": "2026-11-25T00:00:00+08:00"}


def _arrive_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {"gateId": "G01", "lane": "declared", "vehicleNo": gs.PLATE, "passportNo": ids["passport_no"]}


SPECS: dict[tuple[str, str], Spec] = {
    ("POST", "/api/v1/enterprises"): Spec(
        frozenset({"customs"}),
        201,
        stranger=403,
        write=True,
        body=lambda ids: {"uscc": NEW_USCC, "customsCode": "5301346666", "name": "新登记企业", "credit": "ordinary"},
    ),
    ("GET", "/api/v1/enterprises"): Spec(EVERYONE_READ, stranger=200),
    ("GET", "/api/v1/enterprises/{uscc}"): Spec(READERS, not_found="BZ-ENTERPRISE-NOT-FOUND"),
    ("POST", "/api/v1/books"): Spec(
        frozenset({"owner", "customs"}),
        201,
        not_found="BZ-ENTERPRISE-NOT-FOUND",
        write=True,
        body=lambda ids: {"putrecNo": "T5301W100066", "bookType": "logistics", "uscc": ids["uscc"], "masterCuscd": "5301"},
    ),
    ("GET", "/api/v1/books"): Spec(EVERYONE_READ, stranger=200),
    ("GET", "/api/v1/books/{putrec_no}"): Spec(READERS, not_found="BZ-BOOK-NOT-FOUND"),
    ("POST", "/api/v1/books/{putrec_no}/items"): Spec(
        frozenset({"owner", "customs"}),
        201,
        not_found="BZ-BOOK-NOT-FOUND",
        write=True,
        body=lambda ids: {"putrecSeqno": 66, "gdsMtno": "MT-66", "gdecd": "8471300000", "gdsNm": "新商品", "dclUnitcd": "001"},
    ),
    ("GET", "/api/v1/books/{putrec_no}/items"): Spec(READERS, not_found="BZ-BOOK-NOT-FOUND"),
    ("GET", "/api/v1/books/{putrec_no}/stock"): Spec(READERS, not_found="BZ-BOOK-NOT-FOUND"),
    ("GET", "/api/v1/books/{putrec_no}/postings"): Spec(READERS, not_found="BZ-BOOK-NOT-FOUND"),
    ("POST", "/api/v1/invts"): Spec(
        frozenset({"owner", "customs"}), 201, not_found="BZ-BOOK-NOT-FOUND", write=True, body=_invt_body
    ),
    ("GET", "/api/v1/invts"): Spec(EVERYONE_READ, stranger=200),
    ("GET", "/api/v1/invts/{invt_id}"): Spec(READERS, not_found="BZ-INVT-NOT-FOUND"),
    ("GET", "/api/v1/invts/{invt_id}/history"): Spec(READERS, not_found="BZ-INVT-NOT-FOUND"),
    ("POST", "/api/v1/invts/{invt_id}/declare"): Spec(
        frozenset({"owner", "customs"}), not_found="BZ-INVT-NOT-FOUND", invt="draft", write=True
    ),
    # Approval and rejection are customs' alone: every enterprise is refused by role, so a
    # stranger learns nothing either (403 whether or not the list exists).
    ("POST", "/api/v1/invts/{invt_id}/approve"): Spec(frozenset({"customs"}), stranger=403, invt="declared", write=True),
    ("POST", "/api/v1/invts/{invt_id}/reject"): Spec(
        frozenset({"customs"}), stranger=403, invt="declared", write=True, body=lambda ids: {"reason": "资料不全"}
    ),
    ("POST", "/api/v1/invts/{invt_id}/cancel"): Spec(
        frozenset({"owner", "customs"}),
        not_found="BZ-INVT-NOT-FOUND",
        invt="draft",
        write=True,
        body=lambda ids: {"reason": "企业撤回"},
    ),
    ("POST", "/api/v1/postings/{posting_id}/corrections"): Spec(
        frozenset({"customs"}), 201, stranger=403, write=True, body=lambda ids: {"delta": "-1", "reason": "更正录入错误"}
    ),
    ("POST", "/api/v1/conversions"): Spec(
        frozenset({"owner", "customs"}), 201, not_found="BZ-BOOK-NOT-FOUND", write=True, body=_conv_body
    ),
    ("GET", "/api/v1/conversions/{conv_id}"): Spec(READERS, not_found="BZ-CONV-NOT-FOUND"),
    ("GET", "/api/v1/audit/verify"): Spec(frozenset({"customs", "auditor"}), stranger=403),
    ("GET", "/api/v1/whoami"): Spec(EVERYONE_READ | set(REFUSED_ROLES), stranger=200),
    # The gate. Passes, summary declarations, bound documents and crossings of another
    # enterprise are "not found"; operating the gate and releasing are not an enterprise's at all.
    ("POST", "/api/v1/passports"): Spec(
        frozenset({"owner", "customs"}), 201, not_found="BZ-BOOK-NOT-FOUND", write=True, body=_pass_body
    ),
    ("GET", "/api/v1/passports"): Spec(PASS_READERS | {"stranger"}, stranger=200),
    ("GET", "/api/v1/passports/{passport_no}"): Spec(PASS_READERS, not_found="BZ-PASS-NOT-FOUND", fresh=("pass",)),
    ("POST", "/api/v1/passports/{passport_no}/cancel"): Spec(
        frozenset({"owner", "customs"}), not_found="BZ-PASS-NOT-FOUND", write=True, fresh=("pass",)
    ),
    ("POST", "/api/v1/entry-summaries"): Spec(
        frozenset({"owner", "customs"}), 201, not_found="BZ-BOOK-NOT-FOUND", write=True, body=_summary_body
    ),
    ("POST", "/api/v1/entry-summaries/{entry_no}/release"): Spec(
        frozenset({"customs"}), stranger=403, write=True, fresh=("summary",)
    ),
    ("GET", "/api/v1/gate/docs/{rlt_tb_typecd}/{rlt_no}"): Spec(PASS_READERS, not_found="BZ-PASS-DOC-NOT-FOUND"),
    ("POST", "/api/v1/gate/crossings"): Spec(GATE_OPERATORS, 201, stranger=403, write=True, fresh=("pass",), body=_arrive_body),
    ("POST", "/api/v1/gate/crossings/{crossing_id}/weigh"): Spec(
        GATE_OPERATORS, stranger=403, write=True, crossing="arrived", body=lambda ids: {"grossWt": gs.EMPTY_WT}
    ),
    ("POST", "/api/v1/gate/crossings/{crossing_id}/decide"): Spec(GATE_OPERATORS, stranger=403, write=True, crossing="weighed"),
    ("POST", "/api/v1/gate/crossings/{crossing_id}/leave"): Spec(GATE_OPERATORS, stranger=403, write=True, crossing="passed"),
    ("POST", "/api/v1/gate/crossings/{crossing_id}/release"): Spec(
        frozenset({"customs"}), stranger=403, write=True, crossing="held", body=lambda ids: {"reason": "查验无误"}
    ),
    ("POST", "/api/v1/gate/cross"): Spec(
        GATE_OPERATORS,
        stranger=403,
        write=True,
        fresh=("pass",),
        body=lambda ids: {**_arrive_body(ids), "grossWt": gs.EMPTY_WT},
    ),
    ("GET", "/api/v1/gate/crossings/{crossing_id}"): Spec(PASS_READERS, not_found="BZ-CROSSING-NOT-FOUND", crossing="passed"),
    # M4: shared with the zone administration (and readable by customs and the auditor).
    ("GET", "/api/v1/hazchem-feed"): Spec(frozenset({"zone_admin", "customs", "auditor"}), stranger=403),
    # M22/W1: WMS data comes only from the enterprise itself; a record for another enterprise's
    # book is refused as an unknown book, in the batch answer, whether or not the book exists.
    ("POST", "/api/v1/wms/movements"): Spec(
        frozenset({"owner"}), stranger=422, not_found="BZ-WMS-BATCH-REJECTED", write=True,
        body=lambda ids: {"records": [_movement(ids)]},
    ),
    ("POST", "/api/v1/wms/stocktakes"): Spec(
        frozenset({"owner"}), stranger=422, not_found="BZ-WMS-BATCH-REJECTED", write=True,
        body=lambda ids: {"records": [_stock_line(ids)]},
    ),
    ("POST", "/api/v1/wms/files"): Spec(
        frozenset({"owner"}), stranger=422, not_found="BZ-WMS-BATCH-REJECTED", write=True,
        body=lambda ids: {"records": [_movement(ids)]}, extra={"name": "movements.json"},
    ),
    # W2/W3: customs compares any books, an enterprise its own (another's book is "not found");
    # an enterprise reads its own runs; the auditor reads.
    ("POST", "/api/v1/reconciliations"): Spec(
        frozenset({"owner", "customs"}), 201, not_found="BZ-BOOK-NOT-FOUND", write=True,
        body=lambda ids: {**RECON_PERIOD, "putrecNo": ids["putrec_no"]},
    ),
    ("GET", "/api/v1/reconciliations/{run_id}"): Spec(READERS, not_found="BZ-RECON-NOT-FOUND"),
    ("GET", "/api/v1/reconciliations/{run_id}/findings"): Spec(READERS, not_found="BZ-RECON-NOT-FOUND"),
    ("GET", "/api/v1/reconciliations/{run_id}/export"): Spec(READERS, not_found="BZ-RECON-NOT-FOUND"),
    ("GET", "/api/v1/discrepancies"): Spec(EVERYONE_READ, stranger=200),
    ("GET", "/api/v1/findings/{finding_id}"): Spec(READERS, not_found="BZ-RECON-NOT-FOUND"),
    # M19: the book's lifecycle and mode are customs decisions; an enterprise prepares, explains
    # and submits its write-offs, customs signs them off; the auditor reads.
    ("POST", "/api/v1/books/{putrec_no}/lifecycle"): Spec(
        frozenset({"customs"}), stranger=403, write=True, fresh=("applied_book",), body=lambda ids: {"action": "open"}
    ),
    ("POST", "/api/v1/books/{putrec_no}/mode"): Spec(
        frozenset({"customs"}), stranger=403, write=True, body=lambda ids: {"wmsDriven": False}
    ),
    ("POST", "/api/v1/writeoffs"): Spec(
        frozenset({"owner", "customs"}), 201, not_found="BZ-BOOK-NOT-FOUND", write=True, fresh=("stocktake",),
        body=lambda ids: {"putrecNo": ids["putrec_no"], "from": ids["wo_from"], "to": ids["wo_to"]},
    ),
    ("GET", "/api/v1/writeoffs"): Spec(EVERYONE_READ, stranger=200),
    ("GET", "/api/v1/writeoffs/{writeoff_id}"): Spec(READERS, not_found="BZ-WRITEOFF-NOT-FOUND", writeoff="draft"),
    ("GET", "/api/v1/writeoffs/{writeoff_id}/report"): Spec(READERS, not_found="BZ-WRITEOFF-NOT-FOUND", writeoff="draft"),
    ("POST", "/api/v1/writeoffs/{writeoff_id}/explanations"): Spec(
        frozenset({"owner", "customs"}), not_found="BZ-WRITEOFF-NOT-FOUND", write=True, writeoff="draft",
        body=lambda ids: {"lines": [{"putrecSeqno": 1, "stockStatus": "bonded", "explanation": "盘点差异说明"}]},
    ),
    ("POST", "/api/v1/writeoffs/{writeoff_id}/submit"): Spec(
        frozenset({"owner", "customs"}), not_found="BZ-WRITEOFF-NOT-FOUND", write=True, writeoff="explained"
    ),
    ("POST", "/api/v1/writeoffs/{writeoff_id}/cancel"): Spec(
        frozenset({"owner", "customs"}), not_found="BZ-WRITEOFF-NOT-FOUND", write=True, writeoff="draft"
    ),
    ("POST", "/api/v1/writeoffs/{writeoff_id}/approve"): Spec(
        frozenset({"customs"}), stranger=403, write=True, writeoff="submitted", body=lambda ids: {"note": "同意"}
    ),
    ("POST", "/api/v1/writeoffs/{writeoff_id}/return"): Spec(
        frozenset({"customs"}), stranger=403, write=True, writeoff="submitted", body=lambda ids: {"note": "请补充证明"}
    ),
}  # fmt: skip


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every /api route the app serves, however its routers are nested."""
    try:  # FastAPI ≥ 0.16x keeps included routers nested and flattens them on demand
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI flattens at include time
        routes = list(app.routes)
    found = set()
    for r in routes:
        path = getattr(r, "path", None) or ""
        for method in getattr(r, "methods", None) or ():
            if path.startswith("/api/") and method != "HEAD":
                found.add((method, path))
    return found


def test_every_api_route_has_an_authorisation_row(zone: f.Zone) -> None:
    app = create_app(zone.container)
    routes = api_routes(app)
    assert len(routes) >= 20, routes  # the enumeration itself must see the routers
    assert routes == set(SPECS), f"missing rows: {routes - set(SPECS)}; stale rows: {set(SPECS) - routes}"
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops if p.startswith("/api/")}
    assert documented == routes


@dataclass
class World:
    client: TestClient
    zone: f.Zone
    ids: dict[str, Any]
    counter: Iterator[int]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    """Owner and stranger with stock, postings, a conversion and lists, shared by the module.

    Each test gets fresh draft and declared lists of the owner (see ``ids``), so a success in
    one test never changes what another test's refusals are checked against.
    """
    from fastapi.testclient import TestClient

    with shared_zone(request.param, tmp_path_factory.mktemp("authz"), sqlite_template) as zone:
        c = zone.container
        approved = f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "100")], inner="OWN-IN")
        f.approve(c, approved)
        f.approve(c, f.new_list(c, zone.stranger, f.STRANGER_BOOK, "I", [(1, "7")], inner="STR-IN"))
        f.new_list(c, zone.stranger, f.STRANGER_BOOK, "I", [(2, "1")], inner="STR-DRAFT", declare=False)
        with c.uow() as uow:
            conv = conversions.convert_status(
                uow,
                zone.customs,
                conversions.ConvertStatus(
                    f.OWNER_BOOK, "530120260000000001", "bonded", "non_bonded", [ConversionLineInput(1, 1, "3", "001")]
                ),
            )
            posting = uow.ledger.postings(uow.books.get(f.OWNER_BOOK).id, limit=1, after_id=0)[0].id  # type: ignore[union-attr]
            bond_invt_no = uow.invts.get(approved).bond_invt_no  # type: ignore[union-attr]
            uow.commit()
        with c.uow() as uow:  # a WMS movement nobody declared, and the owner's own check finds it
            wms_service.ingest(uow, zone.owner, "movements", [wms_service.RawRecord(1, None, UNDECLARED)])
            uow.commit()
        run = reconcile.run(
            c.uow, zone.owner, c.compare_engine(), engine_name="duckdb",
            period_from=datetime.fromisoformat(RECON_PERIOD["from"]), period_to=datetime.fromisoformat(RECON_PERIOD["to"]),
            tolerance=timedelta(hours=2),
        ).run  # fmt: skip
        with c.uow(write=False) as uow:
            finding = reconcile.findings(uow, zone.owner, run.id)[0][0]
        ids = {
            "run_id": run.id,
            "finding_id": finding.id,
            "putrec_no": f.OWNER_BOOK,
            "uscc": f.OWNER_USCC,
            "approved": approved,
            "posting_id": posting,
            "conv_id": conv.id,
            "rlt_tb_typecd": "1",
            "rlt_no": bond_invt_no,
        }
        with TestClient(create_app(c)) as client:
            yield World(client, zone, ids, itertools.count(1))


def _call(w: World, persona: str | None, method: str, path: str, spec: Spec, ids: dict[str, Any]) -> Any:
    headers = {}
    if persona == "bad-token":
        headers["Authorization"] = "Bearer bz_forgedForgedForged"
    elif persona is not None:
        headers.update(w.zone.headers(persona))
    kwargs: dict[str, Any] = {"headers": headers, "params": spec.extra}
    if spec.body is not None:
        kwargs["json"] = spec.body(ids)
    return w.client.request(method, path.format(**ids), **kwargs)


def _fresh_ids(w: World, spec: Spec) -> dict[str, Any]:
    """Owner's resources for one test: shared ones plus a new draft and a new declared list, and
    the gate resources the route needs (an unused pass, an unreleased summary declaration, a
    crossing in the state the route acts on)."""
    c, n, owner = w.zone.container, next(w.counter), w.zone.owner
    ids = dict(w.ids, n=n)
    ids["draft"] = f.new_list(c, owner, f.OWNER_BOOK, "I", [(2, "1")], inner=f"DRAFT-{n}", declare=False)
    ids["declared"] = f.new_list(c, owner, f.OWNER_BOOK, "I", [(2, "1")], inner=f"DECL-{n}")
    if "pass" in spec.fresh or spec.crossing:
        ids["passport_no"] = gs.new_pass(c, owner, f.OWNER_BOOK, gs.empty_vehicle(f"AUTHZ-EMPTY-{n}"))
    if spec.crossing:
        ids["crossing_id"] = gs.crossing(c, ids["passport_no"], spec.crossing)
    if "summary" in spec.fresh:
        ids["entry_no"] = gs.summary(c, owner, f.OWNER_BOOK, f"530120262{n:09d}")
    if "applied_book" in spec.fresh:
        ids["putrec_no"] = f"T5301W{200000 + n:06d}"
        with c.uow() as uow:
            registry.open_book(uow, owner, registry.OpenBook(ids["putrec_no"], "logistics", f.OWNER_USCC, "5301"))
            uow.commit()
    if "stocktake" in spec.fresh:  # a count long ago, in a period of its own
        at = _stocktake(w, 1000 + n)
        ids["wo_from"], ids["wo_to"] = (at - timedelta(hours=1)).isoformat(), (at + timedelta(hours=1)).isoformat()
    if spec.writeoff:
        at = _stocktake(w, 3000 + n)
        with c.uow() as uow:
            wo = writeoff.create(uow, owner, writeoff.NewWriteOff(f.OWNER_BOOK, at - timedelta(hours=1), at + timedelta(hours=1)))
            if spec.writeoff in ("explained", "submitted"):
                writeoff.explain(uow, owner, wo.id, [(ln.putrec_seqno, ln.stock_status, "盘点差异说明") for ln in wo.lines])
            if spec.writeoff == "submitted":
                writeoff.submit(uow, owner, wo.id)
            uow.commit()
        ids["writeoff_id"] = wo.id
    return ids


def _stocktake(w: World, days_ago: int) -> datetime:
    """A stocktake of the owner's book ``days_ago`` days ago: one unit of item 1 counted."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago)
    line = {
        "snapshotRef": f"AUTHZ-ST-{days_ago}", "putrecNo": f.OWNER_BOOK, "takenAt": at.isoformat(), "gdsMtno": "MT-00001",
        "stockStatus": "bonded", "dclQty": "1", "dclUnitcd": "001",
    }  # fmt: skip
    with w.zone.container.uow() as uow:
        wms_service.ingest(uow, w.zone.owner, "stock", [wms_service.RawRecord(1, None, line)])
        uow.commit()
    return at


@pytest.mark.parametrize(("method", "path"), list(SPECS), ids=[f"{m} {p}" for m, p in SPECS])
def test_route_authorisation(method: str, path: str, world: World) -> None:
    spec, c = SPECS[(method, path)], world.zone.container
    ids = _fresh_ids(world, spec)
    ids["invt_id"] = ids[spec.invt]

    def refused(persona: str | None, status: int, code: str, on: dict[str, Any]) -> dict[str, Any]:
        before = snapshot(c)
        body = assert_error(_call(world, persona, method, path, spec, on), status, code)
        assert snapshot(c) == before, f"{persona} was refused but something changed"
        return body

    # Authentication comes first, on every route.
    refused(None, 401, "BZ-AUTH-REQUIRED", ids)
    refused("bad-token", 401, "BZ-AUTH-INVALID", ids)
    for role in REFUSED_ROLES:
        if role not in spec.ok:
            refused(role, 403, "BZ-FORBIDDEN", ids)
    if "auditor" not in spec.ok:
        body = refused("auditor", 403, "BZ-FORBIDDEN", ids)
        assert body["detail"]["role"] == "auditor"
    if "owner" not in spec.ok:  # e.g. an enterprise approving its own list
        refused("owner", 403, "BZ-FORBIDDEN", ids)

    # The stranger on the owner's resource: told it does not exist, exactly as for a missing one.
    if spec.stranger == 404:
        assert spec.not_found is not None
        hidden = refused("stranger", 404, spec.not_found, ids)
        missing = refused("stranger", 404, spec.not_found, {**ids, **MISSING})
        assert set(hidden["detail"]) == set(missing["detail"])
    elif spec.stranger == 403:
        refused("stranger", 403, "BZ-FORBIDDEN", ids)
    elif spec.stranger == 422:  # refused inside a batch answer, the same for a missing book
        assert spec.not_found is not None
        hidden = refused("stranger", 422, spec.not_found, ids)
        missing = refused("stranger", 422, spec.not_found, {**ids, **MISSING})
        assert [e["code"] for e in hidden["errors"]] == [e["code"] for e in missing["errors"]] == ["BZ-WMS-BOOK-UNKNOWN"]
    else:
        resp = _call(world, "stranger", method, path, spec, ids)
        assert resp.status_code == 200, resp.text

    # Those allowed succeed; a write is done once (by the owner, else the gate, when they may).
    allowed = [p for p in ("owner", "gate", "customs", "auditor", "zone_admin", "bank") if p in spec.ok]
    for persona in allowed[:1] if spec.write else allowed:
        resp = _call(world, persona, method, path, spec, ids)
        assert resp.status_code == spec.status, (persona, resp.text)


def _rows(w: World, persona: str, path: str, key: str) -> set[str]:
    resp = w.client.get(path, headers=w.zone.headers(persona), params={"limit": 500})
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["count"] >= len(page["data"])
    return {str(row[key]) for row in page["data"]}


def test_list_endpoints_show_only_the_callers_rows(world: World) -> None:
    owner_invts = _rows(world, "owner", "/api/v1/invts", "putrecNo")
    stranger_invts = _rows(world, "stranger", "/api/v1/invts", "putrecNo")
    assert owner_invts == {f.OWNER_BOOK} and stranger_invts == {f.STRANGER_BOOK}
    assert _rows(world, "customs", "/api/v1/invts", "putrecNo") >= {f.OWNER_BOOK, f.STRANGER_BOOK}
    assert _rows(world, "auditor", "/api/v1/invts", "putrecNo") >= {f.OWNER_BOOK, f.STRANGER_BOOK}
    # Filtering by another enterprise's book yields nothing, not its lists.
    resp = world.client.get("/api/v1/invts", params={"putrecNo": f.OWNER_BOOK}, headers=world.zone.headers("stranger"))
    assert resp.json() == {"data": [], "count": 0}

    assert _rows(world, "stranger", "/api/v1/books", "uscc") == {f.STRANGER_USCC}
    assert f.OWNER_BOOK not in _rows(world, "stranger", "/api/v1/books", "putrecNo")
    assert _rows(world, "customs", "/api/v1/books", "putrecNo") >= {f.OWNER_BOOK, f.STRANGER_BOOK}
    assert _rows(world, "stranger", "/api/v1/enterprises", "uscc") == {f.STRANGER_USCC}
    assert _rows(world, "owner", "/api/v1/enterprises", "uscc") == {f.OWNER_USCC}
    assert _rows(world, "auditor", "/api/v1/enterprises", "uscc") >= {f.OWNER_USCC, f.STRANGER_USCC}
    who = world.client.get("/api/v1/whoami", headers=world.zone.headers("stranger")).json()
    assert who["role"] == "enterprise" and who["uscc"] == f.STRANGER_USCC


def test_stranger_cannot_reach_owner_data_through_its_own_book(world: World) -> None:
    # The stranger's book number in the path with the owner's list / posting ids: still hidden.
    h = world.zone.headers("stranger")
    before = snapshot(world.zone.container)
    owner_stock = world.client.get(f"/api/v1/books/{f.OWNER_BOOK}/stock", headers=world.zone.headers("owner")).json()
    own = world.client.get(f"/api/v1/books/{f.STRANGER_BOOK}/stock", headers=h).json()
    assert {r["quantity"] for r in own["data"]} == {"7"} and owner_stock["data"] != own["data"]
    postings = world.client.get(f"/api/v1/books/{f.STRANGER_BOOK}/postings", headers=h, params={"afterId": 0}).json()
    assert postings["data"] and {p["putrecNo"] for p in postings["data"]} == {f.STRANGER_BOOK}
    assert_error(world.client.get(f"/api/v1/invts/{world.ids['approved']}/history", headers=h), 404, "BZ-INVT-NOT-FOUND")
    assert snapshot(world.zone.container) == before


def test_customs_approves_and_the_owner_cannot(world: World) -> None:
    c, z = world.zone.container, world.zone
    invt = f.new_list(c, z.owner, f.OWNER_BOOK, "I", [(3, "4")], inner="SELF-APPROVE")
    before = snapshot(c)
    assert_error(world.client.post(f"/api/v1/invts/{invt}/approve", headers=z.headers("owner")), 403, "BZ-FORBIDDEN")
    assert snapshot(c) == before
    ok = world.client.post(f"/api/v1/invts/{invt}/approve", headers=z.headers("customs"))
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    stock = world.client.get(f"/api/v1/books/{f.OWNER_BOOK}/stock", headers=z.headers("auditor")).json()["data"]
    assert {(r["putrecSeqno"], r["quantity"]) for r in stock if r["putrecSeqno"] == 3} == {(3, "4")}


# -- the gate (M4, M6, M7, G1) ---------------------------------------------------------------------


def test_pass_lists_show_only_the_callers_passes(world: World) -> None:
    c, z = world.zone.container, world.zone
    gs.new_pass(c, z.owner, f.OWNER_BOOK, gs.empty_vehicle("LIST-OWN", plate="云A0WN01"))
    gs.new_pass(c, z.stranger, f.STRANGER_BOOK, gs.empty_vehicle("LIST-STR", plate="云B5TR01"))
    assert _rows(world, "owner", "/api/v1/passports", "areainEtpsSccd") == {f.OWNER_USCC}
    assert _rows(world, "stranger", "/api/v1/passports", "areainEtpsSccd") == {f.STRANGER_USCC}
    for reader in ("customs", "gate", "auditor"):
        assert _rows(world, reader, "/api/v1/passports", "areainEtpsSccd") >= {f.OWNER_USCC, f.STRANGER_USCC}, reader
    # Asking for the owner's plate does not reveal the owner's passes to the stranger.
    resp = world.client.get("/api/v1/passports", params={"vehicleNo": "云A0WN01"}, headers=z.headers("stranger"))
    assert resp.json() == {"data": [], "count": 0}
    mine = world.client.get("/api/v1/passports", params={"vehicleNo": "云A0WN01"}, headers=z.headers("gate")).json()
    assert mine["count"] == 1 and mine["data"][0]["areainEtpsSccd"] == f.OWNER_USCC


def test_stranger_cannot_bind_or_probe_the_owners_documents(world: World) -> None:  # M6
    # A pass of the stranger's own book binding the owner's approved list or released summary
    # declaration is told the document does not exist — exactly as for a number never issued.
    c, z = world.zone.container, world.zone
    entry = gs.summary(c, z.owner, f.OWNER_BOOK, "530120263000000001", released=True)

    def bind(kind: str, no: str) -> dict[str, Any]:
        body = {
            "areainOriactNo": f.STRANGER_BOOK,
            "etpsPreentNo": f"PROBE-{kind}-{no}",
            "passportTypecd": "2",
            "ioTypecd": "I",
            "bindTypecd": "2",
            "vehicleNo": "云B5TR02",
            "vehicleWt": "15000",
            "totalGrossWt": "1000",
            "docs": [{"rltTbTypecd": kind, "rltNo": no}],
        }
        before = snapshot(c)
        got = assert_error(
            world.client.post("/api/v1/passports", json=body, headers=z.headers("stranger")), 404, "BZ-PASS-DOC-NOT-FOUND"
        )
        assert snapshot(c) == before
        return got

    for kind, owners, missing in (("1", world.ids["rlt_no"], MISSING["rlt_no"]), ("4", entry, MISSING["entry_no"])):
        hidden, unknown = bind(kind, owners), bind(kind, missing)
        assert set(hidden["detail"]) == set(unknown["detail"]) == {"rltTbTypecd", "rltNo"}
        assert hidden["detail"]["rltNo"] == owners
        assert_error(
            world.client.get(f"/api/v1/gate/docs/{kind}/{owners}", headers=z.headers("stranger")), 404, "BZ-PASS-DOC-NOT-FOUND"
        )
        ok = world.client.get(f"/api/v1/gate/docs/{kind}/{owners}", headers=z.headers("owner"))
        assert ok.status_code == 200 and ok.json()["rltNo"] == owners


def test_the_gate_operates_crossings_and_reads_passes_but_no_books(world: World) -> None:  # G1
    c, z = world.zone.container, world.zone
    passport = gs.new_pass(c, z.owner, f.OWNER_BOOK, gs.empty_vehicle("GATE-WALK"))
    h = z.headers("gate")
    crossed = world.client.post(
        "/api/v1/gate/cross",
        json={"gateId": "G02", "lane": "declared", "vehicleNo": gs.PLATE, "passportNo": passport, "grossWt": gs.EMPTY_WT},
        headers=h,
    )
    assert crossed.status_code == 200 and crossed.json()["decision"] == "pass", crossed.text
    left = world.client.post(f"/api/v1/gate/crossings/{crossed.json()['id']}/leave", headers=h)
    assert left.status_code == 200 and left.json()["status"] == "left"
    shown = world.client.get(f"/api/v1/passports/{passport}", headers=h).json()
    assert shown["status"] == "crossed" and [x["status"] for x in shown["crossings"]] == ["left"]
    assert world.client.get(f"/api/v1/gate/docs/1/{world.ids['rlt_no']}", headers=h).status_code == 200
    before = snapshot(c)
    for path in (
        "/api/v1/books",
        f"/api/v1/books/{f.OWNER_BOOK}",
        f"/api/v1/books/{f.OWNER_BOOK}/stock",
        f"/api/v1/books/{f.OWNER_BOOK}/postings",
        "/api/v1/invts",
        f"/api/v1/invts/{world.ids['approved']}",
        "/api/v1/hazchem-feed",
    ):
        body = assert_error(world.client.get(path, headers=h), 403, "BZ-FORBIDDEN")
        assert body["detail"]["role"] == "gate", path
    assert snapshot(c) == before
    # Releasing a held vehicle is customs' decision, not the gate's.
    held = gs.crossing(c, gs.new_pass(c, z.owner, f.OWNER_BOOK, gs.empty_vehicle("GATE-HELD")), "held")
    before = snapshot(c)
    assert_error(
        world.client.post(f"/api/v1/gate/crossings/{held}/release", json={"reason": "自行放行"}, headers=h), 403, "BZ-FORBIDDEN"
    )
    assert snapshot(c) == before
    released = world.client.post(
        f"/api/v1/gate/crossings/{held}/release", json={"reason": "人工查验无误"}, headers=z.headers("customs")
    )
    assert released.status_code == 200 and released.json()["decision"] == "pass"
    assert released.json()["reasons"][-1]["rule"] == "CUSTOMS-RELEASE"


def test_zone_admin_reads_the_hazchem_feed_and_nothing_of_the_enterprises(world: World) -> None:  # M4
    z = world.zone
    h = z.headers("zone_admin")
    feed = world.client.get("/api/v1/hazchem-feed", headers=h)
    assert feed.status_code == 200 and set(feed.json()) == {"data", "count"}
    before = snapshot(z.container)
    for path in (
        "/api/v1/books",
        f"/api/v1/books/{f.OWNER_BOOK}/stock",
        "/api/v1/invts",
        "/api/v1/passports",
        f"/api/v1/gate/docs/1/{world.ids['rlt_no']}",
        "/api/v1/enterprises",
    ):
        assert_error(world.client.get(path, headers=h), 403, "BZ-FORBIDDEN")
    for role in ("owner", "stranger", "gate", "bank"):
        assert_error(world.client.get("/api/v1/hazchem-feed", headers=z.headers(role)), 403, "BZ-FORBIDDEN")
    assert snapshot(z.container) == before


def test_an_enterprise_sees_only_crossings_made_with_its_own_passes(world: World) -> None:
    c, z = world.zone.container, world.zone
    own = gs.crossing(c, gs.new_pass(c, z.owner, f.OWNER_BOOK, gs.empty_vehicle("SEE-OWN")), "passed")
    stranger_pass = gs.new_pass(c, z.stranger, f.STRANGER_BOOK, gs.empty_vehicle("SEE-STR", plate="云B5TR03"))
    theirs = gs.crossing(c, stranger_pass, "passed", plate="云B5TR03")
    # A vehicle that came with no pass at all belongs to no enterprise.
    nobody = world.client.post(
        "/api/v1/gate/crossings", json={"gateId": "G01", "lane": "declared", "vehicleNo": "云C00001"}, headers=z.headers("gate")
    )
    assert nobody.status_code == 201 and nobody.json()["decision"] == "hold"
    for persona, visible in (("owner", {own}), ("stranger", {theirs})):
        for crossing_id in (own, theirs, nobody.json()["id"]):
            resp = world.client.get(f"/api/v1/gate/crossings/{crossing_id}", headers=z.headers(persona))
            if crossing_id in visible:
                assert resp.status_code == 200 and [e["kind"] for e in resp.json()["events"]] == ["arrive", "weigh", "decide"]
            else:
                assert_error(resp, 404, "BZ-CROSSING-NOT-FOUND")
    for reader in ("customs", "gate", "auditor"):
        assert world.client.get(f"/api/v1/gate/crossings/{nobody.json()['id']}", headers=z.headers(reader)).status_code == 200
