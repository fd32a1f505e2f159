"""Engines for SQLite (embedded default) and PostgreSQL.

SQLite: WAL, ``synchronous=FULL`` (an acknowledged commit survives a crash), a busy timeout,
foreign keys on, and transactions we begin ourselves so that writers can take the write lock up
front with ``BEGIN IMMEDIATE`` instead of failing later on a lock upgrade.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine configured for our transaction discipline."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own
            cur = dbapi_conn.cursor()
            if ":memory:" not in url and url.rstrip("/") != "sqlite:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

        return engine
    # No ``pool_pre_ping``: it costs a round trip on every checkout. A connection that died with a
    # database restart fails its next statement instead; SQLAlchemy then invalidates the whole
    # pool, and the API answers that request 503 BZ-DB-UNAVAILABLE (nothing was committed).
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2)
