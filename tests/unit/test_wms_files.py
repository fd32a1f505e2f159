"""WMS files (M22/W1): the same records read alike from CSV, JSON and XML, in UTF-8, GBK and GB18030."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bondedzone.adapters.files import wms_files
from bondedzone.adapters.files.wms_files import ParsedFile
from bondedzone.domain import wms
from bondedzone.domain.errors import BzError

BOOK = "T5301W000001"
RECORDS: list[dict[str, object]] = [
    {
        "wmsRef": "WMS-1",
        "putrecNo": BOOK,
        "kind": "receipt",
        "gdsMtno": "螺丝-M8,不锈钢",  # a comma inside a value
        "dclQty": "12.5",
        "dclUnitcd": "035",
        "stockStatus": "bonded",
        "occurredAt": "2026-05-20T08:30:00",
        "rltNo": "QD530126I000000001",
        "rltGdsSeqno": "3",
    },
    {
        "wmsRef": "WMS-2",
        "putrecNo": BOOK,
        "kind": "transfer",
        "gdsMtno": '板材"A"型',  # quotes inside a value
        "dclQty": "4",
        "dclUnitcd": "007",
        "stockStatus": "non_bonded",
        "occurredAt": "2026-05-20 09:00:00",
        "fromLocation": "一号库 A-01",
        "toLocation": "二号库 B-02",
    },
    {
        "wmsRef": "WMS-3",
        "putrecNo": BOOK,
        "kind": "adjustment",
        "gdsMtno": "垫圈；Φ10;内径",  # semicolons (full- and half-width) inside a value
        "dclQty": "-2",
        "dclUnitcd": "011",
        "stockStatus": "bonded",
        "occurredAt": "2026-05-21T10:00:00+08:00",
    },
]
# Characters GBK lacks: a CJK Extension B ideograph, another from Extension B, the euro sign.
BEYOND_GBK = "𠀀𪚥€㊣"
RECORDS_GB18030 = [*RECORDS, {**RECORDS[0], "wmsRef": "WMS-4", "gdsMtno": f"料{BEYOND_GBK}"}]
COLUMNS = [c for c in wms.MOVEMENT_FIELDS]
CSV_LINES = [2, 3, 4]  # header on line 1


def _csv(records: list[dict[str, object]], *, header: list[str] | None = None, delimiter: str = ",", eol: str = "\r\n") -> str:
    cols = header or COLUMNS
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=eol)
    w.writerow(cols)
    for r in records:
        w.writerow([r.get(wms_files.HEADER_ALIASES.get(c, c), "") for c in cols])
    return buf.getvalue()


def _json(records: list[dict[str, object]], **top: object) -> str:
    return json.dumps({**top, "records": records} if top else records, ensure_ascii=False, indent=1)


def _xml(records: list[dict[str, object]], *, attributes: tuple[str, ...] = (), encoding: str = "UTF-8") -> str:
    root = ET.Element("wmsMovements")
    for r in records:
        el = ET.SubElement(root, "movement", {k: str(x) for k, x in r.items() if k in attributes})
        for k, x in r.items():
            if k not in attributes:
                ET.SubElement(el, k).text = str(x)
    ET.indent(root)
    return f'<?xml version="1.0" encoding="{encoding}"?>\n' + ET.tostring(root, encoding="unicode")


def _refused(code: str, data: bytes, name: str, **kwargs: object) -> BzError:
    with pytest.raises(BzError) as exc:
        wms_files.read(data, name, **kwargs)  # type: ignore[arg-type]
    assert exc.value.code == code, exc.value
    return exc.value


def _fields(p: ParsedFile) -> list[dict[str, object]]:
    return [r.fields for r in p.records]


# ---- the same records in every format and encoding -----------------------------------------------

SAME: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "utf-8 csv": (lambda: _csv(RECORDS).encode(), "wms.csv", "utf-8"),
    "utf-8 csv with BOM": (lambda: b"\xef\xbb\xbf" + _csv(RECORDS).encode(), "wms.csv", "utf-8-sig"),
    "gbk csv": (lambda: _csv(RECORDS).encode("gbk"), "wms.csv", "gb18030"),
    "utf-8 csv, LF": (lambda: _csv(RECORDS, eol="\n").encode(), "wms.csv", "utf-8"),
    "semicolon csv": (lambda: _csv(RECORDS, delimiter=";").encode(), "wms.csv", "utf-8"),
    "tab csv": (lambda: _csv(RECORDS, delimiter="\t").encode("gbk"), "WMS.TSV.CSV", "gb18030"),
    "json list": (lambda: _json(RECORDS).encode(), "wms.json", "utf-8"),
    "json object": (lambda: _json(RECORDS, batchRef="B-1").encode(), "wms.JSON", "utf-8"),
    "gbk json": (lambda: _json(RECORDS).encode("gbk"), "wms.json", "gb18030"),
    "xml": (lambda: _xml(RECORDS).encode(), "wms.xml", "utf-8"),
    "xml with attributes": (lambda: _xml(RECORDS, attributes=("wmsRef", "kind")).encode(), "wms.Xml", "utf-8"),
    "gbk xml": (lambda: _xml(RECORDS, encoding="GBK").encode("gbk"), "wms.xml", "gb18030"),
}


@pytest.mark.parametrize("case", sorted(SAME))
def test_the_same_records_read_alike_in_every_format(case: str) -> None:
    build, name, encoding = SAME[case]
    p = wms_files.read(build(), name)
    assert _fields(p) == RECORDS
    assert [r.record for r in p.records] == [1, 2, 3]
    assert (p.kind, p.encoding, p.errors) == ("movements", encoding, [])
    assert [r.line for r in p.records] == (CSV_LINES if name.lower().endswith(".csv") else [None, None, None])
    assert all(isinstance(x, str) for r in p.records for x in r.fields.values())


def test_gb18030_reads_exactly_as_utf8_even_beyond_gbk() -> None:
    text = _csv(RECORDS_GB18030)
    with pytest.raises(UnicodeEncodeError):
        BEYOND_GBK.replace("㊣", "").encode("gbk")  # the test means what it says
    utf8 = wms_files.read(text.encode("utf-8"), "a.csv")
    gb = wms_files.read(text.encode("gb18030"), "a.csv")
    assert gb.encoding == "gb18030"
    assert _fields(gb) == _fields(utf8) == RECORDS_GB18030
    assert gb.records[3].fields["gdsMtno"] == "料𠀀𪚥€㊣"
    assert [r.line for r in gb.records] == [r.line for r in utf8.records] == [2, 3, 4, 5]
    for fmt, body in (("json", _json(RECORDS_GB18030)), ("xml", _xml(RECORDS_GB18030, encoding="GB18030"))):
        assert _fields(wms_files.read(body.encode("gb18030"), f"a.{fmt}")) == RECORDS_GB18030


@pytest.mark.parametrize(
    ("given", "reported"), [("gbk", "gbk"), ("GB2312", "gb2312"), ("gb18030", "gb18030"), ("UTF_8", "utf-8")]
)
def test_a_given_encoding_is_used(given: str, reported: str) -> None:
    records = [{**r, "gdsMtno": "螺丝"} for r in RECORDS]  # within GB2312
    codec = "utf-8" if reported == "utf-8" else reported
    p = wms_files.read(_csv(records).encode(codec), "a.csv", encoding=given)
    assert (p.encoding, _fields(p)) == (reported, records)


def test_a_given_utf8_encoding_drops_the_bom() -> None:
    p = wms_files.read(b"\xef\xbb\xbf" + _csv(RECORDS).encode(), "a.csv", encoding="utf-8-sig")
    assert (p.encoding, _fields(p)) == ("utf-8-sig", RECORDS)
    assert _fields(wms_files.read(b"\xef\xbb\xbf" + _csv(RECORDS).encode(), "a.csv", encoding="utf-8")) == RECORDS


def test_a_given_encoding_that_is_wrong_makes_each_line_an_error() -> None:
    p = wms_files.read(_csv(RECORDS).encode("gbk"), "a.csv", encoding="utf-8")
    assert [(e.code, e.detail["line"], e.detail["record"], e.detail["encoding"]) for e in p.errors] == [
        ("BZ-WMS-FILE-ENCODING", 2, 1, "utf-8"),
        ("BZ-WMS-FILE-ENCODING", 3, 2, "utf-8"),
        ("BZ-WMS-FILE-ENCODING", 4, 3, "utf-8"),
    ]
    assert p.records == []


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "big5", ""])
def test_other_encodings_are_refused(encoding: str) -> None:
    e = _refused("BZ-WMS-FILE-FORMAT", _csv(RECORDS).encode(), "a.csv", encoding=encoding)
    assert "gb18030" in e.message("en")


def test_parsed_records_are_valid_movements() -> None:
    for case in ("gbk csv", "xml", "json object"):
        build, name, _ = SAME[case]
        moves = [wms.movement(r.fields) for r in wms_files.read(build(), name).records]
        assert [m.units for m in moves] == [1_250_000, 400_000, -200_000]
        assert moves[0].gds_mtno == "螺丝-M8,不锈钢"


# ---- CSV ---------------------------------------------------------------------------------------------

CHINESE_HEADER = [
    "单号",
    "账册编号",
    "业务类型",
    "商品料号",
    "申报数量",
    "计量单位",
    "保税状态",
    "发生时间",
    "核注清单号",
    "清单序号",
]
CHINESE_HEADER += ["源库位", "目标库位"]


def test_chinese_headers_are_read_as_field_names() -> None:
    assert [wms_files.HEADER_ALIASES[c] for c in CHINESE_HEADER] == [c for c in COLUMNS if c != "fromStatus"]
    for enc in ("utf-8", "gbk", "gb18030"):
        p = wms_files.read(_csv(RECORDS, header=CHINESE_HEADER).encode(enc), "进出库.csv")
        assert _fields(p) == RECORDS


def test_short_chinese_headers_and_a_stocktake() -> None:
    text = "盘点单号,账册号,盘点时间,料号,状态,数量,单位,库位\nPD-1,T5301W000001,2026-05-31 18:00,螺丝,bonded,100,007,A-1\n"
    p = wms_files.read(text.encode("gbk"), "盘点.csv")
    assert p.kind == "stock"
    assert _fields(p) == [
        {
            "snapshotRef": "PD-1",
            "putrecNo": BOOK,
            "takenAt": "2026-05-31 18:00",
            "gdsMtno": "螺丝",
            "stockStatus": "bonded",
            "dclQty": "100",
            "dclUnitcd": "007",
            "location": "A-1",
        }
    ]
    assert wms.stock_line(p.records[0].fields).units == 10_000_000


def test_header_cells_are_trimmed_and_the_bom_and_blank_lines_ignored() -> None:
    header = " " + " , ".join(COLUMNS) + " "
    body = _csv(RECORDS).split("\r\n", 1)[1]
    data = b"\xef\xbb\xbf" + (header + "\r\n\r\n" + body + "\r\n,,,,,,,,,,,,\r\n").encode()
    p = wms_files.read(data, "a.csv")
    assert _fields(p) == RECORDS
    assert [r.line for r in p.records] == [3, 4, 5]


def test_empty_cells_are_absent_and_unknown_columns_kept_for_the_domain_to_name() -> None:
    text = "wmsRef,gdsMtno,putrecNo,kind,dclQty,dclUnitcd,stockStatus,occurredAt,colour,x-note\n"
    text += (
        "W1,A,T5301W000001,receipt,1,007,bonded,2026-01-01T08:00,,\nW2,B,T5301W000001,issue,1,007,bonded,2026-01-01T08:00,red, \n"
    )
    p = wms_files.read(text.encode(), "a.csv")
    assert "colour" not in p.records[0].fields and "x-note" not in p.records[0].fields
    assert p.records[1].fields["colour"] == "red"
    with pytest.raises(BzError) as exc:
        wms.movement(p.records[1].fields)
    assert exc.value.code == "BZ-WMS-FIELD-UNKNOWN" and exc.value.detail["field"] == "colour"


def test_a_quoted_value_may_span_lines() -> None:
    records = [RECORDS[0], {**RECORDS[1], "x-note": "第一行\n第二行"}, RECORDS[2]]
    p = wms_files.read(_csv(records, header=[*COLUMNS, "x-note"]).encode("gb18030"), "a.csv")
    assert _fields(p) == records
    assert [r.line for r in p.records] == [2, 3, 5]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_an_undecodable_line_is_one_record_error_and_the_others_are_read(encoding: str) -> None:
    lines = _csv(RECORDS).encode(encoding).split(b"\r\n")
    lines[2] = b"WMS-2," + b"\xff\xfe\x80broken" + lines[2][5:]
    p = wms_files.read(b"\r\n".join(lines), "a.csv")
    assert p.encoding == ("utf-8" if encoding == "utf-8" else "gb18030")
    assert _fields(p) == [RECORDS[0], RECORDS[2]]
    assert [(r.record, r.line) for r in p.records] == [(1, 2), (3, 4)]
    (e,) = p.errors
    assert (e.code, e.detail) == ("BZ-WMS-FILE-ENCODING", {"line": 3, "encoding": p.encoding, "record": 2})
    assert e.message("zh") == f"第 3 行无法按 {p.encoding} 解码"


def test_an_undecodable_header_refuses_the_file() -> None:
    e = _refused("BZ-WMS-FILE-ENCODING", b"wmsRef\xff,kind\r\n" + _csv(RECORDS).encode().split(b"\r\n", 1)[1], "a.csv")
    assert e.detail["line"] == 1


def test_missing_columns_are_listed() -> None:
    cols = [c for c in COLUMNS if c not in ("gdsMtno", "dclQty")]
    e = _refused("BZ-WMS-FILE-COLUMNS", _csv(RECORDS, header=cols).encode(), "a.csv")
    assert e.detail["columns"] == "gdsMtno, dclQty"
    assert e.message("zh") == "文件缺少必需的列：gdsMtno, dclQty"
    stock = "snapshotRef,putrecNo,gdsMtno,stockStatus,dclQty,dclUnitcd\nP,T5301W000001,A,bonded,1,007\n"
    assert _refused("BZ-WMS-FILE-COLUMNS", stock.encode(), "a.csv").detail["columns"] == "takenAt"


def test_a_column_given_twice_refuses_the_file() -> None:
    header = [*COLUMNS, "料号"]
    e = _refused("BZ-WMS-FILE-FORMAT", _csv(RECORDS, header=header).encode(), "a.csv")
    assert "gdsMtno" in e.message("en")


def test_rows_with_the_wrong_number_of_cells_are_record_errors() -> None:
    lines = _csv(RECORDS).split("\r\n")
    lines[1] += ",extra"
    lines[3] = lines[3].rsplit(",", 2)[0]
    p = wms_files.read("\r\n".join(lines).encode(), "a.csv")
    assert _fields(p) == [RECORDS[1]]
    assert [(e.code, e.detail["record"], e.detail["line"], e.detail["reason"]) for e in p.errors] == [
        ("BZ-WMS-FILE-FORMAT", 1, 2, "14 cells where the header has 13"),
        ("BZ-WMS-FILE-FORMAT", 3, 4, "11 cells where the header has 13"),
    ]


def test_bad_quoting_is_a_record_error() -> None:
    lines = _csv(RECORDS).split("\r\n")
    lines[2] = 'WMS-2,"bad"quote' + lines[2][5:]
    p = wms_files.read("\r\n".join(lines).encode(), "a.csv")
    assert _fields(p) == [RECORDS[0], RECORDS[2]]
    (e,) = p.errors
    assert (e.code, e.detail["record"], e.detail["line"]) == ("BZ-WMS-FILE-FORMAT", 2, 3)


def test_a_value_under_a_nameless_column_is_a_record_error() -> None:
    lines = _csv(RECORDS, header=[*COLUMNS, ""]).split("\r\n")
    assert lines[3].endswith(",")  # the nameless 14th column, empty
    lines[3] += "lost"
    p = wms_files.read("\r\n".join(lines).encode(), "a.csv")
    assert _fields(p) == RECORDS[:2]
    assert [(e.detail["record"], e.detail["reason"]) for e in p.errors] == [(3, "a value under a column without a name")]


# ---- JSON and XML ---------------------------------------------------------------------------------------


def test_json_batch_ref_and_record_errors() -> None:
    doc = '{"batchRef": "B-2026-1", "x-sender": "WMS", "records": '
    doc += '[1, {"wmsRef": "a", "wmsRef": "b"}, {"wmsRef": 7, "dclQty": 1.5}]}'
    p = wms_files.read(doc.encode(), "a.json")
    assert p.batch_ref == "B-2026-1"
    assert [(r.record, r.fields) for r in p.records] == [(3, {"wmsRef": 7, "dclQty": 1.5})]
    assert [(e.code, e.detail["record"], e.detail["reason"]) for e in p.errors] == [
        ("BZ-WMS-FILE-FORMAT", 1, "a record must be an object"),
        ("BZ-WMS-FILE-FORMAT", 2, "field wmsRef appears twice"),
    ]


def test_a_stocktake_in_json_is_recognised_by_its_snapshot_ref() -> None:
    p = wms_files.read(json.dumps([{"snapshotRef": "P1", "dclQty": "1"}]).encode(), "a.json")
    assert (p.kind, p.batch_ref) == ("stock", None)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ('[{"wmsRef": "a"}', "not JSON"),
        ('{"records": [{"dclQty": NaN}]}', "not JSON"),
        ('"records"', "expected a list"),
        ('{"records": {"wmsRef": "a"}}', "records must be a list"),
        ('{"batchRef": 5, "records": [{}]}', "batchRef must be a string"),
        ('{"batch": "B", "records": [{}]}', "unknown key 'batch'"),
        ('{"records": [{}], "records": [{}]}', "appears twice"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        ('[{"dclQty": ' + "9" * 5000 + "}]", "not JSON"),
    ],
)
def test_malformed_json_is_refused(doc: str, reason: str) -> None:
    e = _refused("BZ-WMS-FILE-FORMAT", doc.encode(), "a.json")
    assert reason in str(e.detail["reason"])


def test_xml_batch_ref_namespaces_and_record_errors() -> None:
    doc = """<?xml version="1.0"?>
