"""L2/L4 under real concurrency on PostgreSQL: eight OS processes, each with its own engine and pool.

* Many declared E lists (and a few I lists) that together overdraw the same items are approved by
  eight processes at once, several of them approving the same list at the same moment. No balance
  may ever go below zero — neither at the end nor at any point of the chain — every approved list
  posts each line exactly once, refused lists post nothing, and every loser is told
  ``BZ-LEDGER-NEGATIVE`` or ``BZ-INVT-STATE`` (no deadlock or driver error leaks out).
* Eight processes send the same approval under the same Idempotency-Key: all get the first answer
  and the list posts once.

PostgreSQL only: SQLite serialises writers on the database file, so it has no races to prove.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.config import Settings
from bondedzone.domain.errors import BzError
from bondedzone.services import audit, idempotency, invts
from tests import factories as f
from tests.conftest import drop_pg_schema, make_pg_schema

pytestmark = [pytest.mark.pg, pytest.mark.slow]

PROCS = 8
LOSER_CODES = {"BZ-LEDGER-NEGATIVE", "BZ-INVT-STATE"}
RESULT_TIMEOUT = 120  # seconds; a hung worker (a lock never released) fails the test instead of hanging it


# ---- worker processes (top-level: the "spawn" context imports this module in each child) ----------------


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, BzError):
        return exc.code
    return "UNEXPECTED " + "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _approve_worker(url: str, invt_ids: list[int], barrier: Any, out: Any, proc: int) -> None:
    """Approve ``invt_ids`` in order, each in its own unit of work; report (id, outcome) pairs."""
    results: list[tuple[int, str]] = []
    try:
        c = bootstrap.build(Settings(database_url=url, load_demo=False, pool_size=2))
        with c.uow(write=False) as uow:  # open the pool before the start line, not after it
            uow.books.heads()
        barrier.wait(timeout=60)
        for invt_id in invt_ids:
            try:
                with c.uow() as uow:
                    invts.approve_invt(uow, f.CUSTOMS, invt_id)
                    uow.commit()
                results.append((invt_id, "ok"))
            except Exception as e:
                results.append((invt_id, _outcome(e)))
        c.engine.dispose()
    except Exception as e:  # pragma: no cover - reported to the parent, which fails the test
        results.append((0, _outcome(e)))
    out.put((proc, results))


def _render(invt: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"id": invt.id, "status": invt.status.value, "version": invt.version, "bondInvtNo": invt.bond_invt_no}


def _idempotent_worker(url: str, invt_ids: list[int], key_prefix: str, barrier: Any, out: Any, proc: int) -> None:
    """For each list, wait for every process, then approve it under the same key as all the others."""
    results: list[tuple[int, Any]] = []
    try:
        c = bootstrap.build(Settings(database_url=url, load_demo=False, pool_size=2))
        with c.uow(write=False) as uow:
            uow.books.heads()
        for invt_id in invt_ids:
            barrier.wait(timeout=60)
            fp = idempotency.fingerprint("POST", f"/api/v1/invts/{invt_id}/approve", b"")
            try:
                answer = idempotency.execute(
                    c.uow,
                    lambda uow, i=invt_id: invts.approve_invt(uow, f.CUSTOMS, i),
                    _render,
                    scope=f.CUSTOMS.scope,
                    key=f"{key_prefix}-{invt_id}",
                    request_fingerprint=fp,
                )
                results.append((invt_id, answer))
            except Exception as e:
                results.append((invt_id, _outcome(e)))
        c.engine.dispose()
    except Exception as e:  # pragma: no cover
        results.append((0, _outcome(e)))
    out.put((proc, results))


def _run_processes(target: Any, args_for: list[tuple[Any, ...]]) -> dict[int, list[tuple[int, Any]]]:
    """Start one spawned process per argument tuple; collect every report; never leave one behind."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(len(args_for))
    procs = [ctx.Process(target=target, args=(*a[:-1], barrier, out, a[-1]), daemon=True) for a in args_for]
    try:
        for p in procs:
            p.start()
        reports = dict(out.get(timeout=RESULT_TIMEOUT) for _ in procs)
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0, f"worker exited with {p.exitcode}"
        return reports
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        out.close()


# ---- fixtures and checks ------------------------------------------------------------------------------


@pytest.fixture
def pg_container() -> Iterator[bootstrap.Container]:
    schema, url = make_pg_schema("conc")
    c = bootstrap.build(Settings(database_url=url, load_demo=False))
    try:
        yield c
    finally:
        c.engine.dispose()
        drop_pg_schema(schema)


