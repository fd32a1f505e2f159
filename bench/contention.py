"""(b) Contention: approving 10-line lists that all hit the same 10 items versus lists spread over 10,000 items.

PostgreSQL: 8 worker processes approve concurrently through ``services.invts.approve_invt``, each
in its own unit of work. Two layouts:

* one book — 10,000 items; hot lists all post to items 1–10, spread lists to 10 items drawn from
  the 10,000;
* eight books — 1,250 items each (10,000 in all); list *k* belongs to book *k* mod 8, hot lists post
  to items 1–10 of their book, spread lists to 10 of its 1,250; workers take lists regardless of
  book, so they meet on book locks as real clients would.

SQLite has one writer at a time (``BEGIN IMMEDIATE``), so its equivalent is a single writer
approving the same layouts in turn.

The figure is the rate when hot ÷ the rate when spread (1.0 = hot items cost nothing extra). Hot
and spread runs alternate A B B A so that drift on a shared machine falls on both.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from typing import Any

from bench import common
from bondedzone.services import invts

WORKERS = 8
LINES = 10
ITEMS_ONE_BOOK = 10_000
ITEMS_PER_BOOK_OF_8 = 1_250


def _hot_spec() -> list[tuple[int, str]]:
    return [(i, f"{i}.5") for i in range(1, LINES + 1)]


def _spread_spec(rng: random.Random, n_items: int) -> list[tuple[int, str]]:
    return [(seq, f"{n}.25") for n, seq in enumerate(sorted(rng.sample(range(1, n_items + 1), LINES)), start=1)]


def _prepare(c: Any, books: list[str], n_lists: int, hot: bool, rng: random.Random, tag: str) -> list[int]:
    """Declared lists; list k in book k mod len(books). Returned in list order."""
    per_book: dict[int, list[list[tuple[int, str]]]] = {b: [] for b in range(len(books))}
    order: list[tuple[int, int]] = []
    for k in range(n_lists):
        b = k % len(books)
        n_items = ITEMS_ONE_BOOK if len(books) == 1 else ITEMS_PER_BOOK_OF_8
        per_book[b].append(_hot_spec() if hot else _spread_spec(rng, n_items))
        order.append((b, len(per_book[b]) - 1))
    ids_by_book = {
        b: common.declare_lists(c, books[b], specs, prefix=f"{tag}-{b}", per_tx=50) for b, specs in per_book.items() if specs
    }
    return [ids_by_book[b][i] for b, i in order]


def _worker(url: str, tasks: Any, ready: Any, go: Any, results: Any) -> None:
    c = common.container(url, pool_size=2)
    while True:
        ids = tasks.get()
        if ids is None:
            break
        with c.engine.connect():
            pass  # a pooled connection is open before the clock starts
        ready.put(1)
        go.wait()
        errors = 0
        for invt_id in ids:
            try:
                with c.uow() as uow:
                    invts.approve_invt(uow, common.CUSTOMS, invt_id)
                    uow.commit()
            except Exception as e:
                errors += 1
                print(f"  !! worker approval of {invt_id} failed: {type(e).__name__}: {e}")
        results.put((time.monotonic(), len(ids) - errors, errors))
    c.engine.dispose()


class _Pool:
    """Eight long-lived processes; each round hands every worker its lists and starts them together."""

    def __init__(self, url: str, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.go = ctx.Event()
        self.ready: Any = ctx.Queue()
        self.results: Any = ctx.Queue()
        self.tasks: list[Any] = [ctx.Queue() for _ in range(n)]
        self.procs = [
            ctx.Process(target=_worker, args=(url, q, self.ready, self.go, self.results), daemon=True) for q in self.tasks
        ]
        for p in self.procs:
            p.start()

    def run(self, ids: list[int]) -> tuple[float, int, int]:
        """Approve ``ids`` spread round-robin over the workers; (seconds, approved, failed)."""
        self.go.clear()
        for w, q in enumerate(self.tasks):
            q.put(ids[w :: len(self.tasks)])
        for _ in self.tasks:
            self.ready.get(timeout=120)
        start = time.monotonic()
        self.go.set()
        ends, ok, failed = [], 0, 0
        for _ in self.tasks:
            end, n_ok, n_failed = self.results.get(timeout=600)
            ends.append(end)
            ok += n_ok
            failed += n_failed
        return max(ends) - start, ok, failed

    def close(self) -> None:
        for q in self.tasks:
            q.put(None)
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()


def _single_writer(c: Any, ids: list[int]) -> tuple[float, int, int]:
    start = time.monotonic()
    for invt_id in ids:
        with c.uow() as uow:
            invts.approve_invt(uow, common.CUSTOMS, invt_id)
            uow.commit()
    return time.monotonic() - start, len(ids), 0


def run(engine_name: str, *, lists: int) -> list[dict[str, Any]]:
    """Hot ÷ spread approval rate, one book and eight books; ``lists`` per layout and mode."""
    rng = random.Random(20261123)
    half = max(1, lists // 2)
    with common.database(engine_name) as url:
        c = common.container(url)
        pool: _Pool | None = None
        try:
            books = common.setup_zone(c, [ITEMS_ONE_BOOK] + [ITEMS_PER_BOOK_OF_8] * 8)
            layouts = {"1 book": books[:1], "8 books": books[1:]}
            prepared: dict[tuple[str, str], list[list[int]]] = {}
            for layout, bs in layouts.items():
                for mode in ("hot", "spread"):
                    ids = _prepare(c, bs, 2 * half, mode == "hot", rng, f"{layout[0]}{mode}")
                    prepared[(layout, mode)] = [ids[:half], ids[half:]]
            if engine_name == "postgresql":
                pool = _Pool(url, WORKERS)
                # warm-up round, not counted: imports, statement caches, connections
                warm = _prepare(c, books[1:], WORKERS * 2, False, rng, "warm")
                pool.run(warm)
                runner = pool.run  # type: ignore[assignment]
                writers = WORKERS
            else:

                def runner(ids: list[int]) -> tuple[float, int, int]:
                    return _single_writer(c, ids)

                warm = _prepare(c, books[1:], 4, False, rng, "warm")
                runner(warm)
                writers = 1
            out: list[dict[str, Any]] = []
            for layout in layouts:
                secs = {"hot": 0.0, "spread": 0.0}
                done = {"hot": 0, "spread": 0}
                failed = 0
                for mode, part in (("hot", 0), ("spread", 0), ("spread", 1), ("hot", 1)):
                    s, ok, bad = runner(prepared[(layout, mode)][part])
                    secs[mode] += s
                    done[mode] += ok
                    failed += bad
                hot_rate = done["hot"] * LINES / secs["hot"]
                spread_rate = done["spread"] * LINES / secs["spread"]
                out.append(
                    {
                        "engine": engine_name,
                        "layout": layout,
                        "writers": writers,
                        "lists_per_mode": done["hot"],
                        "lines_per_list": LINES,
                        "hot_postings_per_s": round(hot_rate, 1),
                        "spread_postings_per_s": round(spread_rate, 1),
                        "ratio": round(hot_rate / spread_rate, 3),
                        "failed": failed,
                    }
                )
            ok = common.audit_ok(c)
            for row in out:
                row["audit_ok"] = ok
            return out
        finally:
            if pool is not None:
                pool.close()
            c.engine.dispose()
