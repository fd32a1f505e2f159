"""``bondedzone synth``, ``reconcile`` and ``wms watch`` on a temporary SQLite database (W2, M22).

The operator generates a synthetic zone, loads it, reconciles the synthetic period and exports the
findings; a reversed period is refused with its code; a file dropped into the watched folder is
ingested by ``wms watch --once``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.adapters.files.exports import COLUMNS
from bondedzone.config import Settings
from bondedzone.domain import wms
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.entrypoints.cli.main import app
from tests.e2e import wms_support as ws

runner = CliRunner()
FIRST_DAY, LAST_DAY = "2026-11-01", "2026-11-03"  # synth's default start, three days


def run(*args: str) -> tuple[int, str]:
    result: Result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    u = f"sqlite:///{tmp_path / 'bz.db'}"
    monkeypatch.setenv("BONDEDZONE_DATABASE_URL", u)
    return u


@dataclass
class Synth:
    out: Path
    usccs: dict[str, str]  # book -> USCC
    truth: list[dict[str, object]]


@pytest.fixture
def loaded(url: str, tmp_path: Path) -> Synth:
    out_dir = tmp_path / "synth"
    code, out = run("synth", "--enterprises", "2", "--days", "3", "--out", str(out_dir), "--load")
    assert code == 0, out
    flat = " ".join(out.split())
    assert f"over {FIRST_DAY} – {LAST_DAY}" in flat, flat
    assert f"bondedzone reconcile --from {FIRST_DAY} --to {LAST_DAY}" in flat, flat
    usccs = dict(re.findall(r"(T5301W\d{6}) \(([0-9A-Z]{18})\)", flat))
    assert sorted(usccs) == ["T5301W000001", "T5301W000002"], flat
    for book in usccs:
        assert (out_dir / book / "movements.csv").read_bytes().decode("gb18030").startswith("单号,账册编号")
        assert (out_dir / book / "stocktake.csv").exists()
    truth = json.loads((out_dir / "truth.json").read_text("utf-8"))["truth"]
    return Synth(out_dir, usccs, truth)


@pytest.fixture
def container(url: str) -> Iterator[bootstrap.Container]:
    c = bootstrap.build(Settings(database_url=url, load_demo=False))
    yield c
    c.engine.dispose()


def _table(out: str) -> dict[str, int]:
    """The run's table: findings per class."""
    return {m[0]: int(m[1]) for m in re.findall(r"│ (\w+)\s+│[^│]*│ (\d+)\s+│", out)}


