"""WMS records (M22/W1): stock movements and stocktake lines as a networked warehouse sends them.

Measure (三) has customs collect the warehouse's own operating data from its WMS and compare it
automatically with the declarations (自动比对印证); measure (二十二) networks the enterprises'
warehouse systems with customs. This module is what one record must be to be accepted: every
field checked, every problem named by field, in Chinese and English, so the sender can fix its
export. Field names follow 金关二期 where a field exists there (``putrecNo``, ``gdsMtno``,
``dclQty``, ``dclUnitcd``, ``rltNo``/``rltGdsSeqno`` as on gate passes); the rest are the WMS's.

A movement (``kind``):

* ``receipt`` 入库 and ``issue`` 出库 — goods into or out of the warehouse; normally each belongs
  to a declaration line (``rltNo`` = the inventory list's ``bondInvtNo``, ``rltGdsSeqno`` its line);
* ``transfer`` 移库 — between two locations (``fromLocation`` → ``toLocation``), no customs effect;
* ``status_change`` 状态转换 — ``fromStatus`` → ``stockStatus`` (M9: normally the conversion's
  declaration number in ``rltNo``; one without is kept, and the comparison reports it);
* ``adjustment`` 盘盈/盘亏 — the WMS corrects its own stock after a count; ``dclQty`` is signed.

A stocktake line (``snapshotRef``): what the WMS counted of an item in a status (and location)
at ``takenAt``. Times without a zone are China Standard Time (UTC+8), as Chinese WMS exports are.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

from bondedzone.domain import values as v
from bondedzone.domain.errors import BzError, Collector

CST = timezone(timedelta(hours=8), "CST")
MAX_BATCH = 50_000  # records per request or file
_REF = re.compile(r"[\x21-\x7e]{1,64}")
_DECIMAL = re.compile(r"\s*[-+]?[0-9]{1,20}(\.[0-9]{1,20})?\s*")
_SEQNO = re.compile(r"\s*[0-9]{1,8}\s*")
_DATE_TIME_SEPARATORS = ("T", "t", " ")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # control, format, unassigned, line breaks
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class MovementKind(StrEnum):
    """What a movement does to the warehouse's stock."""

    RECEIPT = "receipt"
    ISSUE = "issue"
    TRANSFER = "transfer"
    STATUS_CHANGE = "status_change"
    ADJUSTMENT = "adjustment"


MOVEMENT_FIELDS = (
    "wmsRef",
    "putrecNo",
    "kind",
    "gdsMtno",
    "dclQty",
    "dclUnitcd",
    "stockStatus",
    "fromStatus",
    "occurredAt",
    "rltNo",
    "rltGdsSeqno",
    "fromLocation",
    "toLocation",
)
MOVEMENT_REQUIRED = ("wmsRef", "putrecNo", "kind", "gdsMtno", "dclQty", "dclUnitcd", "stockStatus", "occurredAt")
STOCK_FIELDS = ("snapshotRef", "putrecNo", "takenAt", "gdsMtno", "stockStatus", "dclQty", "dclUnitcd", "location")
STOCK_REQUIRED = ("snapshotRef", "putrecNo", "takenAt", "gdsMtno", "stockStatus", "dclQty", "dclUnitcd")


@dataclass(frozen=True)
class Movement:
    """A WMS stock movement, validated. ``units`` is signed only for an adjustment."""

    wms_ref: str
    putrec_no: str
    kind: MovementKind
    gds_mtno: str
    units: int
    dcl_unitcd: str
    stock_status: v.StockStatus
    from_status: v.StockStatus | None
    occurred_at: datetime
    rlt_no: str | None
    rlt_gds_seqno: int | None
    from_location: str | None
    to_location: str | None

    @property
    def fingerprint(self) -> str:
        """What "the same record" means when a batch is sent again: every validated field (not ``x-`` ones)."""
        return _fingerprint(asdict(self))


