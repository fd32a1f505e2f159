"""W2/W3 自动比对印证: comparison runs on demand, the continuous open set, findings and evidence.

The comparison itself is :mod:`bondedzone.domain.rules.w2_comparison`; an engine (DuckDB by
default, Spark when configured — W4) executes it and is handed in as a :data:`CompareEngine`, so
this module knows no engine. Relations are read from storage in one read transaction, compared
outside any transaction, and the findings stored in a short write transaction.

Who sees what: customs runs and reads everything; an enterprise runs the comparison on, and reads
the findings of, its own books only (a self-check before customs looks); the auditor reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bondedzone.domain.errors import BzError
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.services.authz import Action, Principal, Role, require_role
from bondedzone.services.ports import ReconRun, StoredFinding, UnitOfWork, UnitOfWorkFactory

Relations = dict[str, list[tuple[object, ...]]]
CompareEngine = Callable[[Relations, w2.Params], list[w2.Finding]]
Progress = Callable[[str], None]
MAX_PERIOD = timedelta(days=3 * 366)
MAX_TOLERANCE = timedelta(days=30)


def _us(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def params(period_from: datetime, period_to: datetime, tolerance: timedelta, *, now: datetime | None = None) -> w2.Params:
    """The comparison's parameters, or a coded refusal for an empty, reversed or too long period."""
    if period_from.tzinfo is None or period_to.tzinfo is None:
        raise BzError("BZ-RECON-PERIOD", reason_zh="时间须带时区", reason_en="times must carry a zone offset")
    if period_from >= period_to:
        raise BzError("BZ-RECON-PERIOD", reason_zh="起始时间须早于截止时间", reason_en="from must be before to")
    if period_to - period_from > MAX_PERIOD:
        raise BzError("BZ-RECON-PERIOD", reason_zh="期间不得超过 3 年", reason_en="the period may not exceed 3 years")
    if not (timedelta(0) <= tolerance <= MAX_TOLERANCE):
        raise BzError("BZ-RECON-PERIOD", reason_zh="容差须在 0 至 30 天之间", reason_en="the tolerance must be 0 to 30 days")
    return w2.Params(
        _us(period_from), _us(period_to), int(tolerance.total_seconds() * 1_000_000), _us(now) if now is not None else None
    )


def _visible_books(
    uow: UnitOfWork, who: Principal, putrec_no: str | None, *, compared: bool = False
) -> dict[int, tuple[str, str]]:
    """The books ``who`` may see; ``compared``: of those, the ones a comparison covers (networked)."""
    owner = who.uscc if who.role is Role.ENTERPRISE else None
    books = uow.wms.books_of(owner, putrec_no)
    if putrec_no is not None and not books:
        raise BzError("BZ-BOOK-NOT-FOUND", putrecNo=putrec_no)
    if compared and putrec_no is None:
        # A warehouse that is not networked sends no WMS data: comparing its declarations with
        # nothing would only say so for every line.
        books = uow.wms.books_of(owner, None, networked=True)
    return books


@dataclass(frozen=True)
class RunSummary:
    """A finished run: what was compared and what was found, per class."""

    run: ReconRun
    errors: int
    lags: int


@dataclass(frozen=True)
class Computed:
    """A comparison done but not yet stored."""

    books: dict[int, tuple[str, str]]
    findings: list[w2.Finding]
    rows: int
    started_at: datetime
    seconds: float
    period_from: datetime
    period_to: datetime
    tolerance: timedelta
    putrec_no: str | None


def compute(
    uow_factory: UnitOfWorkFactory,
    who: Principal,
    engine: CompareEngine,
    *,
    period_from: datetime,
    period_to: datetime,
    tolerance: timedelta,
    putrec_no: str | None = None,
    progress: Progress | None = None,
) -> Computed:
    """Compare the visible books over ``[period_from, period_to)``: read in one transaction, compare outside any."""
    require_role(who, Action.RECONCILE)
    params(period_from, period_to, tolerance)  # refuse a bad period before reading anything
    started = time.time()
    with uow_factory(write=False) as uow:
        started_at = uow.now()
        p = params(period_from, period_to, tolerance, now=started_at)
        books = _visible_books(uow, who, putrec_no, compared=True)
        if progress:
            progress("reading")
        rels = uow.wms.relations(books.keys(), period_to)
    if progress:
        progress("comparing")
    found = engine(rels, p)
    rows = sum(len(x) for x in rels.values())
    return Computed(books, found, rows, started_at, time.time() - started, period_from, period_to, tolerance, putrec_no)


def store(uow: UnitOfWork, who: Principal, done: Computed, *, engine_name: str) -> RunSummary:
    """Keep a computed comparison as a run with its findings (in the caller's transaction)."""
    require_role(who, Action.RECONCILE)
    counts = {c.value: 0 for c in w2.Cls}
    for f in done.findings:
        counts[f.cls.value] += 1
    rec = ReconRun(
        0,
        who.subject,
        who.uscc if who.role is Role.ENTERPRISE else None,
        done.putrec_no,
        done.period_from,
        done.period_to,
        int(done.tolerance.total_seconds()),
        engine_name,
        {**counts, "seconds": round(done.seconds, 3)},
        done.rows,
        done.started_at,
        uow.now(),
    )
    run_id = uow.wms.add_run(rec)
    uow.wms.add_findings(run_id, {no: bid for bid, (no, _) in done.books.items()}, done.findings)
    lags = counts[w2.Cls.TIMING_LAG.value]
    return RunSummary(replace(rec, id=run_id), len(done.findings) - lags, lags)


