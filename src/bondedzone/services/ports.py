"""What the services need from storage, as protocols; adapters/db implements them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, Self

from bondedzone.domain.chain import ChainHead, StoredLink
from bondedzone.domain.gate import Crossing, GateDoc, GatePass, RltTbType
from bondedzone.domain.ledger import DocType, LineAmount, StockKey
from bondedzone.domain.model import Book, BookItem, Enterprise, InventoryList
from bondedzone.domain.passes import OpenCrossing
from bondedzone.domain.rules.m7_multi_truck import Delivery
from bondedzone.domain.rules.m9_status_conversion import StatusConversion
from bondedzone.domain.rules.m19_writeoff import ItemInfo, WriteOffLine, WriteOffStatus
from bondedzone.domain.rules.w2_comparison import Finding
from bondedzone.domain.wms import Movement as WmsMovement
from bondedzone.domain.wms import StockLine as WmsStockLine


@dataclass(frozen=True)
class BookRecord:
    """A stored book with its storage id."""

    id: int
    book: Book


@dataclass(frozen=True)
class NewPosting:
    """A posting ready to store, its chain link already computed."""

    seq: int
    putrec_seqno: int
    stock_status: str
    delta_units: int
    doc_type: str
    doc_id: int
    doc_line: int
    leg: int
    corrects: int | None
    recorded_at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class NewEvent:
    """A state change ready to store, its chain link already computed."""

    seq: int
    doc_type: str
    doc_id: int
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    recorded_at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class PostingRow:
    """A stored posting, for reading."""

    id: int
    putrec_no: str
    putrec_seqno: int
    stock_status: str
    delta: Decimal
    doc_type: str
    doc_id: int
    doc_line: int
    leg: int
    corrects: int | None
    recorded_at: datetime
    seq: int
    hash: str


@dataclass(frozen=True)
class EventRow:
    """A stored state change, for reading."""

    id: int
    putrec_no: str
    doc_type: str
    doc_id: int
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    recorded_at: datetime
    seq: int
    hash: str


@dataclass(frozen=True)
class StockRow:
    """One balance with its item's description."""

    putrec_seqno: int
    gds_mtno: str
    gds_nm: str
    gdecd: str
    dcl_unitcd: str
    stock_status: str
    quantity: Decimal


