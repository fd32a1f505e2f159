"""Synthetic zone data with known discrepancies (``bondedzone synth``): the ground truth of W2.

A seeded simulation of warehousing enterprises: each has a logistics book with items; every day
goods are declared in (核注清单 ``I``) and received by the WMS, declared out (``E``) and issued,
moved between locations, and now and then converted from non-bonded to bonded (M9) with a WMS
status change. Declarations post to the ledger when approved; the WMS records each movement with
the declaration line it belongs to (``rltNo``/``rltGdsSeqno``), often split over two vehicles;
at the end of the period the WMS takes a stocktake.

Into this consistent world, :func:`generate` injects ``inject`` discrepancies of every kind the
comparison knows, each in a way that causes exactly one finding, and returns the set of findings
expected (:attr:`ZoneData.truth`) — so a comparison can be scored for precision and recall.
Normal activity ends early enough on the last day that nothing is accidentally a timing lag.

Pure: no clock, no I/O; the same arguments give the same data.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.domain.rules.w2_comparison import Cls, Scope

HOUR = 3_600_000_000  # µs
DAY = 24 * HOUR
UNIT = 100_000  # one whole unit in 10⁻⁵ units
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8)  # 2026-11-01 00:00 in China
DEFAULT_TOLERANCE = 2 * HOUR
UNITS = ("007", "011", "035", "006", "001")  # 个 件 千克 套 台
BONDED, NON_BONDED = "bonded", "non_bonded"
KINDS_INJECTED = (
    "movement_without_declaration",
    "declaration_without_movement",
    "quantity_mismatch",
    "unit_mismatch",
    "status_mismatch",
    "unknown_item",
    "timing_lag_movement",
    "timing_lag_declaration",
    "stock_quantity",
    "stock_adjustment",
    "stock_status",
    "stock_unit",
)

Key = tuple[str, str, str, str, int | None, str | None]


@dataclass
class Item:
    """A book item (备案料号) with its declared unit."""

    book: str
    mtno: str
    unit: str
    gdecd: str
    gds_nm: str


@dataclass
class Decl:
    """An approved declaration line (kind I, E or C) as the comparison reads it."""

    book: str
    doc_no: str
    line: int
    kind: str  # I, E or C
    mtno: str
    status: str
    from_status: str | None
    qty: int
    unit: str
    at: int


@dataclass
class Movement:
    """A WMS stock movement as the comparison reads it."""

    book: str
    ref: str
    kind: str
    mtno: str
    status: str
    from_status: str | None
    qty: int
    unit: str
    at: int
    doc_no: str | None
    doc_line: int | None
    from_location: str | None = None
    to_location: str | None = None


@dataclass
class StockLine:
    """A line of the WMS stocktake at the end of the period."""

    book: str
    taken_at: int
    mtno: str
    status: str
    unit: str
    qty: int
    location: str = "A-01"


@dataclass
class Enterprise:
    """A generated warehousing enterprise and its logistics book."""

    uscc: str
    customs_code: str
    name: str
    book: str


@dataclass
class ZoneData:
    """What :func:`generate` made: the relations of :data:`w2.INPUTS`, the ground truth, the period."""

    enterprises: list[Enterprise]
    items: list[Item]
    decls: list[Decl]
    movements: list[Movement]
    stock: list[StockLine]
    params: w2.Params
    truth: set[Key] = field(default_factory=set)
    injected: dict[str, int] = field(default_factory=dict)

    @property
    def postings(self) -> list[tuple[str, str, str, int, int]]:
        """The ledger as the approvals posted it: (book, mtno, status, signed qty, at)."""
        out: list[tuple[str, str, str, int, int]] = []
        for d in self.decls:
            if d.kind == "C":
                assert d.from_status is not None
                out.append((d.book, d.mtno, d.from_status, -d.qty, d.at))
                out.append((d.book, d.mtno, d.status, d.qty, d.at))
            else:
                out.append((d.book, d.mtno, d.status, d.qty if d.kind == "I" else -d.qty, d.at))
        return out

    def rows(self) -> dict[str, list[tuple[object, ...]]]:
        """Each input relation of the comparison as rows in :data:`w2.INPUTS` column order."""
        return {
            "items": [(i.book, i.mtno, i.unit) for i in self.items],
            "decls": [
                (d.book, d.doc_no, d.line, d.kind, d.mtno, d.status, d.from_status, d.qty, d.unit, d.at) for d in self.decls
            ],
            "postings": list(self.postings),
            "movements": [
                (m.book, m.ref, m.kind, m.mtno, m.status, m.from_status, m.qty, m.unit, m.at, m.doc_no, m.doc_line)
                for m in self.movements
            ],
            "stock": [(s.book, s.taken_at, s.mtno, s.status, s.unit, s.qty) for s in self.stock],
        }


# Real-looking USCCs of the demo's pattern are made by the caller (they need the check character);
# here enterprises are numbered and the CLI gives them valid codes when it loads them.
_GOODS = (
    ("8471300000", "便携式计算机"),
    ("8517130000", "智能手机"),
    ("3304990000", "护肤品"),
    ("2204210000", "葡萄酒"),
    ("8703230000", "小轿车"),
    ("9018909000", "医疗器械"),
    ("6403990000", "皮鞋"),
    ("0402210000", "奶粉"),
)


class _Book:
    """One book's simulation state."""

    def __init__(self, rng: random.Random, book: str, n: int, items: list[Item]) -> None:
        self.rng = rng
        self.book = book
        self.n = n
        self.items = items
        self.declared: dict[tuple[str, str], int] = defaultdict(int)  # what the ledger holds
        self.seq = 0
        self.doc_seq = 0

    def ref(self, prefix: str = "MV") -> str:
        self.seq += 1
        return f"{prefix}{self.n:03d}-{self.seq:07d}"

    def doc(self, kind: str) -> str:
        self.doc_seq += 1
        if kind == "C":  # a conversion's customs declaration number: 18 digits
            return f"5301{2026}{'0'}{self.n:03d}{self.doc_seq:06d}"
        return f"QD5301{26}{kind}{self.n:03d}{self.doc_seq:06d}"[:18]