<!-- exported by WMS -->
<w:batch xmlns:w="urn:wms" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" batchRef="B-7">
  <w:movement w:id="ignored"><w:wmsRef>W1</w:wmsRef><w:gdsMtno>料号</w:gdsMtno><w:rltNo>  </w:rltNo></w:movement>
  <movement><wmsRef><b>W2</b></wmsRef></movement>
  <movement wmsRef="W3"><wmsRef>W3</wmsRef></movement>
  <movement/>
  <movement>stray<wmsRef>W5</wmsRef></movement>
  <movement><wmsRef unit="x">W6</wmsRef></movement>
</w:batch>"""
    p = wms_files.read(doc.encode(), "a.xml")
    assert p.batch_ref == "B-7"
    assert [(r.record, r.fields) for r in p.records] == [(1, {"wmsRef": "W1", "gdsMtno": "料号"})]
    assert [(e.detail["record"], e.detail["reason"]) for e in p.errors] == [
        (2, "field <wmsRef> contains elements"),
        (3, "field wmsRef appears twice"),
        (4, "<movement> has no fields"),
        (5, "<movement> has text outside its field elements"),
        (6, "field <wmsRef> has attributes"),
    ]


def test_xml_batch_ref_as_an_element() -> None:
    doc = "<batch><batchRef>B-9</batchRef><m><wmsRef>W1</wmsRef><snapshotRef>S</snapshotRef></m></batch>"
    p = wms_files.read(doc.encode(), "a.xml")
    assert (p.batch_ref, p.kind, _fields(p)) == ("B-9", "stock", [{"wmsRef": "W1", "snapshotRef": "S"}])


@pytest.mark.parametrize(
    "doc",
    [
        "<records><m><wmsRef>W1</wmsRef></m>",
        "<records><m><wmsRef>W1</wmsRef></m></records><more/>",
        "<records><m><wmsRef>&nbsp;</wmsRef></m></records>",
        '<records bogus="1"><m><a>1</a></m></records>',
        "<records><batchRef>a</batchRef><batchRef>b</batchRef><m><a>1</a></m></records>",
        "<records>\x00</records>",
    ],
)
def test_malformed_xml_is_refused(doc: str) -> None:
    _refused("BZ-WMS-FILE-FORMAT", doc.encode(), "a.xml")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<records><m><gdsMtno>&lol9;</gdsMtno></m></records>"""