@dataclass(frozen=True)
class TokenRecord:
    """A stored API token (only its hash is kept)."""

    id: int
    role: str
    uscc: str | None
    label: str
    revoked: bool


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request."""

    fingerprint: str
    status: int
    body: Any


class EnterpriseRepo(Protocol):
    def add(self, e: Enterprise) -> None: ...
    def get(self, uscc: str) -> Enterprise | None: ...
    def customs_code_taken(self, code: str) -> bool: ...
    def all(self, uscc: str | None = None) -> list[Enterprise]: ...


class BookRepo(Protocol):
    def add(self, book: Book, status: str = "active") -> int: ...
    def get(self, putrec_no: str) -> BookRecord | None: ...
    def get_by_id(self, book_id: int) -> BookRecord: ...
    def all(self, owner_uscc: str | None = None) -> list[Book]: ...
    def lock_head(self, book_id: int) -> ChainHead: ...
    def lock_for_posting(self, book_id: int) -> tuple[ChainHead, str]: ...
    def set_status(self, book_id: int, status: str) -> None: ...
    def set_wms_driven(self, book_id: int, on: bool) -> None: ...
    def set_head(self, book_id: int, head: ChainHead) -> None: ...
    def heads(self) -> list[tuple[int, str, ChainHead]]: ...
    def add_item(self, book_id: int, item: BookItem) -> None: ...
    def item_taken(self, book_id: int, putrec_seqno: int, gds_mtno: str) -> bool: ...
    def items(self, book_id: int, seqnos: Collection[int] | None = None) -> dict[int, BookItem]: ...


class InvtRepo(Protocol):
    def add(self, book_id: int, invt: InventoryList) -> InventoryList: ...
    def get(self, invt_id: int, *, with_lines: bool = True) -> InventoryList | None: ...
    def amounts(self, invt_id: int) -> list[LineAmount]: ...
    def find_inner(self, book_id: int, etps_inner_invt_no: str) -> int | None: ...
    def find_bond_no(self, bond_invt_no: str) -> int | None: ...
    def save_status(self, invt: InventoryList, expected_version: int) -> bool: ...
    def search(
        self, *, owner_uscc: str | None, putrec_no: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[InventoryList], int]: ...


class ConversionRepo(Protocol):
    def add(self, book_id: int, conv: StatusConversion) -> StatusConversion: ...
    def get(self, conv_id: int) -> StatusConversion | None: ...
    def find_entry(self, book_id: int, entry_no: str) -> int | None: ...


class LedgerRepo(Protocol):
    def balances(self, book_id: int, keys: Sequence[StockKey]) -> dict[StockKey, int]: ...
    def append(self, book_id: int, postings: Sequence[NewPosting]) -> None: ...
    def apply(self, book_id: int, net: Mapping[StockKey, int]) -> None: ...
    def append_event(self, book_id: int, event: NewEvent) -> None: ...
    def stock(self, book_id: int) -> list[StockRow]: ...
    def postings(
        self,
        book_id: int,
        *,
        putrec_seqno: int | None = None,
        stock_status: str | None = None,
        doc_type: DocType | None = None,
        doc_id: int | None = None,
        limit: int = 1000,
        after_id: int = 0,
    ) -> list[PostingRow]: ...
    def posting(self, posting_id: int) -> tuple[int, PostingRow] | None: ...
    def corrected_total(self, posting_id: int) -> Decimal: ...
    def events(self, book_id: int, doc_type: DocType, doc_id: int) -> list[EventRow]: ...
    def links(self, book_id: int, putrec_no: str) -> Iterator[StoredLink]: ...
    def posting_sums(self, book_id: int) -> dict[StockKey, Decimal]: ...
    def all_balances(self, book_id: int) -> dict[StockKey, Decimal]: ...


class TokenRepo(Protocol):
    def add(self, token_hash: str, role: str, uscc: str | None, label: str, created_at: datetime) -> int: ...
    def get(self, token_hash: str) -> TokenRecord | None: ...
    def revoke(self, token_id: int) -> bool: ...


class IdempotencyRepo(Protocol):
    def get(self, scope: str, key: str) -> StoredResponse | None: ...
    def claim(self, scope: str, key: str, response: StoredResponse, created_at: datetime) -> bool:
        """Store the key's answer unless it has one; False if it has (after waiting for its writer)."""
        ...


@dataclass(frozen=True)
class GateEventRow:
    """A stored gate event (G1)."""

    id: int
    crossing_id: int
    kind: str
    actor: str
    detail: dict[str, Any]
    recorded_at: datetime


@dataclass(frozen=True)
class HazchemRow:
    """A hazardous chemical that entered the zone, as shared with the zone administration (M4)."""

    id: int
    crossing_id: int
    pass_id: int
    owner_uscc: str
    owner_name: str
    passport_no: str
    vehicle_no: str
    gate_id: str
    gds_nm: str
    gdecd: str | None
    un_no: str
    hazard_class: str
    cas_no: str | None
    usage: str | None
    dcl_qty: Decimal
    dcl_unitcd: str
    recorded_at: datetime


DocKey = tuple[RltTbType, str]


