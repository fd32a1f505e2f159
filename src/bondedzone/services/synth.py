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

:func:`generate` is pure: no clock, no I/O; the same arguments give the same data.
:func:`load` puts a generated zone into the database through the services.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bondedzone.domain.rules import w2_comparison as w2
from bondedzone.domain.rules.w2_comparison import Cls, Scope
from bondedzone.services.authz import Principal, Role
from bondedzone.services.ports import UnitOfWorkFactory

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
    ts: int


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
    ts: int
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
                out.append((d.book, d.mtno, d.from_status, -d.qty, d.ts))
                out.append((d.book, d.mtno, d.status, d.qty, d.ts))
            else:
                out.append((d.book, d.mtno, d.status, d.qty if d.kind == "I" else -d.qty, d.ts))
        return out

    def rows(self) -> dict[str, list[tuple[object, ...]]]:
        """Each input relation of the comparison as rows in :data:`w2.INPUTS` column order."""
        return {
            "items": [(i.book, i.mtno, i.unit) for i in self.items],
            "decls": [
                (d.book, d.doc_no, d.line, d.kind, d.mtno, d.status, d.from_status, d.qty, d.unit, d.ts) for d in self.decls
            ],
            "postings": list(self.postings),
            "movements": [
                (m.book, m.ref, m.kind, m.mtno, m.status, m.from_status, m.qty, m.unit, m.ts, m.doc_no, m.doc_line)
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
    # In time order, so that what the ledger holds when a list is approved is what was declared before it.
    for at in sorted(day0 + rng.randrange(1 * HOUR, 16 * HOUR) for _ in range(lists)):
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
    if rng.random() < 0.3:  # after the day's lists
        _conversion(data, b, day0 + rng.randrange(16 * HOUR, 17 * HOUR))


def _deliver(data: ZoneData, b: _Book, d: Decl, kind: str) -> None:
    """The WMS's movements for a declaration line: one, or split over two vehicles (M7)."""
    rng = b.rng
    parts = [d.qty]
    if d.qty >= 2 * UNIT and rng.random() < 0.3:
        first = rng.randint(1, d.qty // UNIT - 1) * UNIT
        parts = [first, d.qty - first]
    t = d.ts
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

    def pick() -> Movement:
        m = next(taken, None)
        if m is None:
            raise ValueError("too few declaration lines to inject into: generate more days or lists")
        return m

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
            if kind == "status_mismatch":
                # A new line received under the wrong status after the last ordinary movement, so
                # the WMS's stock of it in the declared status never goes below zero.
                b = rng.choice(books)
                it = rng.choice(b.items)
                d = Decl(b.book, b.doc("I"), 1, "I", it.mtno, BONDED, None, 5 * UNIT, it.unit, quiet_end - 20 * 60_000_000)
                data.decls.append(d)
                m = Movement(
                    b.book, b.ref("XS"), "receipt", it.mtno, BONDED, None, d.qty, it.unit, d.ts + 600_000_000, d.doc_no, 1
                )
                data.movements.append(m)
            else:
                m = pick()
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
        if m.ts > taken_at:
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
        if q < 0:
            raise AssertionError(f"the simulation let the WMS stock of {book} {mtno} {status} go below zero: {q}")
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


class SettableClock:
    """A clock the loader moves to each synthetic event's time (one microsecond on per reading)."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def set(self, t: datetime) -> None:
        """Move to ``t`` (never backwards: the ledger's chain keeps time order)."""
        self.t = max(self.t, t)

    def __call__(self) -> datetime:
        """The current time, one microsecond later than the previous reading."""
        self.t += timedelta(microseconds=1)
        return self.t


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


@dataclass
class Loaded:
    """What :func:`load` made: the enterprises' USCCs and each synthetic document's real number."""

    usccs: dict[str, str]  # book -> enterprise USCC
    doc_numbers: dict[tuple[str, str], str]  # (book, synthetic doc_no) -> bondInvtNo or entry no

    def truth(self, data: ZoneData) -> set[Key]:
        """The ground truth with declaration numbers as the loaded zone has them."""
        return {
            (k[0], k[1], k[2], self.doc_numbers.get((k[2], k[3]), k[3]) if k[1] == Scope.DECLARATION.value else k[3], k[4], k[5])
            for k in data.truth
        }


def load(
    uow_factory: UnitOfWorkFactory,
    clock: SettableClock,
    data: ZoneData,
    *,
    usccs: list[str],
    customs_codes: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Loaded:
    """Put a generated zone into the database through the services, as it would have happened.

    Enterprises, books and items are registered by customs; every declaration is entered,
    declared and approved at its synthetic time (so the ledger posts then); conversions likewise;
    then every WMS movement and the stocktake arrive as the enterprise's WMS batches. ``usccs``
    gives a valid USCC per enterprise (the caller computes the check characters).
    """
    from bondedzone.domain.model import InvtLineInput
    from bondedzone.domain.rules.m9_status_conversion import ConversionLineInput
    from bondedzone.services import conversions, invts, registry
    from bondedzone.services import wms as wms_service

    if len(usccs) < len(data.enterprises):
        raise ValueError("one USCC per enterprise")
    customs = Principal(Role.CUSTOMS, None, "system:synth")
    book_uscc = {e.book: usccs[i] for i, e in enumerate(data.enterprises)}
    seqno: dict[tuple[str, str], int] = {}
    clock.set(_at(data.params.p_from) - timedelta(days=1))
    with uow_factory() as uow:
        for i, e in enumerate(data.enterprises):
            code = customs_codes[i] if customs_codes else f"5301{90 + i // 10000:02d}{i % 10000:04d}"
            registry.register_enterprise(
                uow, customs, registry.RegisterEnterprise(usccs[i], code, e.name, "aeo_advanced", True, True)
            )
            registry.open_book(uow, customs, registry.OpenBook(e.book, "logistics", usccs[i], "5301"))
        for it in data.items:
            n = sum(1 for k in seqno if k[0] == it.book) + 1
            seqno[(it.book, it.mtno)] = n
            registry.add_book_item(uow, customs, registry.AddBookItem(it.book, n, it.mtno, it.gdecd, it.gds_nm, it.unit))
        uow.commit()
    docs: dict[tuple[str, str], list[Decl]] = defaultdict(list)
    for d in sorted(data.decls, key=lambda d: (d.ts, d.book, d.doc_no, d.line)):
        docs[(d.book, d.doc_no)].append(d)
    numbers: dict[tuple[str, str], str] = {}
    total = len(docs)
    for n, ((book, doc_no), lines) in enumerate(sorted(docs.items(), key=lambda kv: (kv[1][0].ts, kv[0])), start=1):
        clock.set(_at(lines[0].ts))
        owner = Principal(Role.ENTERPRISE, book_uscc[book], "synth")
        with uow_factory() as uow:
            first = lines[0]
            if first.kind == "C":
                assert first.from_status is not None
                conversions.convert_status(
                    uow,
                    customs,
                    conversions.ConvertStatus(
                        book, doc_no, first.from_status, first.status,
                        [ConversionLineInput(d.line, seqno[(book, d.mtno)], _qty_str(d.qty), d.unit) for d in lines],
                    ),
                )  # fmt: skip
                numbers[(book, doc_no)] = doc_no
            else:
                invt = invts.create_invt(
                    uow,
                    owner,
                    invts.CreateInvt(
                        etps_inner_invt_no=doc_no,
                        putrec_no=book,
                        impexp_markcd=first.kind,
                        supv_modecd="5034",
                        flow="first_line",
                        lines=[InvtLineInput(d.line, seqno[(book, d.mtno)], _qty_str(d.qty), d.unit, d.status) for d in lines],
                    ),
                )
                invts.declare_invt(uow, owner, invt.id)
                approved = invts.approve_invt(uow, customs, invt.id)
                assert approved.bond_invt_no is not None
                numbers[(book, doc_no)] = approved.bond_invt_no
            uow.commit()
        if progress:
            progress(n, total)
    clock.set(_at(data.params.p_to))
    by_book: dict[str, list[dict[str, object]]] = defaultdict(list)
    for m in sorted(data.movements, key=lambda m: (m.ts, m.ref)):
        rec: dict[str, object] = {
            "wmsRef": m.ref,
            "putrecNo": m.book,
            "kind": m.kind,
            "gdsMtno": m.mtno,
            "dclQty": _qty_str(m.qty),
            "dclUnitcd": m.unit,
            "stockStatus": m.status,
            "occurredAt": _at(m.ts).isoformat(),
        }
        if m.from_status:
            rec["fromStatus"] = m.from_status
        if m.doc_no is not None:
            rec["rltNo"] = numbers.get((m.book, m.doc_no), m.doc_no)
            rec["rltGdsSeqno"] = m.doc_line
        if m.from_location:
            rec["fromLocation"], rec["toLocation"] = m.from_location, m.to_location
        by_book[m.book].append(rec)
    stock: dict[str, list[dict[str, object]]] = defaultdict(list)
    for s in data.stock:
        stock[s.book].append(
            {
                "snapshotRef": f"ST-{s.book}-{s.taken_at}",
                "putrecNo": s.book,
                "takenAt": _at(s.taken_at).isoformat(),
                "gdsMtno": s.mtno,
                "stockStatus": s.status,
                "dclQty": _qty_str(s.qty),
                "dclUnitcd": s.unit,
                "location": s.location,
            }
        )
    for book in sorted(set(by_book) | set(stock)):
        who = Principal(Role.ENTERPRISE, book_uscc[book], "synth-wms")
        for kind, recs in (("movements", by_book.get(book, [])), ("stock", stock.get(book, []))):
            for start in range(0, len(recs), 5000):
                part = [wms_service.RawRecord(i, None, r) for i, r in enumerate(recs[start : start + 5000], start=1)]
                if part:
                    with uow_factory() as uow:
                        wms_service.ingest(uow, who, kind, part)  # type: ignore[arg-type]
                        uow.commit()
    return Loaded(book_uscc, numbers)


def _qty_str(units: int) -> str:
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), UNIT)
    return f"{sign}{whole}.{frac:05d}".rstrip("0").rstrip(".")