HOSTILE_XML = {
    "billion laughs": BILLION_LAUGHS,
    "xxe file": '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><records><m><gdsMtno>&x;</gdsMtno></m></records>',
    "xxe parameter": '<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><records><m><a>1</a></m></records>',
    "external dtd": '<!DOCTYPE records SYSTEM "http://127.0.0.1:9/x.dtd"><records><m><a>1</a></m></records>',
    "internal entity": '<!DOCTYPE r [<!ENTITY e "W1">]><records><m><wmsRef>&e;</wmsRef></m></records>',
}


@pytest.mark.parametrize("case", sorted(HOSTILE_XML))
def test_entities_and_dtds_are_refused_not_expanded(case: str) -> None:
    started = time.perf_counter()
    e = _refused("BZ-WMS-FILE-FORMAT", HOSTILE_XML[case].encode(), "a.xml")
    assert time.perf_counter() - started < 1.0
    assert "DTDs and entities are not accepted" in e.message("en")
    assert "root:" not in repr(e.detail) and "lol" not in repr(e.detail)


# ---- the file as a whole --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "a.csv"),
        (b"\xef\xbb\xbf", "a.csv"),
        (b" \r\n\t\n", "a.json"),
        (b"", "a.bin"),
        (",".join(COLUMNS).encode() + b"\r\n", "a.csv"),
        (",".join(COLUMNS).encode() + b"\r\n\r\n,,,,,,,,,,,,\r\n", "a.csv"),
        (b"[]", "a.json"),
        (b'{"records": [], "batchRef": "B"}', "a.json"),
        (b"<records/>", "a.xml"),
        (b"<records><batchRef>B</batchRef></records>", "a.xml"),
    ],
)
def test_a_file_without_records_is_refused(data: bytes, name: str) -> None:
    e = _refused("BZ-WMS-BATCH-EMPTY", data, name)
    assert e.message("zh") == "本批没有记录"


