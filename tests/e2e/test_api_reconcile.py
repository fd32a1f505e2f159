"""Reconciliation over HTTP (W2, W3, M22): runs, findings, evidence, exports, the open set, the folder.

A synthetic zone (:mod:`bondedzone.services.synth`) is loaded through the services into SQLite and
PostgreSQL, with one discrepancy of every kind injected; customs runs the comparison over the
synthetic period through the API and must find exactly the injected ones (precision and recall
1.0), page by page. Each finding opens with the records of both sides; the run exports as CSV
and XLSX. The continuous comparison (W3) and the watched folder (M22) run as the server runs them,
started by the test.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bondedzone import bootstrap
from bondedzone.adapters import background
from bondedzone.adapters.files.exports import COLUMNS
from bondedzone.config import Settings
from bondedzone.domain import wms
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.entrypoints.api.app import create_app
from bondedzone.entrypoints.cli.demo import make_uscc
from bondedzone.services import invts, synth, tokens
from tests import factories as f
from tests.conftest import Clock, drop_pg_schema, make_pg_schema
from tests.e2e import wms_support as ws
from tests.e2e.test_api_support import assert_error, snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

RUNS = "/api/v1/reconciliations"


@dataclass
class World:
    client: TestClient
    container: bootstrap.Container
    data: synth.ZoneData
    loaded: synth.Loaded
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def period(self) -> dict[str, Any]:
        p = self.data.params
        return {"from": _iso(p.p_from), "to": _iso(p.p_to), "toleranceMinutes": p.tolerance // 60_000_000}

    @property
    def books(self) -> list[str]:
        return [e.book for e in self.data.enterprises]


def _iso(us: int, tz: Any = wms.CST) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).astimezone(tz).isoformat()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    """A synthetic zone of two enterprises over four days with one discrepancy of each kind, per engine.

    Tests only add runs to it (each reads its own), so they share it.
    """
    from fastapi.testclient import TestClient

    schema = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("recon") / "bz.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        schema, url = make_pg_schema("recon")
    data = synth.generate(enterprises=2, days=4, seed=3, inject=1)
    clock = synth.SettableClock(datetime(2026, 10, 1, tzinfo=UTC))
    c = bootstrap.build(Settings(database_url=url, load_demo=False), clock=clock)
    try:
        usccs = [make_uscc(f"MA6K1{n:04d}") for n in range(1, 3)]
        loaded = synth.load(c.uow, clock, data, usccs=usccs, customs_codes=[f"53019900{n:02d}" for n in range(1, 3)])
        with c.uow() as uow:
            toks = {role: tokens.create_token(uow, role, None) for role in ("customs", "auditor", "gate")}
            for e in data.enterprises:
                toks[e.book] = tokens.create_token(uow, "enterprise", loaded.usccs[e.book])
            uow.commit()
        with TestClient(create_app(c)) as client:
            yield World(client, c, data, loaded, toks)
    finally:
        c.engine.dispose()
        if schema is not None:
            drop_pg_schema(schema)


def _run(w: World, who: str = "customs", **over: Any) -> dict[str, Any]:
    resp = w.client.post(RUNS, json={**w.period, **over}, headers=w.headers(who))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _all_findings(w: World, run_id: int, who: str = "customs", page: int = 5, **query: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        resp = w.client.get(
            f"{RUNS}/{run_id}/findings", params={"limit": page, "offset": len(out), **query}, headers=w.headers(who)
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out += body["data"]
        if not body["data"]:
            break
        assert len(body["data"]) <= page
    assert len(out) == body["count"], (len(out), body["count"])
    assert len({x["id"] for x in out}) == len(out), "a finding appeared on two pages"
    return out


def _key(x: dict[str, Any]) -> synth.Key:
    return (x["cls"], x["scope"], x["putrecNo"], x["ref"], x["line"], x["stockStatus"] if x["scope"] == "stock" else None)


# -- W2: exactly the injected discrepancies ------------------------------------------------------------


def test_a_run_over_the_period_finds_exactly_the_injected_discrepancies(world: World) -> None:
    truth = world.loaded.truth(world.data)
    assert len(truth) == 12 and {k[0] for k in truth} == {c.value for c in w2.Cls}
    run = _run(world)
    assert run["from"] == world.period["from"] and run["to"] == world.period["to"]
    assert (run["toleranceMinutes"], run["engine"], run["putrecNo"]) == (120, "duckdb", None)
    assert run["rowsCompared"] > 0
    assert sum(run["counts"].values()) == len(truth)
    assert run["lags"] == run["counts"]["timing_lag"] == 2
    assert run["errors"] == len(truth) - 2
    # The run reads back as it was answered (its period: see the test below).
    again = world.client.get(f"{RUNS}/{run['id']}", headers=world.headers("customs"))
    assert again.status_code == 200, again.text
    assert {k: x for k, x in again.json().items() if k not in ("from", "to")} == {
        k: x for k, x in run.items() if k not in ("from", "to")
    }

    found = _all_findings(world, run["id"])
    keys = {_key(x) for x in found}
    assert len(keys) == len(found)
    assert synth.score(keys, truth) == (1.0, 1.0), (sorted(keys - truth, key=str), sorted(truth - keys, key=str))
    for x in found:
        assert x["runId"] == run["id"]
        assert x["isError"] is (x["cls"] != "timing_lag")
        assert x["label"] == {"zh": w2.LABELS[w2.Cls(x["cls"])][0], "en": w2.LABELS[w2.Cls(x["cls"])][1]}
    # The same period written in UTC is the same run.
    p = world.data.params
    utc = _run(world, **{"from": _iso(p.p_from, UTC), "to": _iso(p.p_to, UTC)})
    assert {_key(x) for x in _all_findings(world, utc["id"], page=100)} == truth


def test_a_run_reads_back_with_the_period_it_was_asked_for(world: World) -> None:
    run = _run(world)  # the period in China time, +08:00
    assert run["from"].endswith("+08:00")
    got = world.client.get(f"{RUNS}/{run['id']}", headers=world.headers("customs")).json()
    asked = (datetime.fromisoformat(world.period["from"]), datetime.fromisoformat(world.period["to"]))
    assert (datetime.fromisoformat(got["from"]), datetime.fromisoformat(got["to"])) == asked


def test_findings_filter_by_class_and_book(world: World) -> None:
    truth = world.loaded.truth(world.data)
    run = _run(world)
    rid = run["id"]
    for cls in w2.Cls:
        got = _all_findings(world, rid, page=3, cls=cls.value)
        assert {x["cls"] for x in got} <= {cls.value}
        assert len(got) == run["counts"][cls.value] == sum(1 for k in truth if k[0] == cls.value), cls
    for book in world.books:
        got = _all_findings(world, rid, putrecNo=book)
        assert {_key(x) for x in got} == {k for k in truth if k[2] == book}
    both = _all_findings(world, rid, cls="unknown_item", putrecNo=world.books[1])
    assert {_key(x) for x in both} == {k for k in truth if k[0] == "unknown_item" and k[2] == world.books[1]}

    h = world.headers("customs")
    body = assert_error(
        world.client.get(f"{RUNS}/{rid}/findings", params={"cls": "missing_goods"}, headers=h), 422, "BZ-RECON-CLASS"
    )
    assert body["detail"]["cls"] == "missing_goods" and "timing_lag" in body["detail"]["known"]
    assert_error(
        world.client.get(f"{RUNS}/{rid}/findings", params={"putrecNo": "T5301W999999"}, headers=h), 404, "BZ-BOOK-NOT-FOUND"
    )
    assert_error(world.client.get(f"{RUNS}/999999/findings", headers=h), 404, "BZ-RECON-NOT-FOUND")
    assert_error(world.client.get(f"{RUNS}/999999", headers=h), 404, "BZ-RECON-NOT-FOUND")
    assert_error(world.client.get(f"{RUNS}/{rid}/findings", params={"limit": 0}, headers=h), 422, "BZ-VALIDATION")
    assert_error(world.client.get(f"{RUNS}/{rid}/findings", params={"limit": 1001}, headers=h), 422, "BZ-VALIDATION")
    assert_error(world.client.get(f"{RUNS}/0/findings", headers=h), 422, "BZ-VALIDATION")


def test_an_enterprise_runs_and_reads_its_own_books_only(world: World) -> None:
    truth = world.loaded.truth(world.data)
    mine, theirs = world.books
    customs_run = _run(world)
    own = _run(world, who=mine)
    assert {_key(x) for x in _all_findings(world, own["id"], who=mine)} == {k for k in truth if k[2] == mine}
    # Customs' run and the other enterprise's book are not the enterprise's to see.
    assert_error(world.client.get(f"{RUNS}/{customs_run['id']}", headers=world.headers(mine)), 404, "BZ-RECON-NOT-FOUND")
    assert_error(world.client.get(f"{RUNS}/{own['id']}", headers=world.headers(theirs)), 404, "BZ-RECON-NOT-FOUND")
    resp = world.client.post(RUNS, json={**world.period, "putrecNo": theirs}, headers=world.headers(mine))
    assert_error(resp, 404, "BZ-BOOK-NOT-FOUND")
    other_finding = next(x for x in _all_findings(world, customs_run["id"], page=100) if x["putrecNo"] == theirs)
    assert_error(
        world.client.get(f"/api/v1/findings/{other_finding['id']}", headers=world.headers(mine)), 404, "BZ-RECON-NOT-FOUND"
    )
    # The auditor reads but does not run; the gate does neither.
    assert world.client.get(f"{RUNS}/{customs_run['id']}", headers=world.headers("auditor")).status_code == 200
    assert_error(world.client.post(RUNS, json=world.period, headers=world.headers("auditor")), 403, "BZ-FORBIDDEN")
    assert_error(world.client.get(f"{RUNS}/{customs_run['id']}", headers=world.headers("gate")), 403, "BZ-FORBIDDEN")


def test_a_bad_period_is_refused_with_a_clear_4xx(world: World) -> None:
    c, h = world.container, world.headers("customs")
    before = snapshot(c)
    start, end = "2026-11-01T00:00:00+08:00", "2026-11-05T00:00:00+08:00"
    cases: dict[str, tuple[dict[str, Any], int, str]] = {
        "from-equals-to": ({"from": start, "to": start}, 422, "BZ-RECON-PERIOD"),
        "from-after-to": ({"from": end, "to": start}, 422, "BZ-RECON-PERIOD"),
        "naive-from": ({"from": "2026-11-01T00:00:00", "to": end}, 422, "BZ-RECON-PERIOD"),
        "naive-to": ({"from": start, "to": "2026-11-05T00:00:00"}, 422, "BZ-RECON-PERIOD"),
        "date-only": ({"from": "2026-11-01", "to": "2026-11-05"}, 422, "BZ-RECON-PERIOD"),
        "over-3-years": ({"from": "2023-01-01T00:00:00+08:00", "to": end}, 422, "BZ-RECON-PERIOD"),
        "not-a-time": ({"from": "yesterday", "to": end}, 422, "BZ-VALIDATION"),
        "missing-to": ({"from": start}, 422, "BZ-VALIDATION"),
        "tolerance-over-30-days": ({"from": start, "to": end, "toleranceMinutes": 30 * 24 * 60 + 1}, 422, "BZ-VALIDATION"),
        "negative-tolerance": ({"from": start, "to": end, "toleranceMinutes": -1}, 422, "BZ-VALIDATION"),
        "long-book": ({"from": start, "to": end, "putrecNo": "T5301W0000001"}, 422, "BZ-VALIDATION"),
        "unknown-book": ({"from": start, "to": end, "putrecNo": "T5301W999999"}, 404, "BZ-BOOK-NOT-FOUND"),
    }
    reasons = {}
    for name, (body, status, code) in cases.items():
        resp = world.client.post(RUNS, json=body, headers=h)
        assert resp.status_code < 500, (name, resp.text)
        got = assert_error(resp, status, code)
        reasons[name] = got["messages"]["en"]
    assert "zone offset" in reasons["naive-from"] and "zone offset" in reasons["naive-to"]
    assert "before" in reasons["from-after-to"] and "before" in reasons["from-equals-to"]
    assert "3 years" in reasons["over-3-years"]
    assert snapshot(c) == before
    # Exactly three years (of 366 days) is still allowed.
    ok = world.client.post(RUNS, json={"from": "2023-11-05T00:00:00+08:00", "to": "2026-11-05T00:00:00+08:00"}, headers=h)
    assert ok.status_code == 201, ok.text


# -- evidence ----------------------------------------------------------------------------------------


def _evidence(w: World, finding: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    resp = w.client.get(f"/api/v1/findings/{finding['id']}", headers=w.headers("customs"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {k: x for k, x in body.items() if k != "evidence"} == finding
    assert set(body["evidence"]) == {"movements", "declarationLines", "stockLines"}
    ev: dict[str, list[dict[str, Any]]] = body["evidence"]
    return ev


def _units(q: str) -> int:
    whole, _, frac = q.lstrip("-").partition(".")
    n = int(whole) * 100_000 + int((frac + "00000")[:5])
    return -n if q.startswith("-") else n


def test_a_finding_opens_with_the_records_of_both_sides(world: World) -> None:
    run = _run(world)
    found = {(x["cls"], x["scope"]): x for x in _all_findings(world, run["id"], page=100)}

    # A declared line received in another quantity: the movements referencing it and the line itself.
    q = found[("quantity_mismatch", "declaration")]
    ev = _evidence(world, q)
    assert ev["movements"] and all((m["rltNo"], m["rltGdsSeqno"]) == (q["ref"], q["line"]) for m in ev["movements"])
    assert [(d["bondInvtNo"], d["gdsSeqno"]) for d in ev["declarationLines"]] == [(q["ref"], q["line"])]
    assert sum(_units(m["dclQty"]) for m in ev["movements"]) == _units(q["wmsQty"])
    assert _units(ev["declarationLines"][0]["dclQty"]) == _units(q["otherQty"]) != _units(q["wmsQty"])
    assert ev["stockLines"] == []

    # A declaration the WMS never saw: the line, no movement.
    d = found[("declaration_without_movement", "declaration")]
    ev = _evidence(world, d)
    assert ev["movements"] == [] and [(x["bondInvtNo"], x["gdsSeqno"]) for x in ev["declarationLines"]] == [(d["ref"], d["line"])]

    # A receipt nobody declared: the movement, no declaration.
    m = found[("movement_without_declaration", "movement")]
    ev = _evidence(world, m)
    assert [(x["wmsRef"], x["rltNo"]) for x in ev["movements"]] == [(m["ref"], None)] and ev["declarationLines"] == []

    # A stocktake that differs from the ledger: the stock lines of the item (and its movements).
    s = found[("quantity_mismatch", "stock")]
    ev = _evidence(world, s)
    assert ev["stockLines"] and {x["gdsMtno"] for x in ev["stockLines"]} == {s["gdsMtno"]} == {s["ref"]}
    assert any(x["stockStatus"] == s["stockStatus"] and _units(x["dclQty"]) == _units(s["wmsQty"]) for x in ev["stockLines"])
    assert ev["movements"] and {x["gdsMtno"] for x in ev["movements"]} == {s["gdsMtno"]}

    # An item the book does not have: what the WMS recorded of it.
    u = found[("unknown_item", "item")]
    ev = _evidence(world, u)
    assert {x["gdsMtno"] for x in ev["movements"]} == {u["ref"]} and ev["declarationLines"] == []

    assert_error(world.client.get("/api/v1/findings/99999999", headers=world.headers("customs")), 404, "BZ-RECON-NOT-FOUND")


def test_a_conversion_finding_opens_with_the_conversion_line(client: TestClient, zone: f.Zone) -> None:
    c = zone.container
    invt = f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10")], inner="CV-IN")
    f.approve(c, invt)
    with c.uow(write=False) as uow:
        bond_invt_no = invts.get_invt(uow, f.CUSTOMS, invt).bond_invt_no
    entry = "530120260000000042"
    conversion = {
        "putrecNo": f.OWNER_BOOK,
        "entryNo": entry,
        "fromStatus": "bonded",
        "toStatus": "non_bonded",
        "lines": [{"lineNo": 1, "putrecSeqno": 1, "qty": "4", "dclUnitcd": "001"}],
    }
    assert client.post("/api/v1/conversions", json=conversion, headers=zone.headers("owner")).status_code == 201
    records = [
        ws.movement("CV-R1", dclQty="10", rltNo=bond_invt_no, rltGdsSeqno=1, occurredAt="2026-11-23T08:01:00Z"),
        # The WMS changed the status of 3, the conversion declared 4.
        ws.movement(
            "CV-S1",
            kind="status_change",
            fromStatus="bonded",
            stockStatus="non_bonded",
            dclQty="3",
            rltNo=entry,
            rltGdsSeqno=1,
            occurredAt="2026-11-23T08:02:00Z",
        ),
    ]
    assert client.post("/api/v1/wms/movements", json={"records": records}, headers=zone.headers("owner")).status_code == 200
    period = {"from": "2026-11-20T00:00:00Z", "to": "2026-11-24T00:00:00Z", "toleranceMinutes": 0}
    run = client.post(RUNS, json=period, headers=zone.headers("customs")).json()
    found = client.get(f"{RUNS}/{run['id']}/findings", headers=zone.headers("customs")).json()["data"]
    assert [(x["cls"], x["scope"], x["ref"], x["line"], x["wmsQty"], x["otherQty"]) for x in found] == [
        ("quantity_mismatch", "declaration", entry, 1, "3", "4")
    ]
    ev = client.get(f"/api/v1/findings/{found[0]['id']}", headers=zone.headers("customs")).json()["evidence"]
    assert [m["wmsRef"] for m in ev["movements"]] == ["CV-S1"]
    assert len(ev["declarationLines"]) == 1, ev
    assert entry in json.dumps(ev["declarationLines"]) and ev["declarationLines"][0]["dclQty"] == "4"


# -- exports -----------------------------------------------------------------------------------------


def test_the_run_exports_as_csv_and_xlsx(world: World) -> None:
    run = _run(world)
    found = _all_findings(world, run["id"], page=100)
    h = world.headers("customs")

    resp = world.client.get(f"{RUNS}/{run['id']}/export", params={"format": "csv"}, headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert f'filename="reconciliation-{run["id"]}.csv"' in resp.headers["content-disposition"]
    assert resp.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.content[3:].decode("utf-8"))))
    assert rows[0] == [f"{zh} {en}" for _, zh, en in COLUMNS]
    assert len(rows) == 1 + len(found)
    by_id = {str(x["id"]): x for x in found}
    keys = [k for k, _, _ in COLUMNS]
    for row in rows[1:]:
        x = by_id.pop(row[keys.index("id")])
        assert (row[keys.index("cls")], row[keys.index("ref")], row[keys.index("putrecNo")]) == (
            x["cls"],
            x["ref"],
            x["putrecNo"],
        )
        assert row[keys.index("wmsQty")] == (x["wmsQty"] or "")
    assert by_id == {}

    resp = world.client.get(f"{RUNS}/{run['id']}/export", params={"format": "xlsx"}, headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as z:
        assert z.testzip() is None
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
    # A title row, the header row, one row per finding.
    assert len(re.findall(r"<row ", sheet)) == 2 + len(found)
    for x in found:
        assert f">{x['ref']}<" in strings, x["ref"]
    assert "差异类别" in strings

    assert_error(world.client.get(f"{RUNS}/{run['id']}/export", params={"format": "pdf"}, headers=h), 422, "BZ-VALIDATION")


# -- W3: the continuous open set -----------------------------------------------------------------------


def test_w3_a_movement_without_declaration_appears_in_the_open_set(client: TestClient, zone: f.Zone, clock: Clock) -> None:
    c = zone.container
    customs = zone.headers("customs")
    assert client.get("/api/v1/discrepancies", headers=customs).json() == {"data": [], "count": 0}
    loop = background.ContinuousReconciler(
        c.uow, c.compare_engine(), db=c.engine, interval=0.2, tolerance=timedelta(0), now=lambda: clock.now
    )
    loop.start()
    try:
        at = (clock.now - timedelta(hours=1)).isoformat()
        sent = time.monotonic()
        resp = client.post(
            "/api/v1/wms/movements", json={"records": [ws.movement("W3-LATE-1", occurredAt=at)]}, headers=zone.headers("owner")
        )
        assert resp.status_code == 200 and resp.json()["accepted"] == 1, resp.text
        seen: list[dict[str, Any]] = []
        while time.monotonic() - sent < 10 and not seen:
            seen = [x for x in client.get("/api/v1/discrepancies", headers=customs).json()["data"] if x["ref"] == "W3-LATE-1"]
            if not seen:
                time.sleep(0.05)
        delay = time.monotonic() - sent
    finally:
        loop.stop()
    print(f"W3: the movement appeared in /discrepancies {delay:.2f} s after it was accepted")
    assert seen, "the movement did not appear in /discrepancies within 10 s"
    [x] = seen
    assert (x["cls"], x["scope"], x["putrecNo"], x["runId"], x["isError"]) == (
        "movement_without_declaration",
        "movement",
        f.OWNER_BOOK,
        None,
        True,
    )
    assert x["wmsQty"] == "5" and x["gdsMtno"] == "MT-00001"
    # The owner sees it too; the stranger sees nothing of the owner's books.
    assert [y["ref"] for y in client.get("/api/v1/discrepancies", headers=zone.headers("owner")).json()["data"]] == ["W3-LATE-1"]
    assert client.get("/api/v1/discrepancies", headers=zone.headers("stranger")).json() == {"data": [], "count": 0}
    ev = client.get(f"/api/v1/findings/{x['id']}", headers=customs).json()["evidence"]
    assert [m["wmsRef"] for m in ev["movements"]] == ["W3-LATE-1"]


# -- M22: the watched folder ---------------------------------------------------------------------------


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


def test_the_folder_watcher_ingests_dropped_files(zone: f.Zone, tmp_path: Path) -> None:
    c = zone.container
    root = tmp_path / "wms-drop"
    mine = root / f.OWNER_USCC
    mine.mkdir(parents=True)
    watcher = background.FolderWatcher(c.uow, root, interval=0.05)
    header = ws.chinese_headers(wms.MOVEMENT_FIELDS)
    good = ws.csv_bytes(ws.FILE_RECORDS, "gb18030", header=header)

    # A good GB18030 file: handled on the second look (its size has settled), moved to done/ with the answer.
    (mine / "出入库-1.csv").write_bytes(good)
    (mine / "notes.txt").write_text("not a WMS file")
    (mine / ".hidden.csv").write_bytes(good)
    assert watcher.step() == []
    assert [p.name for p in watcher.step()] == ["出入库-1.csv"]
    assert not (mine / "出入库-1.csv").exists()
    done = _one(mine / "done", "*-出入库-1.csv")
    assert done.read_bytes() == good
    result = json.loads(_one(mine / "done", "*-出入库-1.csv.result.json").read_text("utf-8"))
    assert (result["accepted"], result["rejected"], result["replayed"]) == (4, 0, False)
    assert result["batchRef"].startswith("file-")
    assert ws.refs(c) == ["F-1", "F-2", "F-3", "F-4"]
    # Other files are left alone.
    assert (mine / "notes.txt").exists() and (mine / ".hidden.csv").exists()

    # A bad file: rejected/ with every record error, nothing stored.
    before = snapshot(c)
    bad = ws.csv_bytes([ws.movement("BAD-1"), ws.movement("BAD-2", dclUnitcd="999")], "gb18030", header=header)
    (mine / "bad.csv").write_bytes(bad)
    watcher.step()
    watcher.step()
    report = json.loads(_one(mine / "rejected", "*-bad.csv.errors.json").read_text("utf-8"))
    assert report["code"] == "BZ-WMS-BATCH-REJECTED" and set(report["messages"]) == {"zh", "en"}
    assert [(e["code"], e["field"], e["detail"]["record"], e["detail"]["line"]) for e in report["errors"]] == [
        ("BZ-WMS-FIELD-INVALID", "dclUnitcd", 2, 3)
    ]
    assert _one(mine / "rejected", "*-bad.csv").read_bytes() == bad
    assert snapshot(c) == before

    # The same good file dropped again: the first answer, replayed; nothing new.
    (mine / "出入库-1-again.csv").write_bytes(good)
    watcher.step()
    watcher.step()
    again = json.loads(_one(mine / "done", "*-出入库-1-again.csv.result.json").read_text("utf-8"))
    assert again == {**result, "replayed": True}
    assert snapshot(c) == before

    # A file still growing waits until its size holds.
    growing = mine / "growing.csv"
    growing.write_bytes(ws.csv_bytes([ws.movement("GROW-1")], "utf-8"))
    assert watcher.step() == []
    growing.write_bytes(ws.csv_bytes([ws.movement("GROW-1"), ws.movement("GROW-2")], "utf-8"))
    assert watcher.step() == []
    assert [p.name for p in watcher.step()] == ["growing.csv"]
    assert ws.refs(c) == ["F-1", "F-2", "F-3", "F-4", "GROW-1", "GROW-2"]

    # ".partial." in the name asks for partial acceptance.
    (mine / "m.partial.csv").write_bytes(ws.csv_bytes([ws.movement("PART-1"), ws.movement("PART-2", kind="?")], "utf-8"))
    watcher.step()
    watcher.step()
    part = json.loads(_one(mine / "done", "*-m.partial.csv.result.json").read_text("utf-8"))
    assert (part["accepted"], part["rejected"], part["rejections"][0]["record"], part["rejections"][0]["line"]) == (1, 1, 2, 3)
    assert "PART-1" in ws.refs(c) and "PART-2" not in ws.refs(c)

    # A folder named after an enterprise that is not registered.
    before = snapshot(c)
    nobody = root / make_uscc("MA6T09999")
    nobody.mkdir()
    (nobody / "m.csv").write_bytes(good)
    watcher.step()
    watcher.step()
    report = json.loads(_one(nobody / "rejected", "*-m.csv.errors.json").read_text("utf-8"))
    assert report["code"] == "BZ-ENTERPRISE-NOT-FOUND"
    assert report["errors"][0]["detail"]["uscc"] == nobody.name
    assert snapshot(c) == before
