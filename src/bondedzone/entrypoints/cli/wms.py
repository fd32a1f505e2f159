"""CLI of WMS networking and reconciliation: ``reconcile``, ``synth`` and ``wms send|watch``.

``reconcile`` and ``synth`` are operator tools that work on the configured database directly (like
``audit verify``); ``wms send`` goes through the API with an enterprise's token, as a WMS would;
``wms watch`` ingests the files dropped into a folder, one subfolder per enterprise (by USCC).
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bondedzone.config import Settings
from bondedzone.domain.errors import BzError
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.domain.wms import CST
from bondedzone.entrypoints.cli._http import DEFAULT_API, ApiOpt, TokenOpt, err, fail, out

wms_app = typer.Typer(help="WMS networking (M22): send files, watch a folder.", no_args_is_help=True)


def moment(value: str, *, end: bool = False) -> datetime:
    """A date (China time; the end of a period means the next midnight) or an ISO date-time."""
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).replace(tzinfo=CST)
            return day + timedelta(days=1) if end else day
        t = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (2026-11-01) or an ISO date-time") from None
    return t if t.tzinfo else t.replace(tzinfo=CST)


def reconcile(
    period_from: Annotated[str, typer.Option("--from", help="first day (China time) or ISO date-time")],
    period_to: Annotated[str, typer.Option("--to", help="last day, inclusive, or an ISO date-time (exclusive)")],
    book: Annotated[str | None, typer.Option("--book", help="one book (putrecNo); default all")] = None,
    tolerance_minutes: Annotated[
        int | None,
        typer.Option(help="a counterpart missing for less is a lag; default BONDEDZONE_RECON_TOLERANCE_MINUTES"),
    ] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark; default BONDEDZONE_RECON_ENGINE")] = None,
    export: Annotated[Path | None, typer.Option(help="also write the findings to this .csv or .xlsx file")] = None,
) -> None:
    """W2: compare WMS data with declarations and the ledger for a period, with a progress bar; keep the run."""
    from bondedzone import bootstrap
    from bondedzone.adapters.files import exports
    from bondedzone.entrypoints.api import wms_schemas
    from bondedzone.services import reconcile as service
    from bondedzone.services.authz import Principal, Role

    if export is not None and export.suffix.lower() not in (".csv", ".xlsx"):
        raise typer.BadParameter("--export must end in .csv or .xlsx")
    if engine not in (None, "duckdb", "spark"):
        raise typer.BadParameter("--engine must be duckdb or spark")
    settings = Settings()
    if engine:
        settings = settings.model_copy(update={"recon_engine": engine})
    c = bootstrap.build(settings)
    operator = Principal(Role.CUSTOMS, None, f"cli:{os.environ.get('USER', 'operator')}")
    tol = c.recon_tolerance if tolerance_minutes is None else timedelta(minutes=tolerance_minutes)
    stages = ["reading", "comparing", "storing"]
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True
        ) as progress:
            task = progress.add_task("starting", total=len(stages))

            def stage(name: str) -> None:
                progress.update(task, description=name, completed=stages.index(name))

            summary = service.run(
                c.uow,
                operator,
                c.compare_engine(),
                engine_name=settings.recon_engine,
                period_from=moment(period_from),
                period_to=moment(period_to, end=True),
                tolerance=tol,
                putrec_no=book,
                progress=stage,
            )
            progress.update(task, completed=len(stages))
        run = summary.run
        table = Table("class", "说明", "findings", title=f"reconciliation {run.id}: {run.rows_compared:,} rows compared")
        for cls in w2.Cls:
            table.add_row(cls.value, w2.LABELS[cls][0], str(run.counts.get(cls.value, 0)))
        out.print(table)
        out.print(f"{summary.errors} discrepancies to act on, {summary.lags} timing lags; {run.counts.get('seconds')} s")
        if export is not None:
            with c.uow(write=False) as uow:
                found = service.all_findings(uow, operator, run.id)
            rows = [wms_schemas.FindingPublic.of(f).model_dump(mode="json", by_alias=True) for f in found]
            title = f"reconciliation {run.id} {run.period_from.isoformat()} – {run.period_to.isoformat()}"
            data = exports.findings_xlsx(rows, title=title) if export.suffix.lower() == ".xlsx" else exports.findings_csv(rows)
            export.write_bytes(data)
            out.print(f"written: {export} ({len(rows)} findings)")
    except BzError as e:
        fail(e, most=20)
    finally:
        c.engine.dispose()


def synth(
    enterprises: Annotated[int, typer.Option(min=1, max=500, help="warehousing enterprises, one logistics book each")] = 3,
    days: Annotated[int, typer.Option(min=1, max=366)] = 7,
    seed: Annotated[int, typer.Option(help="same seed, same zone")] = 1,
    inject: Annotated[int, typer.Option(min=0, max=1000, help="discrepancies injected of each kind")] = 2,
    lists_per_day: Annotated[int, typer.Option(min=1, max=1000)] = 6,
    out_dir: Annotated[Path | None, typer.Option("--out", help="write WMS files (GB18030 CSV) and the ground truth here")] = None,
    load: Annotated[bool, typer.Option(help="load the zone into the configured database through the services")] = False,
    movements: Annotated[
        int | None, typer.Option(min=10_000, max=200_000_000, help="benchmark scale: exactly this many WMS movements")
    ] = None,
    parquet: Annotated[Path | None, typer.Option(help="with --movements: write the comparison's relations here")] = None,
) -> None:
    """Generate a realistic synthetic zone with injected discrepancies whose ground truth is known.

    With ``--movements N --parquet DIR`` the zone is generated at benchmark scale by DuckDB alone
    (20 books, 30 days, exactly N movements) as the comparison's Parquet relations, for
    ``make bench`` or a Spark cluster; the ground truth goes to DIR/truth.json.
    """
    if movements is not None or parquet is not None:
        _bulk(movements, parquet, seed)
        return
    from bondedzone.services import synth as gen

    data = gen.generate(enterprises=enterprises, days=days, seed=seed, inject=inject, lists_per_day=lists_per_day)
    p = data.params
    first, last = datetime.fromtimestamp(p.p_from / 1e6, tz=CST), datetime.fromtimestamp((p.p_to - 1) / 1e6, tz=CST)
    period = f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"
    out.print(
        f"{len(data.enterprises)} enterprises, {len(data.decls)} declaration lines, {len(data.movements)} movements, "
        f"{len(data.stock)} stocktake lines over {period}; {len(data.truth)} discrepancies injected"
    )
    if out_dir is not None:
        _write_files(data, out_dir)
        out.print(f"written: {out_dir}/<book>/movements.csv, stocktake.csv (GB18030) and truth.json")
    if load:
        _load(data)


def _bulk(movements: int | None, parquet: Path | None, seed: int) -> None:
    from bondedzone.adapters.compare import bulk_synth

    if movements is None or parquet is None:
        raise typer.BadParameter("--movements and --parquet go together")
    started = time.perf_counter()
    data = bulk_synth.generate(parquet, movements, seed=seed)
    truth = [dict(zip(("cls", "scope", "book", "ref", "line", "status"), k, strict=True)) for k in sorted(data.truth, key=str)]
    (parquet / "truth.json").write_text(
        json.dumps({"params": data.params.__dict__, "expected": data.expected, "truth": truth}, ensure_ascii=False), "utf-8"
    )
    rows = ", ".join(f"{k} {n:,}" for k, n in data.rows.items())
    out.print(
        f"written to {parquet} in {time.perf_counter() - started:.1f} s: {rows}; {len(data.truth):,} discrepancies injected"
    )


def _write_files(data: Any, out_dir: Path) -> None:
    import csv
    import io

    from bondedzone.services import synth as gen

    def at(us: int) -> str:
        return datetime.fromtimestamp(us / 1e6, tz=CST).isoformat()

    for e in data.enterprises:
        d = out_dir / e.book
        d.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(
            [
                "单号",
                "账册编号",
                "业务类型",
                "料号",
                "数量",
                "单位",
                "状态",
                "原状态",
                "发生时间",
                "关联单号",
                "关联序号",
                "源库位",
                "目标库位",
            ]
        )
        for m in (m for m in data.movements if m.book == e.book):
            w.writerow(
                [m.ref, m.book, m.kind, m.mtno, gen._qty_str(m.qty), m.unit, m.status, m.from_status or "", at(m.ts),
                 m.doc_no or "", m.doc_line or "", m.from_location or "", m.to_location or ""]
            )  # fmt: skip
        (d / "movements.csv").write_bytes(buf.getvalue().encode("gb18030"))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["盘点单号", "账册编号", "盘点时间", "料号", "状态", "库位", "数量", "单位"])
        for s in (s for s in data.stock if s.book == e.book):
            w.writerow(
                [f"ST-{s.book}-{s.taken_at}", s.book, at(s.taken_at), s.mtno, s.status, s.location, gen._qty_str(s.qty), s.unit]
            )
        (d / "stocktake.csv").write_bytes(buf.getvalue().encode("gb18030"))
    truth = [dict(zip(("cls", "scope", "book", "ref", "line", "status"), k, strict=True)) for k in sorted(data.truth, key=str)]
    (out_dir / "truth.json").write_text(
        json.dumps({"injected": data.injected, "truth": truth}, ensure_ascii=False, indent=1), "utf-8"
    )


def _load(data: Any) -> None:
    from bondedzone import bootstrap
    from bondedzone.entrypoints.cli.demo import make_uscc
    from bondedzone.services import synth as gen

    clock = gen.SettableClock(datetime.now(UTC) - timedelta(days=3650))
    settings = Settings()
    bootstrap.migrate(settings.database_url)
    c = bootstrap.build(settings, clock=clock)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    usccs = [make_uscc(f"MA7{alphabet[n // 31 % 31]}{alphabet[n % 31]}{n:04d}"[:9]) for n in range(len(data.enterprises))]
    try:
        with Progress(TextColumn("loading declarations"), BarColumn(), TimeElapsedColumn(), console=err, transient=True) as pr:
            task = pr.add_task("load", total=None)
            loaded = gen.load(
                c.uow, clock, data, usccs=usccs, progress=lambda n, total: pr.update(task, completed=n, total=total)
            )
    except BzError as e:
        fail(e, most=20)
    finally:
        c.engine.dispose()
    books = ", ".join(f"{b} ({u})" for b, u in loaded.usccs.items())
    out.print(f"loaded into {settings.database_url}: {books}")
    p = data.params
    f = datetime.fromtimestamp(p.p_from / 1e6, tz=CST)
    t = datetime.fromtimestamp((p.p_to - 1) / 1e6, tz=CST)
    out.print(f"now try:  bondedzone reconcile --from {f:%Y-%m-%d} --to {t:%Y-%m-%d}")


@wms_app.command("send")
def send(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a .csv, .json or .xml WMS export")],
    partial: Annotated[bool, typer.Option(help="store the valid records even if some are refused")] = False,
    encoding: Annotated[str | None, typer.Option(help="utf-8, gbk, gb18030 …; default: detected")] = None,
    api: ApiOpt = DEFAULT_API,
    token: TokenOpt = "",
) -> None:
    """Send a WMS file through the API, as the enterprise whose token is given."""
    params: dict[str, str] = {"name": file.name}
    if partial:
        params["partial"] = "true"
    if encoding:
        params["encoding"] = encoding
    try:
        r = httpx.post(
            api.rstrip("/") + "/api/v1/wms/files",
            params=params,
            content=file.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
            timeout=300,
        )
    except httpx.HTTPError as e:
        err.print(f"[red]cannot reach {api}: {e}[/]")
        raise typer.Exit(3) from None
    data = r.json()
    if r.status_code >= 400:
        err.print(f"[bold red]{data.get('code')}[/] {data['messages']['zh']}\n{data['messages']['en']}")
        for sub in data.get("errors", [])[:50]:
            d = sub.get("detail", {})
            where = f"record {d.get('record')}" + (f" (line {d['line']})" if d.get("line") else "")
            err.print(f"  [red]{sub['code']}[/] {where}: {sub['messages']['en']}")
        raise typer.Exit(2)
    out.print(
        f"{data['records']} records: {data['accepted']} accepted, {data['duplicates']} duplicates, {data['rejected']} rejected"
        + (" (replayed)" if data.get("replayed") else "")
    )
    for rej in data.get("rejections", [])[:50]:
        for problem in rej["errors"]:
            out.print(f"  record {rej['record']}: [red]{problem['code']}[/] {problem['messages']['en']}")


@wms_app.command("watch")
def watch(
    folder: Annotated[Path, typer.Argument(file_okay=False, help="root folder; files go in <folder>/<USCC>/")],
    once: Annotated[bool, typer.Option(help="look once and exit (a cron job) instead of watching")] = False,
    interval: Annotated[float, typer.Option(min=0.1, max=3600)] = 1.0,
) -> None:
    """Ingest WMS files dropped into <folder>/<USCC>/; each moves to done/ or rejected/ with its answer."""
    from bondedzone import bootstrap
    from bondedzone.adapters.background import FolderWatcher

    c = bootstrap.build(Settings())
    bootstrap.migrate(c.settings.database_url)
    folder.mkdir(parents=True, exist_ok=True)
    watcher = FolderWatcher(c.uow, folder, interval=interval)
    out.print(f"watching {folder} (one subfolder per enterprise USCC); Ctrl-C to stop")
    try:
        while True:
            for path in watcher.step():
                out.print(f"ingested {path.parent.name}/{path.name}")
            if once and not watcher._sizes:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        c.engine.dispose()
