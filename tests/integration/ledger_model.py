"""A plain-Python model of the ledger, for the stateful test (L2, L3, L4, M9).

It knows nothing of storage: given a request and what it has seen so far, it predicts whether the
request succeeds and with which answer, or which refusal (code and detail) it gets. The state
machine in ``test_stateful_ledger.py`` sends the same request to the real services and compares.

What the model believes, written out so a reader can check it against PRODUCT.md:

* an ``I`` list adds every line on approval, an ``E`` list takes every line away (L4);
* a document that would take any balance below zero is refused as a whole with
  ``BZ-LEDGER-NEGATIVE``, one error per short balance, naming the first line at which the running
  balance goes below zero, the balance before the document and the shortfall (L2);
* a conversion takes ``from`` and adds ``to`` for each line; one declaration (entryNo) backs at most
  one conversion per book (M9);
* a keyed request whose first answer was stored gets that answer again and changes nothing; the
  same key with another request is refused (L2 "idempotent under retries"). A refusal that depends
  on the state of the ledger (kind ``conflict``: an overdraw, a list in the wrong state, a number
  already used) is a first answer too and is stored; any other refusal stores nothing, so its retry
  runs afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bondedzone.domain.errors import CATALOGUE
from bondedzone.domain.values import fmt_qty, to_units
from bondedzone.services import idempotency

DRAFT, DECLARED, APPROVED, REJECTED, CANCELLED = "draft", "declared", "approved", "rejected", "cancelled"
MOVES: dict[str, dict[str, str]] = {
    "declare": {DRAFT: DECLARED},
    "approve": {DECLARED: APPROVED},
    "reject": {DECLARED: REJECTED},
    "cancel": {DRAFT: CANCELLED, DECLARED: CANCELLED},
}
DECIDERS = ("approve", "reject")  # customs only
MASTER_CUSCD = "5301"
YEAR = "26"  # the injected clock starts in 2026

Key = tuple[str, int, str]  # (putrecNo, putrecSeqno, stockStatus)


@dataclass(frozen=True, repr=False)
class Req:
    """One request as a client would send it; ``fingerprint`` is what the API would compute."""

    kind: str  # create | declare | approve | reject | cancel | convert
    actor: str  # an enterprise persona ("owner", "stranger") or "customs"
    book: str = ""
    invt_id: int = 0
    mark: str = ""
    inner: str = ""
    lines: tuple[tuple[int, str, str], ...] = ()  # list lines: (putrecSeqno, stockStatus, qty)
    conv_lines: tuple[tuple[int, str], ...] = ()  # conversion lines: (putrecSeqno, qty)
    entry: str = ""
    from_status: str = ""
    to_status: str = ""
    reason: str | None = None

    def __repr__(self) -> str:
        # Only what was set, so that a failing step reads like the request it was.
        shown = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v not in ("", 0, (), None))
        return f"Req({shown})"

    def path(self) -> str:
        if self.kind == "create":
            return "/api/v1/invts"
        if self.kind == "convert":
            return f"/api/v1/books/{self.book}/conversions"
        return f"/api/v1/invts/{self.invt_id}/{self.kind}"

    def body(self) -> bytes:
        if self.kind == "create":
            doc: dict[str, Any] = {"putrecNo": self.book, "mark": self.mark, "inner": self.inner, "lines": self.lines}
        elif self.kind == "convert":
            doc = {"entryNo": self.entry, "from": self.from_status, "to": self.to_status, "lines": self.conv_lines}
        elif self.kind in ("reject", "cancel"):
            doc = {"reason": self.reason}
        else:
            return b""
        return json.dumps(doc, sort_keys=True).encode()

    def fingerprint(self) -> str:
        return idempotency.fingerprint("POST", self.path(), self.body())


@dataclass
class MList:
    """What the model knows of one inventory list."""

    id: int
    book: str
    mark: str
    inner: str
    lines: tuple[tuple[int, str, Decimal], ...]
    status: str = DRAFT
    version: int = 1
    bond_invt_no: str | None = None

    def legs(self) -> list[tuple[int, int, Key, Decimal]]:
        sign = 1 if self.mark == "I" else -1
        return [(n, 0, (self.book, seq, st), sign * q) for n, (seq, st, q) in enumerate(self.lines, start=1)]

    def answer(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "version": self.version, "bondInvtNo": self.bond_invt_no}


@dataclass
class MConv:
    """A conversion the model saw succeed."""

    id: int
    book: str
    entry: str
    from_status: str
    to_status: str
    lines: tuple[tuple[int, Decimal], ...]

    def legs(self) -> list[tuple[int, int, Key, Decimal]]:
        out: list[tuple[int, int, Key, Decimal]] = []
        for n, (seq, q) in enumerate(self.lines, start=1):
            out.append((n, 0, (self.book, seq, self.from_status), -q))
            out.append((n, 1, (self.book, seq, self.to_status), q))
        return out


@dataclass(frozen=True)
class Stored:
    """The first answer to a keyed request, as the model expects storage to keep it."""

    fingerprint: str
    status: int
    body: dict[str, Any]


@dataclass
class Refused:
    """A predicted refusal: the code, the detail fields that must match, and for an overdraw every error."""

    code: str
    detail: dict[str, Any] = field(default_factory=dict)
    overdraws: list[tuple[int, int, str, str, str]] | None = None  # (gdsSeqno, putrecSeqno, status, balance, shortfall)
    stored: bool = False  # a keyed conflict: answered (not raised) and kept as the key's first answer


@dataclass
class Accepted:
    """A predicted success. ``body`` is None when storage assigns the id; ``apply`` updates the model."""

    status: int
    body: dict[str, Any] | None
    apply: Callable[[dict[str, Any]], None]


@dataclass
class Replayed:
    """A keyed retry: the stored answer, and no change."""

    stored: Stored


Outcome = Refused | Accepted | Replayed


@dataclass
class Model:
    """Balances, lists, conversions, stored keyed answers and the chain events each document made."""

    owners: dict[str, str]  # putrecNo -> enterprise persona that owns it
    balances: dict[Key, Decimal] = field(default_factory=dict)
    lists: dict[int, MList] = field(default_factory=dict)
    convs: dict[int, MConv] = field(default_factory=dict)
    entries: dict[str, set[str]] = field(default_factory=dict)  # putrecNo -> entryNos used by a conversion
    keys: dict[tuple[str, str], Stored] = field(default_factory=dict)  # (scope, key) -> first answer
    events: dict[tuple[str, int], int] = field(default_factory=dict)  # (docType, docId) -> chain events

    def balance(self, k: Key) -> Decimal:
        return self.balances.get(k, Decimal(0))

    def inner_numbers(self, book: str) -> list[str]:
        return sorted(x.inner for x in self.lists.values() if x.book == book)

    # -- prediction -------------------------------------------------------------------------

    def predict(self, req: Req, scope: str, key: str | None) -> Outcome:
        if key is not None:
            stored = self.keys.get((scope, key))
            if stored is not None:
                if stored.fingerprint == req.fingerprint():
                    return Replayed(stored)
                return Refused("BZ-IDEMPOTENCY-MISMATCH", {"key": key})
        outcome = self._fresh(req)
        if key is not None and isinstance(outcome, Refused):
            outcome.stored = CATALOGUE[outcome.code].kind == "conflict"
        if key is not None and isinstance(outcome, Accepted):
            inner_apply, fp = outcome.apply, req.fingerprint()

            def apply_and_store(body: dict[str, Any]) -> None:
                inner_apply(body)
                self.keys[(scope, key)] = Stored(fp, outcome.status, body)

            outcome.apply = apply_and_store
        return outcome

    def _fresh(self, req: Req) -> Outcome:
        if req.kind == "create":
            return self._create(req)
        if req.kind == "convert":
            return self._convert(req)
        return self._move(req)

    def _create(self, req: Req) -> Outcome:
        if req.inner in self.inner_numbers(req.book):
            return Refused("BZ-INVT-DUPLICATE", {"etpsInnerInvtNo": req.inner, "putrecNo": req.book})
        lines = tuple((seq, st, Decimal(q)) for seq, st, q in req.lines)

        def apply(body: dict[str, Any]) -> None:
            assert body["id"] not in self.lists, f"storage reused list id {body['id']}"
            new = MList(body["id"], req.book, req.mark, req.inner, lines)
            assert body == new.answer(), f"create answered {body}, expected {new.answer()}"
            self.lists[new.id] = new
            self.events[("invt", new.id)] = 1

        return Accepted(201, None, apply)

    def _move(self, req: Req) -> Outcome:
        lst = self.lists[req.invt_id]
        if req.actor != "customs" and req.kind in DECIDERS:
            return Refused("BZ-FORBIDDEN", {"role": "enterprise"})
        if req.actor != "customs" and self.owners[lst.book] != req.actor:
            return Refused("BZ-INVT-NOT-FOUND", {"id": lst.id})
        target = MOVES[req.kind].get(lst.status)
        if target is None:
            return Refused("BZ-INVT-STATE", {"id": lst.id, "status": lst.status, "action": req.kind})
        changes: dict[Key, Decimal] = {}
        if target == APPROVED:
            refusal = self._overdraw(lst.legs())
            if refusal is not None:
                return refusal
            changes = _net(lst.legs())
        bond = lst.bond_invt_no
        if req.kind == "declare":
            bond = f"QD{MASTER_CUSCD}{YEAR}{lst.mark}{lst.id:09d}"
        after = MList(lst.id, lst.book, lst.mark, lst.inner, lst.lines, target, lst.version + 1, bond)

        def apply(body: dict[str, Any]) -> None:
            self.lists[lst.id] = after
            self._post(changes)
            self.events[("invt", lst.id)] += 1

        return Accepted(200, after.answer(), apply)

    def _convert(self, req: Req) -> Outcome:
        if req.entry in self.entries.get(req.book, set()):
            return Refused("BZ-CONV-DUPLICATE", {"entryNo": req.entry, "putrecNo": req.book})
        lines = tuple((seq, Decimal(q)) for seq, q in req.conv_lines)
        probe = MConv(0, req.book, req.entry, req.from_status, req.to_status, lines)
        refusal = self._overdraw(probe.legs())
        if refusal is not None:
            return refusal

        def apply(body: dict[str, Any]) -> None:
            assert body["id"] not in self.convs, f"storage reused conversion id {body['id']}"
            expected = {"id": body["id"], "putrecNo": req.book, "entryNo": req.entry, "lines": len(lines)}
            assert body == expected, f"conversion answered {body}, expected {expected}"
            conv = MConv(body["id"], req.book, req.entry, req.from_status, req.to_status, lines)
            self.convs[conv.id] = conv
            self.entries.setdefault(req.book, set()).add(req.entry)
            self._post(_net(conv.legs()))
            self.events[("conversion", conv.id)] = 1

        return Accepted(201, None, apply)

    def _overdraw(self, legs: list[tuple[int, int, Key, Decimal]]) -> Refused | None:
        """Every short balance of a document, as the L2 message promises to name it."""
        running: dict[Key, Decimal] = {}
        first: dict[Key, int] = {}
        for line, _leg, k, delta in legs:
            running[k] = running.get(k, Decimal(0)) + delta
            if self.balance(k) + running[k] < 0 and k not in first:
                first[k] = line
        short = [
            (first[k], k[1], k[2], fmt_qty(self.balance(k)), fmt_qty(-(self.balance(k) + change)))
            for k, change in running.items()
            if self.balance(k) + change < 0
        ]
        if not short:
            return None
        short.sort()
        return Refused("BZ-LEDGER-NEGATIVE", {"gdsSeqno": short[0][0]}, short)

    def _post(self, changes: dict[Key, Decimal]) -> None:
        for k, d in changes.items():
            self.balances[k] = self.balance(k) + d

    # -- what storage must hold -------------------------------------------------------------

    def expected_postings(self) -> dict[tuple[str, int], list[tuple[int, int, str, int, str, int]]]:
        """Per document, its postings as (docLine, leg, putrecNo, putrecSeqno, status, delta units)."""
        out: dict[tuple[str, int], list[tuple[int, int, str, int, str, int]]] = {}
        for lst in self.lists.values():
            if lst.status == APPROVED:
                out[("invt", lst.id)] = sorted((n, leg, *k, to_units(d)) for n, leg, k, d in lst.legs())
        for conv in self.convs.values():
            out[("conversion", conv.id)] = sorted((n, leg, *k, to_units(d)) for n, leg, k, d in conv.legs())
        return out

    def expected_balances(self) -> dict[Key, int]:
        return {k: to_units(d) for k, d in self.balances.items() if d != 0}


def _net(legs: list[tuple[int, int, Key, Decimal]]) -> dict[Key, Decimal]:
    net: dict[Key, Decimal] = {}
    for _line, _leg, k, d in legs:
        net[k] = net.get(k, Decimal(0)) + d
    return net