class GateRepo(Protocol):
    def add_pass(self, gp: GatePass, book_id: int) -> GatePass: ...
    def get_pass(self, passport_no: str, *, lock: bool = False) -> GatePass | None: ...
    def pass_for_gate(self, passport_no: str) -> GatePass | None: ...
    def preent_taken(self, owner_uscc: str, etps_preent_no: str) -> bool: ...
    def passes_for_plate(self, vehicle_no: str) -> list[GatePass]: ...
    def save_pass(self, gp: GatePass, expected_version: int) -> bool: ...
    def search_passes(
        self, *, owner_uscc: str | None, status: str | None, vehicle_no: str | None, limit: int, offset: int
    ) -> tuple[list[GatePass], int]: ...
    def docs(self, keys: Collection[DocKey], *, lock: bool = False) -> dict[DocKey, GateDoc]: ...
    def add_doc(self, doc: GateDoc) -> None: ...
    def set_doc_ready(self, key: DocKey) -> None: ...
    def deliver(self, deliveries: Sequence[Delivery]) -> None: ...
    def record_crossing(self, crossing: Crossing, events: Sequence[tuple[str, str, Mapping[str, Any]]]) -> Crossing: ...
    def get_crossing(self, crossing_id: int, *, lock: bool = False) -> Crossing | None: ...
    def save_crossing(self, crossing: Crossing, expected_version: int) -> bool: ...
    def open_crossing(self, pass_id: int) -> OpenCrossing | None: ...
    def crossings_of(self, pass_id: int) -> list[Crossing]: ...
    def add_event(self, crossing_id: int, kind: str, actor: str, detail: Mapping[str, Any], at: datetime) -> None: ...
    def events(self, crossing_id: int) -> list[GateEventRow]: ...
    def add_hazchem(self, crossing: Crossing, gp: GatePass, at: datetime) -> int: ...
    def hazchem(self, after_id: int, limit: int) -> list[HazchemRow]: ...


StockKey4 = tuple[str, int, str, str, str]  # snapshotRef, book id, gdsMtno, stockStatus, location


@dataclass(frozen=True)
class BatchRecord:
    """A received WMS batch, as stored: what identifies its content and what the sender was told."""

    id: int
    fingerprint: str
    answer: dict[str, Any]


@dataclass(frozen=True)
class ReconRun:
    """A comparison run on demand (W2)."""

    id: int
    requested_by: str
    owner_uscc: str | None
    putrec_no: str | None
    period_from: datetime
    period_to: datetime
    tolerance_s: int
    engine: str
    counts: dict[str, Any]
    rows_compared: int
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class StoredFinding:
    """A stored discrepancy (of a run, or of the continuous set when ``run_id`` is None)."""

    id: int
    run_id: int | None
    book_id: int
    putrec_no: str
    cls: str
    scope: str
    ref: str
    line: int | None
    gds_mtno: str | None
    stock_status: str | None
    wms_units: int | None
    other_units: int | None
    diff_units: int | None
    adjust_units: int | None
    wms_unitcd: str | None
    other_unitcd: str | None
    wms_status: str | None
    other_status: str | None
    n: int | None
    at: datetime | None
    first_seen_at: datetime


