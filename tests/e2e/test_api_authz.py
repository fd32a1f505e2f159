"""Authorisation on every route (Security): who may do what, and that refusals change nothing.

PRODUCT.md: "an enterprise never sees or touches another's data"; the issue: "an enterprise token
cannot read or change another enterprise's books, lists or stock — a test covers every route".
The table below is checked against ``app.routes``, so a new route without a row fails the build.

For each route: no token → 401; gate, zone_admin, bank → 403; the stranger enterprise on the
owner's book / list / posting / conversion → 404 exactly as for a resource that does not exist
(existence hidden); the auditor reads but cannot write; customs approves; an enterprise cannot
approve its own list. Every refusal leaves every table unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI

from bondedzone.domain.rules.m9_status_conversion import ConversionLineInput
from bondedzone.entrypoints.api.app import create_app
from bondedzone.services import conversions
from tests import factories as f
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
    extra: dict[str, str] = field(default_factory=dict)


READERS = frozenset({"owner", "customs", "auditor"})
EVERYONE_READ = READERS | {"stranger"}


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
}


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
            uow.commit()
        ids = {"putrec_no": f.OWNER_BOOK, "uscc": f.OWNER_USCC, "approved": approved, "posting_id": posting, "conv_id": conv.id}
        with TestClient(create_app(c)) as client:
            yield World(client, zone, ids, itertools.count(1))


def _call(w: World, persona: str | None, method: str, path: str, spec: Spec, ids: dict[str, Any]) -> Any:
    headers = {}
    if persona == "bad-token":
        headers["Authorization"] = "Bearer bz_forgedForgedForged"
    elif persona is not None:
        headers.update(w.zone.headers(persona))
    kwargs: dict[str, Any] = {"headers": headers}
    if spec.body is not None:
        kwargs["json"] = spec.body(ids)
    return w.client.request(method, path.format(**ids), **kwargs)


def _fresh_ids(w: World) -> dict[str, Any]:
    """Owner's resources for one test: shared ones plus a new draft and a new declared list."""
    c, n = w.zone.container, next(w.counter)
    ids = dict(w.ids, n=n)
    ids["draft"] = f.new_list(c, w.zone.owner, f.OWNER_BOOK, "I", [(2, "1")], inner=f"DRAFT-{n}", declare=False)
    ids["declared"] = f.new_list(c, w.zone.owner, f.OWNER_BOOK, "I", [(2, "1")], inner=f"DECL-{n}")
    return ids


@pytest.mark.parametrize(("method", "path"), list(SPECS), ids=[f"{m} {p}" for m, p in SPECS])
def test_route_authorisation(method: str, path: str, world: World) -> None:
    spec, c = SPECS[(method, path)], world.zone.container
    ids = _fresh_ids(world)
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
    else:
        resp = _call(world, "stranger", method, path, spec, ids)
        assert resp.status_code == 200, resp.text

    # Those allowed succeed; a write is done once (by the owner when the owner may).
    allowed = [p for p in ("owner", "customs", "auditor", "gate", "zone_admin", "bank") if p in spec.ok]
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
