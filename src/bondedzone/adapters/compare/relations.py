"""The comparison's input relations as Arrow tables and Parquet files, typed by ``w2.INPUTS``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bondedzone.domain.rules import w2_comparison as w2

_ARROW = {"STRING": pa.string(), "BIGINT": pa.int64()}


def schema(name: str) -> pa.Schema:
    """The Arrow schema of input relation ``name``."""
    return pa.schema([(col, _ARROW[ty]) for col, ty in w2.INPUTS[name]])


def table(name: str, rows: Iterable[tuple[object, ...]]) -> pa.Table:
    """Rows (in ``w2.INPUTS`` column order) as an Arrow table of the relation's schema."""
    sch = schema(name)
    cols: list[list[object]] = [[] for _ in sch]
    for row in rows:
        for i, v in enumerate(row):
            cols[i].append(v)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, sch, strict=True)], schema=sch)


def tables(rows: Mapping[str, Iterable[tuple[object, ...]]]) -> dict[str, pa.Table]:
    """Every input relation; a missing one is empty."""
    return {name: table(name, rows.get(name, ())) for name in w2.INPUTS}


def write_parquet(data: Mapping[str, pa.Table], directory: Path) -> dict[str, Path]:
    """Each relation to ``directory/<name>.parquet``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, t in data.items():
        out[name] = directory / f"{name}.parquet"
        pq.write_table(t, out[name])
    return out
