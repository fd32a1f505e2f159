"""L3 on both engines: raw-SQL tampering is found, and the first broken link is named exactly.

The chain of the owner's book after ``_history`` (one link per state change or posting):

    1 event  A1 created      4 posting A1 line 1      7 event  A2 declared
    2 event  A1 declared     5 posting A1 line 2      8 event  A2 approved
    3 event  A1 approved     6 event   A2 created     9 posting A2 line 1
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text, update
from typer.testing import CliRunner

from bondedzone.adapters.db import tables
from bondedzone.domain.chain import ChainFinding
from bondedzone.entrypoints.cli.main import app
from bondedzone.services import audit
from tests import factories as f

runner = CliRunner()


@dataclass
class Db:
    zone: f.Zone
    db_url: str

    def sql(self, statement: str, **params: Any) -> int:
        with self.zone.container.engine.begin() as conn:
            return conn.execute(text(statement), params).rowcount

    def scalar(self, statement: str, **params: Any) -> Any:
        with self.zone.container.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar_one()

    def book_id(self, putrec_no: str) -> int:
        return int(self.scalar("SELECT id FROM books WHERE putrec_no = :p", p=putrec_no))

    def row_id(self, table: str, book: str, seq: int) -> int:
        return int(self.scalar(f"SELECT id FROM {table} WHERE book_id = :b AND chain_seq = :s", b=self.book_id(book), s=seq))

    def report(self) -> audit.AuditReport:
        with self.zone.container.uow(write=False) as uow:
            return audit.verify_all(uow, self.zone.customs)

    def first(self) -> tuple[str, int, str, str | None]:
        r = self.report()
        assert not r.ok
        fb = r.first_broken
        assert fb is not None and fb == r.findings[0]
        return fb.putrec_no, fb.seq, fb.problem, fb.kind

    def cli(self) -> tuple[int, str]:
        result = runner.invoke(app, ["audit", "verify"], env={"BONDEDZONE_DATABASE_URL": self.db_url})
        return result.exit_code, " ".join(result.output.split())  # undo rich's wrapping


@pytest.fixture
def z(zone: f.Zone, db_url: str) -> Db:
    c = zone.container
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "I", [(1, "10"), (2, "2.5")], inner="A1"))
    f.approve(c, f.new_list(c, zone.owner, f.OWNER_BOOK, "E", [(1, "4")], inner="A2"))
    f.approve(c, f.new_list(c, zone.stranger, f.STRANGER_BOOK, "I", [(3, "7")], inner="S1"))
    zz = Db(zone, db_url)
    r = zz.report()
    assert r.ok, r.findings
    assert (r.books, r.links) == (2, 9 + 4)
    return zz


OWNER_POSTING = (
    "UPDATE postings SET {set} WHERE book_id = (SELECT id FROM books WHERE putrec_no = 'T5301W100001') AND chain_seq = {seq}"
)
OWNER_EVENT = (
    "UPDATE doc_events SET {set} WHERE book_id = (SELECT id FROM books WHERE putrec_no = 'T5301W100001') AND chain_seq = {seq}"
)


@pytest.mark.parametrize(
    ("statement", "seq", "kind", "then_balance"),
    [
        (OWNER_POSTING.format(set="delta = delta + 1", seq=5), 5, "posting", True),
        (OWNER_POSTING.format(set="delta = -delta", seq=9), 9, "posting", True),
        (OWNER_POSTING.format(set="stock_status = 'non_bonded'", seq=4), 4, "posting", True),
        (OWNER_POSTING.format(set="putrec_seqno = 3", seq=4), 4, "posting", True),
        (OWNER_POSTING.format(set="doc_line = 7", seq=5), 5, "posting", False),
        (OWNER_POSTING.format(set="corrects = 1", seq=9), 9, "posting", False),
        (OWNER_EVENT.format(set="to_status = 'approved'", seq=2), 2, "event", False),
        (OWNER_EVENT.format(set="actor = 'test:someone-else'", seq=3), 3, "event", False),
        (OWNER_EVENT.format(set="reason = 'backdated'", seq=7), 7, "event", False),
        (OWNER_EVENT.format(set="from_status = 'draft'", seq=1), 1, "event", False),
    ],
    ids=[
        "posting-delta",
        "posting-sign",
        "posting-status",
        "posting-item",
        "posting-line",
        "posting-corrects",
        "event-to",
        "event-actor",
        "event-reason",
        "event-from",
    ],
)
def test_edited_row_is_a_hash_mismatch_at_its_seq(z: Db, statement: str, seq: int, kind: str, then_balance: bool) -> None:
    assert z.sql(statement) == 1
    report = z.report()
    table = "postings" if kind == "posting" else "doc_events"
    assert report.findings[0] == ChainFinding(
        f.OWNER_BOOK, seq, "hash_mismatch", kind, z.row_id(table, f.OWNER_BOOK, seq), "stored content was altered"
    )
    # a posting's amount, item or status edited also leaves a balance that no longer equals its postings
    assert any(x.problem == "balance_mismatch" for x in report.findings) is then_balance
    assert all(x.putrec_no == f.OWNER_BOOK for x in report.findings)  # the other book is intact


def test_edited_timestamp_is_a_hash_mismatch(z: Db) -> None:
    pid = z.row_id("postings", f.OWNER_BOOK, 4)
    backdated = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
    with z.zone.container.engine.begin() as conn:
        assert (
            conn.execute(update(tables.postings).where(tables.postings.c.id == pid).values(recorded_at=backdated)).rowcount == 1
        )
    assert z.first() == (f.OWNER_BOOK, 4, "hash_mismatch", "posting")


def test_deleted_posting_is_a_gap_at_its_seq(z: Db) -> None:
    assert z.sql("DELETE FROM postings WHERE id = :i", i=z.row_id("postings", f.OWNER_BOOK, 4)) == 1
    findings = z.report().findings
    assert (findings[0].putrec_no, findings[0].seq, findings[0].problem) == (f.OWNER_BOOK, 4, "gap")
    assert findings[0].detail == "links 4..4 are missing"
    assert "balance_mismatch" in {x.problem for x in findings}


def test_deleted_event_is_a_gap_at_its_seq(z: Db) -> None:
    assert z.sql("DELETE FROM doc_events WHERE id = :i", i=z.row_id("doc_events", f.OWNER_BOOK, 6)) == 1
    assert z.first() == (f.OWNER_BOOK, 6, "gap", None)


def test_deleted_last_posting_is_a_head_mismatch(z: Db) -> None:
    assert z.sql("DELETE FROM postings WHERE id = :i", i=z.row_id("postings", f.OWNER_BOOK, 9)) == 1
    assert z.first() == (f.OWNER_BOOK, 9, "head_mismatch", None)


def test_overwritten_hash_is_a_hash_mismatch_then_the_next_does_not_follow(z: Db) -> None:
    assert z.sql(OWNER_POSTING.format(set="hash = :h", seq=4), h="0" * 64) == 1
    findings = [(x.seq, x.problem) for x in z.report().findings]
    assert findings == [(4, "hash_mismatch"), (5, "prev_mismatch")]


@pytest.mark.parametrize(("change", "seq"), [("chain_seq + 1", 10), ("chain_seq - 2", 7)])
def test_edited_book_head_is_a_head_mismatch(z: Db, change: str, seq: int) -> None:
    assert z.sql(f"UPDATE books SET chain_seq = {change} WHERE putrec_no = :p", p=f.OWNER_BOOK) == 1
    findings = z.report().findings
    assert [(x.putrec_no, x.seq, x.problem) for x in findings] == [(f.OWNER_BOOK, seq, "head_mismatch")]


def test_edited_head_hash_is_a_head_mismatch(z: Db) -> None:
    assert z.sql("UPDATE books SET chain_head = :h WHERE putrec_no = :p", h="a" * 64, p=f.STRANGER_BOOK) == 1
    assert z.first() == (f.STRANGER_BOOK, 4, "head_mismatch", None)


def test_first_broken_book_and_link_when_several_are(z: Db) -> None:
    z.sql(OWNER_EVENT.format(set="actor = 'x'", seq=8))
    z.sql(OWNER_POSTING.format(set="delta = 1", seq=5))
    z.sql("UPDATE postings SET delta = 1 WHERE book_id = :b", b=z.book_id(f.STRANGER_BOOK))
    findings = [(x.putrec_no, x.seq, x.problem) for x in z.report().findings]
    assert findings[:2] == [(f.OWNER_BOOK, 5, "hash_mismatch"), (f.OWNER_BOOK, 8, "hash_mismatch")]
    assert (f.STRANGER_BOOK, 4, "hash_mismatch") in findings
    assert findings.index((f.STRANGER_BOOK, 4, "hash_mismatch")) > findings.index((f.OWNER_BOOK, 8, "hash_mismatch"))


def test_only_the_tampered_book_is_named(z: Db) -> None:
    z.sql("UPDATE postings SET delta = delta * 2 WHERE book_id = :b", b=z.book_id(f.STRANGER_BOOK))
    report = z.report()
    assert {x.putrec_no for x in report.findings} == {f.STRANGER_BOOK}
    assert z.first() == (f.STRANGER_BOOK, 4, "hash_mismatch", "posting")


def test_balance_edited_away_from_its_postings(z: Db) -> None:  # L2: balance = sum of postings
    n = z.sql(
        "UPDATE stock_balances SET quantity = quantity + 100000 WHERE book_id = :b AND putrec_seqno = 2",
        b=z.book_id(f.OWNER_BOOK),
    )
    assert n == 1
    findings = z.report().findings
    assert len(findings) == 1
    b = findings[0]
    assert (b.putrec_no, b.seq, b.problem) == (f.OWNER_BOOK, 0, "balance_mismatch")
    assert b.detail == "item 2 bonded: balance 3.5, postings sum 2.5"


def test_balance_row_deleted_or_invented(z: Db) -> None:
    z.sql("DELETE FROM stock_balances WHERE book_id = :b AND putrec_seqno = 1", b=z.book_id(f.OWNER_BOOK))
    z.sql(
        "INSERT INTO stock_balances (book_id, putrec_seqno, stock_status, quantity) VALUES (:b, 3, 'non_bonded', 500000)",
        b=z.book_id(f.STRANGER_BOOK),
    )
    findings = [(x.putrec_no, x.problem, x.detail) for x in z.report().findings]
    assert findings == [
        (f.OWNER_BOOK, "balance_mismatch", "item 1 bonded: balance 0, postings sum 6"),
        (f.STRANGER_BOOK, "balance_mismatch", "item 3 non_bonded: balance 5, postings sum 0"),
    ]


# ---- the operator's command: `bondedzone audit verify` -----------------------------------------


def test_cli_audit_verify_clean_exits_zero(z: Db) -> None:
    code, out = z.cli()
    assert code == 0, out
    assert "OK 2 books, 13 links verified" in out


def test_cli_audit_verify_names_the_first_broken_link(z: Db) -> None:
    z.sql(OWNER_EVENT.format(set="to_status = 'rejected'", seq=8))
    z.sql(OWNER_POSTING.format(set="delta = delta + 1", seq=4))
    code, out = z.cli()
    assert code == 1, out
    pid = z.row_id("postings", f.OWNER_BOOK, 4)
    assert (
        f"BROKEN first broken link: book {f.OWNER_BOOK} seq 4 (hash_mismatch, posting {pid}): stored content was altered" in out
    )
    assert f"also: book {f.OWNER_BOOK} seq 8 hash_mismatch" in out


def test_cli_audit_verify_reports_a_balance_mismatch(z: Db) -> None:
    z.sql("UPDATE stock_balances SET quantity = 0 WHERE book_id = :b", b=z.book_id(f.STRANGER_BOOK))
    code, out = z.cli()
    assert code == 1, out
    assert f"first broken link: book {f.STRANGER_BOOK} seq 0 (balance_mismatch): item 3 bonded: balance 0, postings sum 7" in out
