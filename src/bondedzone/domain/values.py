"""Values of the customs model: quantities, identifiers and the enumerations of the glossary.

Every constructor either returns a valid value or raises :class:`BzError` with the code that
names what is wrong; no other module re-checks these formats.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from stdnum.cn import uscc as _uscc
from stdnum.exceptions import ValidationError as _StdnumError

from bondedzone.domain.codes import HS_CHAPTERS, SUPERVISION_MODES, UNITS
from bondedzone.domain.errors import BzError

# dec(19,5) in the 金二 messages: five decimals, and we keep balances in a signed 64-bit
# integer of 10⁻⁵ units, so one line is capped at 10¹² and a balance at 10¹³.
QTY_DECIMALS = 5
QTY_QUANTUM = Decimal(1).scaleb(-QTY_DECIMALS)
MAX_LINE_QTY = Decimal(10) ** 12
MAX_BALANCE = Decimal(10) ** 13
MAX_BALANCE_UNITS = 10**13 * 10**QTY_DECIMALS


class Credit(StrEnum):
    """Customs credit rating of an enterprise (高级认证 / 一般信用 / 失信)."""

    AEO_ADVANCED = "aeo_advanced"
    ORDINARY = "ordinary"
    DISHONEST = "dishonest"


class BookType(StrEnum):
    """Kind of e-account book: 物流账册, 加工账册, 设备账册."""

    LOGISTICS = "logistics"
    PROCESSING = "processing"
    EQUIPMENT = "equipment"


class StockStatus(StrEnum):
    """保税 / 非保税: both may be stored together under classified supervision (M9)."""

    BONDED = "bonded"
    NON_BONDED = "non_bonded"


class Flow(StrEnum):
    """Which boundary a movement crosses: 一线 (zone↔abroad), 二线 (zone↔domestic), 区内."""

    FIRST_LINE = "first_line"
    SECOND_LINE = "second_line"
    INTRA_ZONE = "intra_zone"


class ImpexpMark(StrEnum):
    """impexpMarkcd: ``I`` 进区 (核增), ``E`` 出区 (核减)."""

    IMPORT = "I"
    EXPORT = "E"


def qty(value: object, *, field: str = "dclQty", allow_zero: bool = False, allow_negative: bool = False) -> Decimal:
    """The one way to make a quantity: exact decimal, at most five places, within the caps.

    Floats are refused outright: a ledger that accepted 0.1 + 0.2 would not balance.
    """
    if isinstance(value, (bool, float)):
        raise BzError("BZ-QTY-INVALID", value=str(value), field=field, reason="use a decimal string, not a float")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BzError("BZ-QTY-INVALID", value=str(value), field=field, reason="not a number") from None
    if not d.is_finite():
        raise BzError("BZ-QTY-INVALID", value=str(value), field=field, reason="not a finite number")
    if abs(d) > MAX_LINE_QTY:
        raise BzError("BZ-QTY-INVALID", value=str(value), field=field, reason=f"exceeds {MAX_LINE_QTY}")
    # Compare with the quantized value rather than normalize(): normalize() rounds to the context
    # precision (28 digits), which would let 1.0000000000000000000000000001 through as 1.
    if d.quantize(QTY_QUANTUM) != d:
        raise BzError("BZ-QTY-INVALID", value=str(value), field=field, reason="more than 5 decimal places")
    if d < 0 and not allow_negative:
        raise BzError("BZ-QTY-INVALID", value=str(value), field=field, reason="must not be negative")
    if d == 0 and not allow_zero:
        raise BzError("BZ-QTY-INVALID", value=str(value), field=field, reason="must be greater than zero")
    return d.quantize(QTY_QUANTUM)


def to_units(q: Decimal) -> int:
    """Exact integer count of 10⁻⁵ units, the form the storage keeps."""
    return int(q.scaleb(QTY_DECIMALS))


def from_units(n: int) -> Decimal:
    """Inverse of :func:`to_units`."""
    return Decimal(n).scaleb(-QTY_DECIMALS)  # an integer's exponent 0 becomes exactly -5


def fmt_units(n: int) -> str:
    """:func:`fmt_qty` of a count of 10⁻⁵ units."""
    return fmt_qty(from_units(n))


def fmt_qty(q: Decimal) -> str:
    """Display form without a trailing cloud of zeros: ``12.5`` rather than ``12.50000``."""
    s = format(q.quantize(QTY_QUANTUM), "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def uscc(value: str) -> str:
    """统一社会信用代码, checked with its GB 32100 check character (python-stdnum)."""
    try:
        return str(_uscc.validate(value))
    except _StdnumError as exc:
        raise BzError("BZ-USCC-INVALID", value=value, reason=str(exc) or type(exc).__name__) from None


_CUSTOMS_CODE = re.compile(r"[0-9A-Z]{10}")
_PUTREC_NO = re.compile(r"[A-Z][0-9A-Z]{11}")
_CUSCD = re.compile(r"[0-9]{4}")
_ENTRY_NO = re.compile(r"[0-9]{18}")
_SUPV = re.compile(r"[0-9]{4}")


def customs_code(value: str) -> str:
    """海关编码: 10 digits or capital letters (real codes carry letters in positions 7–10)."""
    if not _CUSTOMS_CODE.fullmatch(value):
        raise BzError("BZ-CUSTOMS-CODE-INVALID", value=value)
    return value


def hs_code(value: str) -> str:
    """商品编码 gdecd: exactly 10 digits within an existing HS chapter."""
    if not (len(value) == 10 and value.isascii() and value.isdigit()):
        raise BzError("BZ-HS-INVALID", value=value, reason="must be exactly 10 digits")
    if value[:2] not in HS_CHAPTERS:
        raise BzError("BZ-HS-INVALID", value=value, reason=f"chapter {value[:2]} does not exist")
    return value


def unit_code(value: str) -> str:
    """计量单位 dclUnitcd: a row of the unit code table."""
    if value not in UNITS:
        raise BzError("BZ-UNIT-INVALID", value=value)
    return value


def putrec_no(value: str) -> str:
    """备案编号 of a book: 12 characters as in T3111W000076 (logistics) or E5214B0A0027."""
    if not _PUTREC_NO.fullmatch(value):
        raise BzError("BZ-PUTRECNO-INVALID", value=value)
    return value


def cuscd(value: str) -> str:
    """关区代码: 4 digits."""
    if not _CUSCD.fullmatch(value):
        raise BzError("BZ-CUSCD-INVALID", value=value)
    return value


def supv_mode(value: str) -> str:
    """监管方式 supvModecd: a row of the supervision-mode table."""
    if not (_SUPV.fullmatch(value) and value in SUPERVISION_MODES):
        raise BzError("BZ-SUPV-MODE-INVALID", value=value)
    return value


def entry_no(value: str) -> str:
    """报关单号: 18 digits (关区 4 + year 4 + I/E flag 1 + serial 9)."""
    if not _ENTRY_NO.fullmatch(value):
        raise BzError("BZ-ENTRY-NO-INVALID", value=value)
    return value


def text(value: str, *, field: str, max_len: int, min_len: int = 1) -> str:
    """Free text of a message field: trimmed, bounded, no control characters."""
    v = value.strip()
    if not (min_len <= len(v) <= max_len):
        raise BzError("BZ-TEXT-INVALID", field=field, reason=f"length must be {min_len}..{max_len}")
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise BzError("BZ-TEXT-INVALID", field=field, reason="contains control characters")
    return v
