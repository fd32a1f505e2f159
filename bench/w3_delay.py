"""(f) W3 continuous mode: how long from a WMS movement to its discrepancy being visible.

A real ``bondedzone serve`` on a fresh PostgreSQL schema with the continuous comparison on, at its
default interval (``BONDEDZONE_RECON_INTERVAL_SECONDS``, 1 s), one WMS-networked warehouse with a
logistics book and a history of declared, received traffic (so each comparison has something to
compare). Then, one at a time: the enterprise's WMS posts a movement nobody declared
(``POST /api/v1/wms/movements``) and the client polls ``GET /api/v1/discrepancies`` every 20 ms
until that movement's finding appears. The delay is measured from sending the movement to the
first answer that shows it.

Reported: p50 / p99 / max of the delay, and as the raw limit of the same run the configured
interval (the most a movement can wait for the next look) plus the time one comparison of the
book takes (measured by the server's own refresh of the same data): ``delay ÷ (interval +
comparison)``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import common
from bench.http_latency import _free_port, _serve, _stop
from bondedzone.domain.model import InvtLineInput
from bondedzone.entrypoints.cli.demo import make_uscc
from bondedzone.services import invts, reconcile, registry, tokens
from bondedzone.services import wms as wms_service
from bondedzone.services.authz import Principal, Role

INTERVAL = 1.0
BOOK = "T5301W700001"


def _setup(c: Any, lists: int) -> tuple[str, str]:
    """A networked AEO warehouse with ``lists`` declared and received imports; returns (uscc, token)."""
    uscc = make_uscc("MA6W00001")
    customs = Principal(Role.CUSTOMS, None, "bench")
    owner = Principal(Role.ENTERPRISE, uscc, "bench-wms")
    with c.uow() as uow:
        registry.register_enterprise(
            uow, customs, registry.RegisterEnterprise(uscc, "5301347001", "基准仓储", "aeo_advanced", True, True)
        )
        registry.open_book(uow, customs, registry.OpenBook(BOOK, "logistics", uscc, "5301"))
        for seq in range(1, 51):
            registry.add_book_item(
                uow, customs, registry.AddBookItem(BOOK, seq, f"W-{seq:04d}", common.HS, f"商品{seq}", common.UNIT)
            )
        token = tokens.create_token(uow, "enterprise", uscc, "bench-w3")
        uow.commit()
    moves: list[wms_service.RawRecord] = []
    now = datetime.now(UTC)
    for n in range(lists):
        with c.uow() as uow:
            invt = invts.create_invt(
                uow,
                owner,
                invts.CreateInvt(
                    etps_inner_invt_no=f"W3-{n}",
                    putrec_no=BOOK,
                    impexp_markcd="I",
                    supv_modecd="5034",
                    flow="first_line",
                    lines=[InvtLineInput(1, 1 + n % 50, "10", common.UNIT)],
                ),
            )
            invts.declare_invt(uow, owner, invt.id)
            done = invts.approve_invt(uow, customs, invt.id)
            uow.commit()
        moves.append(
            wms_service.RawRecord(
                n + 1,
                None,
                {
                    "wmsRef": f"HIST-{n}", "putrecNo": BOOK, "kind": "receipt", "gdsMtno": f"W-{1 + n % 50:04d}",
                    "dclQty": "10", "dclUnitcd": common.UNIT, "stockStatus": "bonded",
                    "occurredAt": (now - timedelta(hours=3)).isoformat(), "rltNo": done.bond_invt_no, "rltGdsSeqno": 1,
                },
            )
        )  # fmt: skip
    with c.uow() as uow:
        wms_service.ingest(uow, owner, "movements", moves)
        uow.commit()
    return uscc, token


def _one_comparison_seconds(c: Any) -> float:
    """What one refresh of the book costs, as the server's loop would do it."""
    with c.uow(write=False) as uow:
        ids = sorted(uow.wms.books_of(None, networked=True))
    t0 = time.perf_counter()
    reconcile.refresh_open(
        c.uow, c.compare_engine(), ids, now=datetime.now(UTC), window=timedelta(days=31), tolerance=timedelta(hours=2)
    )
    return time.perf_counter() - t0


def run(*, samples: int, history: int) -> dict[str, Any]:
    """``samples`` movements, one at a time; the delay until each is visible as a discrepancy."""
    with common.database("postgresql") as url:
        c = common.container(url)
        try:
            _, token = _setup(c, history)
            comparison = statistics.median(_one_comparison_seconds(c) for _ in range(3))
            env = {"BONDEDZONE_RECON_CONTINUOUS": "true", "BONDEDZONE_RECON_INTERVAL_SECONDS": str(INTERVAL)}
            delays: list[float] = []
            with tempfile.TemporaryDirectory(prefix="bzbench-w3-") as d:
                port = _free_port()
                proc = _serve(url, port, Path(d) / "server.log", env=env)
                try:
                    base = f"http://127.0.0.1:{port}/api/v1"
                    headers = {"Authorization": f"Bearer {token}"}
                    with httpx.Client(timeout=30) as http:
                        for n in range(samples):
                            ref = f"LIVE-{n}"
                            rec = {
                                "wmsRef": ref, "putrecNo": BOOK, "kind": "receipt", "gdsMtno": "W-0001", "dclQty": "1",
                                "dclUnitcd": common.UNIT, "stockStatus": "bonded",
                                "occurredAt": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                            }  # fmt: skip
                            t0 = time.perf_counter()
                            r = http.post(f"{base}/wms/movements", json={"records": [rec]}, headers=headers)
                            r.raise_for_status()
                            while True:
                                page = http.get(
                                    f"{base}/discrepancies",
                                    params={"cls": "movement_without_declaration", "limit": 1000},
                                    headers=headers,
                                )
                                page.raise_for_status()
                                if any(x["ref"] == ref for x in page.json()["data"]):
                                    break
                                if time.perf_counter() - t0 > 60:
                                    raise RuntimeError(f"{ref} not visible after 60 s")
                                time.sleep(0.02)
                            delays.append(time.perf_counter() - t0)
                            time.sleep(0.137 * (n % 7))  # arrive at different points of the interval
                finally:
                    _stop(proc)
        finally:
            c.engine.dispose()
    ms = sorted(x * 1000 for x in delays)
    p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    limit_ms = (INTERVAL + comparison) * 1000
    return {
        "engine": "postgresql",
        "samples": len(ms),
        "history_lists": history,
        "interval_s": INTERVAL,
        "comparison_ms": round(comparison * 1000, 1),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ms[-1], 1),
        "p50_ratio": round(p50 / limit_ms, 3),
        "p99_ratio": round(p99 / limit_ms, 3),
    }
