"""Settings, from ``BONDEDZONE_*`` environment variables; a bad value stops start-up loudly."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set. Read only in :mod:`bondedzone.bootstrap` and the CLI."""

    model_config = SettingsConfigDict(env_prefix="BONDEDZONE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/bondedzone.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql://user@host/db",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    load_demo: bool = Field(default=True, description="load the demo zone into an empty database on `serve`")
    pool_size: int = Field(default=10, ge=1, le=200)
    workers: int = Field(default=1, ge=1, le=64, description="server processes of `serve` (uvicorn workers)")
    token_cache_seconds: float = Field(
        default=2.0, ge=0, le=10, description="how long a server process reuses a token it has authenticated; 0 = never"
    )
    gate_weight_tolerance: Decimal = Field(
        default=Decimal("0.02"), ge=0, le=Decimal("0.5"), description="G1: allowed |weighed − expected| ÷ expected"
    )
    gate_spot_check_rate: Decimal = Field(
        default=Decimal("0.03"), ge=0, le=1, description="M4: base share of non-declared-lane vehicles spot-checked"
    )
    gate_spot_check_seed: str = Field(
        default="bondedzone", min_length=1, max_length=200, description="M4: seed that makes every spot-check draw reproducible"
    )
    recon_engine: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="W4: the comparison engine; spark needs the `spark` extra and BONDEDZONE_SPARK_MASTER"
    )
    spark_master: str = Field(default="local[2]", max_length=500, description="W4: Spark master URL for recon_engine=spark")
    recon_tolerance_minutes: int = Field(
        default=120,
        ge=0,
        le=30 * 24 * 60,
        description="W2: a missing counterpart younger than this is a timing lag, not an error",
    )
    recon_continuous: bool = Field(default=True, description="W3: keep the open discrepancies current in the background")
    recon_interval_seconds: float = Field(default=1.0, ge=0.1, le=3600, description="W3: how often new data is looked for")
    recon_window_days: int = Field(default=31, ge=1, le=366, description="W3: the continuous comparison looks this far back")
    recon_memory_limit: str = Field(
        default="2GB", pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", description="W4: DuckDB's memory cap"
    )
    wms_watch_dir: str | None = Field(
        default=None, description="M22: a folder whose dropped CSV/JSON/XML files are ingested (`bondedzone wms watch`)"
    )

    @field_validator("database_url")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("BONDEDZONE_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value
