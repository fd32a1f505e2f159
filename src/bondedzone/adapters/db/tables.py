"""Tables. Quantities are kept as signed 64-bit integers of 10⁻⁵ units: exact on both engines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT keys on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY is the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC on both engines and read back aware.

    PostgreSQL keeps ``timestamptz`` as an instant; SQLite keeps text and drops the offset, so a
    time given as 08:00+08:00 would come back as 08:00 UTC. Converting to UTC before binding makes
    both engines store the same instant, and a naive value read from SQLite is UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


TS = UtcDateTime()


def bound(dialect: Any, column: Any, value: Any) -> Any:
    """``value`` as ``column``'s type binds it (JSON, SQLite's text timestamps), for driver SQL."""
    proc = column.type.dialect_impl(dialect).bind_processor(dialect)
    return proc(value) if proc else value


enterprises = Table(
    "enterprises",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False, unique=True),
    Column("customs_code", String(10), nullable=False, unique=True),
    Column("name", String(512), nullable=False),
    Column("credit", String(16), nullable=False),
    Column("wms_networked", Boolean, nullable=False),
    Column("inside_fence", Boolean, nullable=False),
)

books = Table(
    "books",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("putrec_no", String(12), nullable=False, unique=True),
    Column("book_type", String(16), nullable=False),
    Column("enterprise_id", Id, ForeignKey("enterprises.id"), nullable=False, index=True),
    Column("master_cuscd", String(4), nullable=False),
    Column("chain_seq", BigInteger, nullable=False, default=0),
    Column("chain_head", String(64), nullable=False),
    # M19: applied, active, suspended, closed. M3: the ledger follows the WMS instead of lists.
    Column("status", String(16), nullable=False, server_default="active"),
    Column("wms_driven", Boolean, nullable=False, server_default=sa_false()),
)

book_items = Table(
    "book_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("putrec_seqno", BigInteger, nullable=False),
    Column("gds_mtno", String(32), nullable=False),
    Column("gdecd", String(10), nullable=False),
    Column("gds_nm", String(512), nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
    UniqueConstraint("book_id", "putrec_seqno", name="uq_book_items_seqno"),
    UniqueConstraint("book_id", "gds_mtno", name="uq_book_items_mtno"),
)

invts = Table(
    "invts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("etps_inner_invt_no", String(64), nullable=False),
    Column("bond_invt_no", String(18), nullable=True, unique=True),
    Column("impexp_markcd", String(1), nullable=False),
    Column("supv_modecd", String(4), nullable=False),
    Column("flow", String(16), nullable=False),
    Column("dclcus_flag", String(1), nullable=False),
    Column("entry_no", String(18), nullable=True),
    Column("rmk", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("book_id", "etps_inner_invt_no", name="uq_invts_inner_no"),
    Index("ix_invts_book_status", "book_id", "status"),
)

invt_lines = Table(
    "invt_lines",
    metadata,
    Column("invt_id", Id, ForeignKey("invts.id"), primary_key=True),
    Column("gds_seqno", Integer, primary_key=True),
    Column("putrec_seqno", BigInteger, nullable=False),
    Column("dcl_qty", BigInteger, nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
    Column("stock_status", String(16), nullable=False),
    Column("gds_mtno", String(32), nullable=False),
    Column("gdecd", String(10), nullable=False),
    Column("gds_nm", String(512), nullable=False),
)

conversions = Table(
    "conversions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("entry_no", String(18), nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("rmk", Text, nullable=True),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("book_id", "entry_no", name="uq_conversions_entry"),
)

conversion_lines = Table(
    "conversion_lines",
    metadata,
    Column("conversion_id", Id, ForeignKey("conversions.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("putrec_seqno", BigInteger, nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
)

# Append-only. (doc_type, doc_id, doc_line, leg) is the identity of a document line's posting:
# the unique constraint is the last guard that a line posts at most once.
postings = Table(
    "postings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("putrec_seqno", BigInteger, nullable=False),
    Column("stock_status", String(16), nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("doc_type", String(16), nullable=False),
    Column("doc_id", BigInteger, nullable=False),
    Column("doc_line", Integer, nullable=False),
    Column("leg", Integer, nullable=False),
    Column("corrects", BigInteger, nullable=True),
    Column("recorded_at", TS, nullable=False),
    Column("chain_seq", BigInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("doc_type", "doc_id", "doc_line", "leg", name="uq_postings_doc_line"),
    UniqueConstraint("book_id", "chain_seq", name="uq_postings_chain"),
    Index("ix_postings_balance", "book_id", "putrec_seqno", "stock_status"),
)

# State changes of documents, in the same per-book chain as the postings.
doc_events = Table(
    "doc_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("doc_type", String(16), nullable=False),
    Column("doc_id", BigInteger, nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", Text, nullable=True),
    Column("recorded_at", TS, nullable=False),
    Column("chain_seq", BigInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("book_id", "chain_seq", name="uq_doc_events_chain"),
    Index("ix_doc_events_doc", "doc_type", "doc_id"),
)

stock_balances = Table(
    "stock_balances",
    metadata,
    Column("book_id", Id, ForeignKey("books.id"), primary_key=True),
    Column("putrec_seqno", BigInteger, primary_key=True),
    Column("stock_status", String(16), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("uscc", String(18), nullable=True),
    Column("label", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(120), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)

# -- the gate (M4, M6, M7, G1); weights are kept like quantities, in 10⁻⁵ kg ---------------------

# A document as the gate counts it: an approved inventory list (type 1, copied from the list when
# first bound) or a two-step summary declaration (type 4, entered as such). ``ready`` is the list
# approved / the declaration released.
gate_docs = Table(
    "gate_docs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("rlt_tb_typecd", String(1), nullable=False),
    Column("rlt_no", String(64), nullable=False),
    Column("enterprise_id", Id, ForeignKey("enterprises.id"), nullable=False),
    Column("io_typecd", String(1), nullable=False),
    Column("flow", String(16), nullable=True),
    Column("ready", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("rlt_tb_typecd", "rlt_no", name="uq_gate_docs_no"),
)

gate_doc_lines = Table(
    "gate_doc_lines",
    metadata,
    Column("gate_doc_id", Id, ForeignKey("gate_docs.id"), primary_key=True),
    Column("gds_seqno", Integer, primary_key=True),
    Column("gdecd", String(10), nullable=False),
    Column("gds_nm", String(512), nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
    Column("declared_units", BigInteger, nullable=False),
    Column("delivered_units", BigInteger, nullable=False),
)

gate_passes = Table(
    "gate_passes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("passport_no", String(24), nullable=True, unique=True),
    Column("etps_preent_no", String(64), nullable=False),
    Column("enterprise_id", Id, ForeignKey("enterprises.id"), nullable=False),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("master_cuscd", String(4), nullable=False),
    Column("passport_typecd", String(1), nullable=False),
    Column("io_typecd", String(1), nullable=False),
    Column("bind_typecd", String(1), nullable=True),
    Column("vehicle_no", String(16), nullable=False),
    Column("vehicle_wt", BigInteger, nullable=False),
    Column("vehicle_frame_wt", BigInteger, nullable=False),
    Column("container_no", String(11), nullable=True),
    Column("container_wt", BigInteger, nullable=False),
    Column("total_gross_wt", BigInteger, nullable=False),
    Column("rmk", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("enterprise_id", "etps_preent_no", name="uq_gate_passes_preent"),
    Index("ix_gate_passes_vehicle", "vehicle_no", "status"),
)

gate_pass_docs = Table(
    "gate_pass_docs",
    metadata,
    Column("pass_id", Id, ForeignKey("gate_passes.id"), primary_key=True),
    Column("rlt_tb_typecd", String(1), primary_key=True),
    Column("rlt_no", String(64), primary_key=True),
)

gate_pass_lines = Table(
    "gate_pass_lines",
    metadata,
    Column("pass_id", Id, ForeignKey("gate_passes.id"), primary_key=True),
    Column("passport_seqno", Integer, primary_key=True),
    Column("rlt_tb_typecd", String(1), nullable=True),
    Column("rlt_no", String(64), nullable=True),
    Column("rlt_gds_seqno", Integer, nullable=True),
    Column("gds_nm", String(512), nullable=False),
    Column("gdecd", String(10), nullable=True),
    Column("dcl_unitcd", String(3), nullable=False),
    Column("dcl_qty", BigInteger, nullable=False),
    Column("gross_wt", BigInteger, nullable=True),
    Column("category", String(32), nullable=True),
    Column("un_no", String(4), nullable=True),
    Column("hazard_class", String(4), nullable=True),
    Column("cas_no", String(12), nullable=True),
    Column("usage", String(255), nullable=True),
)

# One vehicle's visit to a gate; ``reasons`` is the decision's findings as JSON.
gate_crossings = Table(
    "gate_crossings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pass_id", Id, ForeignKey("gate_passes.id"), nullable=True),
    Column("passport_no", String(64), nullable=True),
    Column("gate_id", String(32), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("vehicle_no", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("gross_wt", BigInteger, nullable=True),
    Column("outcome", String(8), nullable=True),
    Column("reasons", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("arrived_at", TS, nullable=False),
    Column("weighed_at", TS, nullable=True),
    Column("decided_at", TS, nullable=True),
    Column("left_at", TS, nullable=True),
    Index("ix_gate_crossings_pass", "pass_id"),
)

# Every gate event, append-only (G1).
gate_events = Table(
    "gate_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("crossing_id", Id, ForeignKey("gate_crossings.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("recorded_at", TS, nullable=False),
    Index("ix_gate_events_crossing", "crossing_id"),
)

# M4: hazardous chemicals that entered, shared with the zone administration.
hazchem_records = Table(
    "hazchem_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("crossing_id", Id, ForeignKey("gate_crossings.id"), nullable=False),
    Column("pass_id", Id, ForeignKey("gate_passes.id"), nullable=False),
    Column("enterprise_id", Id, ForeignKey("enterprises.id"), nullable=False),
    Column("passport_no", String(24), nullable=False),
    Column("vehicle_no", String(16), nullable=False),
    Column("gate_id", String(32), nullable=False),
    Column("gds_nm", String(512), nullable=False),
    Column("gdecd", String(10), nullable=True),
    Column("un_no", String(4), nullable=False),
    Column("hazard_class", String(4), nullable=False),
    Column("cas_no", String(12), nullable=True),
    Column("usage", String(255), nullable=True),
    Column("dcl_qty", BigInteger, nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
    Column("recorded_at", TS, nullable=False),
)

# -- WMS networking and reconciliation (M3, M19, M22, W1–W4) -------------------------------------

# One received batch (API request, upload or dropped file). ``answer`` is what the sender was told,
# returned again when the same batchRef is sent again.
wms_batches = Table(
    "wms_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("enterprise_id", Id, ForeignKey("enterprises.id"), nullable=False),
    Column("batch_ref", String(64), nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("filename", String(255), nullable=True),
    Column("records", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("answer", JSON, nullable=False),
    Column("received_at", TS, nullable=False),
    UniqueConstraint("enterprise_id", "batch_ref", name="uq_wms_batches_ref"),
)

# A WMS stock movement; (enterprise, wms_ref) is its identity: sent twice, it is stored once.
wms_movements = Table(
    "wms_movements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("enterprise_id", Id, ForeignKey("enterprises.id"), nullable=False),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("wms_ref", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("gds_mtno", String(32), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
    Column("stock_status", String(16), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("occurred_at", TS, nullable=False),
    Column("rlt_no", String(64), nullable=True),
    Column("rlt_gds_seqno", Integer, nullable=True),
    Column("from_location", String(32), nullable=True),
    Column("to_location", String(32), nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("batch_id", Id, ForeignKey("wms_batches.id"), nullable=False),
    Column("received_at", TS, nullable=False),
    UniqueConstraint("enterprise_id", "wms_ref", name="uq_wms_movements_ref"),
    Index("ix_wms_movements_book_time", "book_id", "occurred_at"),
)

# A line of a WMS stocktake (盘点); ``location`` is '' when the WMS counts per item only.
wms_stock_lines = Table(
    "wms_stock_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("enterprise_id", Id, ForeignKey("enterprises.id"), nullable=False),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("snapshot_ref", String(64), nullable=False),
    Column("taken_at", TS, nullable=False),
    Column("gds_mtno", String(32), nullable=False),
    Column("stock_status", String(16), nullable=False),
    Column("location", String(32), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("batch_id", Id, ForeignKey("wms_batches.id"), nullable=False),
    Column("received_at", TS, nullable=False),
    UniqueConstraint(
        "enterprise_id", "snapshot_ref", "book_id", "gds_mtno", "stock_status", "location", name="uq_wms_stock_line"
    ),
    Index("ix_wms_stock_book_time", "book_id", "taken_at"),
)

# A comparison run (W2) on demand, and its findings.
recon_runs = Table(
    "recon_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("requested_by", String(64), nullable=False),
    Column("owner_uscc", String(18), nullable=True),  # set when an enterprise ran it on its own books
    Column("putrec_no", String(12), nullable=True),
    Column("period_from", TS, nullable=False),
    Column("period_to", TS, nullable=False),
    Column("tolerance_s", Integer, nullable=False),
    Column("engine", String(16), nullable=False),
    Column("counts", JSON, nullable=False),
    Column("rows_compared", BigInteger, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS, nullable=False),
)

recon_findings = Table(
    "recon_findings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("recon_runs.id"), nullable=True),  # NULL: the continuous set (W3)
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("cls", String(32), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("line", BigInteger, nullable=True),
    Column("gds_mtno", String(32), nullable=True),
    Column("stock_status", String(16), nullable=True),
    Column("wms_units", BigInteger, nullable=True),
    Column("other_units", BigInteger, nullable=True),
    Column("diff_units", BigInteger, nullable=True),
    Column("adjust_units", BigInteger, nullable=True),
    Column("wms_unitcd", String(3), nullable=True),
    Column("other_unitcd", String(3), nullable=True),
    Column("wms_status", String(16), nullable=True),
    Column("other_status", String(16), nullable=True),
    Column("n", BigInteger, nullable=True),
    Column("at", TS, nullable=True),
    Column("first_seen_at", TS, nullable=False),
    Index("ix_recon_findings_run", "run_id", "book_id"),
    Index("ix_recon_findings_book", "book_id", "run_id"),
)

# M19: a write-off (核销) of a book over a period, against a stocktake, and its lines.
writeoffs = Table(
    "writeoffs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("book_id", Id, ForeignKey("books.id"), nullable=False),
    Column("period_from", TS, nullable=False),
    Column("period_to", TS, nullable=False),  # the stocktake's time: the period ends with the count
    Column("requested_to", TS, nullable=False),
    Column("snapshot_ref", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("submitted_at", TS, nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", TS, nullable=True),
    Column("decision_note", Text, nullable=True),
    Index("ix_writeoffs_book", "book_id", "period_from"),
)

writeoff_lines = Table(
    "writeoff_lines",
    metadata,
    Column("writeoff_id", Id, ForeignKey("writeoffs.id"), primary_key=True),
    Column("putrec_seqno", BigInteger, primary_key=True),
    Column("stock_status", String(16), primary_key=True),
    Column("gds_mtno", String(32), nullable=False),
    Column("gds_nm", String(512), nullable=False),
    Column("dcl_unitcd", String(3), nullable=False),
    Column("opening", BigInteger, nullable=False),
    Column("in_units", BigInteger, nullable=False),
    Column("out_units", BigInteger, nullable=False),
    Column("counted", BigInteger, nullable=True),
    Column("counted_unitcd", String(3), nullable=True),
    Column("explanation", Text, nullable=True),
)
