"""Shared fixtures: a fresh database on each engine, personas, factories, an injected clock.

Every test that takes ``db_url`` (or anything built on it) runs once on SQLite and once on
PostgreSQL. PostgreSQL comes from ``BONDEDZONE_TEST_PG_URL``; when it is unreachable the
PostgreSQL half is skipped with a clear reason — except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bondedzone import bootstrap
from bondedzone.adapters.db import tables
from bondedzone.config import Settings
from tests import factories

PG_URL = os.environ.get("BONDEDZONE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The continuous comparison (W3) runs in every server by default; a test that wants it starts it
# itself, so that no other test sees a background thread write to its database.
os.environ["BONDEDZONE_RECON_CONTINUOUS"] = "false"


def _pg_reachable() -> str | None:
    try:
        eng = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as e:  # pragma: no cover - depends on the machine
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


_PG_PROBLEM = _pg_reachable()


def require_pg() -> None:
    """Skip (or, under CI, fail) when PostgreSQL is not reachable."""
    if _PG_PROBLEM is None:
        return
    msg = f"PostgreSQL not reachable at {PG_URL} ({_PG_PROBLEM})"
    if IN_CI:
        pytest.fail(msg + " — CI requires PostgreSQL", pytrace=False)
    pytest.skip(msg + " — PostgreSQL tests skipped")


def pg_schema_url(schema: str) -> str:
    """A URL whose connections live in ``schema`` (search_path), so tests never share tables."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def make_pg_schema(prefix: str = "t") -> tuple[str, str]:
    """Create a fresh schema, migrate it, and return (schema, url)."""
    require_pg()
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    eng = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    url = pg_schema_url(schema)
    bootstrap.migrate(url)
    return schema, url


def drop_pg_schema(schema: str) -> None:
    """Drop a schema made by :func:`make_pg_schema`."""
    eng = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    eng.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    bootstrap.migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_session_schema() -> Iterator[str]:
    """One migrated PostgreSQL schema for the session; tables are truncated between tests."""
    schema, url = make_pg_schema("s")
    yield url
    drop_pg_schema(schema)


def _truncate_pg(url: str) -> None:
    eng = bootstrap.make_engine(url, pool_size=1)
    names = ", ".join(f'"{t.name}"' for t in reversed(tables.metadata.sorted_tables))
    with eng.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A freshly migrated, empty database on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "bz.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    require_pg()
    url: str = request.getfixturevalue("pg_session_schema")
    _truncate_pg(url)
    return url


class Clock:
    """An injected clock that tests can move."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1000)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def container(db_url: str, clock: Clock) -> Iterator[bootstrap.Container]:
    c = bootstrap.build(Settings(database_url=db_url, load_demo=False), clock=clock)
    yield c
    c.engine.dispose()


@pytest.fixture
def zone(container: bootstrap.Container) -> factories.Zone:
    """Two enterprises with a book each, items, and tokens for every persona."""
    return factories.make_zone(container)


@pytest.fixture
def client(container: bootstrap.Container) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from bondedzone.entrypoints.api.app import create_app

    with TestClient(create_app(container)) as tc:
        yield tc