def test_an_oversized_file_is_refused_before_it_is_read() -> None:
    e = _refused("BZ-PAYLOAD-TOO-LARGE", b"," * (64 * 2**20 + 1), "a.csv")
    assert e.detail["limit"] == 64 * 2**20
    data = _csv(RECORDS).encode()
    assert len(wms_files.read(data, "a.csv", max_bytes=len(data)).records) == 3
    assert _refused("BZ-PAYLOAD-TOO-LARGE", data, "a.csv", max_bytes=len(data) - 1).detail["limit"] == len(data) - 1


def _many(n: int) -> bytes:
    rows = "".join(f"W{i},{BOOK},receipt,A{i % 97},1,007,bonded,2026-01-01T08:00:00\n" for i in range(n))
    return ("wmsRef,putrecNo,kind,gdsMtno,dclQty,dclUnitcd,stockStatus,occurredAt\n" + rows).encode()


def test_a_file_at_the_record_limit_is_read_and_one_more_is_refused() -> None:
    assert wms.MAX_BATCH == 50_000
    p = wms_files.read(_many(wms.MAX_BATCH), "a.csv")
    assert (len(p.records), p.records[-1].record, p.records[-1].line) == (50_000, 50_000, 50_001)
    e = _refused("BZ-WMS-BATCH-TOO-LARGE", _many(wms.MAX_BATCH + 1), "a.csv")
    assert (e.detail["records"], e.detail["limit"]) == (50_001, 50_000)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_too_many_records_in_json_or_xml(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wms, "MAX_BATCH", 2)
    body = _json(RECORDS) if fmt == "json" else _xml(RECORDS)
    e = _refused("BZ-WMS-BATCH-TOO-LARGE", body.encode(), f"a.{fmt}")
    assert (e.detail["records"], e.detail["limit"]) == (3, 2)
    assert len(wms_files.read((_json if fmt == "json" else _xml)(RECORDS[:2]).encode(), f"a.{fmt}").records) == 2


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (_json(RECORDS).encode(), "export.dat", "json"),
        (b"\xef\xbb\xbf  " + _json(RECORDS, batchRef="B").encode(), "export", "json"),
        (_xml(RECORDS).encode(), "wms.txt", "xml"),
        (_csv(RECORDS, delimiter=";").encode("gbk"), "wms.txt", "csv"),
        (_csv(RECORDS, header=CHINESE_HEADER).encode("gbk"), "导出", "csv"),
    ],
)
def test_the_format_is_sniffed_when_the_extension_does_not_say(data: bytes, name: str, kind: str) -> None:
    p = wms_files.read(data, name)
    assert _fields(p) == RECORDS
    assert [r.line for r in p.records] == (CSV_LINES if kind == "csv" else [None] * 3)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "wms.xlsx"),
        (b"%PDF-1.7\n", "report.pdf"),
        (b"hello, world\nfoo, bar\n", "notes.txt"),
        (b"\xff\xfe\x00\x01", "C:\\exports\\wms"),
    ],
)
def test_an_unknown_file_type_is_refused_by_name(data: bytes, name: str) -> None:
    e = _refused("BZ-WMS-FILE-TYPE", data, name)
    assert e.detail["name"] == name.replace("\\", "/").rsplit("/", 1)[-1]


