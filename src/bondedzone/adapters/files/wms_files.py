"""WMS export files (M22/W1) read into raw records: CSV, JSON or XML, in UTF-8 or GB18030/GBK.

Nothing here judges a field: each record comes back as the file gave it, for
:func:`bondedzone.domain.wms.movement` or :func:`~bondedzone.domain.wms.stock_line` to check. A
problem with the whole file (type, syntax, columns, size) raises a :class:`BzError`; a problem with
one record (an undecodable CSV line, a row with the wrong number of cells) is returned in
``ParsedFile.errors`` with its ``record`` number, so the other records can still be accepted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from bondedzone.domain import wms
from bondedzone.domain.errors import BzError

FileKind = Literal["movements", "stock"]

# Column names seen in Chinese WMS exports, mapped to the field names of bondedzone.domain.wms.
HEADER_ALIASES: dict[str, str] = {
    "料号": "gdsMtno",
    "商品料号": "gdsMtno",
    "数量": "dclQty",
    "申报数量": "dclQty",
    "单位": "dclUnitcd",
    "计量单位": "dclUnitcd",
    "申报单位": "dclUnitcd",
    "账册号": "putrecNo",
    "账册编号": "putrecNo",
    "业务类型": "kind",
    "类型": "kind",
    "状态": "stockStatus",
    "保税状态": "stockStatus",
    "原状态": "fromStatus",
    "发生时间": "occurredAt",
    "时间": "occurredAt",
    "关联单号": "rltNo",
    "核注清单号": "rltNo",
    "关联序号": "rltGdsSeqno",
    "清单序号": "rltGdsSeqno",
    "源库位": "fromLocation",
    "目标库位": "toLocation",
    "单号": "wmsRef",
    "流水号": "wmsRef",
    "盘点单号": "snapshotRef",
    "盘点时间": "takenAt",
    "库位": "location",
}
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb2312", "gb18030")
_SPELLINGS = {"utf8": "utf-8", "utf8-sig": "utf-8-sig"}
_BOM = b"\xef\xbb\xbf"
_KNOWN = frozenset(wms.MOVEMENT_FIELDS) | frozenset(wms.STOCK_FIELDS) | frozenset(HEADER_ALIASES)


@dataclass(frozen=True)
class RawRecord:
    record: int  # 1-based position in the file, counting records that could not be read
    line: int | None  # where the record starts (CSV); None for JSON and XML
    fields: dict[str, object]


@dataclass(frozen=True)
class ParsedFile:
    kind: FileKind
    encoding: str
    records: list[RawRecord]
    errors: list[BzError] = field(default_factory=list)
    batch_ref: str | None = None


def read(data: bytes, name: str, *, encoding: str | None = None, max_bytes: int = 64 * 2**20) -> ParsedFile:
    """The records of one WMS file, or a BzError for a file that cannot be read at all.

    The format comes from the extension of ``name`` (.csv, .json, .xml), else from the content.
    ``encoding`` forces one of :data:`ENCODINGS`; without it a UTF-8 BOM, strict UTF-8 and strict
    GB18030 are tried in turn, and a CSV that is neither is read line by line in whichever fails
    on fewer lines, each failing line becoming a record-level BZ-WMS-FILE-ENCODING.
    """
    if len(data) > max_bytes:
        raise BzError("BZ-PAYLOAD-TOO-LARGE", limit=max_bytes)
    forced = _canonical(encoding) if encoding is not None else None
    if not data.removeprefix(_BOM).strip():
        raise BzError("BZ-WMS-BATCH-EMPTY")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    ext = base.rsplit(".", 1)[1].lower() if "." in base else ""
    if ext not in ("csv", "json", "xml"):
        head = data.removeprefix(_BOM).lstrip()[:1]
        ext = "json" if head in (b"{", b"[") else "xml" if head == b"<" else ""
    if ext == "json":
        enc, text = _whole(data, forced)
        return _json(text, enc)
    if ext == "xml":
        enc, text = _whole(data, forced)
        return _xml(text, enc)
    enc, lines = _lines(data, forced)
    return _csv(lines, enc, name=base if ext == "" else None)


# ---- encodings ------------------------------------------------------------------------------------


def _canonical(encoding: str) -> str:
    e = encoding.strip().lower().replace("_", "-")
    e = _SPELLINGS.get(e, e)
    if e not in ENCODINGS:
        raise BzError("BZ-WMS-FILE-FORMAT", reason=f"encoding {encoding[:40]!r} is not read; use one of {', '.join(ENCODINGS)}")
    return e


def _split(data: bytes) -> list[bytes]:
    # Neither UTF-8 nor GB18030/GBK uses CR or LF inside a multi-byte character, so bytes split
    # exactly where the decoded text would.
    return data.splitlines(keepends=True)


def _candidates(data: bytes, forced: str | None) -> tuple[bytes, list[tuple[str, str]]]:
    """The body without a UTF-8 BOM and the (reported name, codec) pairs to try, best first."""
    if forced is not None:
        codec = "utf-8" if forced.startswith("utf-8") else forced
        return (data.removeprefix(_BOM) if codec == "utf-8" else data), [(forced, codec)]
    if data.startswith(_BOM):
        return data[len(_BOM) :], [("utf-8-sig", "utf-8")]
    return data, [("utf-8", "utf-8"), ("gb18030", "gb18030")]


def _decode_each(lines: Sequence[bytes], codec: str) -> list[str | None]:
    out: list[str | None] = []
    for b in lines:
        try:
            out.append(b.decode(codec))
        except UnicodeDecodeError:
            out.append(None)
    return out


def _lines(data: bytes, forced: str | None) -> tuple[str, list[str | None]]:
    """The file's lines decoded (None where a line cannot be), and the encoding used."""
    body, tries = _candidates(data, forced)
    for enc, codec in tries:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        return enc, _strip_bom(_split_text(text))
    raw = _split(body)
    best: tuple[str, list[str | None]] | None = None
    for _, codec in tries:
        decoded = _decode_each(raw, codec)
        if best is None or decoded.count(None) < best[1].count(None):
            best = (codec, decoded)
    assert best is not None
    return best[0], _strip_bom(best[1])


