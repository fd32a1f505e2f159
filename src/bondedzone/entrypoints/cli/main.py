"""The ``bondedzone`` command.

Serve the API, manage the database and tokens, verify the audit chain, and work with books, inventory lists
and the smart gate (``bondedzone gate …``, in ``gate.py``) through the API.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from bondedzone.config import Settings
from bondedzone.domain.errors import BzError
from bondedzone.entrypoints.cli._http import ApiOpt, TokenOpt, err, fail, out
from bondedzone.entrypoints.cli._http import call as _call
from bondedzone.entrypoints.cli._http import json_arg as _json_arg
from bondedzone.entrypoints.cli.gate import gate_app
from bondedzone.entrypoints.cli.wms import reconcile, synth, wms_app

app = typer.Typer(
    help="bondedzone — customs books, inventory lists, ledger and smart gate of a bonded zone.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (run on the server machine).", no_args_is_help=True)
audit_app = typer.Typer(help="Audit chain.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo zone.", no_args_is_help=True)
invt_app = typer.Typer(help="Inventory lists (核注清单), through the API.", no_args_is_help=True)
book_app = typer.Typer(help="Books (账册) and their stock, through the API.", no_args_is_help=True)
ent_app = typer.Typer(help="Enterprises, through the API.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(demo_app, name="demo")
app.add_typer(invt_app, name="invt")
app.add_typer(book_app, name="book")
app.add_typer(ent_app, name="enterprise")
app.add_typer(gate_app, name="gate")
app.add_typer(wms_app, name="wms")
app.command("reconcile")(reconcile)
app.command("synth")(synth)


def _container() -> Any:
    from bondedzone import bootstrap

    return bootstrap.build(Settings())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the configured database (BONDEDZONE_DATABASE_URL) to the latest schema."""
    from bondedzone import bootstrap

    s = Settings()
    bootstrap.migrate(s.database_url)
    out.print(f"schema up to date: {s.database_url}")


@demo_app.command("load")
def demo_load(force: Annotated[bool, typer.Option(help="load even if enterprises exist")] = False) -> None:
    """Load the demo zone into an empty database."""
    from bondedzone import bootstrap
    from bondedzone.entrypoints.cli import demo

    c = _container()
    try:
        bootstrap.migrate(c.settings.database_url)
        if not force and not bootstrap.is_empty(c.engine):
            out.print("database is not empty; demo not loaded (use --force)")
            return
        try:
            counts = demo.load(c.uow)
        except BzError as e:
            fail(e)
    finally:
        c.engine.dispose()  # close pooled connections now, not whenever the engine is collected
    out.print(f"demo zone loaded: {counts}")


APP_FACTORY = "bondedzone.entrypoints.api.app:create_app_from_environment"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default BONDEDZONE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default BONDEDZONE_PORT")] = None,
) -> None:
    """Migrate, load the demo zone if the database is empty, and serve the API."""
    import uvicorn

    from bondedzone import bootstrap
    from bondedzone.entrypoints import logs
    from bondedzone.entrypoints.api.app import create_app
    from bondedzone.entrypoints.cli import demo

    c = _container()
    logs.configure(c.settings.log_level, c.settings.log_format)
    bootstrap.migrate(c.settings.database_url)
    if c.settings.load_demo and bootstrap.is_empty(c.engine):
        counts = demo.load(c.uow)
        out.print(f"demo zone loaded: {counts}")
    h, p = host or c.settings.host, port or c.settings.port
    workers = c.settings.workers
    out.print(f"bondedzone on http://{h}:{p}  (API docs: http://{h}:{p}/docs)" + (f", {workers} workers" if workers > 1 else ""))
    out.print("create a token:  bondedzone token create --role customs")
    # uvicorn takes uvloop and httptools when they are installed (they are dependencies).
    options: dict[str, Any] = {"host": h, "port": p, "log_level": "warning", "access_log": False}
    if workers > 1:
        c.engine.dispose()  # every worker process opens its own connection pool
        uvicorn.run(APP_FACTORY, factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(c), **options)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="enterprise, customs, gate, zone_admin, bank or auditor")],
    uscc: Annotated[str | None, typer.Option(help="the enterprise's USCC (enterprise role only)")] = None,
    label: Annotated[str, typer.Option(help="a note for whom the token is")] = "",
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    from bondedzone import bootstrap
    from bondedzone.services import tokens

    c = _container()
    bootstrap.migrate(c.settings.database_url)
    try:
        with c.uow() as uow:
            token = tokens.create_token(uow, role, uscc, label)
            uow.commit()
    except BzError as e:
        fail(e)
    finally:
        c.engine.dispose()
    typer.echo(token)


