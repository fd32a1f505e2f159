"""W2 自动比对印证 (measures 三 and 二十二) on DuckDB: every class of discrepancy, and nothing else.

Two kinds of proof. Generated zones (``services.synth``) with known injected discrepancies of
every class must be found with precision and recall 1.0 — and a zone with none injected must give
no finding at all. Small hand-made cases pin each rule and its boundary (the lag tolerance, a
split delivery, an adjustment), so that a changed rule fails a test named after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bondedzone.adapters.compare import duckdb_engine, relations
from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.domain.rules.w2_comparison import Cls, Scope
from bondedzone.services import synth

H = synth.HOUR
U = synth.UNIT
T0 = 1_800_000_000_000_000
P = w2.Params(T0, T0 + 24 * H, 2 * H)
BOOK = "T5301W000001"


@pytest.mark.parametrize(
    ("enterprises", "days", "inject", "seed"),
    [(1, 3, 1, 1), (3, 7, 2, 2), (5, 14, 4, 3), (8, 30, 6, 4)],
)
def test_w2_finds_every_injected_discrepancy_and_nothing_else(enterprises: int, days: int, inject: int, seed: int) -> None:
    data = synth.generate(enterprises=enterprises, days=days, seed=seed, inject=inject)
    assert data.injected == dict.fromkeys(synth.KINDS_INJECTED, inject)  # every class, as asked
    found = duckdb_engine.run(relations.tables(data.rows()), data.params)
    keys = {f.key for f in found}
    assert len(keys) == len(found), "one finding per key"
    precision, recall = synth.score(keys, data.truth)
    assert (precision, recall) == (1.0, 1.0), (sorted(keys - data.truth, key=str), sorted(data.truth - keys, key=str))
    assert {f.cls for f in found} == set(Cls)


def test_w2_a_zone_without_injected_discrepancies_has_no_finding() -> None:
    data = synth.generate(enterprises=4, days=10, seed=7, inject=0)
    assert len(data.movements) > 300 and data.truth == set()
    assert duckdb_engine.run(relations.tables(data.rows()), data.params) == []


@dataclass
class Case:
    """A hand-made book: one item (``MT1``, unit 007) unless more are added."""

    items: list[tuple[object, ...]] = field(default_factory=lambda: [(BOOK, "MT1", "007")])
    decls: list[tuple[object, ...]] = field(default_factory=list)
    movements: list[tuple[object, ...]] = field(default_factory=list)
    stock: list[tuple[object, ...]] = field(default_factory=list)

    def decl(self, doc: str, qty: int, ts: int, *, kind: str = "I", status: str = "bonded", line: int = 1, **kw: object) -> None:
        from_status = kw.get("from_status")
        self.decls.append((BOOK, doc, line, kind, kw.get("mtno", "MT1"), status, from_status, qty * U, kw.get("unit", "007"), ts))

    def move(self, ref: str, qty: int, ts: int, *, kind: str = "receipt", doc: str | None = None, **kw: object) -> None:
        line = kw.get("line", 1 if doc else None)
        status, unit, mtno = kw.get("status", "bonded"), kw.get("unit", "007"), kw.get("mtno", "MT1")
        self.movements.append((BOOK, ref, kind, mtno, status, kw.get("from_status"), qty * U, unit, ts, doc, line))

    def count(self, qty: int, *, status: str = "bonded", unit: str = "007", mtno: str = "MT1") -> None:
        self.stock.append((BOOK, P.p_to - 1, mtno, status, unit, qty * U))

    def run(self) -> list[w2.Finding]:
        postings = []
        for _b, _doc, _line, kind, mtno, status, from_status, qty, _unit, ts in self.decls:
            assert isinstance(qty, int)
            if kind == "C":
                postings += [(BOOK, mtno, from_status, -qty, ts), (BOOK, mtno, status, qty, ts)]
            else:
                postings.append((BOOK, mtno, status, qty if kind == "I" else -qty, ts))
        rows = {"items": self.items, "decls": self.decls, "postings": postings, "movements": self.movements, "stock": self.stock}
        return duckdb_engine.run(relations.tables(rows), P)


def _classes(found: list[w2.Finding]) -> list[tuple[str, str]]:
    return [(f.cls.value, f.scope.value) for f in found]


def test_m3_a_declared_receipt_delivered_in_two_parts_and_counted_is_consistent() -> None:
    c = Case()
    c.decl("QD1", 10, T0 + H)
    c.move("R1", 6, T0 + 2 * H, doc="QD1")
    c.move("R2", 4, T0 + 3 * H, doc="QD1")
    c.count(10)
    assert c.run() == []


def test_w2_a_movement_without_declaration_is_a_lag_within_the_tolerance_and_an_error_beyond() -> None:
    young, old = Case(), Case()
    young.move("R1", 5, P.p_to - P.tolerance)  # exactly at the tolerance: still a lag
    old.move("R1", 5, P.p_to - P.tolerance - 1)
    (f,) = young.run()
    assert (f.cls, f.scope, f.ref, f.wms_qty) == (Cls.TIMING_LAG, Scope.MOVEMENT, "R1", 5 * U)
    assert not f.is_error
    (f,) = old.run()
    assert (f.cls, f.ref) == (Cls.MOVEMENT_WITHOUT_DECLARATION, "R1")
    assert f.is_error


def test_w2_a_declaration_without_movement_and_its_lag() -> None:
    c = Case()
    c.decl("QD-OLD", 5, T0 + H)
    c.decl("QD-NEW", 5, P.p_to - H)
    found = c.run()
    assert {(f.ref, f.cls) for f in found} == {("QD-OLD", Cls.DECLARATION_WITHOUT_MOVEMENT), ("QD-NEW", Cls.TIMING_LAG)}
    assert all(f.scope is Scope.DECLARATION and f.other_qty == 5 * U for f in found)


def test_w2_a_short_delivery_is_a_lag_while_young_and_a_quantity_mismatch_when_old_or_over() -> None:
    c = Case()
    c.decl("QD-SHORT-OLD", 10, T0 + H)
    c.move("R1", 7, T0 + 2 * H, doc="QD-SHORT-OLD")
    c.decl("QD-SHORT-NEW", 10, P.p_to - H)
    c.move("R2", 7, P.p_to - H + 1, doc="QD-SHORT-NEW")
    c.decl("QD-OVER", 10, T0 + H)
    c.move("R3", 12, T0 + 2 * H, doc="QD-OVER")
    got = {f.ref: (f.cls, f.diff_qty) for f in c.run()}
    assert got == {
        "QD-SHORT-OLD": (Cls.QUANTITY_MISMATCH, -3 * U),
        "QD-SHORT-NEW": (Cls.TIMING_LAG, -3 * U),
        "QD-OVER": (Cls.QUANTITY_MISMATCH, 2 * U),
    }


def test_w2_unit_and_status_mismatches_name_both_sides() -> None:
    c = Case()
    c.decl("QD-U", 10, T0 + H)
    c.move("R1", 10, T0 + 2 * H, doc="QD-U", unit="035")
    c.decl("QD-S", 10, T0 + H)
    c.move("R2", 10, T0 + 2 * H, doc="QD-S", status="non_bonded")
    got = {f.ref: f for f in c.run()}
    assert set(got) == {"QD-U", "QD-S"}
    assert (got["QD-U"].cls, got["QD-U"].wms_unit, got["QD-U"].other_unit) == (Cls.UNIT_MISMATCH, "035", "007")
    assert (got["QD-S"].cls, got["QD-S"].wms_status, got["QD-S"].other_status) == (Cls.STATUS_MISMATCH, "non_bonded", "bonded")


def test_w2_a_reference_to_another_item_or_direction_does_not_match() -> None:
    c = Case(items=[(BOOK, "MT1", "007"), (BOOK, "MT2", "007")])
    c.decl("QD1", 5, T0 + H)
    c.move("R-ITEM", 5, T0 + 2 * H, doc="QD1", mtno="MT2")  # the WMS booked another item on QD1
    c.decl("QD2", 5, T0 + H)
    c.move("R-DIR", 5, T0 + 2 * H, doc="QD2", kind="issue")  # an issue against an import line
    assert sorted(_classes(c.run())) == sorted(
        [
            ("movement_without_declaration", "movement"),
            ("movement_without_declaration", "movement"),
            ("declaration_without_movement", "declaration"),
            ("declaration_without_movement", "declaration"),
        ]
    )


def test_m9_a_status_change_matches_its_conversion() -> None:
    c = Case()
    c.decl("QD1", 10, T0 + H, status="non_bonded")
    c.move("R1", 10, T0 + 2 * H, doc="QD1", status="non_bonded")
    c.decl("520120260000000001", 4, T0 + 3 * H, kind="C", status="bonded", from_status="non_bonded")
    c.move("S1", 4, T0 + 4 * H, kind="status_change", doc="520120260000000001", status="bonded", from_status="non_bonded")
    c.count(6, status="non_bonded")
    c.count(4, status="bonded")
    assert c.run() == []


def test_w2_unknown_items_are_one_finding_per_item_with_movements_and_stock() -> None:
    c = Case()
    c.move("R1", 3, T0 + H, mtno="NOPE")
    c.move("R2", 2, T0 + 2 * H, mtno="NOPE")
    c.count(5, mtno="NOPE")
    (f,) = c.run()
    assert (f.cls, f.scope, f.ref, f.n, f.wms_qty) == (Cls.UNKNOWN_ITEM, Scope.ITEM, "NOPE", 2, 5 * U)


def test_m19_stock_differences_not_explained_by_flows_are_found_with_their_adjustments() -> None:
    c = Case(items=[(BOOK, "MT1", "007"), (BOOK, "MT2", "007"), (BOOK, "MT3", "007")])
    for mt in ("MT1", "MT2", "MT3"):
        c.decl(f"QD-{mt}", 10, T0 + H, mtno=mt)
        c.move(f"R-{mt}", 10, T0 + 2 * H, doc=f"QD-{mt}", mtno=mt)
    c.move("ADJ1", -2, T0 + 5 * H, kind="adjustment", mtno="MT1")  # 盘亏 booked by the WMS
    c.count(8, mtno="MT1")
    c.count(7, mtno="MT2", status="bonded")  # three counted as non-bonded
    c.count(3, mtno="MT2", status="non_bonded")
    c.count(10, mtno="MT3", unit="035")  # right count, wrong unit
    got = {f.mtno: f for f in c.run()}
    assert (got["MT1"].cls, got["MT1"].status, got["MT1"].diff_qty, got["MT1"].adjust_qty) == (
        Cls.QUANTITY_MISMATCH,
        "bonded",
        -2 * U,
        -2 * U,
    )
    assert (got["MT2"].cls, got["MT2"].wms_status, got["MT2"].other_status, got["MT2"].diff_qty) == (
        Cls.STATUS_MISMATCH,
        "non_bonded",
        "bonded",
        3 * U,
    )
    assert (got["MT3"].cls, got["MT3"].wms_unit) == (Cls.UNIT_MISMATCH, "035")
    assert len(got) == 3


def test_w2_flow_discrepancies_explain_the_stock_they_cause() -> None:
    """An undeclared receipt makes WMS stock exceed the ledger; that is one finding, not two."""
    c = Case()
    c.move("R1", 5, T0 + H)
    c.count(5)
    assert _classes(c.run()) == [("movement_without_declaration", "movement")]


def test_w2_a_book_without_a_stocktake_is_compared_on_flows_only() -> None:
    c = Case()
    c.decl("QD1", 10, T0 + H)
    c.move("R1", 10, T0 + 2 * H, doc="QD1")
    c.move("ADJ1", -2, T0 + 5 * H, kind="adjustment")
    assert c.run() == []


def test_w2_params_refuse_an_empty_period_and_non_integers() -> None:
    with pytest.raises(ValueError):
        w2.Params(10, 10, 0)
    with pytest.raises(TypeError):
        w2.Params(0, 10, "1; DROP TABLE x")  # type: ignore[arg-type]


def test_w2_ages_are_measured_now_when_the_period_ends_later() -> None:
    """A period ending tomorrow must not make a movement of an hour ago look older than it is."""
    rows = {
        "items": [(BOOK, "MT1", "007")],
        "movements": [(BOOK, "R1", "receipt", "MT1", "bonded", None, 5 * U, "007", T0 + H, None, None)],
    }
    later = w2.Params(T0, T0 + 24 * H, 2 * H)
    (f,) = duckdb_engine.run(relations.tables(rows), later)
    assert f.cls is Cls.MOVEMENT_WITHOUT_DECLARATION  # 23 hours old at the end of the period
    (f,) = duckdb_engine.run(relations.tables(rows), w2.Params(T0, T0 + 24 * H, 2 * H, as_of=T0 + 2 * H))
    assert f.cls is Cls.TIMING_LAG  # an hour old now
    assert w2.Params(T0, T0 + H, 0, as_of=T0 + 5 * H).lag_reference == T0 + H
