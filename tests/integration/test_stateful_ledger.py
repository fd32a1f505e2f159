"""Stateful property test of the ledger on SQLite and PostgreSQL (L2, L3, L4, M9).

A Hypothesis ``RuleBasedStateMachine`` sends random sequences of create / declare / approve /
reject / cancel / convert requests, keyed retries and key misuse to the real services, through
``services.idempotency.execute`` exactly as the API does, on a real database. A plain-Python model
(``ledger_model.py``) predicts each answer or refusal; after every step the storage itself is read
back and every ledger invariant is checked:

* per balance: quantity == sum of its postings, and >= 0 (L2);
* balances equal the model's (L2);
* an approved list has exactly one posting per line, a conversion two per line, any other list
  none; no (docType, docId, docLine, leg) appears twice (L2: a line posts at most once);
* list statuses, versions and bondInvtNo, and conversions, equal the model's (L4, M9);
* every posting and state change ever seen is still there, unchanged (L2: append-only);
* each document has as many chain events as the model saw state changes, and
  ``services.audit.verify_all`` is ok and walks every row (L3).

The machine must be able to fail: planted bugs (mutants of the real code) are each caught.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select, text

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.adapters.db import uow as sql_uow
from bondedzone.config import Settings
from bondedzone.domain import chain, ledger, model
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.domain.ledger import DocType
from bondedzone.domain.model import InvtAction, InvtLineInput, InvtStatus
from bondedzone.domain.rules.m9_status_conversion import ConversionLineInput
from bondedzone.domain.values import QTY_QUANTUM as QUANTUM
from bondedzone.services import audit, conversions, idempotency, invts, posting
from bondedzone.services.authz import Principal
from bondedzone.services.ports import UnitOfWork
from tests import factories as f
from tests.conftest import Clock, drop_pg_schema, make_pg_schema
from tests.integration.ledger_model import Accepted, Model, Refused, Replayed, Req, Stored
from tests.stateful_support import SOAK, Profile, hypothesis_settings

# -- the world: two books with three items each, both stock statuses, small quantities --------

BOOKS = (f.OWNER_BOOK, f.STRANGER_BOOK)
OWNER_OF = {f.OWNER_BOOK: "owner", f.STRANGER_BOOK: "stranger"}
ITEMS = (1, 2, 3)
STATUSES = ("bonded", "non_bonded")
# A few round numbers make exact drains (balance back to 0) and overdraws common; the decimals
# exercise all five places.
QTY = st.one_of(
    st.sampled_from(["1", "2", "3", "0.5", "0.00001", "1.23456"]),
    st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("4"), places=5).map(lambda d: format(d, "f")),
)
Line = tuple[int, str, str, str]  # (putrecSeqno, stockStatus, qty, mode)
# For what leaves stock, a line may also ask for all or half of what the model holds.
MODE = st.sampled_from(["half", "given", "all"])
LIST_LINES = st.lists(st.tuples(st.sampled_from(ITEMS), st.sampled_from(STATUSES), QTY, MODE), min_size=1, max_size=4)
CONV_LINES = st.lists(st.tuples(st.sampled_from(ITEMS), QTY, MODE), min_size=1, max_size=3)
STOCK = st.lists(
    st.tuples(st.sampled_from(ITEMS), st.sampled_from(STATUSES), st.sampled_from(["5", "10", "2.5", "7.12345"])),
    min_size=1,
    max_size=4,
)
# How a request is sent: without a key, with a key, or with a key and at once again (a lost answer).
KEYED = st.sampled_from([0, 1, 2])
RARELY = st.integers(0, 4).map(lambda n: n == 0)
REASON = st.sampled_from([None, "品名不符", "declared twice"])


# -- profiles -----------------------------------------------------------------------------------


# Hypothesis stops a few examples short of stateful_step_count, so the budgets carry a margin:
# CI runs about 2,500 steps per engine (derandomized, so always the same), a soak 20,000 or more.
CI_PROFILE = Profile(examples=64, steps=50, minimum=2_000)
SOAK_PROFILE = Profile(examples=300, steps=100, minimum=20_000)
PROFILE = SOAK_PROFILE if SOAK else CI_PROFILE
# Twice what the mutants needed on a quiet machine: under load a derandomized run has been seen to stop short.
MUTANT_BUDGET = Profile(examples=24, steps=30, minimum=600)


# -- a fresh database for every example ----------------------------------------------------------


class Db:
    """Hands each example an empty migrated database; counts the steps and outcomes it served."""

    def __init__(self) -> None:
        self.steps = 0
        self.examples = 0
        self.outcomes: Counter[str] = Counter()

    def fresh(self) -> bootstrap.Container:
        raise NotImplementedError

    def release(self, c: bootstrap.Container) -> None:
        raise NotImplementedError


class SqliteDb(Db):
    """A copy of the migrated template file per example (migrating each time would be slow)."""

    def __init__(self, template: Path, workdir: Path) -> None:
        super().__init__()
        self.template, self.workdir = template, workdir

    def fresh(self) -> bootstrap.Container:
        self.examples += 1
        path = self.workdir / f"example-{self.examples}.db"
        shutil.copy(self.template, path)
        return bootstrap.build(Settings(database_url=f"sqlite:///{path}", load_demo=False), clock=Clock())

    def release(self, c: bootstrap.Container) -> None:
        c.engine.dispose()
        db = Path(c.engine.url.database or "")
        for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            p.unlink(missing_ok=True)


class PgDb(Db):
    """One schema for the whole run, emptied with TRUNCATE … RESTART IDENTITY per example."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.settings = Settings(database_url=url, load_demo=False)
        self.engine: Engine = bootstrap.make_engine(url, pool_size=2)
        self.truncate = "TRUNCATE " + ", ".join(f'"{x.name}"' for x in t.metadata.sorted_tables) + " RESTART IDENTITY CASCADE"

    def fresh(self) -> bootstrap.Container:
        self.examples += 1
        with self.engine.begin() as conn:
            conn.execute(text(self.truncate))
        return bootstrap.Container(self.settings, self.engine, sql_uow.SqlUnitOfWorkFactory(self.engine, Clock()))

    def release(self, c: bootstrap.Container) -> None:
        pass


