"""W2 on DuckDB (the default engine, W4): the steps of ``w2_comparison`` as temporary tables.

The relations come as Arrow tables (registered without copying) or Parquet files (scanned in
place). Each step is materialised once (``CREATE TEMP TABLE … AS``), so a relation that later
steps read several times is computed once. A step that only the step right after it reads, and
only once, is a view instead (:func:`inlined`): DuckDB then runs it inside that step's plan —
``dm``'s aggregate feeds ``dd``'s join directly — instead of writing its rows into a table to read
them back once. Memory is capped and DuckDB spills to disk beyond the cap, so a comparison larger than
memory still finishes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
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
        src = sources.get(name)
        if src is None:  # an optional relation left out: empty
            cols = ", ".join(f"CAST(NULL AS {ty}) AS {col}" for col, ty in w2.INPUTS[name])
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {cols} WHERE 1 = 0")
        elif isinstance(src, Path):
            path = str(src).replace("'", "''")
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
        else:
            con.register(name, src)


def _reads(con: duckdb.DuckDBPyConnection, sql: str) -> list[str] | None:
    """The relations ``sql`` reads, once per mention, from DuckDB's own parse tree; None if it cannot tell."""
    try:
        row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
        tree = json.loads(row[0]) if row else None
    except (duckdb.Error, TypeError, ValueError):
        return None
    if not isinstance(tree, dict) or tree.get("error"):
        return None

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
                yield node["table_name"]
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    return list(walk(tree))


def inlined(con: duckdb.DuckDBPyConnection, plan: Sequence[tuple[str, str]]) -> set[str]:
    """The steps that only the next step reads, and only once: they run as views inside it.

    A view is always correct (it is evaluated on the same relations); materialising is only about
    not computing a relation twice. So when a statement's parse tree is unavailable, every step
    is materialised, as before.
    """
    reads = [_reads(con, sql) for _, sql in plan]
    if any(r is None for r in reads):
        return set()
    out = set()
    for i, (name, _) in enumerate(plan[:-1]):
        mentions = [(j, r.count(name)) for j, r in enumerate(reads) if r is not None and j > i and name in r]
        if mentions == [(i + 1, 1)]:
            out.add(name)
    return out


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
        views = inlined(con, plan)
        for i, (name, sql) in enumerate(plan, start=1):
            if progress:
                progress(i, len(plan), name)
            if name == plan[-1][0]:
                rows = con.execute(sql).fetchall()
            else:
                con.execute(f"CREATE OR REPLACE TEMP {'VIEW' if name in views else 'TABLE'} {name} AS {sql}")
        return w2.sort_findings([w2.Finding.of(r) for r in rows])
    finally:
        if own:
            con.close()