def test_synth_load_then_reconcile_and_export(loaded: Synth, tmp_path: Path) -> None:
    csv_path = tmp_path / "findings.csv"
    code, out = run("reconcile", "--from", FIRST_DAY, "--to", LAST_DAY, "--export", str(csv_path))
    assert code == 0, out
    table = _table(out)
    assert list(table) == [c.value for c in w2.Cls], out  # every class, in order, even those with none
    n = len(loaded.truth)
    assert sum(table.values()) == n, (table, n)
    assert table["timing_lag"] == Counter(x["cls"] for x in loaded.truth)["timing_lag"]
    flat = " ".join(out.split())
    assert f"{n - table['timing_lag']} discrepancies to act on, {table['timing_lag']} timing lags" in flat
    assert f"({n} findings)" in flat

    data = csv_path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
    assert rows[0] == [f"{zh} {en}" for _, zh, en in COLUMNS]
    assert len(rows) == 1 + n
    keys = [k for k, _, _ in COLUMNS]

    def col(row: list[str], name: str) -> str:
        return row[keys.index(name)]

    # The findings are the injected discrepancies: declarations by class and book (their numbers are
    # assigned on approval), everything else exactly.
    assert Counter((col(r, "cls"), col(r, "scope"), col(r, "putrecNo")) for r in rows[1:]) == Counter(
        (x["cls"], x["scope"], x["book"]) for x in loaded.truth
    )
    exact = {(x["cls"], x["scope"], x["book"], x["ref"], x["status"] or "") for x in loaded.truth if x["scope"] != "declaration"}
    got = {
        (
            col(r, "cls"),
            col(r, "scope"),
            col(r, "putrecNo"),
            col(r, "ref"),
            col(r, "stockStatus") if col(r, "scope") == "stock" else "",
        )
        for r in rows[1:]
        if col(r, "scope") != "declaration"
    }
    assert got == exact

    xlsx_path = tmp_path / "findings.xlsx"
    code, out = run("reconcile", "--from", FIRST_DAY, "--to", LAST_DAY, "--export", str(xlsx_path))
    assert code == 0, out
    assert _table(out) == table
    with zipfile.ZipFile(xlsx_path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
    assert len(re.findall(r"<row ", sheet)) == 2 + n  # title, header, one row per finding
    for r in rows[1:]:
        assert f">{col(r, 'ref')}<" in strings


def test_reconcile_refuses_a_reversed_period_with_its_code(url: str) -> None:
    assert run("db", "upgrade")[0] == 0
    code, out = run("reconcile", "--from", LAST_DAY, "--to", FIRST_DAY)
    assert code != 0
    assert "BZ-RECON-PERIOD" in out and "from must be before to" in out and "起始时间须早于截止时间" in out
    code, out = run("reconcile", "--from", FIRST_DAY, "--to", LAST_DAY, "--export", "findings.pdf")
    assert code != 0 and "--export" in out
    code, out = run("reconcile", "--from", "first of November", "--to", LAST_DAY)
    assert code != 0 and "is not a date" in " ".join(out.split())


def test_wms_watch_once_ingests_a_dropped_file(loaded: Synth, container: bootstrap.Container, tmp_path: Path) -> None:
    book = "T5301W000001"
    watched = tmp_path / "watch"
    folder = watched / loaded.usccs[book]
    folder.mkdir(parents=True)
    item = "MT00100001"  # the first item of the first synthetic book
    records = [
        ws.movement("CLI-WATCH-1", putrecNo=book, gdsMtno=item, dclUnitcd="007", occurredAt="2026-11-02T10:00:00+08:00"),
        ws.movement("CLI-WATCH-2", putrecNo=book, gdsMtno=item, dclUnitcd="007", kind="issue", occurredAt="2026-11-02T11:00:00"),
    ]
    header = ws.chinese_headers(wms.MOVEMENT_FIELDS, second=True)
    (folder / "新流水.csv").write_bytes(ws.csv_bytes(records, "gb18030", header=header))

    code, out = run("wms", "watch", str(watched), "--once", "--interval", "0.1")
    assert code == 0, out
    assert f"ingested {loaded.usccs[book]}/新流水.csv" in " ".join(out.split())
    result = json.loads(next((folder / "done").glob("*.result.json")).read_text("utf-8"))
    assert (result["accepted"], result["rejected"], result["replayed"]) == (2, 0, False)
    m = t.wms_movements.c
    with container.engine.connect() as conn:
        rows = conn.execute(select(m.wms_ref, m.kind, m.units).where(m.wms_ref.like("CLI-WATCH-%")).order_by(m.wms_ref)).all()
    assert [tuple(r) for r in rows] == [("CLI-WATCH-1", "receipt", 500_000), ("CLI-WATCH-2", "issue", 500_000)]
    # Nothing left to do: the next look exits at once and changes nothing.
    code, out = run("wms", "watch", str(watched), "--once")
    assert code == 0 and "ingested" not in out


def test_synth_at_benchmark_scale_writes_the_relations_and_their_ground_truth(tmp_path: Path) -> None:
    from bondedzone.adapters.compare import duckdb_engine

    out = tmp_path / "bulk"
    res = CliRunner().invoke(app, ["synth", "--movements", "20000", "--parquet", str(out)])
    assert res.exit_code == 0, res.output
    assert "movements 20,000" in res.output
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    paths = {name: out / f"{name}.parquet" for name in ("items", "decls", "postings", "movements", "stock")}
    params = w2.Params(**truth["params"])
    found = {(f.cls.value, f.scope.value, f.book, f.ref, f.line, f.status if f.scope.value == "stock" else None)
             for f in duckdb_engine.run(paths, params)}  # fmt: skip
    expected = {(x["cls"], x["scope"], x["book"], x["ref"], x["line"], x["status"]) for x in truth["truth"]}
    assert found == expected and len(expected) == sum(truth["expected"].values())
    half = CliRunner().invoke(app, ["synth", "--movements", "20000"])
    assert half.exit_code != 0 and "go together" in half.output
