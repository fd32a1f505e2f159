"""Every error a user can see, each with a stable code and a message in Chinese and English.

A code never changes meaning once published: integrators match on it. ``kind`` says what sort
of refusal it is so that each entrypoint can map it (HTTP status, CLI exit code) without
knowing the individual codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Kind = Literal[
    "malformed", "invalid", "unauthenticated", "forbidden", "not_found", "conflict", "too_large", "internal", "unavailable"
]


@dataclass(frozen=True)
class ErrorSpec:
    """One entry of the catalogue: what kind of refusal and the two message templates."""

    kind: Kind
    zh: str
    en: str


CATALOGUE: dict[str, ErrorSpec] = {
    # request shape
    "BZ-VALIDATION": ErrorSpec("invalid", "请求内容不合法：{summary}", "The request is invalid: {summary}"),
    "BZ-JSON-MALFORMED": ErrorSpec(
        "malformed", "请求体不是合法的 JSON：{summary}", "The request body is not valid JSON: {summary}"
    ),
    "BZ-PAYLOAD-TOO-LARGE": ErrorSpec(
        "too_large", "请求体超过 {limit} 字节上限", "The request body exceeds the limit of {limit} bytes"
    ),
    "BZ-ROUTE-NOT-FOUND": ErrorSpec("not_found", "没有这个接口：{path}", "No such route: {path}"),
    "BZ-METHOD-NOT-ALLOWED": ErrorSpec("invalid", "该接口不支持 {method} 方法", "The route does not accept {method}"),
    # identifiers and codes (L1)
    "BZ-USCC-INVALID": ErrorSpec(
        "invalid",
        "统一社会信用代码 {value!r} 不合法：{reason}",
        "Unified social credit code {value!r} is invalid: {reason}",
    ),
    "BZ-CUSTOMS-CODE-INVALID": ErrorSpec(
        "invalid", "海关编码 {value!r} 应为 10 位数字或大写字母", "Customs code {value!r} must be 10 digits or capital letters"
    ),
    "BZ-HS-INVALID": ErrorSpec("invalid", "商品编码 {value!r} 不合法：{reason}", "HS code {value!r} is invalid: {reason}"),
    "BZ-UNIT-INVALID": ErrorSpec(
        "invalid", "计量单位代码 {value!r} 不在计量单位代码表中", "Unit code {value!r} is not in the unit code table"
    ),
    "BZ-QTY-INVALID": ErrorSpec("invalid", "数量 {value!r} 不合法：{reason}", "Quantity {value!r} is invalid: {reason}"),
    "BZ-PUTRECNO-INVALID": ErrorSpec(
        "invalid",
        "备案编号 {value!r} 应为 12 位，首位为字母，其余为数字或大写字母",
        "Book number {value!r} must be 12 characters: a letter, then digits or capital letters",
    ),
    "BZ-CUSCD-INVALID": ErrorSpec(
        "invalid", "关区代码 {value!r} 应为 4 位数字", "Customs district code {value!r} must be 4 digits"
    ),
    "BZ-SUPV-MODE-INVALID": ErrorSpec(
        "invalid", "监管方式 {value!r} 不在监管方式代码表中", "Supervision mode {value!r} is not in the supervision-mode table"
    ),
    "BZ-ENTRY-NO-INVALID": ErrorSpec(
        "invalid", "报关单号 {value!r} 应为 18 位数字", "Customs declaration number {value!r} must be 18 digits"
    ),
    "BZ-TEXT-INVALID": ErrorSpec("invalid", "字段 {field} 不合法：{reason}", "Field {field} is invalid: {reason}"),
    # registry (L1)
    "BZ-ENTERPRISE-DUPLICATE": ErrorSpec("conflict", "企业 {value} 已登记", "Enterprise {value} is already registered"),
    "BZ-ENTERPRISE-NOT-FOUND": ErrorSpec("not_found", "企业 {uscc} 未登记", "Enterprise {uscc} is not registered"),
    "BZ-BOOK-DUPLICATE": ErrorSpec("conflict", "账册 {putrecNo} 已存在", "Book {putrecNo} already exists"),
    "BZ-BOOK-NOT-FOUND": ErrorSpec("not_found", "账册 {putrecNo} 不存在", "Book {putrecNo} does not exist"),
    "BZ-BOOK-OWNER-OUTSIDE": ErrorSpec(
        "invalid",
        "企业 {uscc} 在围网外，不能设立区内账册",
        "Enterprise {uscc} is outside the fence and cannot hold a zone book",
    ),
    "BZ-ITEM-DUPLICATE": ErrorSpec(
        "conflict",
        "账册 {putrecNo} 已有备案序号 {putrecSeqno} 或料号 {gdsMtno}",
        "Book {putrecNo} already has item {putrecSeqno} or part number {gdsMtno}",
    ),
    # inventory lists (L4)
    "BZ-INVT-NOT-FOUND": ErrorSpec("not_found", "核注清单 {id} 不存在", "Inventory list {id} does not exist"),
    "BZ-INVT-DUPLICATE": ErrorSpec(
        "conflict",
        "企业内部清单编号 {etpsInnerInvtNo} 在账册 {putrecNo} 中已使用",
        "Internal list number {etpsInnerInvtNo} is already used in book {putrecNo}",
    ),
    "BZ-INVT-NO-LINES": ErrorSpec("invalid", "核注清单至少需要一行表体", "An inventory list needs at least one line"),
    "BZ-INVT-TOO-MANY-LINES": ErrorSpec(
        "invalid",
        "核注清单表体不能超过 {limit} 行（收到 {count} 行）",
        "An inventory list may have at most {limit} lines (got {count})",
    ),
    "BZ-INVT-LINE-SEQNO": ErrorSpec(
        "invalid",
        "商品序号应从 1 起连续编号，第 {position} 行为 {gdsSeqno}",
        "Line numbers (gdsSeqno) must run 1, 2, 3 …; line {position} has {gdsSeqno}",
    ),
    "BZ-INVT-UNKNOWN-ITEM": ErrorSpec(
        "invalid",
        "第 {gdsSeqno} 行引用的备案序号 {putrecSeqno} 不在账册 {putrecNo} 中",
        "Line {gdsSeqno} references item {putrecSeqno}, which is not in book {putrecNo}",
    ),
    "BZ-INVT-UNIT-MISMATCH": ErrorSpec(
        "invalid",
        "第 {gdsSeqno} 行申报单位 {dclUnitcd} 与账册备案单位 {expected} 不一致",
        "Line {gdsSeqno} declares unit {dclUnitcd}, but the book item is kept in {expected}",
    ),
    "BZ-INVT-ITEM-MISMATCH": ErrorSpec(
        "invalid",
        "第 {gdsSeqno} 行的 {field} {value!r} 与账册备案 {expected!r} 不一致",
        "Line {gdsSeqno} has {field} {value!r}, but the book item has {expected!r}",
    ),
    "BZ-INVT-STATE": ErrorSpec(
        "conflict",
        "核注清单 {id} 当前状态为 {status}，不能{action_zh}",
        "Inventory list {id} is {status} and cannot be {action_en}",
    ),
    "BZ-INVT-CONCURRENT": ErrorSpec(
        "conflict",
        "核注清单 {id} 已被同时修改，请刷新后重试",
        "Inventory list {id} was changed by someone else at the same time; reload and retry",
    ),
    "BZ-INVT-DCLCUS": ErrorSpec("invalid", "{reason_zh}", "{reason_en}"),
    # ledger (L2)
    "BZ-LEDGER-NEGATIVE": ErrorSpec(
        "conflict",
        "第 {gdsSeqno} 行（备案序号 {putrecSeqno}，{stockStatus}）将使底账为负："
        "余额 {balance}，需要 {required}，缺少 {shortfall}；整单未记账",
        "Line {gdsSeqno} (item {putrecSeqno}, {stockStatus}) would overdraw the ledger: balance {balance}, "
        "needs {required}, short by {shortfall}; nothing in the list was posted",
    ),
    "BZ-LEDGER-OVERFLOW": ErrorSpec(
        "invalid",
        "备案序号 {putrecSeqno} 的余额将超过上限 {limit}",
        "The balance of item {putrecSeqno} would exceed the limit of {limit}",
    ),
    "BZ-POSTING-NOT-FOUND": ErrorSpec("not_found", "记账记录 {id} 不存在", "Posting {id} does not exist"),
    "BZ-CORRECTION-INVALID": ErrorSpec("invalid", "{reason_zh}", "{reason_en}"),
    # status conversion (M9)
    "BZ-CONV-SAME-STATUS": ErrorSpec(
        "invalid", "状态转换的起止状态相同（{status}）", "A status conversion must change the status (both are {status})"
    ),
    "BZ-CONV-NOT-FOUND": ErrorSpec("not_found", "状态转换单 {id} 不存在", "Status conversion {id} does not exist"),
    "BZ-CONV-DUPLICATE": ErrorSpec(
        "conflict",
        "报关单 {entryNo} 已用于账册 {putrecNo} 的状态转换",
        "Declaration {entryNo} was already used for a conversion in book {putrecNo}",
    ),
    # security
    "BZ-AUTH-REQUIRED": ErrorSpec(
        "unauthenticated",
        "需要身份令牌：请在 Authorization 头中提供 Bearer 令牌",
        "A token is required: send 'Authorization: Bearer <token>'",
    ),
    "BZ-AUTH-INVALID": ErrorSpec("unauthenticated", "令牌无效或已吊销", "The token is invalid or revoked"),
    "BZ-FORBIDDEN": ErrorSpec("forbidden", "角色 {role} 无权{action_zh}", "Role {role} is not allowed to {action_en}"),
    "BZ-ROLE-INVALID": ErrorSpec("invalid", "{reason_zh}", "{reason_en}"),
    # idempotency
    "BZ-IDEMPOTENCY-KEY-INVALID": ErrorSpec(
        "invalid",
        "Idempotency-Key 应为 1–200 个可见 ASCII 字符",
        "Idempotency-Key must be 1-200 printable ASCII characters",
    ),
    "BZ-IDEMPOTENCY-MISMATCH": ErrorSpec(
        "conflict",
        "Idempotency-Key {key!r} 已用于另一个请求",
        "Idempotency-Key {key!r} was already used for a different request",
    ),
    # the gate (M4, M6, M7, G1)
    "BZ-PLATE-INVALID": ErrorSpec(
        "invalid",
        "车牌号 {value!r} 不合法：应为省份简称 + 发牌机关字母 + 5 位（新能源 6 位）",
        "Plate {value!r} is invalid: a province, a letter and 5 characters (6 for new energy)",
    ),
    "BZ-CONTAINER-INVALID": ErrorSpec(
        "invalid", "集装箱号 {value!r} 不合法：{reason}", "Container number {value!r} is invalid: {reason}"
    ),
    "BZ-WEIGHT-INVALID": ErrorSpec(
        "invalid", "重量 {field}={value!r} 不合法：{reason}", "Weight {field}={value!r} is invalid: {reason}"
    ),
    "BZ-HAZCHEM-INVALID": ErrorSpec(
        "invalid",
        "危险化学品信息 {field}={value!r} 不合法：{reason}",
        "Hazardous-chemical field {field}={value!r} is invalid: {reason}",
    ),
    "BZ-GOODS-CATEGORY-INVALID": ErrorSpec(
        "invalid",
        "第 {passportSeqno} 项的非报关货物类别 {value!r} 不存在（可选：{allowed}）",
        "Line {passportSeqno}: non-declared goods category {value!r} does not exist (one of {allowed})",
    ),
    "BZ-GOODS-FIELD-REQUIRED": ErrorSpec(
        "invalid",
        "第 {passportSeqno} 项（{category}）须填报 {field}",
        "Line {passportSeqno} ({category}) must declare {field}",
    ),
    "BZ-PASS-BIND": ErrorSpec("invalid", "{reason_zh}", "{reason_en}"),
    "BZ-PASS-NO-GOODS": ErrorSpec(
        "invalid", "非报关货物核放单至少需要一项货物", "A non-declared pass needs at least one goods line"
    ),
    "BZ-PASS-TOO-MANY-LINES": ErrorSpec("too_large", "核放单表体超过 {limit} 项", "A gate pass may have at most {limit} lines"),
    "BZ-PASS-DOC-NOT-FOUND": ErrorSpec(
        "not_found", "关联单证 {rltNo}（类型 {rltTbTypecd}）不存在", "Bound document {rltNo} (type {rltTbTypecd}) does not exist"
    ),
    "BZ-PASS-DOC-LINE": ErrorSpec(
        "invalid", "关联单证 {rltNo} 没有第 {rltGdsSeqno} 项", "Bound document {rltNo} has no line {rltGdsSeqno}"
    ),
    "BZ-PASS-QTY-EXCEEDS": ErrorSpec(
        "conflict",
        "{rltNo} 第 {rltGdsSeqno} 项本车 {dclQty} 超过剩余数量 {remaining}（申报 {declared}，已过卡 {delivered}）",
        "{rltNo} line {rltGdsSeqno}: {dclQty} exceeds the remaining {remaining} (declared {declared}, delivered {delivered})",
    ),
    "BZ-PASS-WEIGHT-MISMATCH": ErrorSpec(
        "invalid",
        "表体毛重合计 {lines} kg 与总毛重 {totalGrossWt} kg 不符",
        "The lines' gross weights add up to {lines} kg, not totalGrossWt {totalGrossWt} kg",
    ),
    "BZ-PASS-DUPLICATE": ErrorSpec(
        "conflict", "企业内部编号 {etpsPreentNo} 已有核放单", "A gate pass with etpsPreentNo {etpsPreentNo} already exists"
    ),
    "BZ-PASS-NOT-FOUND": ErrorSpec("not_found", "核放单 {passportNo} 不存在", "Gate pass {passportNo} does not exist"),
    "BZ-PASS-STATE": ErrorSpec(
        "conflict",
        "核放单 {passportNo} 状态为 {status}，不能{action_zh}",
        "Gate pass {passportNo} is {status} and cannot be {action_en}",
    ),
    "BZ-ENTRY-SUMMARY-DUPLICATE": ErrorSpec(
        "conflict", "概要申报报关单 {entryNo} 已存在", "Summary declaration {entryNo} already exists"
    ),
    "BZ-ENTRY-SUMMARY-NOT-FOUND": ErrorSpec(
        "not_found", "概要申报报关单 {entryNo} 不存在", "Summary declaration {entryNo} does not exist"
    ),
    "BZ-ENTRY-SUMMARY-STATE": ErrorSpec(
        "conflict", "概要申报报关单 {entryNo} 已放行", "Summary declaration {entryNo} is already released"
    ),
    "BZ-CROSSING-NOT-FOUND": ErrorSpec("not_found", "过卡记录 {id} 不存在", "Crossing {id} does not exist"),
    "BZ-GATE-EVENT-ORDER": ErrorSpec(
        "conflict",
        "过卡记录 {id} 当前为 {status}，不能{event_zh}",
        "Crossing {id} is {status}: cannot {event_en} now",
    ),
    "BZ-GATE-RELEASE": ErrorSpec(
        "conflict",
        "过卡记录 {id} 因 {rules} 被扣留，不能人工放行",
        "Crossing {id} is held by {rules}, which an officer cannot release",
    ),
    "BZ-INTERNAL": ErrorSpec("internal", "内部错误，已记录（{ref}）", "Internal error, logged as {ref}"),
    # WMS networking (M22/W1): record-level refusals name the field; the batch names the records
    "BZ-WMS-FIELD-MISSING": ErrorSpec("invalid", "缺少字段 {field}", "Field {field} is missing"),
    "BZ-WMS-FIELD-INVALID": ErrorSpec("invalid", "字段 {field} 不合法：{reason_zh}", "Field {field} is invalid: {reason_en}"),
    "BZ-WMS-FIELD-UNKNOWN": ErrorSpec(
        "invalid", "未知字段 {field}（自定义字段请以 x- 开头）", "Unknown field {field} (prefix your own fields with x-)"
    ),
    "BZ-WMS-REF-CONFLICT": ErrorSpec(
        "conflict",
        "{refField} {ref} 已以不同内容接收过；更正请用新的编号",
        "{refField} {ref} was already received with different content; send a correction under a new reference",
    ),
    "BZ-WMS-BOOK-UNKNOWN": ErrorSpec(
        "invalid", "账册 {putrecNo} 不存在或不属于本企业", "Book {putrecNo} does not exist or is not this enterprise's"
    ),
    "BZ-WMS-BATCH-REJECTED": ErrorSpec(
        "invalid",
        "{rejected} 条记录（共 {records} 条）被拒收，本批未保存任何记录；可修正后重发，或选择部分接收",
        "{rejected} of {records} records were rejected and nothing was stored; "
        "fix them and resend, or ask for partial acceptance",
    ),
    "BZ-WMS-M3-ITEM": ErrorSpec(
        "invalid",
        "账册 {putrecNo} 由 WMS 驱动记账，料号 {gdsMtno} 未备案，不能记账",
        "Book {putrecNo} is WMS-driven and item {gdsMtno} is not in it, so the movement cannot post",
    ),
    "BZ-WMS-M3-UNIT": ErrorSpec(
        "invalid",
        "料号 {gdsMtno} 的单位 {unit} 与账册单位 {bookUnit} 不符，WMS 驱动的账册不能记账",
        "Item {gdsMtno} is kept in {bookUnit}, not {unit}: a WMS-driven book cannot post it",
    ),
    "BZ-WMS-BATCH-EMPTY": ErrorSpec("invalid", "本批没有记录", "The batch has no records"),
    "BZ-WMS-BATCH-TOO-LARGE": ErrorSpec(
        "too_large",
        "本批 {records} 条记录，超过每批 {limit} 条上限",
        "The batch has {records} records, over the limit of {limit}",
    ),
    "BZ-WMS-BATCH-REF-CONFLICT": ErrorSpec(
        "conflict",
        "批次 {batchRef} 已以不同内容接收过",
        "Batch {batchRef} was already received with different content",
    ),
    "BZ-WMS-FILE-TYPE": ErrorSpec(
        "invalid",
        "无法识别的文件类型 {name}（支持 .csv .json .xml）",
        "Unrecognised file type {name} (.csv, .json and .xml are read)",
    ),
    "BZ-WMS-FILE-ENCODING": ErrorSpec(
        "invalid",
        "第 {line} 行无法按 {encoding} 解码",
        "Line {line} cannot be decoded as {encoding}",
    ),
    "BZ-WMS-FILE-FORMAT": ErrorSpec("invalid", "文件格式错误：{reason}", "The file is malformed: {reason}"),
    "BZ-WMS-FILE-COLUMNS": ErrorSpec("invalid", "文件缺少必需的列：{columns}", "The file lacks required columns: {columns}"),
    # Book lifecycle and write-off (M19)
    "BZ-BOOK-ACTION": ErrorSpec(
        "invalid",
        "未知的账册操作 {action}（可选：open、suspend、resume、close）",
        "Unknown book action {action} (open, suspend, resume, close)",
    ),
    "BZ-BOOK-STATE": ErrorSpec(
        "conflict",
        "账册 {putrecNo} 当前为 {status}，不能{action_zh}（{action}）",
        "Book {putrecNo} is {status}: {action} is not possible",
    ),
    "BZ-BOOK-CLOSE-BLOCKED": ErrorSpec(
        "conflict",
        "账册 {putrecNo} 尚有 {items} 项库存、{writeoffs} 个未完成的核销，不能注销",
        "Book {putrecNo} still holds stock of {items} items and has {writeoffs} write-offs under way; it cannot be closed",
    ),
    "BZ-BOOK-NOT-ACTIVE": ErrorSpec(
        "conflict", "账册 {putrecNo} 当前为 {status}，不能记账", "Book {putrecNo} is {status}: nothing can be posted to it"
    ),
    "BZ-M3-NOT-ELIGIBLE": ErrorSpec(
        "conflict",
        "账册 {putrecNo} 不能由 WMS 驱动：须为联网（{networked}）的高级认证企业（{credit}）的物流账册（{bookType}）",
        "Book {putrecNo} cannot be WMS-driven: it must be a logistics book ({bookType}) of a WMS-networked ({networked}) "
        "AEO-advanced enterprise ({credit})",
    ),
    "BZ-WRITEOFF-NOT-FOUND": ErrorSpec("not_found", "核销单 {id} 不存在", "Write-off {id} does not exist"),
    "BZ-WRITEOFF-STATE": ErrorSpec(
        "conflict", "核销单 {id} 当前为 {status}，不能执行 {action}", "Write-off {id} is {status}: {action} is not possible"
    ),
    "BZ-WRITEOFF-OVERLAP": ErrorSpec(
        "conflict",
        "账册 {putrecNo} 的核销期间与核销单 {other} 重叠",
        "The period overlaps write-off {other} of book {putrecNo}",
    ),
    "BZ-WRITEOFF-NO-STOCKTAKE": ErrorSpec(
        "conflict",
        "账册 {putrecNo} 在 {periodFrom} 至 {periodTo} 之间没有盘点数据，无法核销",
        "Book {putrecNo} has no stocktake between {periodFrom} and {periodTo} to write off against",
    ),
    "BZ-WRITEOFF-UNEXPLAINED": ErrorSpec(
        "conflict",
        "核销单 {id} 有 {count} 行差异未说明：{lines}",
        "Write-off {id} has {count} differences without an explanation: {lines}",
    ),
    "BZ-WRITEOFF-EXPLANATION": ErrorSpec(
        "invalid",
        "差异说明应为 2–{limit} 个字符（现为 {length}）",
        "An explanation must be 2–{limit} characters (it is {length})",
    ),
    "BZ-WRITEOFF-LINE": ErrorSpec("invalid", "核销单 {id} 没有第 {line} 行", "Write-off {id} has no line {line}"),
    # Reconciliation (W2/W3)
    "BZ-RECON-PERIOD": ErrorSpec("invalid", "比对期间不合法：{reason_zh}", "The comparison period is invalid: {reason_en}"),
    "BZ-RECON-NOT-FOUND": ErrorSpec("not_found", "比对记录 {id} 不存在", "Reconciliation record {id} does not exist"),
    "BZ-RECON-CLASS": ErrorSpec(
        "invalid", "未知的差异类别 {cls}（可选：{known}）", "Unknown discrepancy class {cls} (known: {known})"
    ),
    "BZ-DB-UNAVAILABLE": ErrorSpec(
        "unavailable",
        "数据库连接中断，本次请求未生效，请稍后用同一 Idempotency-Key 重试（{ref}）",
        "The database connection was lost and this request took no effect; retry shortly with the same Idempotency-Key ({ref})",
    ),
}


def _text(s: str) -> str:
    """``s`` as valid Unicode: a lone surrogate a client sent (JSON allows one) becomes U+FFFD.

    Echoing a refused value must never make the refusal itself unencodable.
    """
    return s.encode("utf-8", "replace").decode("utf-8")


class BzError(Exception):
    """A refusal with a stable code; carries its detail as data so clients need not parse text.

    Raising one means nothing was changed: every service runs inside a unit of work that rolls
    back on any exception.
    """

    def __init__(self, code: str, **detail: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code}")
        self.code = code
        self.detail = detail
        super().__init__(self.message("en"))

    @property
    def kind(self) -> Kind:
        """The sort of refusal (invalid, not_found, conflict …)."""
        return CATALOGUE[self.code].kind

    def message(self, lang: str = "en") -> str:
        """The message in ``zh`` or ``en``; a missing placeholder never hides the error itself."""
        spec = CATALOGUE[self.code]
        template = spec.zh if lang.startswith("zh") else spec.en
        try:
            return _text(template.format(**self.detail))
        except (KeyError, IndexError, ValueError):
            return template

    def public_detail(self) -> dict[str, Any]:
        """Detail without the helper keys used only to fill message templates."""
        return {k: _text(v) if isinstance(v, str) else v for k, v in self.detail.items() if not k.endswith(("_zh", "_en"))}


class ErrorGroup(BzError):
    """Several refusals of one request, reported together.

    The first gives code and message, unless a ``head`` sums them up (a rejected batch: the head
    says how many records were refused, the errors say which and why).
    """

    def __init__(self, errors: list[BzError], head: BzError | None = None) -> None:
        if not errors:
            raise ValueError("an ErrorGroup needs at least one error")
        first = head or errors[0]
        super().__init__(first.code, **first.detail)
        self.errors = errors


T = TypeVar("T")


class Collector:
    """Runs checks and keeps every refusal, so that one answer can name all that is wrong."""

    def __init__(self) -> None:
        self.errors: list[BzError] = []

    def check(self, fn: Callable[[], T]) -> T | None:
        """``fn()``, or None with its refusal kept."""
        try:
            return fn()
        except BzError as e:
            self.errors.append(e)
            return None

    def add(self, error: BzError) -> None:
        """Keep a refusal found without calling a check."""
        self.errors.append(error)

    def raise_if_any(self) -> None:
        """Raise every kept refusal together."""
        if self.errors:
            raise ErrorGroup(self.errors)