# -- the state machine ---------------------------------------------------------------------------


def _invt_answer(status: int) -> Callable[[model.InventoryList], tuple[int, Any]]:
    def render(i: model.InventoryList) -> tuple[int, Any]:
        return status, {"id": i.id, "status": i.status.value, "version": i.version, "bondInvtNo": i.bond_invt_no}

    return render


def refusal_answer(e: BzError) -> tuple[int, Any]:
    """A refusal as the API renders it, every error included (an overdraw names each short balance)."""
    errors = e.errors if isinstance(e, ErrorGroup) else [e]
    return 409, {"code": e.code, "detail": e.public_detail(), "errors": [x.public_detail() for x in errors]}


def _conv_answer(c: Any) -> tuple[int, Any]:
    return 201, {"id": c.id, "putrecNo": c.putrec_no, "entryNo": c.entry_no, "lines": len(c.lines)}


class LedgerMachine(RuleBasedStateMachine):
    """Random requests against the real services; every answer and the storage checked against the model."""

    db: ClassVar[Db]

    def __init__(self) -> None:
        super().__init__()
        self.c = self.db.fresh()
        zone = f.make_zone(self.c)
        self.who: dict[str, Principal] = {"owner": zone.owner, "stranger": zone.stranger, "customs": zone.customs}
        self.model = Model(owners=dict(OWNER_OF))
        self.keyed: list[tuple[Req, str]] = []
        self.serial = 0
        self.seen_postings: dict[int, tuple[Any, ...]] = {}
        self.seen_events: dict[int, tuple[Any, ...]] = {}

    def teardown(self) -> None:
        self.db.release(self.c)

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _send(self, req: Req, keyed: int) -> dict[str, Any] | None:
        key = f"k-{self._next()}" if keyed else None
        body = self.send(req, key)
        if keyed == 2:
            self.send(req, key)
        return body

    # -- sending one request, the way the API does -------------------------------------------

    def _work(self, req: Req, who: Principal) -> tuple[Callable[[UnitOfWork], Any], Callable[[Any], tuple[int, Any]]]:
        if req.kind == "create":
            cmd = invts.CreateInvt(
                etps_inner_invt_no=req.inner,
                putrec_no=req.book,
                impexp_markcd=req.mark,
                supv_modecd="5034",
                flow="first_line",
                lines=[InvtLineInput(n, seq, q, f.UNITS[seq], st_) for n, (seq, st_, q) in enumerate(req.lines, start=1)],
            )
            return (lambda uow: invts.create_invt(uow, who, cmd)), _invt_answer(201)
        if req.kind == "convert":
            conv = conversions.ConvertStatus(
                putrec_no=req.book,
                entry_no=req.entry,
                from_status=req.from_status,
                to_status=req.to_status,
                lines=[ConversionLineInput(n, seq, q, f.UNITS[seq]) for n, (seq, q) in enumerate(req.conv_lines, start=1)],
            )
            return (lambda uow: conversions.convert_status(uow, who, conv)), _conv_answer
        invt_id, reason = req.invt_id, req.reason
        moves: dict[str, Callable[[UnitOfWork], Any]] = {
            "declare": lambda uow: invts.declare_invt(uow, who, invt_id),
            "approve": lambda uow: invts.approve_invt(uow, who, invt_id),
            "reject": lambda uow: invts.reject_invt(uow, who, invt_id, reason),
            "cancel": lambda uow: invts.cancel_invt(uow, who, invt_id, reason),
        }
        return moves[req.kind], _invt_answer(200)

    def send(self, req: Req, key: str | None) -> dict[str, Any] | None:
        """Send ``req`` (keyed or not), compare the answer with the model's, update the model."""
        who = self.who[req.actor]
        if key is not None:
            self.keyed.append((req, key))
        expected = self.model.predict(req, who.scope, key)
        work, render = self._work(req, who)
        tag = f"{req} with key {key!r}"
        try:
            status, body = idempotency.execute(
                self.c.uow,
                work,
                render,
                scope=who.scope,
                key=key,
                request_fingerprint=req.fingerprint(),
                render_error=refusal_answer,
            )
        except BzError as e:
            self.db.outcomes[f"{req.kind} refused {e.code}"] += 1
            assert isinstance(expected, Refused), f"{tag}: refused with {e.code} ({e}); the model expected {expected}"
            assert not expected.stored, f"{tag}: raised {e.code}; a keyed conflict should be answered and stored"
            self._check_refusal(tag, expected, refusal_answer(e)[1])
            return None
        if isinstance(expected, Refused) and expected.stored:
            self.db.outcomes[f"{req.kind} refused {body.get('code')} (stored)"] += 1
            assert status == 409, f"{tag}: answered {status} {body}; the model expected a stored refusal {expected.code}"
            self._check_refusal(tag, expected, body)
            self.model.keys[(who.scope, key)] = Stored(req.fingerprint(), status, body)
            return None
        self.db.outcomes[f"{req.kind} {'replayed' if isinstance(expected, Replayed) else 'ok'}"] += 1
        assert not isinstance(expected, Refused), f"{tag}: answered {status} {body}; the model expected {expected}"
        if isinstance(expected, Replayed):
            got = (status, body)
            first = (expected.stored.status, expected.stored.body)
            assert got == first, f"{tag}: a retry answered {got}, the first answer was {first}"
            return None if "code" in body else dict(body)
        assert isinstance(expected, Accepted)
        assert status == expected.status, f"{tag}: status {status}, expected {expected.status}"
        if expected.body is not None:
            assert body == expected.body, f"{tag}: answered {body}, expected {expected.body}"
        expected.apply(body)
        return dict(body)

    @staticmethod
    def _check_refusal(tag: str, expected: Refused, answer: dict[str, Any]) -> None:
        code, detail = answer["code"], answer["detail"]
        assert code == expected.code, f"{tag}: refused with {code} {detail}; the model expected {expected.code}"
        for name, value in expected.detail.items():
            assert detail.get(name) == value, f"{tag}: {code} detail {name}={detail.get(name)!r}, expected {value!r}"
        if expected.overdraws is not None:
            got = sorted(
                (x["gdsSeqno"], x["putrecSeqno"], x["stockStatus"], x["balance"], x["shortfall"]) for x in answer["errors"]
            )
            assert got == expected.overdraws, f"{tag}: overdraw errors {got}, expected {expected.overdraws}"

    def _step(self) -> None:
        self.db.steps += 1

    # -- choosing what to act on -----------------------------------------------------------

    def _pick_list(self, data: st.DataObject, fits: tuple[str, ...]) -> int:
        """Mostly a list the move fits (so lists advance), sometimes any list (so wrong states are tried).

        Newest first: Hypothesis leans towards the first element, and recent lists are the live ones.
        """
        fitting = sorted((i for i, x in self.model.lists.items() if x.status in fits), reverse=True)
        if fitting and data.draw(st.integers(0, 3), label="any list") != 3:
            return data.draw(st.sampled_from(fitting), label="list")
        return data.draw(st.sampled_from(sorted(self.model.lists, reverse=True)), label="list")

    def _qty(self, key: tuple[str, int, str], given: str, mode: str) -> str:
        """``given``, or all / half of what the model holds for ``key`` (so exact drains and overdraws both happen)."""
        held = self.model.balance(key)
        if mode == "all" and held > 0:
            return format(held, "f")
        if mode == "half" and held >= Decimal("0.00002"):
            return format((held / 2).quantize(QUANTUM, rounding=ROUND_DOWN), "f")
        return given

    # -- rules ----------------------------------------------------------------------------------

    @initialize(stock=STOCK)
    def stock_both_books(self, stock: list[tuple[int, str, str]]) -> None:
        """Some stock to start from: an approved I list in each book, through the same services."""
        self._step()
        for book in BOOKS:
            body = self.send(
                Req("create", OWNER_OF[book], book=book, mark="I", inner=f"SM-{self._next()}", lines=tuple(stock)), None
            )
            assert body is not None
            self.send(Req("declare", OWNER_OF[book], invt_id=body["id"]), None)
            self.send(Req("approve", "customs", invt_id=body["id"]), None)

    # Imports and exports are two rules, not one rule with a mark, so that both are drawn as often.
    @rule(book=st.sampled_from(BOOKS), lines=LIST_LINES, keyed=KEYED, reuse_inner=RARELY, data=st.data())
    def create_import(self, book: str, lines: list[Line], keyed: int, reuse_inner: bool, data: st.DataObject) -> None:
        """L4: a draft I list (核增) of 1–4 lines; sometimes with an internal number already used (BZ-INVT-DUPLICATE)."""
        self._create(book, "I", lines, keyed, reuse_inner, data)

    @rule(book=st.sampled_from(BOOKS), lines=LIST_LINES, keyed=KEYED, reuse_inner=RARELY, data=st.data())
    def create_export(self, book: str, lines: list[Line], keyed: int, reuse_inner: bool, data: st.DataObject) -> None:
        """L4: a draft E list (核减) asking for a given quantity, or all or half of a balance."""
        self._create(book, "E", lines, keyed, reuse_inner, data)

    @rule(book=st.sampled_from(BOOKS), mark=st.sampled_from("EI"), lines=LIST_LINES, keyed=KEYED)
    def move_goods_now(self, book: str, mark: str, lines: list[Line], keyed: int) -> None:
        """L2/L4: create, declare and approve in one go, so that many exports meet the overdraw check."""
        self._step()
        if mark == "E":
            lines = [(seq, status, self._qty((book, seq, status), q, mode), mode) for seq, status, q, mode in lines]
        actor = OWNER_OF[book]
        req = Req(
            "create", actor, book=book, mark=mark, inner=f"SM-{self._next()}", lines=tuple((s, st_, q) for s, st_, q, _ in lines)
        )
        body = self.send(req, None)
        assert body is not None
        self.send(Req("declare", actor, invt_id=body["id"]), None)
        self._send(Req("approve", "customs", invt_id=body["id"]), keyed)

    def _create(self, book: str, mark: str, lines: list[Line], keyed: int, reuse_inner: bool, data: st.DataObject) -> None:
        self._step()
        used = self.model.inner_numbers(book)
        inner = data.draw(st.sampled_from(used), label="reused inner") if reuse_inner and used else f"SM-{self._next()}"
        if mark == "E":
            lines = [(seq, status, self._qty((book, seq, status), q, mode), mode) for seq, status, q, mode in lines]
        req = Req("create", OWNER_OF[book], book=book, mark=mark, inner=inner, lines=tuple((s, st_, q) for s, st_, q, _ in lines))
        self._send(req, keyed)

    @precondition(lambda self: bool(self.model.lists))
    @rule(data=st.data(), keyed=KEYED)
    def declare(self, data: st.DataObject, keyed: int) -> None:
        """L4: draft → declared, by the book's owner."""
        self._step()
        invt = self._pick_list(data, ("draft",))
        self._send(Req("declare", OWNER_OF[self.model.lists[invt].book], invt_id=invt), keyed)

    @precondition(lambda self: bool(self.model.lists))
    @rule(data=st.data(), keyed=KEYED)
    def approve(self, data: st.DataObject, keyed: int) -> None:
        """L2/L4: declared → approved posts every line, or the whole list is refused."""
        self._step()
        self._send(Req("approve", "customs", invt_id=self._pick_list(data, ("declared",))), keyed)

    @precondition(lambda self: bool(self.model.lists))
    @rule(data=st.data())
    def approve_twice(self, data: st.DataObject) -> None:
        """L2: a second approval without a key is refused by the lifecycle and posts nothing."""
        self._step()
        invt = self._pick_list(data, ("declared",))
        self.send(Req("approve", "customs", invt_id=invt), None)
        self.send(Req("approve", "customs", invt_id=invt), None)

    @precondition(lambda self: bool(self.model.lists))
    @rule(data=st.data(), keyed=KEYED, reason=REASON)
    def reject(self, data: st.DataObject, keyed: int, reason: str | None) -> None:
        """L4: declared → rejected (退单); nothing posts."""
        self._step()
        self._send(Req("reject", "customs", invt_id=self._pick_list(data, ("declared",)), reason=reason), keyed)

    @precondition(lambda self: bool(self.model.lists))
    @rule(data=st.data(), keyed=KEYED, reason=REASON)
    def cancel(self, data: st.DataObject, keyed: int, reason: str | None) -> None:
        """L4: draft or declared → cancelled (删单); nothing posts, ever."""
        self._step()
        invt = self._pick_list(data, ("draft", "declared"))
        self._send(Req("cancel", OWNER_OF[self.model.lists[invt].book], invt_id=invt, reason=reason), keyed)

    @rule(book=st.sampled_from(BOOKS), to_bonded=st.booleans(), lines=CONV_LINES, reuse_entry=RARELY, keyed=KEYED, data=st.data())
    def convert(
        self, book: str, to_bonded: bool, lines: list[tuple[int, str, str]], reuse_entry: bool, keyed: int, data: st.DataObject
    ) -> None:
        """M9: 核减 one status and 核增 the other; an entryNo reused in the same book is BZ-CONV-DUPLICATE."""
        self._step()
        used = sorted(e for entries in self.model.entries.values() for e in entries)
        if reuse_entry and used:
            entry = data.draw(st.sampled_from(used), label="reused entryNo")  # in the other book it is allowed
        else:
            entry = f"530120260{self._next():09d}"
        frm, to = ("non_bonded", "bonded") if to_bonded else ("bonded", "non_bonded")
        held = sorted(seq for (b, seq, status), q in self.model.balances.items() if b == book and status == frm and q > 0)
        conv_lines = tuple(
            (seq, self._qty((book, seq, frm), q, mode))
            for seq, q, mode in (
                # all or half of a balance is asked of an item that has one, when there is one
                (data.draw(st.sampled_from(held), label="held item") if held and mode != "given" else seq, q, mode)
                for seq, q, mode in lines
            )
        )
        req = Req("convert", OWNER_OF[book], book=book, entry=entry, from_status=frm, to_status=to, conv_lines=conv_lines)
        self._send(req, keyed)

    @precondition(lambda self: bool(self.keyed))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """L2: replay an earlier keyed request; a stored answer comes back and nothing changes."""
        self._step()
        # Mostly one whose first answer was stored; a request refused as invalid or not found stored nothing and runs again.
        stored = [(req, key) for req, key in self.keyed if (self.who[req.actor].scope, key) in self.model.keys]
        pool = stored if stored and data.draw(st.integers(0, 3), label="any keyed") != 3 else self.keyed
        req, key = data.draw(st.sampled_from(pool[::-1]), label="replayed")  # newest first
        self.send(req, key)

    @precondition(lambda self: bool(self.keyed))
    @rule(data=st.data())
    def reuse_key(self, data: st.DataObject) -> None:
        """L2: an earlier key with a different request is BZ-IDEMPOTENCY-MISMATCH (if the first was stored)."""
        self._step()
        first, key = data.draw(st.sampled_from(self.keyed[::-1]), label="key of")
        invt = data.draw(st.sampled_from(sorted(self.model.lists, reverse=True)), label="list")
        kind = "approve" if first.actor == "customs" else "declare"
        self.send(Req(kind, first.actor, invt_id=invt), key)

    # -- invariants, read from storage after every step --------------------------------------

    @invariant()
    def storage_keeps_the_ledger_invariants(self) -> None:
        check_storage(self.c, self.model, self.seen_postings, self.seen_events)


