"""The W2 benchmark's data generator (bench/w2_compare.py) keeps its word, at a size CI can afford.

The benchmark refuses to report figures unless the comparison finds exactly the discrepancies
the generator injected; this keeps the generator itself honest: on 20,000 movements, DuckDB must
find every injected discrepancy, of every class, and nothing else — and the data must have the
shape the benchmark claims (exactly N movements, split deliveries, outbound lists of 1-3 lines,
a stocktake equal to the WMS's running stock wherever nothing was injected).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from bench import w2_compare

from bondedzone.adapters.compare import duckdb_engine
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.domain.rules.w2_comparison import Cls, Scope

N = 20_000


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> w2_compare.Dataset:
    return w2_compare.generate(tmp_path_factory.mktemp("w2bench"), N)


def test_duckdb_finds_exactly_the_injected_discrepancies(data: w2_compare.Dataset) -> None:
    found = duckdb_engine.run(data.paths, data.params)
    keys = [f.key for f in found]
    assert len(set(keys)) == len(keys), "one finding per key"
    assert w2_compare.count_keys(keys) == data.expected
    assert set(keys) == data.truth
    assert w2_compare.digest(keys) == w2_compare.digest(data.truth)
    assert {f.cls for f in found} == set(Cls)  # every class, timing lags included
    assert {Scope(k.split("/")[1]) for k in data.expected} == set(Scope)
    assert all(n >= 4 for n in data.expected.values())


def test_the_data_has_the_shape_the_benchmark_claims(data: w2_compare.Dataset) -> None:
    assert data.movements == N
    con = duckdb.connect()
    p = {name: f"read_parquet('{path}')" for name, path in data.paths.items()}

    def one(sql: str) -> tuple[object, ...]:
        row = con.execute(sql).fetchone()
        assert row is not None
        return tuple(row)

    kinds = dict(con.execute(f"SELECT kind, COUNT(*) FROM {p['movements']} GROUP BY kind").fetchall())
    assert set(kinds) == {"receipt", "issue", "status_change", "transfer", "adjustment"}
    decl_kinds = dict(con.execute(f"SELECT kind, COUNT(*) FROM {p['decls']} GROUP BY kind").fetchall())
    assert set(decl_kinds) == {"I", "E", "C"}
    lines_per_doc = one(f"SELECT MIN(n), MAX(n) FROM (SELECT COUNT(*) AS n FROM {p['decls']} GROUP BY book, doc_no)")
    assert lines_per_doc == (1, 3)
    split = one(
        f"SELECT AVG(CASE WHEN n = 2 THEN 1.0 ELSE 0 END) FROM (SELECT COUNT(*) AS n FROM {p['movements']} "
        "WHERE doc_no IS NOT NULL GROUP BY book, doc_no, doc_line)"
    )[0]
    assert isinstance(split, float) and 0.2 < split < 0.4
    # The ledger is the declarations' deltas.
    assert one(f"SELECT SUM(qty) FROM {p['postings']}") == one(
        f"SELECT SUM(CASE kind WHEN 'E' THEN -qty WHEN 'C' THEN 0 ELSE qty END) FROM {p['decls']}"
    )
    # One stocktake per book, at p_to - 1; no line negative.
    assert one(f"SELECT COUNT(DISTINCT book), MIN(taken_at), MAX(taken_at), MIN(qty) > 0 FROM {p['stock']}") == (
        20,
        data.params.p_to - 1,
        data.params.p_to - 1,
        True,
    )
    # Wherever no stock discrepancy was injected, the stocktake is the WMS's running stock.
    injected = {(k[2], k[3]) for k in data.truth if k[1] == "stock"}
    running = con.execute(
        f"""SELECT book, mtno, status, SUM(q) FROM (
              SELECT book, mtno, status, CASE kind WHEN 'issue' THEN -qty WHEN 'transfer' THEN 0 ELSE qty END AS q
              FROM {p["movements"]} WHERE ts < {data.params.p_to}
              UNION ALL SELECT book, mtno, from_status, -qty FROM {p["movements"]}
              WHERE ts < {data.params.p_to} AND kind = 'status_change'
            ) GROUP BY ALL HAVING SUM(q) <> 0"""
    ).fetchall()
    stock = {(b, m, s): q for b, m, s, q in con.execute(f"SELECT book, mtno, status, qty FROM {p['stock']}").fetchall()}
    expected = {(b, m, s): int(q) for b, m, s, q in running if (b, m) not in injected}
    assert {k: v for k, v in stock.items() if k[:2] not in injected} == expected


def test_the_generator_is_deterministic(data: w2_compare.Dataset, tmp_path: Path) -> None:
    again = w2_compare.generate(tmp_path, N)
    assert again.truth == data.truth and again.rows == data.rows and again.params == data.params


def test_views_for_steps_read_once_change_nothing(data: w2_compare.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine runs a step that only the next step reads as a view inside it; that is an
    # optimisation only: materialising every step must give the same findings.
    con = duckdb_engine.connect()
    inlined = duckdb_engine.inlined(con, w2.steps(data.params))
    assert {"dm", "flows"} <= inlined and "m" not in inlined and "dd" not in inlined
    with_views = duckdb_engine.run(data.paths, data.params, con=con)
    monkeypatch.setattr(duckdb_engine, "inlined", lambda con, plan: set())
    assert duckdb_engine.run(data.paths, data.params) == with_views
