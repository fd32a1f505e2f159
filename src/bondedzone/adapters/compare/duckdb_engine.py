"""W2 on DuckDB (the default engine, W4): the steps of ``w2_comparison`` as temporary tables.

The relations come as Arrow tables (registered without copying) or Parquet files (scanned in
place). Each step is materialised once (``CREATE TEMP TABLE … AS``), so a relation that later
steps read several times is computed once. Memory is capped and DuckDB spills to disk beyond the
cap, so a comparison larger than memory still finishes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from bondedzone.domain.rules import w2_comparison as w2

Source = Any  # a pyarrow.Table, or the Path of a Parquet file
Progress = Callable[[int, int, str], None]


def connect(*, memory_limit: str = "3GB", threads: int | None = None, temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory cap and a spill directory."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{temp_dir or Path(tempfile.gettempdir()) / 'bondedzone-duckdb'}'")
    con.execute("SET preserve_insertion_order = false")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return con


def load(con: duckdb.DuckDBPyConnection, sources: Mapping[str, Source]) -> None:
    """Make each input relation visible under its name."""
    for name in w2.INPUTS:
        src = sources[name]
        if isinstance(src, Path):
            path = str(src).replace("'", "''")
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
        else:
            con.register(name, src)


def run(
    sources: Mapping[str, Source],
    params: w2.Params,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    progress: Progress | None = None,
) -> list[w2.Finding]:
    """The findings of the comparison over ``sources`` for ``params``, in :func:`w2.sort_findings` order."""
    own = con is None
    con = con or connect()
    try:
        load(con, sources)
        plan = w2.steps(params)
        for i, (name, sql) in enumerate(plan, start=1):
            if progress:
                progress(i, len(plan), name)
            if name == plan[-1][0]:
                rows = con.execute(sql).fetchall()
            else:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        return w2.sort_findings([w2.Finding.of(r) for r in rows])
    finally:
        if own:
            con.close()
