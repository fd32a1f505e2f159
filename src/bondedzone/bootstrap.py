"""Wires the adapters to the services: the only module that reads settings."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url

from bondedzone.adapters.compare import duckdb_engine, relations
from bondedzone.adapters.db.engine import make_engine, normalise_url
from bondedzone.adapters.db.tables import enterprises
from bondedzone.adapters.db.uow import Clock, SqlUnitOfWorkFactory, utcnow
from bondedzone.config import Settings
from bondedzone.domain.passes import GatePolicy
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.domain.rules.m4_two_lanes import SpotCheckPolicy
from bondedzone.services.reconcile import CompareEngine, Relations

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container:
    """What the entrypoints need."""

    settings: Settings
    engine: Engine
    uow: SqlUnitOfWorkFactory

    @property
    def gate_policy(self) -> GatePolicy:
        """The gate's configurable tolerances and spot-check policy (G1, M4)."""
        s = self.settings
        spot = SpotCheckPolicy(base_rate=s.gate_spot_check_rate, seed=s.gate_spot_check_seed)
        return GatePolicy(weight_tolerance=s.gate_weight_tolerance, spot_check=spot)

    @property
    def recon_tolerance(self) -> timedelta:
        """W2: how long a missing counterpart is a timing lag rather than an error."""
        return timedelta(minutes=self.settings.recon_tolerance_minutes)

    def compare_engine(self) -> CompareEngine:
        """W4: the configured engine for the comparison, DuckDB embedded or Spark."""
        if self.settings.recon_engine == "spark":
            return _spark_engine(self.settings.spark_master)
        limit = self.settings.recon_memory_limit

        def on_duckdb(rels: Relations, params: w2.Params) -> list[w2.Finding]:
            return duckdb_engine.run(relations.tables(rels), params, con=duckdb_engine.connect(memory_limit=limit))

        return on_duckdb


def _spark_engine(master: str) -> CompareEngine:
    from bondedzone.adapters.compare import spark_engine

    def on_spark(rels: Relations, params: w2.Params) -> list[w2.Finding]:
        with tempfile.TemporaryDirectory(prefix="bondedzone-w2-") as d:
            paths = relations.write_parquet(relations.tables(rels), Path(d))
            return spark_engine.run(spark_engine.session(master), paths, params)

    return on_spark


def build(settings: Settings | None = None, *, clock: Clock = utcnow) -> Container:
    """Engine and unit-of-work factory for the configured database."""
    s = settings or Settings()
    _ensure_sqlite_dir(s.database_url)
    engine = make_engine(s.database_url, pool_size=s.pool_size)
    return Container(s, engine, SqlUnitOfWorkFactory(engine, clock))


def _ensure_sqlite_dir(url: str) -> None:
    u = make_url(normalise_url(url))
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def alembic_config(url: str) -> Config:
    """Alembic configured in code: the URL comes from settings, never from an ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (one history for SQLite and PostgreSQL)."""
    _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def is_empty(engine: Engine) -> bool:
    """True when no enterprise is registered yet (the demo zone may be loaded)."""
    if not inspect(engine).has_table("enterprises"):
        return True
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(enterprises)).scalar_one()) == 0
