"""Alembic environment: one history for SQLite and PostgreSQL; URL from bootstrap."""

from __future__ import annotations

from alembic import context

from bondedzone.adapters.db.engine import make_engine
from bondedzone.adapters.db.tables import metadata

config = context.config


def run_migrations_online() -> None:
    """Run against a live connection (SQLite batch mode so ALTERs work there too)."""
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by bondedzone.bootstrap.alembic_config"
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
