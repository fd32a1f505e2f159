"""Zone data at benchmark scale (``bondedzone synth --movements N --parquet DIR``).

The W2 input relations as Parquet files written by DuckDB SQL alone, with the ground truth of what
the comparison must find.

:mod:`bondedzone.services.synth` simulates a zone record by record, realistic enough to load
through the services; this is the same kind of zone for the engines alone, generated columnar
(``range()`` and ``hash()`` as the dice) so that 10 million movements take about half a minute:
20 books of 500 items over 30 days; inbound lists of 1–3 lines received by one movement or split
over two vehicles, outbound lists and M9 conversions of earlier stock, location transfers filling
the movements up to exactly N; the ledger's postings are the declarations' deltas and each book
has one stocktake equal to the WMS's running stock. Discrepancies of every class are injected
deterministically (about N / 25,000 of each) and the findings they must cause recorded: the
benchmark (``bench/w2_compare.py``) and ``tests/integration/test_w2_bench_data.py`` check every
run against them, key for key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.services import synth

HOUR, DAY, UNIT, UNITS = synth.HOUR, synth.DAY, synth.UNIT, synth.UNITS  # µs; 10⁻⁵ units
MINUTE = HOUR // 60
P_FROM = int(synth.DEFAULT_START.timestamp()) * 1_000_000  # 2026-11-01 00:00 China time
TOLERANCE = synth.DEFAULT_TOLERANCE
BOOKS, ITEMS, DAYS = 20, 500, 30

Key = tuple[str, str, str, str, int | None, str | None]  # as w2.Finding.key


@dataclass(frozen=True)
class Dataset:
    """A generated zone on disk: the Parquet file of each input relation, the period, the ground truth."""

    directory: Path
    paths: dict[str, Path]
    params: w2.Params
    rows: dict[str, int]
    truth: frozenset[Key]

    @property
    def movements(self) -> int:
        return self.rows["movements"]

    @property
    def expected(self) -> dict[str, int]:
        """Findings expected per ``class/scope``."""
        return count_keys(self.truth)


def count_keys(keys: Iterable[Key]) -> dict[str, int]:
    """How many findings per ``class/scope``."""
    return dict(sorted(Counter(f"{k[0]}/{k[1]}" for k in keys).items()))


def digest(keys: Iterable[Key]) -> str:
    """A fingerprint of a set of finding keys, the same in every process."""
    rows = sorted((k[0], k[1], k[2], k[3], -1 if k[4] is None else k[4], k[5] or "") for k in keys)
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Data generation (not measured)


def _next_unit(col: str) -> str:
    pairs = zip(UNITS, UNITS[1:] + UNITS[:1], strict=True)
    return "CASE " + col + " " + " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in pairs) + " END"


def _other_status(col: str) -> str:
    return f"CASE {col} WHEN 'bonded' THEN 'non_bonded' ELSE 'bonded' END"


# Ways to split six outbound lines into lists of 1-3 lines: the list of each line.
_E_PATTERNS = [
    [0, 0, 0, 1, 1, 1],
    [0, 1, 1, 2, 2, 2],
    [0, 0, 1, 1, 2, 2],
    [0, 1, 2, 2, 3, 3],
    [0, 0, 0, 1, 2, 2],
    [0, 1, 1, 1, 2, 3],
]


def _pad(expr: str, width: int) -> str:
    return f"lpad(CAST({expr} AS VARCHAR), {width}, '0')"


def _generation_sql(n: int, *, seed: int, books: int, items: int, days: int) -> tuple[list[str], list[str], dict[str, int]]:
    """(statements up to the core movements, statements after the transfer count is known, sizes)."""
    p_to = P_FROM + days * DAY
    taken = p_to - 1
    lots_est = n * 100 // 225  # ≈ 2.2 movements per received lot; location transfers fill up to n
    docs = max(1, lots_est // 2)  # 1-3 lines per inbound list
    per_class = max(4, n // 25_000)
    spacing = max(10, lots_est // per_class)
    in_span = (days - 5) * DAY  # inbound lists approved in the first days - 5 days; everything settles well before p_to
    u, tol = UNIT, TOLERANCE
    book = f"'T5301W' || {_pad('b', 6)}"
    expect_in = (
        "CASE role WHEN 'dwm' THEN 'declaration_without_movement' WHEN 'qty' THEN 'quantity_mismatch' "
        "WHEN 'unit' THEN 'unit_mismatch' WHEN 'status' THEN 'status_mismatch' WHEN 'strip' THEN 'quantity_mismatch' END"
    )
    core = [
        f"CREATE MACRO rnd(k, salt, m) AS CAST(hash({int(seed)}, k, salt) % greatest(1, m) AS BIGINT)",
        f"""CREATE TABLE g_items AS
        SELECT b, i, {book} AS book, 'MT' || {_pad("b", 3)} || {_pad("i", 5)} AS mtno,
               {list(UNITS)}[i % {len(UNITS)} + 1] AS unit
        FROM range(1, {books + 1}) tb(b), range(1, {items + 1}) ti(i)""",
        # Inbound lists and their lines: one received lot per line.
        f"""CREATE TABLE g_in AS
        WITH doc AS (
          SELECT d, d % {books} + 1 AS b, 1 + rnd(d, 1, 3) AS nl, rnd(d, 2, {items}) AS base,
                 {P_FROM + HOUR} + rnd(d, 3, {in_span}) AS ts
          FROM range({docs}) t(d)
        ), line AS (SELECT d, b, base, ts, unnest(range(1, nl + 1)) AS line FROM doc),
        lot AS (
          SELECT row_number() OVER (ORDER BY d, line) - 1 AS lot, d, b, line, ts, (base + 7 * line) % {items} + 1 AS i,
                 CASE WHEN rnd(d * 4 + line, 4, 100) < 80 THEN 'bonded' ELSE 'non_bonded' END AS status,
                 (1 + rnd(d * 4 + line, 5, 500)) * {u} + CASE WHEN rnd(d * 4 + line, 6, 10) = 0 THEN {u // 2} ELSE 0 END AS qty0
          FROM line
        )
        SELECT lot.*, it.book, it.mtno, it.unit,
               'QD5301I' || {_pad("lot.b", 3)} || {_pad("lot.d", 8)} AS doc_no,
               CASE lot % {spacing} WHEN 0 THEN 'dwm' WHEN 1 THEN 'qty' WHEN 2 THEN 'unit' WHEN 3 THEN 'status'
                 WHEN 4 THEN 'strip' WHEN 5 THEN 'extra' END AS role,
               qty0 + CASE WHEN lot % {spacing} = 4 THEN {u} ELSE 0 END AS qty
        FROM lot JOIN g_items it ON it.b = lot.b AND it.i = lot.i""",
        # What leaves again: an outbound list line (E) or, for non-bonded goods, a conversion (C).
        f"""CREATE TABLE g_out AS
        SELECT lot, b, book, mtno, unit, status, CASE WHEN status = 'non_bonded' AND r < 40 THEN 'C' ELSE 'E' END AS kind,
               (1 + rnd(lot, 8, qty // {u})) * {u} AS qty, ts + 5 * {HOUR} + rnd(lot, 9, 3 * {DAY}) AS ready
        FROM (SELECT *, rnd(lot, 7, 100) AS r FROM g_in WHERE role IS NULL OR role = 'extra')
        WHERE r < 60""",
        # Outbound lines grouped, in time order, into lists of 1-3 lines (each run of six lines split by one
        # of a few patterns); a list is approved when its last line is ready.
        f"""CREATE TABLE g_e AS
        WITH r AS (SELECT *, row_number() OVER (PARTITION BY b ORDER BY ready, lot) - 1 AS rk FROM g_out WHERE kind = 'E'),
        g AS (
          SELECT *, (rk // 6) * 6 + {_E_PATTERNS}[rnd(rk // 6, b * 16 + 10, {len(_E_PATTERNS)}) + 1][rk % 6 + 1] AS edoc FROM r
        )
        SELECT *, row_number() OVER (PARTITION BY b, edoc ORDER BY ready, lot) AS line,
               MAX(ready) OVER (PARTITION BY b, edoc) AS ts
        FROM g""",
        # Every declaration line, with what it should cause (expect) and how the WMS treats it (role).
        f"""CREATE TABLE g_decl AS
        SELECT lot * 4 AS key, book, doc_no, line, 'I' AS kind, mtno, status, CAST(NULL AS VARCHAR) AS from_status,
               qty, unit, ts, 'receipt' AS mkind, role, {expect_in} AS expect
        FROM g_in
        UNION ALL
        SELECT lot * 4 + 1, book, 'QD5301E' || {_pad("b", 3)} || {_pad("edoc", 8)}, line, 'E', mtno, status, NULL,
               qty, unit, ts, 'issue', NULL, NULL
        FROM g_e
        UNION ALL
        SELECT lot * 4 + 2, book, '53012026' || {_pad("b", 3)} || {_pad("lot", 9)}, 1, 'C', mtno, 'bonded', 'non_bonded',
               qty, unit, ready, 'status_change', NULL, NULL
        FROM g_out WHERE kind = 'C'
        UNION ALL
        SELECT key, it.book, 'QD5301Y' || {_pad("y.b", 3)} || {_pad("k", 8)}, 1, 'I', mtno, 'bonded', NULL,
               (1 + rnd(key, 13, 50)) * {u}, unit, {p_to - 2} - rnd(key, 11, {tol // 2}), 'receipt', 'young', 'timing_lag'
        FROM (SELECT k, -8 * k - 1 AS key, k % {books} + 1 AS b FROM range({per_class}) t(k)) y
        JOIN g_items it ON it.b = y.b AND it.i = rnd(y.key, 12, {items}) + 1
        UNION ALL
        SELECT key, it.book, 'QD5301Z' || {_pad("y.b", 3)} || {_pad("k", 8)}, 1, 'I', mtno, 'bonded', NULL,
               (2 + rnd(key, 13, 50)) * {u}, unit, {p_to - tol + MINUTE} + rnd(key, 11, {30 * MINUTE}), 'receipt',
               'young_split', 'timing_lag'
        FROM (SELECT k, -8 * k - 2 AS key, k % {books} + 1 AS b FROM range({per_class}) t(k)) y
        JOIN g_items it ON it.b = y.b AND it.i = rnd(y.key, 12, {items}) + 1""",
        # The WMS's movements for each line: none, one, or two vehicles; the injected ones changed.
        f"""CREATE TABLE g_mv AS
        WITH p AS (
          SELECT *,
                 CASE WHEN role IN ('dwm', 'young') THEN 0 WHEN role IN ('strip', 'young_split') THEN 2
                      WHEN role IN ('qty', 'unit', 'status') THEN 1
                      WHEN qty >= {2 * u} AND rnd(key, 20, 100) < 30 THEN 2 ELSE 1 END AS np,
                 ts + CASE WHEN role = 'young_split' THEN {MINUTE} + rnd(key, 22, {10 * MINUTE})
                           ELSE {10 * MINUTE} + rnd(key, 22, {110 * MINUTE}) END AS t1
          FROM g_decl
        ), q AS (
          SELECT *, CASE WHEN np = 2 THEN (1 + rnd(key, 21, qty // {u} - 1)) * {u} ELSE qty END AS first FROM p WHERE np > 0
        )
        SELECT key, 1 AS part, book, mkind AS kind, mtno,
               CASE WHEN role = 'status' THEN {_other_status("status")} ELSE status END AS status, from_status,
               CASE WHEN role = 'qty' THEN
                      (CASE WHEN rnd(key, 23, 2) = 0 THEN first + (1 + rnd(key, 24, 10)) * {u} ELSE first - {u // 2} END)
                    ELSE first END AS qty,
               CASE WHEN role = 'unit' THEN {_next_unit("unit")} ELSE unit END AS unit,
               t1 AS ts, doc_no, line AS doc_line, CAST(NULL AS VARCHAR) AS expect
        FROM q
        UNION ALL
        SELECT key, 2, book, mkind, mtno, status, from_status, qty - first, unit,
               CASE WHEN role = 'young_split' THEN {p_to + 10 * MINUTE} + rnd(key, 25, {HOUR})
                    ELSE t1 + {10 * MINUTE} + rnd(key, 25, {110 * MINUTE}) END,
               CASE WHEN role = 'strip' THEN NULL ELSE doc_no END, CASE WHEN role = 'strip' THEN NULL ELSE line END,
               CASE WHEN role = 'strip' THEN 'movement_without_declaration' END
        FROM q WHERE np = 2
        UNION ALL
        -- movements nobody declared: no list line, a list that does not exist, an issue citing an inbound list
        SELECT lot * 4 + 3, 1, book, CASE v WHEN 2 THEN 'issue' ELSE 'receipt' END, mtno, status, NULL,
               (1 + rnd(lot, 30, 50)) * {u}, unit, ts + {DAY} + rnd(lot, 31, {DAY}),
               CASE v WHEN 0 THEN NULL WHEN 1 THEN 'QD5301G' || {_pad("b", 3)} || {_pad("lot", 8)} ELSE doc_no END,
               CASE v WHEN 0 THEN NULL ELSE line END, 'movement_without_declaration'
        FROM (SELECT *, (lot // {spacing}) % 3 AS v FROM g_in WHERE role = 'extra')
        UNION ALL
        -- items the book does not have, received one to three times
        SELECT -8 * k - 3, part, {book}, 'receipt', 'UNK' || {_pad("b", 3)} || {_pad("k", 5)}, 'bonded', NULL,
               (1 + rnd(k, 41, 20)) * {u}, '007', {P_FROM + HOUR} + rnd(k * 4 + part, 42, {(days - 2) * DAY}), NULL, NULL, NULL
        FROM (SELECT k, k % {books} + 1 AS b, unnest(range(1, 2 + rnd(k, 40, 3))) AS part FROM range({per_class}) t(k))
        UNION ALL
        -- receipts in the last hour, not declared yet
        SELECT key, 1, it.book, 'receipt', mtno, 'bonded', NULL, 3 * {u}, unit, {p_to - 2} - rnd(key, 50, {tol // 2}),
               NULL, NULL, 'timing_lag'
        FROM (SELECT k, -8 * k - 4 AS key, k % {books} + 1 AS b FROM range({per_class}) t(k)) y
        JOIN g_items it ON it.b = y.b AND it.i = rnd(y.key, 51, {items}) + 1""",
        # The WMS's running stock at the stocktake (location transfers do not change it).
        f"""CREATE TABLE g_stock0 AS
        SELECT book, mtno, status, CAST(SUM(q) AS BIGINT) AS qty FROM (
          SELECT book, mtno, status, CASE kind WHEN 'issue' THEN -qty ELSE qty END AS q
          FROM g_mv WHERE ts <= {taken} AND kind <> 'transfer'
          UNION ALL
          SELECT book, mtno, from_status, -qty FROM g_mv WHERE ts <= {taken} AND kind = 'status_change'
        ) GROUP BY book, mtno, status""",
        # Stocktake injections, one item each: miscounted, an adjustment (盘亏), the other status, another unit.
        f"""CREATE TABLE g_sinj AS
        WITH c AS (
          SELECT s.*, it.unit,
                 row_number() OVER (PARTITION BY s.book, s.mtno ORDER BY hash({seed}, s.book, s.mtno, s.status)) AS r
          FROM g_stock0 s JOIN g_items it ON it.book = s.book AND it.mtno = s.mtno WHERE s.qty >= {10 * u}
        ), pick AS (
          SELECT *, row_number() OVER (ORDER BY hash({seed}, book, mtno, 99)) - 1 AS rank FROM c WHERE r = 1
        )
        SELECT *, ['miscount', 'adjust', 'swap', 'unit'][rank % 4 + 1] AS what,
               (1 + CAST(hash({seed}, book, mtno, 98) % 5 AS BIGINT)) * {u} AS q
        FROM pick WHERE rank < {4 * per_class}""",
        f"""INSERT INTO g_mv
        SELECT -8 * rank - 5, 1, book, 'adjustment', mtno, status, NULL, -q, unit, {taken - HOUR}, NULL, NULL, NULL
        FROM g_sinj WHERE what = 'adjust'""",
    ]
    rest = [
        f"""INSERT INTO g_mv
        SELECT -8 * k - 6, 1, it.book, 'transfer', it.mtno, CASE WHEN rnd(k, 61, 5) = 0 THEN 'non_bonded' ELSE 'bonded' END,
               NULL, (1 + rnd(k, 62, 20)) * {u}, it.unit, {P_FROM + HOUR} + rnd(k, 63, {(days - 1) * DAY}), NULL, NULL, NULL
        FROM (SELECT k, rnd(k, 60, {books}) + 1 AS b, rnd(k, 64, {items}) + 1 AS i FROM range({{transfers}}) t(k)) x
        JOIN g_items it ON it.b = x.b AND it.i = x.i""",
        f"""CREATE TABLE g_stock AS
        WITH s AS (
          SELECT book, mtno, status, CAST(SUM(qty) AS BIGINT) AS qty FROM (
            SELECT book, mtno, status, qty FROM g_stock0
            UNION ALL SELECT book, mtno, status, -q FROM g_sinj WHERE what IN ('miscount', 'adjust', 'swap')
            UNION ALL SELECT book, mtno, {_other_status("status")}, q FROM g_sinj WHERE what = 'swap'
          ) GROUP BY book, mtno, status HAVING SUM(qty) <> 0
        )
        SELECT s.book, {taken} AS taken_at, s.mtno, s.status,
               CASE WHEN j.what = 'unit' THEN {_next_unit("it.unit")} ELSE COALESCE(it.unit, '007') END AS unit, s.qty
        FROM s LEFT JOIN g_items it ON it.book = s.book AND it.mtno = s.mtno
        LEFT JOIN g_sinj j ON j.what = 'unit' AND j.book = s.book AND j.mtno = s.mtno AND j.status = s.status""",
        """CREATE TABLE g_final AS
        SELECT *, 'MV' || substr(book, 10) || '-' || lpad(CAST(row_number() OVER (PARTITION BY book ORDER BY ts, key, part)
                                                             AS VARCHAR), 8, '0') AS ref
        FROM g_mv""",
        """CREATE TABLE g_truth AS
        SELECT expect AS cls, 'declaration' AS scope, book, doc_no AS ref, line, CAST(NULL AS VARCHAR) AS status
        FROM g_decl WHERE expect IS NOT NULL
        UNION ALL SELECT expect, 'movement', book, ref, NULL, NULL FROM g_final WHERE expect IS NOT NULL
        UNION ALL SELECT DISTINCT 'unknown_item', 'item', book, mtno, NULL, NULL FROM g_final WHERE mtno LIKE 'UNK%'
        UNION ALL
        SELECT CASE what WHEN 'swap' THEN 'status_mismatch' WHEN 'unit' THEN 'unit_mismatch' ELSE 'quantity_mismatch' END,
               'stock', book, mtno, NULL, CASE WHEN what = 'swap' THEN NULL ELSE status END
        FROM g_sinj""",
    ]
    return core, rest, {"p_to": p_to, "per_class": per_class}


_OUTPUT = {
    "items": "SELECT book, mtno, unit FROM g_items ORDER BY book, mtno",
    "decls": "SELECT book, doc_no, line, kind, mtno, status, from_status, qty, unit, ts FROM g_decl ORDER BY ts, doc_no, line",
    "postings": """SELECT book, mtno, status, qty, ts FROM (
        SELECT book, mtno, status, CASE kind WHEN 'E' THEN -qty ELSE qty END AS qty, ts, doc_no, line FROM g_decl
        UNION ALL SELECT book, mtno, from_status, -qty, ts, doc_no, line FROM g_decl WHERE kind = 'C'
      ) ORDER BY ts, doc_no, line""",
    "movements": "SELECT book, ref, kind, mtno, status, from_status, qty, unit, ts, doc_no, doc_line FROM g_final "
    "ORDER BY ts, ref",
    "stock": "SELECT book, taken_at, mtno, status, unit, qty FROM g_stock ORDER BY book, mtno, status",
}


def generate(
    directory: Path,
    n: int,
    *,
    seed: int = 1,
    books: int = BOOKS,
    items: int = ITEMS,
    days: int = DAYS,
    threads: int | None = None,
) -> Dataset:
    """Exactly ``n`` movements and the rest of a zone as Parquet files in ``directory``, with the ground truth."""
    if n < 10_000 or books < 1 or items < 20 or days < 8:
        raise ValueError("need n >= 10,000 movements, books >= 1, items >= 20, days >= 8")
    directory.mkdir(parents=True, exist_ok=True)
    core, rest, sizes = _generation_sql(n, seed=seed, books=books, items=items, days=days)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET memory_limit = '8GB'")
        con.execute(f"SET temp_directory = '{directory / 'spill'}'")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        for sql in core:
            con.execute(sql)
        have = _scalar(con, "SELECT COUNT(*) FROM g_mv")
        transfers = n - have
        if transfers < 0:
            raise AssertionError(f"generator made {have:,} movements before transfers, more than {n:,}")
        for sql in rest:
            con.execute(sql.replace("{transfers}", str(transfers)))
        paths: dict[str, Path] = {}
        rows: dict[str, int] = {}
        for name, sql in _OUTPUT.items():
            cols = [c for c, _ in w2.INPUTS[name]]
            paths[name] = directory / f"{name}.parquet"
            con.execute(f"COPY ({sql}) TO '{paths[name]}' (FORMAT parquet)")
            got = con.execute(f"SELECT * FROM read_parquet('{paths[name]}') LIMIT 0").description
            if [d[0] for d in got] != cols:
                raise AssertionError(f"{name}: columns {[d[0] for d in got]} are not {cols}")
            rows[name] = _scalar(con, f"SELECT COUNT(*) FROM read_parquet('{paths[name]}')")
        if rows["movements"] != n:
            raise AssertionError(f"generated {rows['movements']:,} movements, not {n:,}")
        truth_rows = con.execute("SELECT cls, scope, book, ref, line, status FROM g_truth").fetchall()
    finally:
        con.close()
        shutil.rmtree(directory / "spill", ignore_errors=True)
    truth = frozenset((str(c), str(s), str(b), str(r), None if ln is None else int(ln), st) for c, s, b, r, ln, st in truth_rows)
    if len(truth) != len(truth_rows):
        raise AssertionError("the ground truth has duplicate keys")
    params = w2.Params(P_FROM, sizes["p_to"], TOLERANCE)
    return Dataset(directory, paths, params, rows, truth)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])
