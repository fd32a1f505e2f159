"""Request and response bodies. JSON names are the 金关二期 field names in camelCase."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from bondedzone.domain import values as v
from bondedzone.domain.chain import timestamp
from bondedzone.domain.model import BookItem, Enterprise, InventoryList
from bondedzone.domain.rules.m9_status_conversion import StatusConversion
from bondedzone.services.ports import EventRow, PostingRow, StockRow

# A quantity arrives as a JSON string ("12.5", preferred) or number; the domain checks it.
QtyIn = Annotated[Decimal | str, Field(description="decimal, at most 5 places, > 0; a string is safest")]
Str = Annotated[str, Field(max_length=4000)]


class Camel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class EnterpriseCreate(Camel):
    uscc: Annotated[str, Field(max_length=64, examples=["913302017532977856"])]
    customs_code: Annotated[str, Field(max_length=64, examples=["3302460123"])]
    name: Annotated[str, Field(max_length=1024)]
    credit: Literal["aeo_advanced", "ordinary", "dishonest"]
    wms_networked: bool = False
    inside_fence: bool = True


class EnterprisePublic(Camel):
    uscc: str
    customs_code: str
    name: str
    credit: str
    wms_networked: bool
    inside_fence: bool

    @classmethod
    def of(cls, e: Enterprise) -> EnterprisePublic:
        return cls(
            uscc=e.uscc,
            customs_code=e.customs_code,
            name=e.name,
            credit=e.credit.value,
            wms_networked=e.wms_networked,
            inside_fence=e.inside_fence,
        )


class BookCreate(Camel):
    putrec_no: Annotated[str, Field(max_length=64, examples=["T5301W000001"])]
    book_type: Literal["logistics", "processing", "equipment"]
    uscc: Annotated[str, Field(max_length=64, description="owner enterprise")]
    master_cuscd: Annotated[str, Field(max_length=16, examples=["5301"], description="主管关区")]


class BookPublic(Camel):
    putrec_no: str
    book_type: str
    uscc: str
    master_cuscd: str
    status: str  # M19: applied, active, suspended, closed
    wms_driven: bool  # M3: the ledger follows the WMS


class BookItemCreate(Camel):
    putrec_seqno: Annotated[int, Field(ge=1, le=999_999_999)]
    gds_mtno: Annotated[str, Field(max_length=128)]
    gdecd: Annotated[str, Field(max_length=64, examples=["8471300000"])]
    gds_nm: Annotated[str, Field(max_length=1024)]
    dcl_unitcd: Annotated[str, Field(max_length=16, examples=["001"])]


class BookItemPublic(Camel):
    putrec_no: str
    putrec_seqno: int
    gds_mtno: str
    gdecd: str
    gds_nm: str
    dcl_unitcd: str

    @classmethod
    def of(cls, putrec_no: str, it: BookItem) -> BookItemPublic:
        return cls(
            putrec_no=putrec_no,
            putrec_seqno=it.putrec_seqno,
            gds_mtno=it.gds_mtno,
            gdecd=it.gdecd,
            gds_nm=it.gds_nm,
            dcl_unitcd=it.dcl_unitcd,
        )


class InvtLineCreate(Camel):
    gds_seqno: Annotated[int, Field(ge=1, le=1_000_000)]
    putrec_seqno: Annotated[int, Field(ge=1, le=999_999_999)]
    dcl_qty: QtyIn
    dcl_unitcd: Annotated[str, Field(max_length=16)]
    stock_status: Literal["bonded", "non_bonded"] = "bonded"
    gds_mtno: Annotated[str | None, Field(max_length=128)] = None
    gdecd: Annotated[str | None, Field(max_length=64)] = None


class InvtCreate(Camel):
    etps_inner_invt_no: Annotated[str, Field(max_length=128)]
    putrec_no: Annotated[str, Field(max_length=64)]
    impexp_markcd: Literal["I", "E"]
    supv_modecd: Annotated[str, Field(max_length=16, examples=["5034"])]
    flow: Literal["first_line", "second_line", "intra_zone"]
    dclcus_flag: Literal["1", "2"] | None = None
    entry_no: Annotated[str | None, Field(max_length=64)] = None
    rmk: Str | None = None
    lines: Annotated[list[InvtLineCreate], Field(max_length=10_000)]


class ReasonBody(Camel):
    reason: Annotated[str | None, Field(max_length=2000)] = None


class InvtLinePublic(Camel):
    gds_seqno: int
    putrec_seqno: int
    gds_mtno: str
    gdecd: str
    gds_nm: str
    dcl_qty: str
    dcl_unitcd: str
    stock_status: str


class InvtPublic(Camel):
    id: int
    bond_invt_no: str | None
    etps_inner_invt_no: str
    putrec_no: str
    impexp_markcd: str
    supv_modecd: str
    flow: str
    dclcus_flag: str
    entry_no: str | None
    rmk: str | None
    status: str
    version: int
    lines: list[InvtLinePublic] | None = None

    @classmethod
    def of(cls, i: InventoryList, *, lines: bool = True) -> InvtPublic:
        return cls(
            id=i.id,
            bond_invt_no=i.bond_invt_no,
            etps_inner_invt_no=i.etps_inner_invt_no,
            putrec_no=i.putrec_no,
            impexp_markcd=i.impexp_markcd.value,
            supv_modecd=i.supv_modecd,
            flow=i.flow.value,
            dclcus_flag=i.dclcus_flag,
            entry_no=i.entry_no,
            rmk=i.rmk,
            status=i.status.value,
            version=i.version,
            lines=[
                InvtLinePublic(
                    gds_seqno=ln.gds_seqno,
                    putrec_seqno=ln.putrec_seqno,
                    gds_mtno=ln.gds_mtno,
                    gdecd=ln.gdecd,
                    gds_nm=ln.gds_nm,
                    dcl_qty=v.fmt_qty(ln.dcl_qty),
                    dcl_unitcd=ln.dcl_unitcd,
                    stock_status=ln.stock_status.value,
                )
                for ln in i.lines
            ]
            if lines
            else None,
        )


T = TypeVar("T")


class Page(Camel, Generic[T]):
    data: list[T]
    count: int


class StockPublic(Camel):
    putrec_seqno: int
    gds_mtno: str
    gds_nm: str
    gdecd: str
    dcl_unitcd: str
    stock_status: str
    quantity: str

    @classmethod
    def of(cls, r: StockRow) -> StockPublic:
        return cls(
            putrec_seqno=r.putrec_seqno,
            gds_mtno=r.gds_mtno,
            gds_nm=r.gds_nm,
            gdecd=r.gdecd,
            dcl_unitcd=r.dcl_unitcd,
            stock_status=r.stock_status,
            quantity=v.fmt_qty(r.quantity),
        )


class PostingPublic(Camel):
    id: int
    putrec_no: str
    putrec_seqno: int
    stock_status: str
    delta: str
    doc_type: str
    doc_id: int
    doc_line: int
    leg: int
    corrects: int | None
    recorded_at: str
    chain_seq: int
    hash: str

    @classmethod
    def of(cls, p: PostingRow) -> PostingPublic:
        return cls(
            id=p.id,
            putrec_no=p.putrec_no,
            putrec_seqno=p.putrec_seqno,
            stock_status=p.stock_status,
            delta=v.fmt_qty(p.delta),
            doc_type=p.doc_type,
            doc_id=p.doc_id,
            doc_line=p.doc_line,
            leg=p.leg,
            corrects=p.corrects,
            recorded_at=_ts(p.recorded_at),
            chain_seq=p.seq,
            hash=p.hash,
        )


class EventPublic(Camel):
    id: int
    doc_type: str
    doc_id: int
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    recorded_at: str
    chain_seq: int
    hash: str

    @classmethod
    def of(cls, e: EventRow) -> EventPublic:
        return cls(
            id=e.id,
            doc_type=e.doc_type,
            doc_id=e.doc_id,
            from_status=e.from_status,
            to_status=e.to_status,
            actor=e.actor,
            reason=e.reason,
            recorded_at=_ts(e.recorded_at),
            chain_seq=e.seq,
            hash=e.hash,
        )


def _ts(dt: Any) -> str:
    return timestamp(dt)


class HistoryPublic(Camel):
    invt: InvtPublic
    events: list[EventPublic]
    postings: list[PostingPublic]


class ConversionLineCreate(Camel):
    line_no: Annotated[int, Field(ge=1, le=1_000_000)]
    putrec_seqno: Annotated[int, Field(ge=1, le=999_999_999)]
    qty: QtyIn
    dcl_unitcd: Annotated[str, Field(max_length=16)]


class ConversionCreate(Camel):
    putrec_no: Annotated[str, Field(max_length=64)]
    entry_no: Annotated[str, Field(max_length=64, description="报关单号 of the completed declaration (M9)")]
    from_status: Literal["bonded", "non_bonded"]
    to_status: Literal["bonded", "non_bonded"]
    rmk: Str | None = None
    lines: Annotated[list[ConversionLineCreate], Field(max_length=10_000)]


class ConversionLinePublic(Camel):
    line_no: int
    putrec_seqno: int
    qty: str
    dcl_unitcd: str


class ConversionPublic(Camel):
    id: int
    putrec_no: str
    entry_no: str
    from_status: str
    to_status: str
    rmk: str | None
    lines: list[ConversionLinePublic]

    @classmethod
    def of(cls, c: StatusConversion) -> ConversionPublic:
        return cls(
            id=c.id,
            putrec_no=c.putrec_no,
            entry_no=c.entry_no,
            from_status=c.from_status.value,
            to_status=c.to_status.value,
            rmk=c.rmk,
            lines=[
                ConversionLinePublic(
                    line_no=ln.line_no, putrec_seqno=ln.putrec_seqno, qty=v.fmt_qty(ln.qty), dcl_unitcd=ln.dcl_unitcd
                )
                for ln in c.lines
            ],
        )


class CorrectionCreate(Camel):
    delta: QtyIn
    reason: Annotated[str, Field(max_length=2000)]


class FindingPublic(Camel):
    putrec_no: str
    seq: int
    problem: str
    kind: str | None
    ref: int | None
    detail: str


class AuditPublic(Camel):
    ok: bool
    books: int
    links: int
    first_broken: FindingPublic | None
    findings: list[FindingPublic]


class WhoAmI(Camel):
    role: str
    uscc: str | None
    subject: str


class ErrorBody(Camel):
    code: str
    message: str
    messages: dict[str, str]
    detail: dict[str, Any]
    errors: list[dict[str, Any]] = []