class WmsRepo(Protocol):
    def enterprise_id(self, uscc: str) -> int | None: ...
    def book_ids(self, putrec_nos: Collection[str], owner_uscc: str | None = None) -> dict[str, int]: ...
    def books_of(
        self, owner_uscc: str | None, putrec_no: str | None = None, *, networked: bool = False
    ) -> dict[int, tuple[str, str]]: ...
    def batch_by_ref(self, enterprise_id: int, batch_ref: str) -> BatchRecord | None: ...
    def add_batch(
        self,
        *,
        enterprise_id: int,
        batch_ref: str | None,
        fingerprint: str,
        kind: str,
        source: str,
        filename: str | None,
        counts: tuple[int, int, int, int],
        answer: dict[str, Any],
    ) -> int: ...
    def set_batch_answer(self, batch_id: int, answer: dict[str, Any]) -> None: ...
    def movement_prints(self, enterprise_id: int, refs: Collection[str]) -> dict[str, str]: ...
    def stock_prints(self, enterprise_id: int, keys: Collection[StockKey4]) -> dict[StockKey4, str]: ...
    def add_movements(self, enterprise_id: int, batch_id: int, rows: Sequence[tuple[int, WmsMovement]]) -> None: ...
    def add_stock_lines(self, enterprise_id: int, batch_id: int, rows: Sequence[tuple[int, WmsStockLine]]) -> None: ...
    def counts(self, book_ids: Collection[int]) -> dict[str, int]: ...
    def last_movement_id(self) -> int: ...
    def changed_books(self, cursors: dict[str, int]) -> tuple[dict[str, int], set[int]]: ...
    def books_with_wms_data(self) -> set[int]: ...
    def relations(self, book_ids: Collection[int], until: datetime) -> dict[str, list[tuple[object, ...]]]: ...
    def add_run(self, run: ReconRun) -> int: ...
    def get_run(self, run_id: int) -> ReconRun | None: ...
    def add_findings(self, run_id: int | None, book_ids: dict[str, int], findings: Sequence[Finding]) -> None: ...
    def findings(
        self, run_id: int | None, book_ids: Collection[int], *, cls: str | None, limit: int, offset: int
    ) -> tuple[list[StoredFinding], int]: ...
    def replace_open(self, book_ids: Collection[int], findings: Sequence[Finding], putrec_ids: dict[str, int]) -> None: ...
    def finding(self, finding_id: int, book_ids: Collection[int]) -> StoredFinding | None: ...
    def evidence(self, book_id: int, finding: StoredFinding) -> dict[str, list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class Stocktake:
    """The WMS count a write-off is checked against: by item code and status, (units, unit code)."""

    snapshot_ref: str
    taken_at: datetime
    counted: dict[str, dict[str, tuple[int, str]]]


@dataclass(frozen=True)
class WriteOff:
    """A write-off (核销) of a book over a period (M19)."""

    id: int
    book_id: int
    putrec_no: str
    owner_uscc: str
    owner_name: str
    period_from: datetime
    period_to: datetime  # the stocktake's time
    requested_to: datetime
    snapshot_ref: str
    status: WriteOffStatus
    version: int
    created_by: str
    created_at: datetime
    submitted_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    lines: tuple[WriteOffLine, ...] = ()


class WriteOffRepo(Protocol):
    def items(self, book_id: int) -> dict[int, ItemInfo]: ...
    def ledger_figures(
        self, book_id: int, period_from: datetime, until: datetime
    ) -> tuple[dict[tuple[int, str], int], dict[tuple[int, str], int], dict[tuple[int, str], int]]: ...
    def stock_left(self, book_id: int) -> int: ...
    def latest_stocktake(self, book_id: int, period_from: datetime, period_to: datetime) -> Stocktake | None: ...
    def overlapping(self, book_id: int, period_from: datetime, period_to: datetime) -> int | None: ...
    def open_count(self, book_id: int) -> int: ...
    def add(self, wo: WriteOff) -> int: ...
    def get(self, writeoff_id: int, *, lock: bool = False) -> WriteOff | None: ...
    def search(self, book_ids: Sequence[int], *, limit: int, offset: int) -> tuple[list[WriteOff], int]: ...
    def save(self, wo: WriteOff, expected_version: int) -> bool: ...
    def explain(self, writeoff_id: int, putrec_seqno: int, stock_status: str, text: str) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls everything back."""

    @property
    def enterprises(self) -> EnterpriseRepo: ...
    @property
    def books(self) -> BookRepo: ...
    @property
    def invts(self) -> InvtRepo: ...
    @property
    def conversions(self) -> ConversionRepo: ...
    @property
    def ledger(self) -> LedgerRepo: ...
    @property
    def tokens(self) -> TokenRepo: ...
    @property
    def idempotency(self) -> IdempotencyRepo: ...
    @property
    def gate(self) -> GateRepo: ...
    @property
    def wms(self) -> WmsRepo: ...
    @property
    def writeoffs(self) -> WriteOffRepo: ...

    def now(self) -> datetime: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens a unit of work; ``write=True`` takes the write lock up front on engines that need it."""

    def __call__(self, *, write: bool = True) -> UnitOfWork: ...
