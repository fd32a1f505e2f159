"""``bondedzone gate …``: gate passes, crossings, bound documents and the gate simulator, through the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bondedzone.config import Settings
from bondedzone.domain.errors import BzError
from bondedzone.entrypoints.cli import gate_sim
from bondedzone.entrypoints.cli._http import DEFAULT_API, ApiOpt, TokenOpt, call, err, json_arg, out

gate_app = typer.Typer(help="The smart gate (智能卡口): gate passes, crossings, documents, the simulator.", no_args_is_help=True)
pass_app = typer.Typer(help="Gate passes (核放单), through the API.", no_args_is_help=True)
summary_app = typer.Typer(help="Two-step summary declarations (概要申报, M6), through the API.", no_args_is_help=True)
gate_app.add_typer(pass_app, name="pass")
gate_app.add_typer(summary_app, name="summary")

KeyOpt = Annotated[str | None, typer.Option("--key", help="Idempotency-Key: a retry with it gets the first answer")]
LangOpt = Annotated[str, typer.Option("--lang", help="language of the reasons: zh or en")]


def _lang(lang: str) -> dict[str, str]:
    return {"Accept-Language": "zh-CN" if lang.lower().startswith("zh") else "en"}


def _reasons_table(x: dict[str, Any]) -> Table:
    table = Table("rule", "held", "reason", "figures", title=f"crossing {x['id']}: [bold]{x['decision'] or x['status']}[/]")
    for r in x["reasons"]:
        figures = ", ".join(f"{k}={v}" for k, v in r["figures"].items() if v is not None)
        table.add_row(r["rule"], "[red]hold[/]" if r["held"] else "[green]ok[/]", r["message"], figures)
    return table


def _print_crossing(x: dict[str, Any]) -> None:
    gross = f", weighed {x['grossWt']} kg" if x.get("grossWt") else ""
    out.print(f"{x['vehicleNo']} at {x['gateId']} ({x['lane']} lane), pass {x['passportNo'] or '—'}: {x['status']}{gross}")
    out.print(_reasons_table(x))


@pass_app.command("create")
def pass_create(
    file: Annotated[Path, typer.Option("--file", help="JSON body of POST /api/v1/passports, or - for stdin")],
    key: KeyOpt = None,
    api: ApiOpt = DEFAULT_API,
    token: TokenOpt = "",
) -> None:
    """Make a gate pass from a JSON file (the enterprise's token, or customs')."""
    gp = call(api, token, "POST", "/api/v1/passports", json_arg(file), key)
    out.print(f"gate pass [bold]{gp['passportNo']}[/] for {gp['vehicleNo']}: {gp['status']}, total {gp['totalWt']} kg")
    out.print_json(data=gp)


@pass_app.command("show")
def pass_show(passport_no: str, lang: LangOpt = "en", api: ApiOpt = DEFAULT_API, token: TokenOpt = "") -> None:
    """A gate pass: head, lines, and every crossing made with it with its reasons."""
    gp = call(api, token, "GET", f"/api/v1/passports/{passport_no}", headers=_lang(lang))
    head = Table("field", "value", title=f"gate pass {gp['passportNo']} — {gp['status']}")
    for k in ("etpsPreentNo", "areainEtpsSccd", "areainOriactNo", "passportTypecd", "ioTypecd", "bindTypecd", "vehicleNo"):
        head.add_row(k, str(gp[k] if gp[k] is not None else "—"))
    weights = f"{gp['vehicleWt']} + frame {gp['vehicleFrameWt']} + container {gp['containerWt']} + goods {gp['totalGrossWt']}"
    head.add_row("totalWt", f"{gp['totalWt']} kg ({weights})")
    if gp["containerNo"]:
        head.add_row("containerNo", gp["containerNo"])
    out.print(head)
    lines = Table("#", "document", "line", "goods", "category", "HS", "qty", "unit", title="lines")
    for ln in gp["lines"]:
        doc = f"{ln['rltTbTypecd']} {ln['rltNo']}" if ln["rltNo"] else "—"
        lines.add_row(
            str(ln["passportSeqno"]),
            doc,
            str(ln["rltGdsSeqno"] or "—"),
            ln["gdsNm"],
            ln["category"] or "—",
            ln["gdecd"] or "—",
            ln["dclQty"],
            ln["dclUnitcd"],
        )
    out.print(lines)
    for x in gp.get("crossings") or []:
        out.print(_reasons_table(x))


@pass_app.command("list")
def pass_list(
    status: Annotated[str | None, typer.Option(help="approved, in_gate, passed, crossed or cancelled")] = None,
    plate: Annotated[str | None, typer.Option(help="vehicle plate")] = None,
    api: ApiOpt = DEFAULT_API,
    token: TokenOpt = "",
) -> None:
    """Gate passes you may read, newest first."""
    q = "&".join(f"{k}={v}" for k, v in (("status", status), ("vehicleNo", plate)) if v)
    data = call(api, token, "GET", "/api/v1/passports" + (f"?{q}" if q else ""))
    table = Table("passportNo", "inner no", "type", "I/E", "bind", "plate", "totalWt", "status")
    for p in data["data"]:
        table.add_row(
            p["passportNo"],
            p["etpsPreentNo"],
            p["passportTypecd"],
            p["ioTypecd"],
            p["bindTypecd"] or "—",
            p["vehicleNo"],
            p["totalWt"],
            p["status"],
        )
    out.print(table)
    out.print(f"{data['count']} gate passes")


@pass_app.command("cancel")
def pass_cancel(passport_no: str, key: KeyOpt = None, api: ApiOpt = DEFAULT_API, token: TokenOpt = "") -> None:
    """作废 a gate pass that has not reached the gate."""
    gp = call(api, token, "POST", f"/api/v1/passports/{passport_no}/cancel", None, key)
    out.print(f"gate pass {gp['passportNo']}: [bold]{gp['status']}[/]")


@summary_app.command("create")
def summary_create(
    file: Annotated[Path, typer.Option("--file", help="JSON body of POST /api/v1/entry-summaries, or -")],
    key: KeyOpt = None,
    api: ApiOpt = DEFAULT_API,
    token: TokenOpt = "",
) -> None:
    """Enter a two-step summary declaration; a pass may bind it once customs releases it."""
    doc = call(api, token, "POST", "/api/v1/entry-summaries", json_arg(file), key)
    out.print(f"summary declaration {doc['rltNo']}: {'released' if doc['ready'] else 'awaiting release by customs'}")


@summary_app.command("release")
def summary_release(entry_no: str, key: KeyOpt = None, api: ApiOpt = DEFAULT_API, token: TokenOpt = "") -> None:
    """Customs releases (放行) a summary declaration."""
    doc = call(api, token, "POST", f"/api/v1/entry-summaries/{entry_no}/release", None, key)
    out.print(f"summary declaration {doc['rltNo']}: [bold]released[/]")


@gate_app.command("cross")
def cross(
    gate: Annotated[str, typer.Option("--gate", help="gate id, e.g. G01")],
    lane: Annotated[str, typer.Option("--lane", help="declared or non_declared")],
    plate: Annotated[str, typer.Option("--plate", help="the vehicle's plate, e.g. 云A12345")],
    passport: Annotated[str | None, typer.Option("--passport", help="passportNo, when read; else found by plate")] = None,
    gross: Annotated[str | None, typer.Option("--gross", help="weighbridge reading in kg (passCollectWt)")] = None,
    key: KeyOpt = None,
    lang: LangOpt = "en",
    api: ApiOpt = DEFAULT_API,
    token: TokenOpt = "",
) -> None:
    """Report a vehicle at the gate (arrive, weigh, decide in one call) and show the decision with its reasons."""
    body: dict[str, Any] = {"gateId": gate, "lane": lane, "vehicleNo": plate}
    if passport:
        body["passportNo"] = passport
    if gross is not None:
        body["grossWt"] = gross
    _print_crossing(call(api, token, "POST", "/api/v1/gate/cross", body, key, headers=_lang(lang)))


@gate_app.command("event")
def event(
    crossing_id: int,
    kind: Annotated[str, typer.Argument(help="weigh, decide, leave or release")],
    gross: Annotated[str | None, typer.Option("--gross", help="weigh: the reading in kg")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="release: what the inspection found")] = None,
    key: KeyOpt = None,
    lang: LangOpt = "en",
    api: ApiOpt = DEFAULT_API,
    token: TokenOpt = "",
) -> None:
    """Record one event of a crossing made with POST /api/v1/gate/crossings (arrive)."""
    if kind not in ("weigh", "decide", "leave", "release"):
        err.print("[red]BZ-VALIDATION[/] the event is weigh, decide, leave or release")
        raise typer.Exit(2)
    body = {"grossWt": gross} if kind == "weigh" else {"reason": reason or ""} if kind == "release" else None
    _print_crossing(call(api, token, "POST", f"/api/v1/gate/crossings/{crossing_id}/{kind}", body, key, headers=_lang(lang)))


@gate_app.command("doc")
def doc(
    rlt_tb_typecd: Annotated[str, typer.Argument(help="1 inventory list, 4 summary declaration")],
    rlt_no: Annotated[str, typer.Argument(help="bondInvtNo or entryNo")],
    api: ApiOpt = DEFAULT_API,
    token: TokenOpt = "",
) -> None:
    """A bound document: declared, delivered and remaining per line (M7)."""
    d = call(api, token, "GET", f"/api/v1/gate/docs/{rlt_tb_typecd}/{rlt_no}")
    started = any(ln["delivered"] != "0" for ln in d["lines"])
    state = "complete" if d["complete"] else "partly delivered" if started else "ready to cross" if d["ready"] else "not ready"
    table = Table("line", "HS", "goods", "unit", "declared", "delivered", "remaining", title=f"{d['rltNo']} — {state}")
    for ln in d["lines"]:
        table.add_row(
            str(ln["gdsSeqno"]), ln["gdecd"], ln["gdsNm"], ln["dclUnitcd"], ln["declared"], ln["delivered"], ln["remaining"]
        )
    out.print(table)


# -- the simulator ------------------------------------------------------------------------------


def _make_tokens(database_url: str | None, day: gate_sim.Plan) -> gate_sim.Tokens:
    """Customs, gate, zone administration and each demo enterprise of the day, as `token create` makes them."""
    from bondedzone import bootstrap
    from bondedzone.services import tokens

    settings = Settings(database_url=database_url) if database_url else Settings()
    c = bootstrap.build(settings)
    books = {d.book for d in day.docs} | {v.book for v in day.vehicles if v.book}
    try:
        with c.uow() as uow:
            made = {role: tokens.create_token(uow, role, None, "gate simulate") for role in ("customs", "gate", "zone_admin")}
            firms = {
                gate_sim.OWNERS[b]: tokens.create_token(uow, "enterprise", gate_sim.OWNERS[b], "gate simulate") for b in books
            }
            uow.commit()
    except BzError as e:
        hint = " — is the demo zone loaded? (`bondedzone demo load`)" if e.code == "BZ-ENTERPRISE-NOT-FOUND" else ""
        err.print(f"[bold red]{e.code}[/] {e.message('en')}{hint}")
        raise typer.Exit(2) from None
    except Exception as e:  # no such database, not migrated …
        err.print(f"[bold red]cannot create tokens in {settings.database_url}[/]: {type(e).__name__}: {str(e).splitlines()[0]}")
        err.print("run the simulator next to the server (same BONDEDZONE_DATABASE_URL), or pass --token / --gate-token")
        raise typer.Exit(2) from None
    finally:
        c.engine.dispose()
    out.print(
        f"[dim]tokens for customs, the gate, the zone administration and {len(firms)} enterprises created in "
        f"{settings.database_url} (label 'gate simulate')[/]"
    )
    return gate_sim.Tokens(made["customs"], made["gate"], made["zone_admin"], firms)


def _print_report(r: gate_sim.Report, verbose: bool) -> None:
    if verbose:
        every = Table("#", "kind", "plate", "decision", "held by", "spot check", "ms", title="vehicles")
        for o in r.outcomes:
            spot = ("selected, released" if o.released else "selected") if o.spot_checked else ""
            every.add_row(str(o.n), o.kind, o.plate, o.decision, ", ".join(o.held_by), spot, f"{o.latency_ms:.1f}")
        out.print(every)
    summary = Table("", "", title=f"a day at the gate — seed {r.seed}, run {r.tag}", show_header=False)
    summary.add_row("vehicles", str(len(r.outcomes)))
    summary.add_row("passed", f"{r.passed}  ({r.released_after_inspection} after a spot check and customs' release)")
    held = ", ".join(f"{rule} {n}" for rule, n in r.held_by_rule.items()) or "—"
    summary.add_row("held", f"{r.held}  (by rule: {held})")
    summary.add_row("spot checks (M4)", str(r.spot_checks))
    summary.add_row("hazchem records (M4)", str(r.hazchem_records))
    summary.add_row("documents completed (M7)", f"{r.docs_completed} of {r.docs_bound}")
    summary.add_row("decision latency", f"p50 {r.latency(0.5):.1f} ms, p99 {r.latency(0.99):.1f} ms")
    out.print(summary)
    cases = Table("deliberate case", "expected", "got", "", title="deliberate cases")
    for case, expected, got, ok in r.deliberate():
        cases.add_row(case, expected, got, "[green]✓[/]" if ok else "[bold red]✗[/]")
    out.print(cases)


@gate_app.command("simulate")
def simulate(
    vehicles: Annotated[int, typer.Option(help=f"vehicles in the day (at least {gate_sim.MIN_VEHICLES})")] = 40,
    seed: Annotated[int, typer.Option(help="the same seed gives the same day")] = 1,
    url: Annotated[str, typer.Option("--url", envvar="BONDEDZONE_API", help="API base URL")] = DEFAULT_API,
    token: Annotated[str | None, typer.Option(help="a customs token (it then acts for the enterprises too)")] = None,
    gate_token: Annotated[str | None, typer.Option(help="a gate token (default: the customs token)")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="without --token: create the tokens in this database (default BONDEDZONE_DATABASE_URL)")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="also write the report as JSON to this file")] = None,
    verbose: Annotated[bool, typer.Option(help="list every vehicle")] = False,
) -> None:
    """Replay a day of gate traffic for the demo zone against the running API, and summarise it.

    Exit 1 when a deliberate case (overweight, wrong lane, no pass, over-delivery, hazchem) did
    not come out as expected.
    """
    try:
        day = gate_sim.plan(seed, vehicles)
    except ValueError as e:
        err.print(f"[red]BZ-VALIDATION[/] {e}")
        raise typer.Exit(2) from None
    with httpx.Client(base_url=url.rstrip("/"), timeout=60) as client:
        try:
            client.get("/api/v1/whoami")
        except httpx.HTTPError as e:
            err.print(f"[red]cannot reach {url}: {e}[/] — start the server first (`make run`)")
            raise typer.Exit(3) from None
        tokens = gate_sim.Tokens(token, gate_token or token) if token else _make_tokens(database_url, day)
        out.print(f"gate simulation: seed {seed}, {vehicles} vehicles, {len(day.docs)} documents, against {url}")
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("vehicles through the gate", total=vehicles)
            try:
                result = gate_sim.run(client, day, tokens, lambda done, total: bar.update(task, completed=done))
            except gate_sim.SimError as e:
                err.print(f"[bold red]{e.code}[/] {e.message}")
                if e.code in ("BZ-AUTH-INVALID", "BZ-AUTH-REQUIRED"):
                    err.print("the server does not know the token: is it using the same database? (--database-url / --token)")
                raise typer.Exit(2) from None
    _print_report(result, verbose)
    if report is not None:
        report.write_text(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    if not result.ok:
        raise typer.Exit(1)
