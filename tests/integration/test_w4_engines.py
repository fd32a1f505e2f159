"""W4: the comparison on Apache Spark (local mode) and on DuckDB gives identical findings.

Both engines read the same Parquet files of a generated zone with every class of discrepancy
injected, and execute the same SQL steps; the findings must be equal row for row — every class,
key and figure — and score 1.0 against the ground truth.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bondedzone.adapters.compare import duckdb_engine, relations, spark_engine
from bondedzone.services import synth


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:  # pragma: no cover - the machine has a JDK
        pytest.fail("Spark needs a Java runtime (java on PATH)")
    s = spark_engine.session("local[2]")
    yield s
    s.stop()


def test_w4_engines_agree(spark: Any, tmp_path: Path) -> None:
    data = synth.generate(enterprises=4, days=10, seed=11, inject=3)
    paths = relations.write_parquet(relations.tables(data.rows()), tmp_path)
    steps: list[str] = []
    on_spark = spark_engine.run(spark, paths, data.params, progress=lambda i, n, name: steps.append(name))
    on_duckdb = duckdb_engine.run(paths, data.params)
    assert on_spark == on_duckdb
    assert len(on_duckdb) == len(data.truth) and {f.key for f in on_spark} == data.truth
    assert steps == [name for name, _ in spark_engine.w2.STEPS]
