"""W2 on Apache Spark (W4): the same steps of ``w2_comparison``, as Spark SQL temporary views.

For a zone authority that outgrows one machine: the relations are Parquet files (on a shared
file system or object store the cluster reads), each step becomes a temporary view, and the
steps that several later steps read (:data:`CACHED`) are cached, so as to be computed once. The SQL is the DuckDB engine's,
character for character; ``tests/integration/test_w4_engines.py`` requires identical findings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bondedzone.domain.rules import w2_comparison as w2

Progress = Callable[[int, int, str], None]
CACHED = frozenset({"ma", "cand", "cd", "m", "dd", "flows"})


def session(master: str = "local[2]", *, app_name: str = "bondedzone-w2", conf: Mapping[str, str] | None = None) -> Any:
    """A Spark session; ``local[N]`` runs in this process's JVM, a cluster URL on the cluster."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "2g")
    )
    for k, v in (conf or {}).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def run(spark: Any, sources: Mapping[str, Path], params: w2.Params, *, progress: Progress | None = None) -> list[w2.Finding]:
    """The findings of the comparison over the Parquet ``sources``, in :func:`w2.sort_findings` order."""
    for name in w2.INPUTS:
        if name in sources:
            spark.read.parquet(str(sources[name])).createOrReplaceTempView(name)
        else:  # an optional relation left out: empty
            cols = ", ".join(f"CAST(NULL AS {ty}) AS {col}" for col, ty in w2.INPUTS[name])
            spark.sql(f"SELECT {cols} WHERE 1 = 0").createOrReplaceTempView(name)
    plan = w2.steps(params)
    cached = []
    try:
        for i, (name, sql) in enumerate(plan, start=1):
            if progress:
                progress(i, len(plan), name)
            df = spark.sql(sql)
            if name == plan[-1][0]:
                rows = [tuple(r) for r in df.collect()]
                break
            if name in CACHED:
                df = df.cache()
                cached.append(df)
            df.createOrReplaceTempView(name)
        return w2.sort_findings([w2.Finding.of(r) for r in rows])
    finally:
        for df in cached:
            df.unpersist()
