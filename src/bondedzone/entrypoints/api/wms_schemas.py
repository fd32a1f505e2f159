"""Bodies of the WMS networking and reconciliation routes (M22/W1, W2, W3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from bondedzone.domain import values as v
from bondedzone.domain import wms
from bondedzone.entrypoints.api.schemas import Camel
from bondedzone.services import reconcile
from bondedzone.services.ports import ReconRun, StoredFinding, WriteOff

# Records are checked one by one by the domain, so that a refusal names the record and field.
Record = Annotated[dict[str, Any], Field(description="one record; fields as in the README's WMS section")]


class BatchIn(Camel):
    batch_ref: Annotated[
        str | None, Field(max_length=64, description="the sender's batch id: resending it returns the first answer")
    ] = None
    partial: Annotated[bool, Field(description="store the valid records even if some are refused")] = False
    records: Annotated[list[Record], Field(max_length=wms.MAX_BATCH)]


class RecordError(Camel):
    code: str
    field: str | None
    messages: dict[str, str]


class Rejection(Camel):
    record: int
    line: int | None
    errors: list[RecordError]


class IngestAnswer(Camel):
    batch_id: int | None
    batch_ref: str | None
    kind: Literal["movements", "stock"]
    records: int
    accepted: int
    duplicates: int
    rejected: int
    rejections: list[Rejection]
    replayed: bool


class ReconIn(Camel):
    period_from: Annotated[datetime, Field(alias="from", description="start of the period (inclusive), with a zone offset")]
    period_to: Annotated[datetime, Field(alias="to", description="end of the period (exclusive), with a zone offset")]
    putrec_no: Annotated[str | None, Field(max_length=12, description="one book; all visible books when absent")] = None
    tolerance_minutes: Annotated[int | None, Field(ge=0, le=30 * 24 * 60, description="default: the server's setting")] = None


class RunPublic(Camel):
    id: int
    putrec_no: str | None
    period_from: Annotated[str, Field(alias="from")]
    period_to: Annotated[str, Field(alias="to")]
    tolerance_minutes: int
    engine: str
    counts: dict[str, int]
    errors: int
    lags: int
    rows_compared: int
    seconds: float
    started_at: str
    finished_at: str

    @classmethod
    def of(cls, r: ReconRun) -> RunPublic:
        counts = {k: int(x) for k, x in r.counts.items() if k != "seconds"}
        lags = counts.get("timing_lag", 0)
        return cls(
            id=r.id,
            putrec_no=r.putrec_no,
            period_from=r.period_from.isoformat(),
            period_to=r.period_to.isoformat(),
            tolerance_minutes=r.tolerance_s // 60,
            engine=r.engine,
            counts=counts,
            errors=sum(counts.values()) - lags,
            lags=lags,
            rows_compared=r.rows_compared,
            seconds=float(r.counts.get("seconds", 0.0)),
            started_at=r.started_at.isoformat(),
            finished_at=r.finished_at.isoformat(),
        )


def _units(n: int | None) -> str | None:
    return None if n is None else v.fmt_units(int(n))


class FindingPublic(Camel):
    id: int
    run_id: int | None
    putrec_no: str
    cls: str
    label: dict[str, str] | None
    is_error: bool
    scope: str
    ref: str
    line: int | None
    gds_mtno: str | None
    stock_status: str | None
    wms_qty: str | None
    other_qty: str | None
    diff_qty: str | None
    adjust_qty: str | None
    wms_unitcd: str | None
    other_unitcd: str | None
    wms_status: str | None
    other_status: str | None
    records: int | None
    at: str | None
    first_seen_at: str

    @classmethod
    def of(cls, f: StoredFinding) -> FindingPublic:
        return cls.model_validate(dict(reconcile.as_json(f, _units)))


class FindingDetail(FindingPublic):
    evidence: dict[str, list[dict[str, Any]]]


# -- M19: book lifecycle and write-offs -------------------------------------------------------------


class LifecycleIn(Camel):
    action: Annotated[str, Field(max_length=16, description="open (设立), suspend (暂停), resume (恢复) or close (注销)")]
    reason: Annotated[str | None, Field(max_length=4000)] = None


class ModeIn(Camel):
    wms_driven: Annotated[bool, Field(description="M3: the ledger follows the WMS's movements")]


class WriteOffIn(Camel):
    putrec_no: Annotated[str, Field(max_length=12)]
    period_from: Annotated[datetime, Field(alias="from", description="start of the period, with a zone offset")]
    period_to: Annotated[datetime, Field(alias="to", description="end of the period; the last stocktake up to it is used")]


class ExplanationIn(Camel):
    putrec_seqno: Annotated[int, Field(ge=1, le=999_999_999)]
    stock_status: Annotated[str, Field(max_length=16)]
    explanation: Annotated[str, Field(max_length=4000)]


class ExplanationsIn(Camel):
    lines: Annotated[list[ExplanationIn], Field(min_length=1, max_length=10_000)]


class DecisionIn(Camel):
    note: Annotated[str | None, Field(max_length=4000, description="required when returning")] = None


class WriteOffLinePublic(Camel):
    putrec_seqno: int
    gds_mtno: str
    gds_nm: str
    stock_status: str
    dcl_unitcd: str
    opening: str
    in_qty: str
    out_qty: str
    closing: str
    counted: str | None
    counted_unitcd: str | None
    difference: str
    kind: str | None
    explanation: str | None
    needs_explanation: bool


class WriteOffPublic(Camel):
    id: int
    putrec_no: str
    uscc: str
    period_from: Annotated[str, Field(alias="from")]
    period_to: Annotated[str, Field(alias="to", description="the stocktake's time: the period ends with the count")]
    requested_to: str
    snapshot_ref: str
    status: str
    created_by: str
    created_at: str
    submitted_at: str | None
    decided_by: str | None
    decided_at: str | None
    decision_note: str | None
    surplus: str
    loss: str
    lines: list[WriteOffLinePublic] | None

    @classmethod
    def of(cls, wo: WriteOff, *, with_lines: bool = True) -> WriteOffPublic:
        def iso(x: datetime | None) -> str | None:
            return x.isoformat() if x else None

        return cls(
            id=wo.id,
            putrec_no=wo.putrec_no,
            uscc=wo.owner_uscc,
            period_from=wo.period_from.isoformat(),
            period_to=wo.period_to.isoformat(),
            requested_to=wo.requested_to.isoformat(),
            snapshot_ref=wo.snapshot_ref,
            status=wo.status.value,
            created_by=wo.created_by,
            created_at=wo.created_at.isoformat(),
            submitted_at=iso(wo.submitted_at),
            decided_by=wo.decided_by,
            decided_at=iso(wo.decided_at),
            decision_note=wo.decision_note,
            surplus=v.fmt_units(sum(ln.difference for ln in wo.lines if ln.difference > 0)),
            loss=v.fmt_units(-sum(ln.difference for ln in wo.lines if ln.difference < 0)),
            lines=[
                WriteOffLinePublic(
                    putrec_seqno=ln.putrec_seqno,
                    gds_mtno=ln.gds_mtno,
                    gds_nm=ln.gds_nm,
                    stock_status=ln.stock_status,
                    dcl_unitcd=ln.dcl_unitcd,
                    opening=v.fmt_units(ln.opening),
                    in_qty=v.fmt_units(ln.in_units),
                    out_qty=v.fmt_units(ln.out_units),
                    closing=v.fmt_units(ln.closing),
                    counted=_units(ln.counted),
                    counted_unitcd=ln.counted_unitcd,
                    difference=v.fmt_units(ln.difference),
                    kind=ln.kind,
                    explanation=ln.explanation,
                    needs_explanation=ln.needs_explanation,
                )
                for ln in wo.lines
            ]
            if with_lines
            else None,
        )