def run(
    uow_factory: UnitOfWorkFactory,
    who: Principal,
    engine: CompareEngine,
    *,
    engine_name: str,
    period_from: datetime,
    period_to: datetime,
    tolerance: timedelta,
    putrec_no: str | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Compare and store in one go (the CLI's path)."""
    done = compute(
        uow_factory,
        who,
        engine,
        period_from=period_from,
        period_to=period_to,
        tolerance=tolerance,
        putrec_no=putrec_no,
        progress=progress,
    )
    if progress:
        progress("storing")
    with uow_factory(write=True) as uow:
        summary = store(uow, who, done, engine_name=engine_name)
        uow.commit()
    return summary


def get_run(uow: UnitOfWork, who: Principal, run_id: int) -> ReconRun:
    """A run the caller may see (an enterprise: its own runs only)."""
    require_role(who, Action.WMS_READ)
    r = uow.wms.get_run(run_id)
    if r is None or (who.role is Role.ENTERPRISE and r.owner_uscc != who.uscc):
        raise BzError("BZ-RECON-NOT-FOUND", id=run_id)
    return r


def findings(
    uow: UnitOfWork,
    who: Principal,
    run_id: int | None,
    *,
    cls: str | None = None,
    putrec_no: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[StoredFinding], int]:
    """A page of a run's findings, or of the continuous open set (``run_id`` None), on visible books."""
    require_role(who, Action.WMS_READ)
    if run_id is not None:
        get_run(uow, who, run_id)
    if cls is not None and cls not in {c.value for c in w2.Cls}:
        raise BzError("BZ-RECON-CLASS", cls=cls[:40], known=", ".join(c.value for c in w2.Cls))
    books = _visible_books(uow, who, putrec_no)
    return uow.wms.findings(run_id, books.keys(), cls=cls, limit=limit, offset=offset)


def all_findings(uow: UnitOfWork, who: Principal, run_id: int) -> list[StoredFinding]:
    """Every finding of a run the caller may see, for an export (read page by page)."""
    out: list[StoredFinding] = []
    while True:
        page, total = findings(uow, who, run_id, limit=1000, offset=len(out))
        out += page
        if not page or len(out) >= total:
            return out


def finding(uow: UnitOfWork, who: Principal, finding_id: int) -> tuple[StoredFinding, dict[str, list[dict[str, object]]]]:
    """One finding with its evidence: the records on both sides."""
    require_role(who, Action.WMS_READ)
    books = _visible_books(uow, who, None)
    got = uow.wms.finding(finding_id, books.keys())
    if got is None:
        raise BzError("BZ-RECON-NOT-FOUND", id=finding_id)
    return got, uow.wms.evidence(got.book_id, got)


def refresh_open(
    uow_factory: UnitOfWorkFactory,
    engine: CompareEngine,
    book_ids: Sequence[int],
    *,
    now: datetime,
    window: timedelta,
    tolerance: timedelta,
) -> int:
    """W3: recompute the continuous open set of ``book_ids`` as of ``now``; returns the findings kept."""
    if not book_ids:
        return 0
    p = params(now - window, now + timedelta(microseconds=1), tolerance, now=now)
    with uow_factory(write=False) as uow:
        books = {bid: v for bid, v in uow.wms.books_of(None, networked=True).items() if bid in set(book_ids)}
        rels = uow.wms.relations(books.keys(), now + timedelta(microseconds=1))
    found = engine(rels, p)
    with uow_factory(write=True) as uow:
        uow.wms.replace_open(books.keys(), found, {no: bid for bid, (no, _) in books.items()})
        uow.commit()
    return len(found)


def as_json(f: StoredFinding, units: Callable[[int | None], str | None]) -> Mapping[str, object]:
    """A stored finding in the API's shape (quantities as decimal strings)."""
    label = w2.LABELS.get(w2.Cls(f.cls))
    return {
        "id": f.id,
        "runId": f.run_id,
        "putrecNo": f.putrec_no,
        "cls": f.cls,
        "label": {"zh": label[0], "en": label[1]} if label else None,
        "isError": f.cls != w2.Cls.TIMING_LAG.value,
        "scope": f.scope,
        "ref": f.ref,
        "line": f.line,
        "gdsMtno": f.gds_mtno,
        "stockStatus": f.stock_status,
        "wmsQty": units(f.wms_units),
        "otherQty": units(f.other_units),
        "diffQty": units(f.diff_units),
        "adjustQty": units(f.adjust_units),
        "wmsUnitcd": f.wms_unitcd,
        "otherUnitcd": f.other_unitcd,
        "wmsStatus": f.wms_status,
        "otherStatus": f.other_status,
        "records": f.n,
        "at": f.at.isoformat() if f.at else None,
        "firstSeenAt": f.first_seen_at.isoformat(),
    }