# ---- fuzzing: only a BzError may escape, and nothing hangs ------------------------------------------------


def _read_bounded(data: bytes, name: str, encoding: str | None = None) -> ParsedFile | BzError:
    outcome: list[ParsedFile | BaseException] = []

    def run() -> None:
        try:
            outcome.append(wms_files.read(data, name, encoding=encoding))
        except BaseException as e:  # reported below, on the test's thread
            outcome.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=10)
    assert outcome, f"read() did not finish within 10 s on {data[:80]!r}"
    (result,) = outcome
    if isinstance(result, BzError):
        assert result.message("zh") and result.message("en")
        return result
    assert isinstance(result, ParsedFile), f"{type(result).__name__}: {result}"
    _check_invariants(result)
    return result


def _check_invariants(p: ParsedFile) -> None:
    numbers = [r.record for r in p.records] + [int(e.detail["record"]) for e in p.errors]
    assert len(numbers) == len(set(numbers)) and numbers and min(numbers) >= 1
    assert [r.record for r in p.records] == sorted(r.record for r in p.records)
    assert p.kind in ("movements", "stock") and p.encoding in wms_files.ENCODINGS
    for r in p.records:
        assert all(isinstance(k, str) for k in r.fields)


_NAMES = st.one_of(
    st.sampled_from(["a.csv", "a.json", "a.xml", "A.CSV", "a.txt", "a", "", ".csv", "x.tar.gz"]), st.text(max_size=12)
)
_ENCODINGS = st.one_of(st.none(), st.sampled_from([*wms_files.ENCODINGS, "latin-1"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000), name=_NAMES, encoding=_ENCODINGS)
def test_arbitrary_bytes_raise_nothing_but_bz_errors(data: bytes, name: str, encoding: str | None) -> None:
    _read_bounded(data, name, encoding)


_CSV_ALPHABET = st.sampled_from(
    [",", ";", "\t", '"', "\r", "\n", "\r\n", "\x00", "a", "1", "中", "𠀀", "\ufeff", " ", "-", "\u2028"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(st.sampled_from([*COLUMNS, "snapshotRef", "takenAt", "location", "料号", "", "x-a"]), max_size=16),
    body=st.lists(_CSV_ALPHABET, max_size=300).map("".join),
    encoding=st.sampled_from(["utf-8", "gb18030", "gbk"]),
    noise=st.binary(max_size=4),
    at=st.integers(min_value=0, max_value=400),
)
def test_csv_like_input_raises_nothing_but_bz_errors(header: list[str], body: str, encoding: str, noise: bytes, at: int) -> None:
    text = ",".join(header) + "\r\n" + body
    data = text.encode(encoding, errors="replace")
    data = data[:at] + noise + data[at:]
    _read_bounded(data, "f.csv")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from([*COLUMNS, "records", "batchRef", "x-a", "z"]), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(doc=_JSON, encoding=st.sampled_from(["utf-8", "gb18030"]))
def test_arbitrary_json_raises_nothing_but_bz_errors(doc: object, encoding: str) -> None:
    result = _read_bounded(json.dumps(doc, ensure_ascii=False).encode(encoding, errors="replace"), "f.json")
    if isinstance(result, ParsedFile):
        assert isinstance(doc, (list, dict))


_XML_ALPHABET = st.sampled_from(
    ["<", ">", "/", "a", "b", "r", " ", "=", '"', "&", ";", "!", "[", "]", "?", "中", "x-", ":", "\n"]
)
_XML_PARTS = st.sampled_from(
    ["<r>", "</r>", "<m>", "</m>", "<a>", "</a>", '<m a="1">', "<!DOCTYPE r>", "&amp;", "<![CDATA[x]]>", "<!-- c -->"]
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(_XML_PARTS, _XML_ALPHABET), max_size=60))
def test_xml_like_input_raises_nothing_but_bz_errors(parts: list[str]) -> None:
    _read_bounded("".join(parts).encode(), "f.xml")