def _split_text(text: str) -> list[str | None]:
    # Lines end at CR, LF or CRLF only, as the bytes split; str.splitlines would also break on
    # U+2028, U+0085 …, which may sit inside a value.
    return list(io.StringIO(text, newline=""))


def _strip_bom(lines: list[str | None]) -> list[str | None]:
    if lines and lines[0] is not None:
        lines[0] = lines[0].removeprefix("\ufeff")
    return lines


def _whole(data: bytes, forced: str | None) -> tuple[str, str]:
    """The whole file decoded; JSON and XML cannot be read around an undecodable line."""
    body, tries = _candidates(data, forced)
    for enc, codec in tries:
        try:
            return enc, body.decode(codec).removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
    codec, lines = _lines(data, forced)
    first_bad = lines.index(None) + 1 if None in lines else 1
    raise BzError("BZ-WMS-FILE-ENCODING", line=first_bad, encoding=codec)


# ---- CSV ------------------------------------------------------------------------------------------


def _delimiter(header: str) -> str:
    if "," in header:
        return ","
    semi, tab = header.count(";"), header.count("\t")
    if semi == tab == 0:
        return ","
    return ";" if semi >= tab else "\t"


def _runs(lines: list[str | None]) -> Iterator[tuple[int, list[str]] | int]:
    """Stretches of decodable lines as (first line number, lines), and each undecodable line's number."""
    run: list[str] = []
    first = 1
    for i, line in enumerate(lines, start=1):
        if line is None:
            if run:
                yield first, run
                run = []
            yield i
            first = i + 1
        else:
            run.append(line)
    if run:
        yield first, run