def generate(
    *,
    enterprises: int = 3,
    days: int = 7,
    seed: int = 1,
    items_per_book: int = 30,
    lists_per_day: int = 6,
    inject: int = 2,
    start: datetime = DEFAULT_START,
    tolerance: int = DEFAULT_TOLERANCE,
) -> ZoneData:
    """A zone of ``enterprises`` warehouses over ``days`` days with ``inject`` discrepancies of each kind."""
    if enterprises < 1 or days < 1 or items_per_book < 4 or lists_per_day < 1 or inject < 0:
        raise ValueError("need enterprises, days, lists_per_day >= 1, items_per_book >= 4, inject >= 0")
    if tolerance > 2 * HOUR:
        raise ValueError("the generator's activity leaves room for a tolerance of at most 2 hours")
    rng = random.Random(seed)
    t0 = int(start.timestamp() * 1_000_000)
    p_to = t0 + days * DAY
    data = ZoneData([], [], [], [], [], w2.Params(t0, p_to, tolerance))
    books: list[_Book] = []
    for e in range(enterprises):
        book = f"T5301W{e + 1:06d}"
        data.enterprises.append(Enterprise(f"E{e + 1:03d}", f"5301{e + 1:06d}", f"合成仓储物流企业{e + 1:03d}", book))
        items = []
        for i in range(items_per_book):
            gdecd, nm = _GOODS[i % len(_GOODS)]
            items.append(Item(book, f"MT{e + 1:03d}{i + 1:05d}", UNITS[i % len(UNITS)], gdecd.ljust(10, "0"), f"{nm}{i + 1}"))
        data.items += items
        books.append(_Book(rng, book, e + 1, items))
    for b in books:
        for day in range(days):
            _day(data, b, t0 + day * DAY, lists_per_day)
    _inject(data, books, rng, inject)
    _stocktake(data, books, p_to - 1)
    _inject_stock(data, books, rng, inject)
    return data