def check_storage(
    c: bootstrap.Container, m: Model, seen_postings: dict[int, tuple[Any, ...]], seen_events: dict[int, tuple[Any, ...]]
) -> None:
    """Every L2/L3/L4/M9 invariant, from the database's own rows."""
    with c.engine.connect() as conn:
        books = {int(r.id): r.putrec_no for r in conn.execute(select(t.books.c.id, t.books.c.putrec_no))}
        stock = {
            (books[int(r.book_id)], int(r.putrec_seqno), r.stock_status): int(r.quantity)
            for r in conn.execute(select(t.stock_balances))
        }
        posts = conn.execute(select(t.postings).order_by(t.postings.c.id)).all()
        events = conn.execute(select(t.doc_events).order_by(t.doc_events.c.id)).all()
        lists = {
            int(r.id): (r.status, int(r.version), r.bond_invt_no)
            for r in conn.execute(select(t.invts.c.id, t.invts.c.status, t.invts.c.version, t.invts.c.bond_invt_no))
        }
        convs = {
            int(r.id): (books[int(r.book_id)], r.entry_no)
            for r in conn.execute(select(t.conversions.c.id, t.conversions.c.book_id, t.conversions.c.entry_no))
        }

    # L2: balance = sum of its postings, never below zero, and what the model says.
    sums: Counter[tuple[str, int, str]] = Counter()
    for p in posts:
        sums[(books[int(p.book_id)], int(p.putrec_seqno), p.stock_status)] += int(p.delta)
    for k in sorted(set(sums) | set(stock)):
        assert stock.get(k, 0) == sums.get(k, 0), f"balance {k} is {stock.get(k, 0)} units, its postings sum to {sums.get(k, 0)}"
        assert stock.get(k, 0) >= 0, f"balance {k} is below zero: {stock.get(k, 0)} units"
    held, want = {k: q for k, q in stock.items() if q != 0}, m.expected_balances()
    differ = {k: (held.get(k, 0), want.get(k, 0)) for k in set(held) | set(want) if held.get(k, 0) != want.get(k, 0)}
    assert not differ, f"balances (stored, model) in units differ from the model: {differ}"

    # L2: a document line posts at most once; approved lists and conversions post every line, others nothing.
    identity = Counter((p.doc_type, int(p.doc_id), int(p.doc_line), int(p.leg)) for p in posts)
    twice = [i for i, n in identity.items() if n > 1]
    assert not twice, f"posted more than once: {twice}"
    per_doc: dict[tuple[str, int], list[tuple[int, int, str, int, str, int]]] = {}
    for p in posts:
        row = (int(p.doc_line), int(p.leg), books[int(p.book_id)], int(p.putrec_seqno), p.stock_status, int(p.delta))
        per_doc.setdefault((p.doc_type, int(p.doc_id)), []).append(row)
    expected_docs = m.expected_postings()
    for doc in sorted(set(per_doc) | set(expected_docs)):
        got, want = sorted(per_doc.get(doc, [])), expected_docs.get(doc, [])
        status = m.lists[doc[1]].status if doc[0] == "invt" and doc[1] in m.lists else doc[0]
        assert got == want, f"{doc} ({status}) has postings {got}, expected {want}"

    # L4 / M9: the documents themselves.
    assert lists == {i: (x.status, x.version, x.bond_invt_no) for i, x in m.lists.items()}, "lists differ from the model"
    assert convs == {i: (x.book, x.entry) for i, x in m.convs.items()}, "conversions differ from the model"

    # L2: postings and state changes are never edited or deleted.
    for rows, seen, what in ((posts, seen_postings, "posting"), (events, seen_events, "event")):
        now = {int(r.id): tuple(r) for r in rows}
        for rid, before in seen.items():
            assert now.get(rid) == before, f"{what} {rid} changed or vanished: {before} -> {now.get(rid)}"
        seen.update(now)

    # L3: every state change is in the chain, and every chain verifies.
    made = Counter((e.doc_type, int(e.doc_id)) for e in events)
    assert dict(made) == m.events, f"chain events per document {dict(made)}, expected {m.events}"
    with c.uow(write=False) as uow:
        report = audit.verify_all(uow, f.CUSTOMS)
    assert report.ok, f"audit found {report.findings}"
    assert report.links == len(posts) + len(events), f"audit walked {report.links} links of {len(posts) + len(events)} rows"