@audit_app.command("verify")
def audit_verify() -> None:
    """Verify every book's hash chain and balances; names the first broken link. Exit 1 if broken."""
    from bondedzone.services import audit
    from bondedzone.services.authz import Principal, Role

    c = _container()
    operator = Principal(Role.AUDITOR, None, f"cli:{os.environ.get('USER', 'operator')}")
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("verifying chains", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            with c.uow(write=False) as uow:
                report = audit.verify_all(uow, operator, tick)
        finally:
            c.engine.dispose()
    if report.ok:
        out.print(f"[green]OK[/] {report.books} books, {report.links} links verified; every balance equals its postings")
        return
    first = report.first_broken
    assert first is not None
    out.print(
        f"[bold red]BROKEN[/] first broken link: book {first.putrec_no} seq {first.seq} "
        f"({first.problem}{', ' + first.kind + ' ' + str(first.ref) if first.kind else ''}): {first.detail}"
    )
    for f in report.findings[1:20]:
        out.print(f"  also: book {f.putrec_no} seq {f.seq} {f.problem}: {f.detail}")
    raise typer.Exit(1)


# ---- API client commands -------------------------------------------------------------------


@ent_app.command("register")
def ent_register(
    uscc: str,
    customs_code: str,
    name: str,
    credit: Annotated[str, typer.Option(help="aeo_advanced, ordinary or dishonest")] = "ordinary",
    wms_networked: bool = False,
    inside_fence: bool = True,
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Register an enterprise (customs token)."""
    body = {
        "uscc": uscc,
        "customsCode": customs_code,
        "name": name,
        "credit": credit,
        "wmsNetworked": wms_networked,
        "insideFence": inside_fence,
    }
    out.print_json(data=_call(api, token, "POST", "/api/v1/enterprises", body))


@book_app.command("open")
def book_open(
    putrec_no: str, book_type: str, uscc: str, master_cuscd: str, api: ApiOpt = "http://127.0.0.1:8000", token: TokenOpt = ""
) -> None:
    """设立 a book: PUTREC_NO BOOK_TYPE(logistics|processing|equipment) OWNER_USCC MASTER_CUSCD."""
    body = {"putrecNo": putrec_no, "bookType": book_type, "uscc": uscc, "masterCuscd": master_cuscd}
    out.print_json(data=_call(api, token, "POST", "/api/v1/books", body))


@book_app.command("add-item")
def book_add_item(
    putrec_no: str,
    putrec_seqno: int,
    gds_mtno: str,
    gdecd: str,
    gds_nm: str,
    dcl_unitcd: str,
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Add a book item: PUTREC_NO SEQNO PART_NO HS_CODE NAME UNIT."""
    body = {"putrecSeqno": putrec_seqno, "gdsMtno": gds_mtno, "gdecd": gdecd, "gdsNm": gds_nm, "dclUnitcd": dcl_unitcd}
    out.print_json(data=_call(api, token, "POST", f"/api/v1/books/{putrec_no}/items", body))


@book_app.command("list")
def book_list(api: ApiOpt = "http://127.0.0.1:8000", token: TokenOpt = "") -> None:
    """Books you may read."""
    data = _call(api, token, "GET", "/api/v1/books")
    table = Table("putrecNo", "type", "owner USCC", "关区")
    for b in data["data"]:
        table.add_row(b["putrecNo"], b["bookType"], b["uscc"], b["masterCuscd"])
    out.print(table)


@book_app.command("stock")
def book_stock(putrec_no: str, api: ApiOpt = "http://127.0.0.1:8000", token: TokenOpt = "") -> None:
    """Balance per item × status."""
    data = _call(api, token, "GET", f"/api/v1/books/{putrec_no}/stock")
    table = Table("putrecSeqno", "gdsMtno", "gdsNm", "status", "quantity", "unit")
    for r in data["data"]:
        table.add_row(str(r["putrecSeqno"]), r["gdsMtno"], r["gdsNm"], r["stockStatus"], r["quantity"], r["dclUnitcd"])
    out.print(table)


@book_app.command("postings")
def book_postings(
    putrec_no: str,
    item: Annotated[int | None, typer.Option(help="putrecSeqno")] = None,
    status: Annotated[str | None, typer.Option(help="bonded or non_bonded")] = None,
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """The postings behind a balance."""
    q = "&".join(f"{k}={val}" for k, val in (("putrecSeqno", item), ("stockStatus", status)) if val is not None)
    data = _call(api, token, "GET", f"/api/v1/books/{putrec_no}/postings" + (f"?{q}" if q else ""))
    table = Table("id", "seq", "item", "status", "delta", "document", "corrects", "recorded")
    for p in data["data"]:
        doc = f"{p['docType']} {p['docId']} line {p['docLine']}" + (f" leg {p['leg']}" if p["leg"] else "")
        table.add_row(
            str(p["id"]),
            str(p["chainSeq"]),
            str(p["putrecSeqno"]),
            p["stockStatus"],
            p["delta"],
            doc,
            str(p["corrects"] or ""),
            p["recordedAt"],
        )
    out.print(table)


@invt_app.command("create")
def invt_create(
    file: Annotated[Path, typer.Argument(help="JSON body of POST /api/v1/invts, or - for stdin")],
    key: Annotated[str | None, typer.Option(help="Idempotency-Key")] = None,
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Enter a draft inventory list from a JSON file."""
    out.print_json(data=_call(api, token, "POST", "/api/v1/invts", _json_arg(file), key))


def _move(action: str) -> Any:
    def command(
        invt_id: int,
        reason: Annotated[str | None, typer.Option(help="reason (reject/cancel)")] = None,
        key: Annotated[str | None, typer.Option(help="Idempotency-Key")] = None,
        api: ApiOpt = "http://127.0.0.1:8000",
        token: TokenOpt = "",
    ) -> None:
        body = {"reason": reason} if reason and action in ("reject", "cancel") else None
        data = _call(api, token, "POST", f"/api/v1/invts/{invt_id}/{action}", body, key)
        out.print(f"list {data['id']} {data.get('bondInvtNo') or ''}: [bold]{data['status']}[/]")

    command.__doc__ = f"{action.capitalize()} an inventory list."
    return command


for _action in ("declare", "approve", "reject", "cancel"):
    invt_app.command(_action)(_move(_action))


@invt_app.command("show")
def invt_show(invt_id: int, api: ApiOpt = "http://127.0.0.1:8000", token: TokenOpt = "") -> None:
    """One list with its lines and history."""
    out.print_json(data=_call(api, token, "GET", f"/api/v1/invts/{invt_id}/history"))
    out.print_json(data=_call(api, token, "GET", f"/api/v1/invts/{invt_id}"))


@invt_app.command("list")
def invt_list(
    status: Annotated[str | None, typer.Option()] = None,
    book: Annotated[str | None, typer.Option(help="putrecNo")] = None,
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """List headers."""
    q = "&".join(f"{k}={val}" for k, val in (("status", status), ("putrecNo", book)) if val)
    data = _call(api, token, "GET", "/api/v1/invts" + (f"?{q}" if q else ""))
    table = Table("id", "bondInvtNo", "inner no", "book", "I/E", "mode", "flow", "status")
    for i in data["data"]:
        table.add_row(
            str(i["id"]),
            i["bondInvtNo"] or "",
            i["etpsInnerInvtNo"],
            i["putrecNo"],
            i["impexpMarkcd"],
            i["supvModecd"],
            i["flow"],
            i["status"],
        )
    out.print(table)
    out.print(f"{data['count']} lists")


@app.command("convert")
def convert(
    file: Annotated[Path, typer.Argument(help="JSON body of POST /api/v1/conversions, or -")],
    key: Annotated[str | None, typer.Option(help="Idempotency-Key")] = None,
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """M9: convert stock status on a completed declaration (posts directly)."""
    out.print_json(data=_call(api, token, "POST", "/api/v1/conversions", _json_arg(file), key))


if __name__ == "__main__":  # pragma: no cover
    app()
