"""Settings, from ``BONDEDZONE_*`` environment variables; a bad value stops start-up loudly."""

from __future__ import annotations

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

    @field_validator("database_url")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("BONDEDZONE_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value