def _rows(first: int, run: list[str], delimiter: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(line where the row starts, its cells or the csv error) for each row of a stretch."""
    reader = csv.reader(iter(run), delimiter=delimiter, strict=True)
    consumed = 0
    while True:
        start = first + consumed
        try:
            row: list[str] | csv.Error = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            row = e
        if reader.line_num == consumed:  # no progress: never loop on the same input
            return
        consumed = reader.line_num
        yield start, row


def _header(cells: list[str]) -> list[str]:
    names = [
        HEADER_ALIASES.get(c.strip().removeprefix("\ufeff").strip(), c.strip().removeprefix("\ufeff").strip()) for c in cells
    ]
    seen: set[str] = set()
    for n in names:
        if n and n in seen:
            raise BzError("BZ-WMS-FILE-FORMAT", reason=f"column {n[:64]} appears twice in the header")
        seen.add(n)
    return names


def _csv(lines: list[str | None], enc: str, *, name: str | None) -> ParsedFile:
    """``name`` is given when the format was guessed: a header naming no known field is then no CSV."""
    header: list[str] | None = None
    delimiter = ","
    records: list[RawRecord] = []
    errors: list[BzError] = []
    count = 0
    for part in _runs(lines):
        if isinstance(part, int):
            if header is None:
                if name is not None:
                    raise BzError("BZ-WMS-FILE-TYPE", name=name[:200])
                raise BzError("BZ-WMS-FILE-ENCODING", line=part, encoding=enc)
            count += 1
            errors.append(BzError("BZ-WMS-FILE-ENCODING", line=part, encoding=enc, record=count))
            continue
        first, run = part
        for start, row in _rows(first, run, delimiter if header is not None else _delimiter(_first_text(run))):
            if header is None:
                if isinstance(row, csv.Error):
                    if name is not None:
                        raise BzError("BZ-WMS-FILE-TYPE", name=name[:200])
                    raise BzError("BZ-WMS-FILE-FORMAT", reason=f"the header (line {start}) is not CSV: {row}")
                if not any(c.strip() for c in row):
                    continue
                delimiter = _delimiter(_first_text(run))
                header = _check_header(_header(row), name)
                continue
            if not isinstance(row, csv.Error) and not any(c.strip() for c in row):
                continue  # a blank line is no record
            count += 1
            if count > wms.MAX_BATCH:
                continue  # only counted, for the refusal below
            if isinstance(row, csv.Error):
                errors.append(BzError("BZ-WMS-FILE-FORMAT", reason=f"not CSV: {row}", record=count, line=start))
            elif len(row) != len(header):
                reason = f"{len(row)} cells where the header has {len(header)}"
                errors.append(BzError("BZ-WMS-FILE-FORMAT", reason=reason, record=count, line=start))
            elif any(not n and c.strip() for n, c in zip(header, row, strict=True)):
                reason = "a value under a column without a name"
                errors.append(BzError("BZ-WMS-FILE-FORMAT", reason=reason, record=count, line=start))
            else:
                fields: dict[str, object] = {n: c for n, c in zip(header, row, strict=True) if n and c.strip()}
                records.append(RawRecord(count, start, fields))
    if header is None:
        if name is not None:
            raise BzError("BZ-WMS-FILE-TYPE", name=name[:200])
        raise BzError("BZ-WMS-BATCH-EMPTY")
    _check_count(count)
    return ParsedFile("stock" if "snapshotRef" in header else "movements", enc, records, errors)


def _first_text(run: list[str]) -> str:
    return next((line for line in run if line.strip()), "")


def _check_header(header: list[str], guessed_name: str | None) -> list[str]:
    if guessed_name is not None and not _KNOWN.intersection(header):
        raise BzError("BZ-WMS-FILE-TYPE", name=guessed_name[:200])
    required = wms.STOCK_REQUIRED if "snapshotRef" in header else wms.MOVEMENT_REQUIRED
    missing = [f for f in required if f not in header]
    if missing:
        raise BzError("BZ-WMS-FILE-COLUMNS", columns=", ".join(missing))
    return header


def _check_count(count: int) -> None:
    if count == 0:
        raise BzError("BZ-WMS-BATCH-EMPTY")
    if count > wms.MAX_BATCH:
        raise BzError("BZ-WMS-BATCH-TOO-LARGE", records=count, limit=wms.MAX_BATCH)


def _kind(records: list[RawRecord]) -> FileKind:
    return "stock" if any("snapshotRef" in r.fields for r in records) else "movements"


# ---- JSON -----------------------------------------------------------------------------------------


class _Object(dict[str, object]):
    """A JSON object that remembers the keys it had twice (json keeps only the last)."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        keys = [k for k, _ in pairs]
        obj.duplicates = tuple(sorted({k for k in keys if keys.count(k) > 1}))
    return obj


def _constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _json(text: str, enc: str) -> ParsedFile:
    try:
        doc = json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, too many digits, too deep
        raise BzError("BZ-WMS-FILE-FORMAT", reason=f"not JSON: {str(e)[:200] or type(e).__name__}") from None
    batch_ref: str | None = None
    if isinstance(doc, dict):
        extra = sorted(k for k in doc if k not in ("records", "batchRef") and not k.startswith("x-"))
        if extra:
            raise BzError("BZ-WMS-FILE-FORMAT", reason=f"unknown key {extra[0][:64]!r} beside records")
        if isinstance(doc, _Object) and doc.duplicates:
            raise BzError("BZ-WMS-FILE-FORMAT", reason=f"key {doc.duplicates[0][:64]!r} appears twice")
        given = doc.get("batchRef")
        if given is not None and not isinstance(given, str):
            raise BzError("BZ-WMS-FILE-FORMAT", reason="batchRef must be a string")
        batch_ref = given if given is not None and given.strip() else None
        doc = doc.get("records")
        if not isinstance(doc, list):
            raise BzError("BZ-WMS-FILE-FORMAT", reason="records must be a list of objects")
    if not isinstance(doc, list):
        raise BzError("BZ-WMS-FILE-FORMAT", reason="expected a list of records or an object with records")
    _check_count(len(doc))
    records: list[RawRecord] = []
    errors: list[BzError] = []
    for i, item in enumerate(doc, start=1):
        if not isinstance(item, dict):
            errors.append(BzError("BZ-WMS-FILE-FORMAT", reason="a record must be an object", record=i))
        elif isinstance(item, _Object) and item.duplicates:
            errors.append(BzError("BZ-WMS-FILE-FORMAT", reason=f"field {item.duplicates[0][:64]} appears twice", record=i))
        else:
            records.append(RawRecord(i, None, dict(item)))
    return ParsedFile(_kind(records), enc, records, errors, batch_ref)


# ---- XML ------------------------------------------------------------------------------------------


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _xml(text: str, enc: str) -> ParsedFile:
    try:
        # No DTD at all: no entity can be expanded (billion laughs) or fetched (XXE).
        root: Element = safe_xml.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise BzError("BZ-WMS-FILE-FORMAT", reason=f"DTDs and entities are not accepted ({type(e).__name__})") from None
    except (SyntaxError, ValueError) as e:  # ParseError is a SyntaxError
        raise BzError("BZ-WMS-FILE-FORMAT", reason=f"not XML: {str(e)[:200] or type(e).__name__}") from None
    batch_ref: str | None = None
    for k, val in root.attrib.items():
        if k == "batchRef":
            batch_ref = val if val.strip() else None
        elif not k.startswith(("{", "x-")):
            raise BzError("BZ-WMS-FILE-FORMAT", reason=f"unknown attribute {k[:64]!r} on <{_local(root.tag)[:64]}>")
    children = list(root)
    refs = [c for c in children if _local(c.tag) == "batchRef" and len(c) == 0 and not c.attrib]
    if len(refs) > 1 or (refs and batch_ref is not None):
        raise BzError("BZ-WMS-FILE-FORMAT", reason="batchRef is given twice")
    if refs:
        batch_ref = refs[0].text if refs[0].text and refs[0].text.strip() else None
    elements = [c for c in children if not any(c is r for r in refs)]
    _check_count(len(elements))
    records: list[RawRecord] = []
    errors: list[BzError] = []
    for i, el in enumerate(elements, start=1):
        fields, problem = _xml_record(el)
        if problem is not None:
            errors.append(BzError("BZ-WMS-FILE-FORMAT", reason=problem, record=i))
        else:
            records.append(RawRecord(i, None, fields))
    return ParsedFile(_kind(records), enc, records, errors, batch_ref)


def _xml_record(el: Element) -> tuple[dict[str, object], str | None]:
    """A record element's fields (attributes and leaf children), or what is wrong with it."""
    tag = _local(el.tag)[:64]
    fields: dict[str, object] = {}
    seen: set[str] = set()
    if (el.text or "").strip():
        return {}, f"<{tag}> has text outside its field elements"
    if len(el) == 0 and not el.attrib:
        return {}, f"<{tag}> has no fields"
    for k, val in el.attrib.items():
        if k.startswith("{"):
            continue  # xsi:type and the like
        seen.add(k)
        if val.strip():
            fields[k] = val
    for child in el:
        name = _local(child.tag)
        if len(child):
            return {}, f"field <{name[:64]}> contains elements"
        if any(not k.startswith("{") for k in child.attrib):
            return {}, f"field <{name[:64]}> has attributes"
        if (child.tail or "").strip():
            return {}, f"<{tag}> has text outside its field elements"
        if name in seen:
            return {}, f"field {name[:64]} appears twice"
        seen.add(name)
        if child.text and child.text.strip():
            fields[name] = child.text
    return fields, None