def machine_on(db: Db) -> type[LedgerMachine]:
    return type(f"LedgerMachineOn{type(db).__name__}", (LedgerMachine,), {"db": db})


# -- the runs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_stateful_url() -> Iterator[str]:
    schema, url = make_pg_schema("stateful")
    yield url
    drop_pg_schema(schema)


def _db(engine: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Db:
    if engine == "sqlite":
        return SqliteDb(sqlite_template, tmp_path)
    return PgDb(request.getfixturevalue("pg_stateful_url"))


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_ledger_invariants_hold_under_random_request_sequences(
    engine: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
) -> None:
    """L2, L3, L4, M9 on each engine: ≥ 2,000 steps in CI, ≥ 20,000 with BZ_SOAK=1."""
    db = _db(engine, request, tmp_path, sqlite_template)
    run_state_machine_as_test(machine_on(db), settings=hypothesis_settings(PROFILE))
    # Hypothesis ends some examples early, so a soak (random, new sequences each run) goes on until it
    # has its steps; CI is derandomized, another run would repeat the same sequences.
    for _ in range(4):
        if not SOAK or db.steps >= PROFILE.minimum:
            break
        run_state_machine_as_test(machine_on(db), settings=hypothesis_settings(PROFILE))
    print(f"stateful ledger on {engine}: {db.steps} steps in {db.examples} examples")  # shown with -s / -rP
    assert db.steps >= PROFILE.minimum, f"only {db.steps} steps ran on {engine}; the profile needs {PROFILE.minimum}"
    # The run must have met the interesting cases, not only refusals of lists in the wrong state.
    for outcome in (
        "approve ok",
        "approve refused BZ-LEDGER-NEGATIVE",
        "approve refused BZ-INVT-STATE",
        "convert ok",
        "convert refused BZ-LEDGER-NEGATIVE",
        "convert refused BZ-CONV-DUPLICATE",
        "create refused BZ-INVT-DUPLICATE",
        "approve replayed",
        "approve refused BZ-LEDGER-NEGATIVE (stored)",
        "declare refused BZ-IDEMPOTENCY-MISMATCH",
    ):
        assert any(seen.startswith(outcome) for seen in db.outcomes), (
            f"no '{outcome}' in the {engine} run: {sorted(db.outcomes.items())}"
        )


# -- planted bugs: each must make the machine fail -------------------------------------------------


def _plan_without_negative_check(mp: pytest.MonkeyPatch) -> None:
    """Skip the overdraw check: ``plan`` returns the net change whatever the balances."""

    def plan(balances: Any, legs: Any) -> dict[ledger.StockKey, int]:
        net: dict[ledger.StockKey, int] = {}
        for leg in legs:
            net[leg.key] = net.get(leg.key, 0) + leg.units
        return {k: d for k, d in net.items() if d != 0}

    mp.setattr(ledger, "plan", plan)


def _post_what_fits(mp: pytest.MonkeyPatch) -> None:
    """Keep part of a refused list: the writer silently drops the legs that would overdraw and posts the rest."""
    real = posting.ChainWriter.post

    def post(self: posting.ChainWriter, doc_type: DocType, doc_id: int, legs: Any) -> None:
        balances = self.uow.ledger.balances(self.book_id, ledger.keys_of(legs))
        net: dict[ledger.StockKey, int] = {}
        for leg in legs:
            net[leg.key] = net.get(leg.key, 0) + leg.units
        real(self, doc_type, doc_id, [leg for leg in legs if balances.get(leg.key, 0) + net[leg.key] >= 0])

    mp.setattr(posting.ChainWriter, "post", post)


def _cancelled_list_approves(mp: pytest.MonkeyPatch) -> None:
    """Let a cancelled list post: the lifecycle allows (cancelled, approve)."""
    mp.setattr(model, "TRANSITIONS", {**model.TRANSITIONS, (InvtStatus.CANCELLED, InvtAction.APPROVE): InvtStatus.APPROVED})


def _storage_loses_a_posting(mp: pytest.MonkeyPatch) -> None:
    """Lose a posting from the chain: storage drops the last row of each batch; balances and head still move."""
    real = sql_uow.SqlLedgerRepo.append

    def append(self: sql_uow.SqlLedgerRepo, book_id: int, postings: Any) -> None:
        real(self, book_id, list(postings)[:-1])

    mp.setattr(sql_uow.SqlLedgerRepo, "append", append)


def _writer_hashes_another_payload(mp: pytest.MonkeyPatch) -> None:
    """A wrong hash: the writer leaves docLine out of what it hashes, the verifier does not."""

    class ChainWithoutDocLine:
        # Whichever form the writer renders a posting in (payload or canonical text), docLine is left out.
        @staticmethod
        def posting_payload(**kw: Any) -> dict[str, Any]:
            p = chain.posting_payload(**kw)
            del p["docLine"]
            return p

        @staticmethod
        def posting_text(*args: Any, **kw: Any) -> str:
            return re.sub(r'"docLine":\d+,', "", chain.posting_text(*args, **kw))

        def __getattr__(self, name: str) -> Any:
            return getattr(chain, name)

    mp.setattr(posting, "chain", ChainWithoutDocLine())


def _retry_reposts_approval(mp: pytest.MonkeyPatch) -> None:
    """Post a retried line twice: a keyed approval's retry re-posts the list, under a leg number that no longer collides."""
    real = idempotency.execute

    def execute(
        uow_factory: Any, work: Any, render: Any, *, scope: str, key: str | None, request_fingerprint: str, **kw: Any
    ) -> Any:
        if key is not None:
            with uow_factory(write=True) as uow:
                prior = uow.idempotency.get(scope, key)
                if prior is not None and prior.fingerprint == request_fingerprint and prior.body.get("status") == "approved":
                    invt = uow.invts.get(prior.body["id"])
                    rec = uow.books.get(invt.putrec_no)
                    writer = posting.ChainWriter(uow, rec.id, rec.book.putrec_no)
                    done = len(uow.ledger.postings(rec.id, doc_type=DocType.INVT, doc_id=invt.id, limit=100_000))
                    writer.post(
                        DocType.INVT,
                        invt.id,
                        [
                            leg._replace(leg=leg.leg + done)
                            for leg in ledger.invt_legs(invt.impexp_markcd, ledger.line_amounts(invt))
                        ],
                    )
                    writer.close()
                    uow.commit()
                    return prior.status, prior.body
        return real(uow_factory, work, render, scope=scope, key=key, request_fingerprint=request_fingerprint, **kw)

    mp.setattr(idempotency, "execute", execute)


MUTANTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "no-overdraw-check": _plan_without_negative_check,
    "keeps-part-of-refused-list": _post_what_fits,
    "cancelled-list-posts": _cancelled_list_approves,
    "posting-lost-from-chain": _storage_loses_a_posting,
    "wrong-hash": _writer_hashes_another_payload,
    "retried-line-posts-twice": _retry_reposts_approval,
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_planted_bug_is_caught(mutant: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_template: Path) -> None:
    """The machine can fail: each planted bug breaks an L2/L3/L4 check within a modest budget (SQLite)."""
    db = SqliteDb(sqlite_template, tmp_path)
    MUTANTS[mutant](monkeypatch)
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(machine_on(db), settings=hypothesis_settings(MUTANT_BUDGET, shrink=False))
    assert db.steps > 0, caught.value


def test_unmutated_machine_passes_the_mutant_budget(tmp_path: Path, sqlite_template: Path) -> None:
    """The same budget without a planted bug passes, so the failures above are the bugs' doing."""
    db = SqliteDb(sqlite_template, tmp_path)
    run_state_machine_as_test(machine_on(db), settings=hypothesis_settings(MUTANT_BUDGET, shrink=False))
    assert db.steps >= MUTANT_BUDGET.minimum, db.steps