@dataclass(frozen=True)
class StockLine:
    """A line of a WMS stocktake (盘点), validated."""

    snapshot_ref: str
    putrec_no: str
    taken_at: datetime
    gds_mtno: str
    stock_status: v.StockStatus
    units: int
    dcl_unitcd: str
    location: str  # "" when the WMS counts per item only

    @property
    def fingerprint(self) -> str:
        """Every field, as for a movement."""
        return _fingerprint(asdict(self))


def _fingerprint(d: Mapping[str, object]) -> str:
    canon = json.dumps({k: (x.isoformat() if isinstance(x, datetime) else x) for k, x in d.items()}, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest()


def _missing(field: str) -> BzError:
    return BzError("BZ-WMS-FIELD-MISSING", field=field)


def _invalid(field: str, reason_zh: str, reason_en: str) -> BzError:
    return BzError("BZ-WMS-FIELD-INVALID", field=field, reason_zh=reason_zh, reason_en=reason_en)


def _str(raw: Mapping[str, object], field: str, *, required: bool) -> str | None:
    x = raw.get(field)
    if x is None or (isinstance(x, str) and x.strip() == ""):
        if required:
            raise _missing(field)
        return None
    if isinstance(x, bool) or not isinstance(x, (str, int)) or (isinstance(x, int) and abs(x) >= 10**64):
        raise _invalid(field, "应为文本", "must be text")
    s = str(x).strip()
    if any("\ud800" <= ch <= "\udfff" for ch in s):
        raise _invalid(field, "含有无效的 Unicode 字符（代理项）", "contains invalid Unicode (a lone surrogate)")
    return s


def _visible(value: str, field: str, max_len: int) -> str:
    """1–``max_len`` characters, none of them control, format or line-break characters."""
    if not (1 <= len(value) <= max_len) or any(unicodedata.category(ch) in _INVISIBLE for ch in value):
        raise _invalid(
            field, f"应为 1–{max_len} 个字符，不含控制字符", f"must be 1–{max_len} characters without control characters"
        )
    return value


def ref(value: str, field: str) -> str:
    """A WMS reference: 1–64 printable ASCII characters, no spaces."""
    if not _REF.fullmatch(value):
        raise _invalid(field, "应为 1–64 个可打印 ASCII 字符，不含空格", "must be 1–64 printable ASCII characters without spaces")
    return value


def mtno(value: str, field: str = "gdsMtno") -> str:
    """商品料号 gdsMtno: 1–32 characters, no control characters."""
    return _visible(value, field, 32)


def location(value: str, field: str) -> str:
    """A storage location (库位): 1–32 characters, no control characters."""
    return _visible(value, field, 32)


def status(value: str, field: str) -> v.StockStatus:
    """``bonded`` 保税 or ``non_bonded`` 非保税."""
    try:
        return v.StockStatus(value)
    except ValueError:
        raise _invalid(field, "应为 bonded 或 non_bonded", "must be bonded or non_bonded") from None


def kind(value: str) -> MovementKind:
    """One of the movement kinds."""
    try:
        return MovementKind(value)
    except ValueError:
        names = ", ".join(k.value for k in MovementKind)
        raise _invalid("kind", f"应为 {names} 之一", f"must be one of {names}") from None


def timestamp(value: object, field: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 date and time; without an offset it is China Standard Time. Not before 2000, not in the future."""
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, str):
        s = value.strip().replace("/", "-")
        if len(s) <= 10 or s[10] not in _DATE_TIME_SEPARATORS:  # a date alone is not a moment
            raise _invalid(
                field,
                "应为日期和时间，如 2026-11-20T08:30:00+08:00",
                "must be a date and a time such as 2026-11-20T08:30:00+08:00",
            )
        try:
            t = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
        except ValueError:
            raise _invalid(
                field,
                "应为 ISO 8601 日期时间，如 2026-11-20T08:30:00+08:00",
                "must be an ISO 8601 date-time such as 2026-11-20T08:30:00+08:00",
            ) from None
    else:
        raise _invalid(field, "应为日期时间文本", "must be a date-time string")
    if not (2000 <= t.year <= 2200):
        raise _invalid(field, "年份应在 2000–2200 之间", "must be a year from 2000 to 2200")
    if t.tzinfo is None:
        t = t.replace(tzinfo=CST)
    t = t.astimezone(UTC)
    if t < _EARLIEST:
        raise _invalid(field, "早于 2000 年", "is before 2000")
    if now is not None and t > now + timedelta(minutes=5):
        raise _invalid(field, "晚于当前时间", "is in the future")
    return t


def _qty(raw: object, field: str, *, signed: bool, allow_zero: bool) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if abs(raw) >= 10**20:
            raise BzError("BZ-QTY-INVALID", value="(a huge integer)", field=field, reason="too large")
        raw = str(raw)
    if not isinstance(raw, (str, Decimal)):
        raise BzError("BZ-QTY-INVALID", value=str(raw)[:40], field=field, reason="use a decimal string or an integer")
    if isinstance(raw, str) and not _DECIMAL.fullmatch(raw):  # plain ASCII digits: no "1_000", no "１０"
        raise BzError("BZ-QTY-INVALID", value=raw[:40], field=field, reason="not a plain decimal number")
    return v.to_units(v.qty(raw, field=field, allow_negative=signed, allow_zero=allow_zero))


def _seqno(raw: object, field: str) -> int:
    if isinstance(raw, str) and _SEQNO.fullmatch(raw):
        raw = int(raw.strip())
    if not isinstance(raw, int) or isinstance(raw, bool) or not (1 <= raw <= 99_999_999):
        raise _invalid(field, "应为 1–99999999 的整数", "must be an integer from 1 to 99999999")
    return raw


def _unknown_fields(raw: Mapping[str, object], allowed: tuple[str, ...]) -> list[BzError]:
    return [
        BzError("BZ-WMS-FIELD-UNKNOWN", field=str(k)[:64].encode("utf-8", "replace").decode("utf-8"))
        for k in raw
        if k not in allowed and not str(k).startswith("x-")
    ]


def movement(raw: Mapping[str, object], *, now: datetime | None = None) -> Movement:
    """Validate one movement record; every problem is raised together (an ErrorGroup)."""
    c = Collector()
    for e in _unknown_fields(raw, MOVEMENT_FIELDS):
        c.add(e)
    wref = c.check(lambda: ref(_need(raw, "wmsRef"), "wmsRef"))
    book = c.check(lambda: _putrec(_need(raw, "putrecNo")))
    k = c.check(lambda: kind(_need(raw, "kind")))
    mt = c.check(lambda: mtno(_need(raw, "gdsMtno")))
    unit = c.check(lambda: _unit(_need(raw, "dclUnitcd")))
    st = c.check(lambda: status(_need(raw, "stockStatus"), "stockStatus"))
    at = c.check(lambda: timestamp(_need_raw(raw, "occurredAt"), "occurredAt", now=now))
    adjustment = k is MovementKind.ADJUSTMENT
    units = c.check(lambda: _qty(_need_raw(raw, "dclQty"), "dclQty", signed=adjustment, allow_zero=False))
    from_raw = c.check(lambda: _str(raw, "fromStatus", required=k is MovementKind.STATUS_CHANGE))
    frm = c.check(lambda: status(from_raw, "fromStatus")) if from_raw is not None else None
    rlt = c.check(lambda: _opt(raw, "rltNo", lambda s: ref(s, "rltNo")))
    seq_raw = raw.get("rltGdsSeqno")
    blank = seq_raw is None or (isinstance(seq_raw, str) and seq_raw.strip() == "")
    seq = c.check(lambda: _seqno(seq_raw, "rltGdsSeqno")) if not blank else None
    src = c.check(lambda: _opt(raw, "fromLocation", lambda s: location(s, "fromLocation")))
    dst = c.check(lambda: _opt(raw, "toLocation", lambda s: location(s, "toLocation")))
    if (
        k is not MovementKind.TRANSFER
        and (rlt is None) != (seq is None)
        and "rltNo" not in _fields_in(c)
        and "rltGdsSeqno" not in _fields_in(c)
    ):
        c.add(
            _invalid(
                "rltGdsSeqno" if seq is None else "rltNo", "rltNo 与 rltGdsSeqno 须同时填写", "rltNo and rltGdsSeqno go together"
            )
        )
    if k is MovementKind.STATUS_CHANGE and frm is not None and st is not None and frm == st:
        c.add(_invalid("fromStatus", "状态转换前后相同", "is the same as stockStatus"))
    if k is not None and k is not MovementKind.STATUS_CHANGE and from_raw is not None:
        c.add(_invalid("fromStatus", "仅状态转换可填写", "is only for a status_change"))
    if k is MovementKind.TRANSFER:
        if src is None and "fromLocation" not in _fields_in(c):
            c.add(_missing("fromLocation"))
        if dst is None and "toLocation" not in _fields_in(c):
            c.add(_missing("toLocation"))
        if src is not None and src == dst:
            c.add(_invalid("toLocation", "移库前后库位相同", "is the same as fromLocation"))
        if rlt is not None or seq is not None:
            c.add(_invalid("rltNo" if rlt is not None else "rltGdsSeqno", "移库无关联单证", "a transfer has no declaration"))
    c.raise_if_any()
    assert wref and book and k and mt and unit and st and at and units is not None
    return Movement(wref, book, k, mt, units, unit, st, frm, at, rlt, seq, src, dst)


def stock_line(raw: Mapping[str, object], *, now: datetime | None = None) -> StockLine:
    """Validate one stocktake line; every problem is raised together."""
    c = Collector()
    for e in _unknown_fields(raw, STOCK_FIELDS):
        c.add(e)
    sref = c.check(lambda: ref(_need(raw, "snapshotRef"), "snapshotRef"))
    book = c.check(lambda: _putrec(_need(raw, "putrecNo")))
    at = c.check(lambda: timestamp(_need_raw(raw, "takenAt"), "takenAt", now=now))
    mt = c.check(lambda: mtno(_need(raw, "gdsMtno")))
    st = c.check(lambda: status(_need(raw, "stockStatus"), "stockStatus"))
    units = c.check(lambda: _qty(_need_raw(raw, "dclQty"), "dclQty", signed=False, allow_zero=True))
    unit = c.check(lambda: _unit(_need(raw, "dclUnitcd")))
    loc = c.check(lambda: _opt(raw, "location", lambda s: location(s, "location")))
    c.raise_if_any()
    assert sref and book and at and mt and st and units is not None and unit
    return StockLine(sref, book, at, mt, st, units, unit, loc or "")


def _fields_in(c: Collector) -> set[str]:
    return {str(e.detail.get("field")) for e in c.errors}


def _need(raw: Mapping[str, object], field: str) -> str:
    s = _str(raw, field, required=True)
    assert s is not None
    return s


def _need_raw(raw: Mapping[str, object], field: str) -> object:
    x = raw.get(field)
    if x is None or (isinstance(x, str) and x.strip() == ""):
        raise _missing(field)
    return x


def _opt(raw: Mapping[str, object], field: str, check: object) -> str | None:
    s = _str(raw, field, required=False)
    assert callable(check)
    return None if s is None else str(check(s))


def _putrec(value: str) -> str:
    try:
        return v.putrec_no(value)
    except BzError:
        raise _invalid(
            "putrecNo", "账册编号应为 12 位，如 T5301W000001", "must be a 12-character book number such as T5301W000001"
        ) from None


def _unit(value: str) -> str:
    try:
        return v.unit_code(value)
    except BzError:
        raise _invalid("dclUnitcd", f"{value!r} 不在计量单位代码表中", f"{value!r} is not in the unit code table") from None
