"""Helpers shared by the WMS and reconciliation tests (this module holds no tests of its own).

Records as a WMS sends them, the same records written as CSV (field names or the Chinese column
names of :data:`~bondedzone.adapters.files.wms_files.HEADER_ALIASES`, in any encoding), JSON and
XML, and the stored rows read back in a form comparable across SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import quoteattr

from sqlalchemy import select

from bondedzone.adapters.db import tables as t
from bondedzone.adapters.files.wms_files import HEADER_ALIASES
from bondedzone.bootstrap import Container
from bondedzone.domain import wms
from bondedzone.domain.errors import CATALOGUE
from tests import factories as f

CODE = re.compile(r"BZ-[A-Z0-9]+(-[A-Z0-9]+)*")
WHEN = "2026-11-20T08:30:00+08:00"  # before the test clock (2026-11-23 08:00 UTC): not in the future


def movement(ref: str, **over: Any) -> dict[str, Any]:
    """A valid receipt of 5 × item 1 into the owner's book; ``over`` replaces or adds fields."""
    rec: dict[str, Any] = {
        "wmsRef": ref,
        "putrecNo": f.OWNER_BOOK,
        "kind": "receipt",
        "gdsMtno": "MT-00001",
        "dclQty": "5",
        "dclUnitcd": "001",
        "stockStatus": "bonded",
        "occurredAt": WHEN,
    }
    rec.update(over)
    return {k: x for k, x in rec.items() if x is not None}


def stock(snapshot: str, mtno: str, qty: str, unit: str, **over: Any) -> dict[str, Any]:
    """A valid stocktake line of the owner's book."""
    rec: dict[str, Any] = {
        "snapshotRef": snapshot,
        "putrecNo": f.OWNER_BOOK,
        "takenAt": "2026-11-22T18:00:00+08:00",
        "gdsMtno": mtno,
        "stockStatus": "bonded",
        "dclQty": qty,
        "dclUnitcd": unit,
        "location": "A-01",
    }
    rec.update(over)
    return {k: x for k, x in rec.items() if x is not None}


# The same four movements, written below as CSV, JSON and XML. Every character is in GBK, so that
# the GBK file can carry them too; values hold a comma, quotes and Chinese text.
FILE_RECORDS: list[dict[str, Any]] = [
    movement("F-1", dclQty="12.5", occurredAt="2026-11-20T08:30:00", rltNo="QD530126I000000001", rltGdsSeqno="3"),
    movement(
        "F-2",
        kind="transfer",
        gdsMtno="螺丝-M8,不锈钢",
        dclQty="4",
        dclUnitcd="007",
        stockStatus="non_bonded",
        occurredAt="2026-11-20 09:00:00",
        fromLocation="一号库 A-01",
        toLocation='二号库 "B"-02',
    ),
    movement("F-3", kind="adjustment", gdsMtno="MT-00002", dclQty="-2", dclUnitcd="035", occurredAt="2026-11-21T10:00:00+08:00"),
    movement(
        "F-4",
        kind="status_change",
        gdsMtno="MT-00003",
        dclQty="3",
        dclUnitcd="007",
        fromStatus="non_bonded",
        occurredAt="2026-11-21T11:00:00+08:00",
        rltNo="530120260000000042",
        rltGdsSeqno="1",
    ),
]


def chinese_headers(fields: Sequence[str], *, second: bool = False) -> list[str]:
    """A Chinese column name for each field (the second alias where there are two)."""
    out = []
    for name in fields:
        aliases = [zh for zh, en in HEADER_ALIASES.items() if en == name]
        assert aliases, f"no Chinese column name for {name}"
        out.append(aliases[1] if second and len(aliases) > 1 else aliases[0])
    return out


