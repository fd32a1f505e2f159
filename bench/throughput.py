"""(a) Approval throughput: postings/s of ``approve_invt`` against a bare batched insert of the same rows.

For every list, in turn and under the same conditions:

1. ours — one unit of work runs ``services.invts.approve_invt`` (state change, event link, one
   posting per line with its chain link, balances, head) and commits;
2. the rows that approval stored are read back (not timed);
3. bare — the same rows go into a table of the same shape as ``postings`` (same columns, primary
   key, both unique constraints, index and foreign key) in one transaction with one executemany,
   committed the same way (``BEGIN IMMEDIATE`` … ``COMMIT`` on SQLite, a transaction on PostgreSQL).

The bare insert is measured two ways — the DBAPI driver's ``executemany`` and SQLAlchemy Core's
executemany (insertmanyvalues) — and the faster of the two is the raw limit, so the ratio is never
flattered by a slow baseline. Interleaving ours and bare list by list exposes both to the same
noise from whatever else the machine is doing. ``ratio`` is bare ÷ ours of the per-list median
times (robust to bursts of load on a shared machine); ``ratio_totals`` is the same over the sums.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, MetaData, Table, func, select

from bench import common
from bondedzone.adapters.db import tables as t
from bondedzone.services import invts

_COLS = [c.name for c in t.postings.columns if c.name != "id"]


def _bare_dbapi(conn: Connection, table: Table, rows: list[dict[str, Any]], is_pg: bool) -> float:
    """Driver-level executemany in one transaction; returns seconds."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    mark = "%s" if is_pg else "?"
    sql = f'INSERT INTO "{table.name}" ({", ".join(_COLS)}) VALUES ({", ".join([mark] * len(_COLS))})'
    # Positional tuples in the driver's own form (the column types' bind processing, e.g. SQLite's
    # text timestamps), built before the clock starts: the cheapest input the driver takes.
    dialect = conn.dialect
    procs = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in _COLS]
    values = [tuple(p(r[c]) if p else r[c] for c, p in zip(_COLS, procs, strict=True)) for r in rows]
    start = time.perf_counter()
    cur = raw.cursor()
    if not is_pg:
        cur.execute("BEGIN IMMEDIATE")
    cur.executemany(sql, values)
    if is_pg:
        raw.commit()
    else:
        cur.execute("COMMIT")
    cur.close()
    return time.perf_counter() - start


def _bare_core(engine: Any, table: Table, rows: list[dict[str, Any]], is_pg: bool) -> float:
    """SQLAlchemy Core executemany in one transaction (same BEGIN discipline as the unit of work)."""
    start = time.perf_counter()
    with engine.connect() as conn:
        if not is_pg:
            conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        with conn.begin():
            conn.execute(table.insert(), rows)
    return time.perf_counter() - start


def run(engine_name: str, *, lines: int, lists: int, items: int | None = None) -> dict[str, Any]:
    """Approve ``lists`` declared lists of ``lines`` lines each on ``engine_name``; postings/s and ratio to bare."""
    n_items = items or max(lines * 2, 100)
    with common.database(engine_name) as url:
        c = common.container(url)
        try:
            (book,) = common.setup_zone(c, [n_items])
            specs = [common.spread_spec(lines, n_items, offset=k * 37) for k in range(lists)]
            ids = common.declare_lists(c, book, specs, prefix=f"TP{lines}", per_tx=max(1, 2000 // lines))
            md = MetaData()
            bare_d = common.bare_table(md, "bench_bare_dbapi")
            bare_c = common.bare_table(md, "bench_bare_core")
            common.assert_same_shape(bare_d)
            md.create_all(c.engine, tables=[bare_d, bare_c])
            is_pg = c.engine.dialect.name == "postgresql"
            ours: list[float] = []
            bare_dbapi: list[float] = []
            bare_core: list[float] = []
            posted = 0
            # One warm-up list each way is not counted (first-use costs: statement caches, imports).
            warm = ids[0]
            with c.uow() as uow:
                invts.approve_invt(uow, common.CUSTOMS, warm)
                uow.commit()
            for invt_id in ids[1:]:
                start = time.perf_counter()
                with c.uow() as uow:
                    invts.approve_invt(uow, common.CUSTOMS, invt_id)
                    uow.commit()
                ours.append(time.perf_counter() - start)
                with c.engine.connect() as conn:
                    q = select(*(t.postings.c[n] for n in _COLS)).where(t.postings.c.doc_id == invt_id)
                    rows = [dict(r._mapping) for r in conn.execute(q.order_by(t.postings.c.chain_seq))]
                assert len(rows) == lines, (len(rows), lines)
                posted += len(rows)
                with c.engine.connect() as conn:
                    bare_dbapi.append(_bare_dbapi(conn, bare_d, rows, is_pg))
                bare_core.append(_bare_core(c.engine, bare_c, rows, is_pg))
            with c.engine.connect() as conn:
                for table in (bare_d, bare_c):
                    assert conn.execute(select(func.count()).select_from(table)).scalar_one() == posted
            audit_ok = common.audit_ok(c)
            counted = len(ids) - 1
            # The raw limit is the faster of the two bare forms; per-list medians resist bursts of
            # load from other processes, totals give the plain postings/s.
            bare = min(bare_dbapi, bare_core, key=sum)
            ours_med, bare_med = common.median(ours), common.median(bare)
            return {
                "engine": engine_name,
                "lines_per_list": lines,
                "lists": counted,
                "postings": posted,
                "ours_postings_per_s": round(posted / sum(ours), 1),
                "ours_ms_per_list_median": round(ours_med * 1000, 3),
                "bare": "dbapi executemany" if bare is bare_dbapi else "sqlalchemy core executemany",
                "bare_postings_per_s": round(posted / sum(bare), 1),
                "bare_dbapi_postings_per_s": round(posted / sum(bare_dbapi), 1),
                "bare_core_postings_per_s": round(posted / sum(bare_core), 1),
                "bare_ms_per_list_median": round(bare_med * 1000, 3),
                "ratio": round(bare_med / ours_med, 3),
                "ratio_totals": round(sum(bare) / sum(ours), 3),
                "audit_ok": audit_ok,
            }
        finally:
            c.engine.dispose()
