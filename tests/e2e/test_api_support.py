"""Helpers shared by the HTTP API tests (this module holds no tests of its own).

``snapshot`` reads every table of the schema, so "the request changed nothing" is checked
against the whole database (row counts, balances, chain heads, idempotency records), not
against the one table a test happens to expect to change.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bondedzone import bootstrap
from bondedzone.adapters.db.tables import metadata, stock_balances
from bondedzone.bootstrap import Container
from bondedzone.config import Settings
from tests import factories
from tests.conftest import Clock, drop_pg_schema, make_pg_schema

_CJK = re.compile(r"[\u4e00-\u9fff]")

Snapshot = dict[str, list[tuple[str, ...]]]


def snapshot(container: Container) -> Snapshot:
    """Every row of every table, as sorted tuples of strings (comparable across engines)."""
    with container.engine.connect() as conn:
        return {
            table.name: sorted(tuple(str(x) for x in row) for row in conn.execute(select(table)))
            for table in metadata.sorted_tables
        }


def counts(snap: Snapshot) -> dict[str, int]:
    """Row count per table of a snapshot."""
    return {name: len(rows) for name, rows in snap.items()}


def balances(container: Container) -> dict[tuple[int, int, str], int]:
    """Every stored balance, in 10⁻⁵ units, by (book id, putrecSeqno, stock status)."""
    with container.engine.connect() as conn:
        rows = conn.execute(select(stock_balances)).all()
    return {(int(r.book_id), int(r.putrec_seqno), str(r.stock_status)): int(r.quantity) for r in rows}


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the coded error body in both languages; returns the body."""
    assert resp.status_code == status, (resp.status_code, resp.text[:800])
    body: dict[str, Any] = resp.json()
    assert set(body) == {"code", "message", "messages", "detail", "errors"}, body
    assert body["code"] == code, body
    assert set(body["messages"]) == {"zh", "en"}, body
    zh, en = body["messages"]["zh"], body["messages"]["en"]
    assert zh and en and zh != en, body
    assert _CJK.search(zh), f"Chinese message has no Chinese: {zh!r}"
    assert re.search(r"[A-Za-z]{3}", en), f"English message has no English: {en!r}"
    assert body["message"] in (zh, en)
    assert isinstance(body["detail"], dict) and isinstance(body["errors"], list)
    return body


@contextmanager
def shared_zone(engine: str, tmp: Path, sqlite_template: Path) -> Iterator[factories.Zone]:
    """A zone on ``engine`` that lives for a whole module.

    Only for tests whose every request must change nothing (and asserts so with ``snapshot``):
    building a zone per request would dominate their run time.
    """
    schema = None
    if engine == "sqlite":
        path = tmp / "bz.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        schema, url = make_pg_schema("api")
    container = bootstrap.build(Settings(database_url=url, load_demo=False), clock=Clock())
    try:
        yield factories.make_zone(container)
    finally:
        container.engine.dispose()
        if schema is not None:
            drop_pg_schema(schema)