def _replay_never_negative(c: bootstrap.Container) -> dict[str, int]:
    """Replay every book's postings in chain order; return the number replayed per book (L2)."""
    p, b = t.postings.c, t.books.c
    replayed: dict[str, int] = {}
    with c.engine.connect() as conn:
        books = conn.execute(select(b.id, b.putrec_no)).all()
        for book_id, putrec_no in books:
            running: dict[tuple[int, str], int] = defaultdict(int)
            rows = conn.execute(
                select(p.chain_seq, p.putrec_seqno, p.stock_status, p.delta, p.doc_id)
                .where(p.book_id == book_id)
                .order_by(p.chain_seq)
            ).all()
            for seq, item, status, delta, doc_id in rows:
                running[(item, status)] += delta
                assert running[(item, status)] >= 0, (
                    f"{putrec_no}: balance of item {item} {status} is {running[(item, status)]} after chain seq {seq} "
                    f"(list {doc_id})"
                )
            replayed[putrec_no] = len(rows)
    return replayed


def _postings_by_list(c: bootstrap.Container) -> dict[int, list[tuple[int, int, int, int]]]:
    p = t.postings.c
    by_list: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    with c.engine.connect() as conn:
        for doc_id, line, leg, item, delta in conn.execute(
            select(p.doc_id, p.doc_line, p.leg, p.putrec_seqno, p.delta).where(p.doc_type == "invt")
        ):
            by_list[int(doc_id)].append((int(line), int(leg), int(item), int(delta)))
    return by_list


def _status(c: bootstrap.Container) -> dict[int, str]:
    with c.engine.connect() as conn:
        return {int(i): s for i, s in conn.execute(select(t.invts.c.id, t.invts.c.status))}


def _assert_audit_ok(c: bootstrap.Container, zone: f.Zone) -> None:
    with c.uow(write=False) as uow:
        report = audit.verify_all(uow, zone.customs)
    assert report.ok, report.findings[:5]


# ---- the tests ----------------------------------------------------------------------------------------


def test_eight_processes_overdrawing_and_duplicate_approvals(pg_container: bootstrap.Container) -> None:
    """L2 + L4 under contention: never below zero, each line posts once, losers get a coded refusal."""
    c = pg_container
    rnd = random.Random(20261123)
    zone = f.make_zone(c, items=4)
    books = (f.OWNER_BOOK, f.STRANGER_BOOK)
    owners = {f.OWNER_BOOK: zone.owner, f.STRANGER_BOOK: zone.stranger}
    # Opening stock, posted before the race: 30 of each item in each book.
    for book in books:
        f.approve(c, f.new_list(c, owners[book], book, "I", [(1, "30"), (2, "30"), (3, "30"), (4, "30")], inner=f"{book}-S"))

    # 72 lists: mostly E lists of 1–3 lines on the same four items (demand ≈ 3× the stock),
    # a few I lists so that whether an E list fits depends on the order the race produces.
    spec: dict[int, tuple[str, list[tuple[int, str]]]] = {}
    demand: Counter[tuple[str, int]] = Counter()
    supply: Counter[tuple[str, int]] = Counter({(book, item): 30 for book in books for item in (1, 2, 3, 4)})
    for n in range(72):
        book = books[n % 2]
        mark = "I" if n % 9 == 4 else "E"
        chosen = rnd.sample([1, 2, 3, 4], rnd.randint(1, 3))
        lines = [(item, str(rnd.randint(2, 9)) + rnd.choice(["", ".5", ".25"])) for item in chosen]
        invt_id = f.new_list(c, owners[book], book, mark, lines, inner=f"R{n:03d}")
        spec[invt_id] = (mark, lines)
        for item, q in lines:
            (demand if mark == "E" else supply)[(book, item)] += int(Decimal(q))
    # every item of each book is asked for more than its opening stock plus everything that may come in
    assert all(demand[k] > supply[k] for k in supply), (demand, supply)

    # Each list goes to 1–4 processes; processes walk the lists in one shared order, so the
    # processes that share a list reach it at about the same moment.
    order = list(spec)
    rnd.shuffle(order)
    assignees = {i: rnd.sample(range(PROCS), rnd.choice([1, 2, 2, 3, 4, 4])) for i in order}
    work = [[i for i in order if p in assignees[i]] for p in range(PROCS)]
    url = c.settings.database_url
    reports = _run_processes(_approve_worker, [(url, work[p], p) for p in range(PROCS)])

    outcomes: dict[int, list[str]] = defaultdict(list)
    for proc, results in reports.items():
        assert [i for i, _ in results] == work[proc], f"process {proc} did not report every list: {results[-3:]}"
        for invt_id, outcome in results:
            outcomes[invt_id].append(outcome)
    unexpected = [(i, o) for i, os_ in outcomes.items() for o in os_ if o != "ok" and o not in LOSER_CODES]
    assert not unexpected, unexpected[:5]

    status = _status(c)
    postings = _postings_by_list(c)
    codes = Counter(o for os_ in outcomes.values() for o in os_)
    for invt_id, (mark, lines) in spec.items():
        got = outcomes[invt_id]
        assert len(got) == len(assignees[invt_id])
        sign = 1 if mark == "I" else -1
        if status[invt_id] == "approved":
            # exactly one winner; the list's lines each posted exactly once, with the declared quantity
            assert got.count("ok") == 1, (invt_id, got)
            expected = sorted((n, 0, item, sign * int(Decimal(q) * 100_000)) for n, (item, q) in enumerate(lines, start=1))
            assert sorted(postings[invt_id]) == expected, (invt_id, postings[invt_id])
        else:
            # refused by everyone, on the ledger: still declared, nothing posted
            assert status[invt_id] == "declared", (invt_id, status[invt_id])
            assert got and all(o == "BZ-LEDGER-NEGATIVE" for o in got), (invt_id, got)
            assert invt_id not in postings
    # the race produced both kinds of loser, so both paths were exercised
    assert codes["BZ-LEDGER-NEGATIVE"] > 0 and codes["BZ-INVT-STATE"] > 0, codes
    assert sum(1 for s in status.values() if s == "declared") > 0

    with c.engine.connect() as conn:
        balances = conn.execute(select(t.stock_balances.c.quantity)).scalars().all()
    assert balances and min(balances) >= 0
    replayed = _replay_never_negative(c)
    assert sum(replayed.values()) == sum(len(v) for v in postings.values())
    _assert_audit_ok(c, zone)