def _day(data: ZoneData, b: _Book, day0: int, lists: int) -> None:
    """One ordinary day of a book: everything settles by 21:00, five hours before midnight."""
    rng = b.rng
    for _ in range(lists):
        at = day0 + rng.randrange(1 * HOUR, 17 * HOUR)
        if rng.random() < 0.55 or not any(q > 0 for q in b.declared.values()):
            _inbound(data, b, at)
        else:
            _outbound(data, b, at)
    if rng.random() < 0.5:  # a location move now and then: no customs effect
        it = rng.choice(b.items)
        data.movements.append(
            Movement(b.book, b.ref(), "transfer", it.mtno, BONDED, None, rng.randint(1, 20) * UNIT, it.unit,
                     day0 + rng.randrange(1 * HOUR, 18 * HOUR), None, None, "A-01", "B-02")
        )  # fmt: skip
    if rng.random() < 0.3:
        _conversion(data, b, day0 + rng.randrange(1 * HOUR, 17 * HOUR))


def _deliver(data: ZoneData, b: _Book, d: Decl, kind: str) -> None:
    """The WMS's movements for a declaration line: one, or split over two vehicles (M7)."""
    rng = b.rng
    parts = [d.qty]
    if d.qty >= 2 * UNIT and rng.random() < 0.3:
        first = rng.randint(1, d.qty // UNIT - 1) * UNIT
        parts = [first, d.qty - first]
    t = d.at
    for q in parts:
        t += rng.randrange(10 * 60_000_000, 2 * HOUR)
        data.movements.append(Movement(b.book, b.ref(), kind, d.mtno, d.status, d.from_status, q, d.unit, t, d.doc_no, d.line))


def _inbound(data: ZoneData, b: _Book, at: int) -> None:
    rng = b.rng
    doc = b.doc("I")
    for line, it in enumerate(rng.sample(b.items, rng.randint(1, 3)), start=1):
        status = BONDED if rng.random() < 0.8 else NON_BONDED
        qty = rng.randint(1, 500) * UNIT + (UNIT // 2 if rng.random() < 0.1 else 0)
        d = Decl(b.book, doc, line, "I", it.mtno, status, None, qty, it.unit, at)
        data.decls.append(d)
        b.declared[(it.mtno, status)] += qty
        _deliver(data, b, d, "receipt")


def _outbound(data: ZoneData, b: _Book, at: int) -> None:
    rng = b.rng
    held = sorted(k for k, q in b.declared.items() if q >= UNIT)
    if not held:
        return
    doc = b.doc("E")
    units = {i.mtno: i.unit for i in b.items}
    for line, (mtno, status) in enumerate(rng.sample(held, min(len(held), rng.randint(1, 2))), start=1):
        qty = rng.randint(1, b.declared[(mtno, status)] // UNIT) * UNIT
        d = Decl(b.book, doc, line, "E", mtno, status, None, qty, units[mtno], at)
        data.decls.append(d)
        b.declared[(mtno, status)] -= qty
        _deliver(data, b, d, "issue")


def _conversion(data: ZoneData, b: _Book, at: int) -> None:
    """M9: non-bonded goods declared bonded; the WMS changes their status."""
    held = sorted(m for (m, s), q in b.declared.items() if s == NON_BONDED and q >= UNIT)
    if not held:
        return
    mtno = b.rng.choice(held)
    qty = b.rng.randint(1, b.declared[(mtno, NON_BONDED)] // UNIT) * UNIT
    unit = next(i.unit for i in b.items if i.mtno == mtno)
    d = Decl(b.book, b.doc("C"), 1, "C", mtno, BONDED, NON_BONDED, qty, unit, at)
    data.decls.append(d)
    b.declared[(mtno, NON_BONDED)] -= qty
    b.declared[(mtno, BONDED)] += qty
    _deliver(data, b, d, "status_change")


def _inject(data: ZoneData, books: list[_Book], rng: random.Random, k: int) -> None:
    """Flow discrepancies, each causing exactly one finding (recorded in ``data.truth``)."""
    p = data.params
    quiet_end = p.p_to - p.tolerance - HOUR  # older than the tolerance at the end of the period

    def when() -> int:
        return rng.randrange(p.p_from + HOUR, quiet_end)

    # Declaration lines delivered by exactly one movement, for changing that movement.
    single: dict[tuple[str, str, int], list[Movement]] = defaultdict(list)
    for m in data.movements:
        if m.doc_no is not None and m.kind == "receipt" and m.doc_line is not None:
            single[(m.book, m.doc_no, m.doc_line)].append(m)
    candidates = [ms[0] for ms in single.values() if len(ms) == 1 and ms[0].status == BONDED]
    rng.shuffle(candidates)
    taken = iter(candidates)

    def add(kind: str, key: Key) -> None:
        _add(data, kind, key)

    for _ in range(k):
        b = rng.choice(books)
        it = rng.choice(b.items)
        # A receipt nobody declared.
        m = Movement(
            b.book, b.ref("XM"), "receipt", it.mtno, BONDED, None, rng.randint(1, 50) * UNIT, it.unit, when(), None, None
        )
        data.movements.append(m)
        add("movement_without_declaration", (Cls.MOVEMENT_WITHOUT_DECLARATION, Scope.MOVEMENT, b.book, m.ref, None, None))
        # A declaration the WMS never saw.
        b = rng.choice(books)
        it = rng.choice(b.items)
        d = Decl(b.book, b.doc("I"), 1, "I", it.mtno, BONDED, None, rng.randint(1, 50) * UNIT, it.unit, when())
        data.decls.append(d)
        add("declaration_without_movement", (Cls.DECLARATION_WITHOUT_MOVEMENT, Scope.DECLARATION, d.book, d.doc_no, 1, None))
        # A declared line received in another quantity, unit or status.
        for kind, cls in (
            ("quantity_mismatch", Cls.QUANTITY_MISMATCH),
            ("unit_mismatch", Cls.UNIT_MISMATCH),
            ("status_mismatch", Cls.STATUS_MISMATCH),
        ):
            hit = next(taken, None)
            if hit is None:
                raise ValueError("too few declaration lines to inject into: generate more days or lists")
            m = hit
            if kind == "quantity_mismatch":
                m.qty += rng.randint(1, 10) * UNIT
            elif kind == "unit_mismatch":
                m.unit = next(u for u in UNITS if u != m.unit)
            else:
                m.status = NON_BONDED
            assert m.doc_no is not None
            add(kind, (cls, Scope.DECLARATION, m.book, m.doc_no, m.doc_line, None))
        # An item the book does not have.
        b = rng.choice(books)
        mt = f"UNK{b.n:03d}{len(data.truth):05d}"
        data.movements.append(Movement(b.book, b.ref("XU"), "receipt", mt, BONDED, None, 7 * UNIT, "007", when(), None, None))
        add("unknown_item", (Cls.UNKNOWN_ITEM, Scope.ITEM, b.book, mt, None, None))
        # One side not caught up yet, within the tolerance.
        b = rng.choice(books)
        it = rng.choice(b.items)
        late = p.p_to - rng.randrange(2, max(3, p.tolerance // 2))
        m = Movement(b.book, b.ref("XL"), "receipt", it.mtno, BONDED, None, 3 * UNIT, it.unit, late, None, None)
        data.movements.append(m)
        add("timing_lag_movement", (Cls.TIMING_LAG, Scope.MOVEMENT, b.book, m.ref, None, None))
        d = Decl(b.book, b.doc("I"), 1, "I", it.mtno, BONDED, None, 4 * UNIT, it.unit, late)
        data.decls.append(d)
        add("timing_lag_declaration", (Cls.TIMING_LAG, Scope.DECLARATION, d.book, d.doc_no, 1, None))


def _add(data: ZoneData, kind: str, key: Key) -> None:
    """Record an injected discrepancy: the finding it must cause (class and scope as plain strings)."""
    data.truth.add((str(key[0]), str(key[1]), *key[2:]))
    data.injected[kind] = data.injected.get(kind, 0) + 1


def _stocktake(data: ZoneData, books: list[_Book], taken_at: int) -> None:
    """The WMS's own stock at the end of the period: every movement it recorded, adjustments included."""
    stock: dict[tuple[str, str, str], int] = defaultdict(int)
    units: dict[tuple[str, str], str] = {}
    for m in data.movements:
        if m.at > taken_at:
            continue
        units[(m.book, m.mtno)] = units.get((m.book, m.mtno), m.unit)
        if m.kind in ("receipt", "adjustment"):
            stock[(m.book, m.mtno, m.status)] += m.qty
        elif m.kind == "issue":
            stock[(m.book, m.mtno, m.status)] -= m.qty
        elif m.kind == "status_change":
            assert m.from_status is not None
            stock[(m.book, m.mtno, m.from_status)] -= m.qty
            stock[(m.book, m.mtno, m.status)] += m.qty
    item_units = {(i.book, i.mtno): i.unit for i in data.items}
    for (book, mtno, status), q in sorted(stock.items()):
        if q != 0:
            unit = item_units.get((book, mtno), units[(book, mtno)])
            data.stock.append(StockLine(book, taken_at, mtno, status, unit, q))


def _inject_stock(data: ZoneData, books: list[_Book], rng: random.Random, k: int) -> None:
    """Stocktake discrepancies: counts off, a WMS adjustment, goods under the wrong status, a wrong unit."""
    known = {(i.book, i.mtno) for i in data.items}
    # Flow discrepancies leave no residual in the stock, so any known item with stock will do;
    # each stock injection takes an item of its own.
    lines = [s for s in data.stock if (s.book, s.mtno) in known and s.qty >= 10 * UNIT]
    rng.shuffle(lines)
    free = iter(lines)
    used: set[tuple[str, str]] = set()

    def pick() -> StockLine:
        for s in free:
            if (s.book, s.mtno) not in used:
                used.add((s.book, s.mtno))
                return s
        raise ValueError("too few stock lines to inject into: generate more days or lists")

    def add(kind: str, key: Key) -> None:
        _add(data, kind, key)

    for _ in range(k):
        s = pick()  # miscounted
        s.qty -= rng.randint(1, 5) * UNIT
        add("stock_quantity", (Cls.QUANTITY_MISMATCH, Scope.STOCK, s.book, s.mtno, None, s.status))
        s = pick()  # a loss the WMS booked as an adjustment (盘亏): the stocktake shows it too
        q = rng.randint(1, 5) * UNIT
        data.movements.append(
            Movement(s.book, f"ADJ-{s.book}-{len(data.movements)}", "adjustment", s.mtno, s.status, None, -q, s.unit,
                     s.taken_at - HOUR, None, None)
        )  # fmt: skip
        s.qty -= q
        add("stock_adjustment", (Cls.QUANTITY_MISMATCH, Scope.STOCK, s.book, s.mtno, None, s.status))
        s = pick()  # counted under the wrong status
        q = rng.randint(1, 5) * UNIT
        s.qty -= q
        other = NON_BONDED if s.status == BONDED else BONDED
        twin = next((x for x in data.stock if (x.book, x.mtno, x.status) == (s.book, s.mtno, other)), None)
        if twin is None:
            data.stock.append(StockLine(s.book, s.taken_at, s.mtno, other, s.unit, q))
        else:
            twin.qty += q
        add("stock_status", (Cls.STATUS_MISMATCH, Scope.STOCK, s.book, s.mtno, None, None))
        s = pick()  # the right count in the wrong unit
        s.unit = next(u for u in UNITS if u != s.unit)
        add("stock_unit", (Cls.UNIT_MISMATCH, Scope.STOCK, s.book, s.mtno, None, s.status))


def score(found: set[Key], truth: set[Key]) -> tuple[float, float]:
    """(precision, recall) of ``found`` against ``truth``; 1.0 each when both are empty."""
    hit = len(found & truth)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(truth) if truth else 1.0
    return precision, recall
