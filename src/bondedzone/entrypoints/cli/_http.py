"""What every API command of the CLI shares: the consoles, the URL and token options, one call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console

from bondedzone.domain.errors import BzError

out = Console()
err = Console(stderr=True)

DEFAULT_API = "http://127.0.0.1:8000"
ApiOpt = Annotated[str, typer.Option("--api", envvar="BONDEDZONE_API", help="API base URL")]
TokenOpt = Annotated[str, typer.Option("--token", envvar="BONDEDZONE_TOKEN", help="API token")]


def fail(e: BzError, *, most: int | None = None) -> NoReturn:
    """Print a refusal in both languages with every error it groups (``most`` of them), then exit 2."""
    err.print(f"[bold red]{e.code}[/] {e.message('zh')}\n{e.message('en')}")
    subs = list(getattr(e, "errors", []))
    if subs and subs[0].code == e.code and subs[0].detail == e.detail:  # the first is the refusal itself
        subs = subs[1:]
    for sub in subs[:most]:
        where = f"record {sub.detail.get('record')}: " if sub.detail.get("record") else ""
        err.print(f"  [red]{sub.code}[/] {where}{sub.message('en')}")
    raise typer.Exit(2)


def call(
    api: str,
    token: str,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """One request; a refusal is printed with its code in both languages and exits 2 (3: unreachable)."""
    sent = {"Authorization": f"Bearer {token}", **(headers or {})}
    if key:
        sent["Idempotency-Key"] = key
    try:
        r = httpx.request(method, api.rstrip("/") + path, json=body, headers=sent, timeout=60)
    except httpx.HTTPError as e:
        err.print(f"[red]cannot reach {api}: {e}[/]")
        raise typer.Exit(3) from None
    data: Any = r.json() if r.headers.get("content-type", "").startswith("application/json") else {"raw": r.text}
    if r.status_code >= 400:
        err.print(f"[bold red]{data.get('code', r.status_code)}[/] {data.get('messages', {}).get('zh', '')}")
        err.print(f"{data.get('messages', {}).get('en', data)}")
        for sub in data.get("errors", [])[1:]:
            err.print(f"  [red]{sub['code']}[/] {sub['messages']['en']}")
        raise typer.Exit(2)
    return data


def json_arg(file: Path) -> Any:
    """The JSON body in ``file`` (``-`` for stdin); malformed JSON exits 2 with the parser's message."""
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        err.print(f"[red]BZ-JSON-MALFORMED[/] {file}: {e}")
        raise typer.Exit(2) from None