def test_eight_processes_same_idempotency_key_post_once(pg_container: bootstrap.Container) -> None:
    """Idempotency-Key: concurrent retries of one approval all get the first answer; the list posts once."""
    c = pg_container
    zone = f.make_zone(c, items=3)
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "100"), (2, "100")], inner="S"))
    lists = [f.new_list(c, zone.owner, f.OWNER_BOOK, "E", [(1, "7"), (2, "3.5")], inner=f"K{n}") for n in range(6)]
    url = c.settings.database_url
    reports = _run_processes(_idempotent_worker, [(url, lists, "race", p) for p in range(PROCS)])

    with c.engine.connect() as conn:
        stored = {
            int(i): (ver, no) for i, ver, no in conn.execute(select(t.invts.c.id, t.invts.c.version, t.invts.c.bond_invt_no))
        }
    for invt_id in lists:
        answers = [dict(results)[invt_id] for results in reports.values()]
        version, bond_invt_no = stored[invt_id]
        expected = (200, {"id": invt_id, "status": "approved", "version": version, "bondInvtNo": bond_invt_no})
        assert bond_invt_no and len(answers) == PROCS
        assert all(a == expected for a in answers), answers
    postings = _postings_by_list(c)
    for invt_id in lists:
        assert sorted(postings[invt_id]) == [(1, 0, 1, -700_000), (2, 0, 2, -350_000)]
    # One stored answer per key, and the stock moved once per list.
    with c.engine.connect() as conn:
        keys = conn.execute(select(t.idempotency_keys.c.key)).scalars().all()
        stock = dict(conn.execute(select(t.stock_balances.c.putrec_seqno, t.stock_balances.c.quantity)).all())
    assert sorted(keys) == sorted(f"race-{i}" for i in lists)
    assert stock == {1: 100_00000 - 6 * 7_00000, 2: 100_00000 - 6 * 3_50000}

    # A fresh key is a new request: the list is already approved, so it is refused and changes nothing.
    with pytest.raises(BzError) as exc:
        idempotency.execute(
            c.uow,
            lambda uow: invts.approve_invt(uow, f.CUSTOMS, lists[0]),
            _render,
            scope=f.CUSTOMS.scope,
            key="another-key",
            request_fingerprint=idempotency.fingerprint("POST", f"/api/v1/invts/{lists[0]}/approve", b""),
        )
    assert exc.value.code == "BZ-INVT-STATE"
    assert sorted(_postings_by_list(c)[lists[0]]) == [(1, 0, 1, -700_000), (2, 0, 2, -350_000)]
    _assert_audit_ok(c, zone)