def csv_bytes(
    records: Sequence[dict[str, Any]],
    encoding: str,
    *,
    fields: Sequence[str] = wms.MOVEMENT_FIELDS,
    header: Sequence[str] | None = None,
    delimiter: str = ",",
    bom: bool = False,
) -> bytes:
    """``records`` as a CSV file: one column per field, blank where a record has none."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(list(header) if header is not None else list(fields))
    for r in records:
        w.writerow(["" if r.get(k) is None else str(r[k]) for k in fields])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode(encoding)


def json_bytes(records: Sequence[dict[str, Any]], *, batch_ref: str | None = None) -> bytes:
    """``{"records": [...]}`` (with ``batchRef`` when given), UTF-8; sequence numbers as JSON numbers."""
    recs = [{k: (int(x) if k == "rltGdsSeqno" else x) for k, x in r.items()} for r in records]
    doc: dict[str, Any] = {"records": recs}
    if batch_ref is not None:
        doc["batchRef"] = batch_ref
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def xml_bytes(records: Sequence[dict[str, Any]], encoding: str = "utf-8") -> bytes:
    """``<wmsMovements>`` with one ``<movement>`` per record: the first as attributes, the others as child elements."""
    parts = [f'<?xml version="1.0" encoding="{encoding}"?>', '<wmsMovements xmlns="urn:example:wms">']
    for i, r in enumerate(records):
        if i == 0:
            attrs = " ".join(f"{k}={quoteattr(str(x))}" for k, x in r.items())
            parts.append(f"  <movement {attrs}/>")
        else:
            inner = "".join(f"<{k}>{_xml_text(str(x))}</{k}>" for k, x in r.items())
            parts.append(f"  <movement>{inner}</movement>")
    parts.append("</wmsMovements>")
    return "\n".join(parts).encode(encoding)


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _aware(x: object) -> object:
    if isinstance(x, datetime):
        return (x if x.tzinfo else x.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return x


MovementRow = tuple[object, ...]


def movement_rows(c: Container, putrec_no: str | None = None) -> set[MovementRow]:
    """The stored movements (of one book, or all), without ids, batch or receipt time."""
    m = t.wms_movements.c
    cols = (
        t.books.c.putrec_no,
        m.wms_ref,
        m.kind,
        m.gds_mtno,
        m.units,
        m.dcl_unitcd,
        m.stock_status,
        m.from_status,
        m.occurred_at,
        m.rlt_no,
        m.rlt_gds_seqno,
        m.from_location,
        m.to_location,
    )
    q = select(*cols).join(t.books, t.books.c.id == m.book_id)
    if putrec_no is not None:
        q = q.where(t.books.c.putrec_no == putrec_no)
    with c.engine.connect() as conn:
        return {tuple(_aware(x) for x in r) for r in conn.execute(q)}


def stock_rows(c: Container) -> set[tuple[object, ...]]:
    """The stored stocktake lines, without ids, batch or receipt time."""
    s = t.wms_stock_lines.c
    cols = (t.books.c.putrec_no, s.snapshot_ref, s.taken_at, s.gds_mtno, s.stock_status, s.location, s.units, s.dcl_unitcd)
    with c.engine.connect() as conn:
        return {tuple(_aware(x) for x in r) for r in conn.execute(select(*cols).join(t.books, t.books.c.id == s.book_id))}


def refs(c: Container) -> list[str]:
    """Every stored movement's wmsRef, sorted (repeated if stored twice)."""
    with c.engine.connect() as conn:
        return sorted(str(r.wms_ref) for r in conn.execute(select(t.wms_movements.c.wms_ref)))


def utc(text: str) -> str:
    """An occurredAt as stored: UTC, ISO 8601 (a time without an offset is China time)."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        at = at.replace(tzinfo=wms.CST)
    return at.astimezone(UTC).isoformat()


def assert_coded(body: dict[str, Any]) -> str:
    """The body of a 4xx names a code of the catalogue; returns it."""
    code = body.get("code")
    assert isinstance(code, str) and CODE.fullmatch(code) and code in CATALOGUE, body
    return code
