"""The gate simulator: a day of traffic for the demo zone, driven through the API (M4, M6, M7, G1).

:func:`plan` turns a seed into a day — the documents to declare, the gate passes and the vehicles
in the order they reach the gate — with no I/O, so the same seed always gives the same day.
:func:`run` plays the day against a running API as the people of the zone would: the demo
enterprises enter and declare their lists, a two-step summary declaration and their passes;
customs approves the lists and releases the summary declaration; the gate drives every vehicle
through arrive → weigh → decide → leave, or reports it in one ``/gate/cross``; customs inspects
the vehicles a spot check selected and releases them. The :class:`Report` counts what happened,
with the deliberate cases of the day and the rule that caught each:

* an overweight truck — held by ``G1-WEIGHT``;
* declared goods in the non-declared lane — held by ``M4-LANE``;
* a plate with no gate pass — held by ``PASS-VALID``;
* one truck too many for a one-doc-many-trucks declaration — held by ``M7-REMAINING``;
* hazardous chemicals entering — let through (after inspection if a spot check selects them) and
  recorded in the zone administration's feed.

The decisions are the server's own. Its spot-check draws depend on its seed and on the pass
numbers it gives, so how many vehicles a spot check selects can differ between databases; the
traffic itself does not.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from stdnum import iso6346

from bondedzone.entrypoints.cli import demo

MIN_VEHICLES = 14
GATES = ("G01", "G02", "G03")
# Logistics and processing books of the demo zone, with their owners (equipment does not commute).
SIM_BOOKS: tuple[tuple[str, int], ...] = tuple((no, owner) for no, kind, owner in demo.BOOKS if kind != "equipment")
OWNERS: dict[str, str] = {no: demo.ENTERPRISES[owner][0] for no, owner in SIM_BOOKS}

# What each deliberate case must come to: the rule that holds it, or None for "let through".
DELIBERATE: dict[str, str | None] = {
    "overweight": "G1-WEIGHT",
    "wrong_lane": "M4-LANE",
    "no_pass": "PASS-VALID",
    "over_delivery": "M7-REMAINING",
    "hazchem": None,
}
SPOT_RULE = "M4-SPOT-CHECK"

# Non-declared goods by category (M4): name, HS code (None where the category needs none), unit.
GOODS: dict[str, tuple[tuple[str, str | None, str], ...]] = {
    "office_supplies": (("A4 复印纸", None, "035"), ("打印机硒鼓", None, "007"), ("文件柜", None, "011")),
    "labour_protection": (("劳保手套", None, "025"), ("安全帽", None, "007"), ("防护服", None, "011")),
    "infrastructure": (("螺纹钢筋", "7214200000", "035"), ("硅酸盐水泥", "2523290000", "035")),
    "consumer_goods": (("瓶装饮用水", "2201101000", "035"), ("方便面", "1902303000", "035")),
    "production_related": (("包装纸箱", "4819100000", "011"), ("木托盘", "4415200000", "011")),
}
# Hazardous chemicals used in production: name, HS code, UN number, class, CAS number, usage.
HAZCHEM: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("柴油", "2710192100", "1202", "3", "68334-30-5", "叉车燃料"),
    ("硫酸", "2807000010", "1830", "8", "7664-93-9", "电镀用"),
    ("盐酸", "2806100000", "1789", "8", "7647-01-0", "设备清洗"),
)
# The ordinary traffic of a day, by weight.
ORDINARY: tuple[tuple[str, int], ...] = (
    ("one_doc", 30),
    ("many_docs", 8),
    ("empty", 14),
    ("office_supplies", 8),
    ("labour_protection", 6),
    ("infrastructure", 7),
    ("consumer_goods", 7),
    ("production_related", 5),
)
NOT_WEIGHED = frozenset({"office_supplies", "labour_protection"})  # M4: no weight comparison


@dataclass(frozen=True)
class DocSpec:
    """A document the day needs: an inventory list (``invt``) or a two-step summary declaration."""

    key: str
    kind: str
    book: str
    flow: str
    lines: tuple[tuple[int, str], ...]  # (putrecSeqno, quantity); a summary takes HS, name and unit from the item


@dataclass(frozen=True)
class Vehicle:
    """One vehicle of the day: its gate pass (unless it has none) and how it meets the gate."""

    n: int
    kind: str
    plate: str
    gate: str
    lane: str
    via: str  # "steps": arrive, weigh, decide, leave; "cross": one /gate/cross, then leave
    book: str | None  # None: the vehicle has no gate pass at all
    head: Mapping[str, str] = field(default_factory=dict)  # pass head: type, direction, binding, weights, container
    docs: tuple[tuple[str, tuple[tuple[int, str], ...] | None], ...] = ()  # (doc key, this vehicle's split)
    goods: tuple[Mapping[str, Any], ...] = ()
    reading: Decimal | None = None  # weighbridge reading ÷ what the pass says; None: not weighed
    deliberate: str | None = None


@dataclass(frozen=True)
class Plan:
    """A day at the gate: documents first, then the vehicles in the order they arrive."""

    seed: int
    docs: tuple[DocSpec, ...]
    vehicles: tuple[Vehicle, ...]


def plan(seed: int, vehicles: int) -> Plan:
    """The day for ``seed``: every deliberate case, one of each ordinary kind, the rest drawn by weight."""
    if vehicles < MIN_VEHICLES:
        raise ValueError(f"a day needs at least {MIN_VEHICLES} vehicles (one of each case), not {vehicles}")
    rng = random.Random(seed)
    docs: list[DocSpec] = []
    drafts: list[dict[str, Any]] = []
    plates: set[str] = set()

    def plate(province: str = "云川贵桂渝", letters: str = "ABCDEFGHJKLMNPQRSTUVWXY") -> str:
        while True:
            p = rng.choice(province) + rng.choice(letters) + f"{rng.randrange(100_000):05d}"
            if p not in plates:
                plates.add(p)
                return p

    def a_book() -> str:
        return rng.choice(SIM_BOOKS)[0]

    def a_list(book: str, flow: str, max_lines: int = 3) -> str:
        items = demo.ITEMS[book]
        chosen = sorted(rng.sample(items, rng.randint(1, min(max_lines, len(items)))))
        key = f"L{len(docs) + 1}"
        docs.append(DocSpec(key, "invt", book, flow, tuple((it[0], str(rng.randint(5, 400))) for it in chosen)))
        return key

    def vehicle(kind: str, *, ptype: str | None = None, docs: Any = None, **over: Any) -> dict[str, Any]:
        book = over.pop("book", None) or a_book()
        v: dict[str, Any] = {
            "kind": kind,
            "plate": plate(),
            "gate": rng.choice(GATES),
            "via": rng.choice(("steps", "cross")),
            "book": book,
            "reading": Decimal(1) + Decimal(rng.randint(-80, 80)) / 10_000,  # within ±0.8 %
            "deliberate": None,
            "docs": (),
            "goods": (),
        }
        head: dict[str, str] = {
            "ioTypecd": "I",
            "vehicleWt": str(rng.randint(12, 18) * 1000),
            "vehicleFrameWt": rng.choice(("0", "800", "1200")),
        }
        if kind in ("one_doc", "many_docs", "split"):
            ptype = ptype or ("2" if kind == "split" else rng.choice(("2", "3")))
            flow = "first_line" if ptype == "2" else "second_line"
            bind = {"one_doc": "2", "many_docs": "1", "split": "3"}[kind]
            head |= {"passportTypecd": ptype, "bindTypecd": bind, "totalGrossWt": str(rng.randint(8, 220) * 100)}
            if rng.random() < 0.3:
                owner = rng.choice(("CSQU", "MSKU", "TGHU", "COSU")) + f"{rng.randrange(1_000_000):06d}"
                head |= {"containerNo": owner + iso6346.calc_check_digit(owner), "containerWt": rng.choice(("2200", "3800"))}
            if docs is None and kind == "one_doc":
                docs = ((a_list(book, flow), None),)
            elif docs is None and kind == "many_docs":
                docs = tuple((a_list(book, flow, 2), None) for _ in range(rng.randint(2, 3)))
            v |= {"lane": "declared", "docs": docs}
        elif kind == "empty":
            head |= {"passportTypecd": "6", "ioTypecd": rng.choice("IE"), "totalGrossWt": "0"}
            v["lane"] = rng.choice(("declared", "non_declared"))
        else:
            if kind == "hazardous_chemicals":
                nm, hs, un, cls, cas, usage = rng.choice(HAZCHEM)
                line: dict[str, Any] = {
                    "gdsNm": nm,
                    "category": kind,
                    "dclQty": str(rng.randint(10, 80) * 100),
                    "dclUnitcd": "035",
                }
                line |= {"gdecd": hs, "hazchem": {"unNo": un, "hazardClass": cls, "casNo": cas, "usage": usage}}
            else:
                name, code, unit = rng.choice(GOODS[kind])
                line = {"gdsNm": name, "category": kind, "dclQty": str(rng.randint(10, 500)), "dclUnitcd": unit}
                if code:
                    line["gdecd"] = code
            head |= {"passportTypecd": "4", "totalGrossWt": str(rng.randint(2, 60) * 100)}
            v |= {"lane": "non_declared", "goods": (line,)}
            if kind in NOT_WEIGHED:
                v["reading"] = None
        v["head"] = head
        v.update(over)
        return v

    # M7: one declaration delivered by two or three trucks, and a late truck that no longer fits.
    book = a_book()
    seq = demo.ITEMS[book][0][0]
    total = rng.randint(6, 20) * 10
    key = f"L{len(docs) + 1}"
    docs.append(DocSpec(key, "invt", book, "first_line", ((seq, str(total)),)))
    cuts = sorted(rng.sample(range(1, total), rng.randint(1, 2)))
    for a, b in zip([0, *cuts], [*cuts, total], strict=True):
        drafts.append(vehicle("split", book=book, docs=((key, ((seq, str(b - a)),)),)))
    late = ((key, ((seq, str(rng.randint(1, total // 2))),)),)  # fits when its pass is made, not once the others crossed
    drafts.append(vehicle("split", book=book, docs=late, deliberate="over_delivery"))

    # M6: an inventory list and a released summary declaration on one vehicle.
    book = a_book()
    s_key = f"S{len(docs) + 1}"
    docs.append(DocSpec(s_key, "summary", book, "", ((demo.ITEMS[book][-1][0], str(rng.randint(1, 50))),)))
    drafts.append(vehicle("many_docs", book=book, ptype="2", docs=((a_list(book, "first_line", 2), None), (s_key, None))))

    # The deliberate cases, then one of each ordinary kind, then the rest.
    drafts.append(vehicle("one_doc", deliberate="overweight", reading=Decimal("1.08")))
    drafts.append(vehicle("one_doc", deliberate="wrong_lane", lane="non_declared"))
    drafts.append(vehicle("hazardous_chemicals", deliberate="hazchem"))
    stray = {"kind": "no_pass", "plate": plate(province="琼", letters="Z"), "gate": rng.choice(GATES), "lane": "declared"}
    drafts.append(stray | {"via": rng.choice(("steps", "cross")), "book": None, "head": {}, "reading": Decimal(1)})
    drafts[-1] |= {"deliberate": "no_pass", "docs": (), "goods": ()}  # no pass is ever made for 琼Z…
    for kind in ("one_doc", "empty", "office_supplies", "labour_protection", "consumer_goods"):
        drafts.append(vehicle(kind))
    kinds, weights = zip(*ORDINARY, strict=True)
    while len(drafts) < vehicles:
        drafts.append(vehicle(rng.choices(kinds, weights)[0]))

    # The order of the day: shuffled, except that the late truck comes after its declaration's others.
    rng.shuffle(drafts)
    drafts.sort(key=lambda d: d["deliberate"] == "over_delivery")
    out = tuple(
        Vehicle(
            n=n,
            kind=d["kind"],
            plate=d["plate"],
            gate=d["gate"],
            lane=d["lane"],
            via=d["via"],
            book=d["book"],
            head=d["head"],
            docs=d["docs"],
            goods=d["goods"],
            reading=d["reading"],
            deliberate=d["deliberate"],
        )
        for n, d in enumerate(drafts, start=1)
    )
    return Plan(seed, tuple(docs), out)


# -- playing the day against the API -------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """Who the simulator acts as. Without an enterprise's token, customs acts for it."""

    customs: str
    gate: str
    zone_admin: str | None = None
    enterprises: Mapping[str, str] = field(default_factory=dict)  # uscc → token

    def owner_of(self, book: str) -> str:
        """The token of the enterprise that owns ``book`` (customs when there is none)."""
        return self.enterprises.get(OWNERS[book], self.customs)


class SimError(Exception):
    """The API refused a step the simulator needs, or cannot be reached; says which and why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Outcome:
    """What became of one vehicle."""

    n: int
    kind: str
    plate: str
    deliberate: str | None
    passport_no: str | None
    crossing_id: int
    decision: str
    held_by: tuple[str, ...]
    spot_checked: bool
    released: bool
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, in the API's camelCase."""
        return {
            "n": self.n,
            "kind": self.kind,
            "plate": self.plate,
            "deliberate": self.deliberate,
            "passportNo": self.passport_no,
            "crossingId": self.crossing_id,
            "decision": self.decision,
            "heldBy": list(self.held_by),
            "spotChecked": self.spot_checked,
            "released": self.released,
            "latencyMs": round(self.latency_ms, 3),
        }


@dataclass
class Report:
    """The day in figures; :meth:`as_dict` is the JSON form (``--report``)."""

    seed: int
    tag: str
    outcomes: list[Outcome]
    docs_bound: int
    docs_completed: int
    hazchem_records: int

    @property
    def passed(self) -> int:
        """Vehicles let through (some after a spot check and customs' release)."""
        return sum(o.decision == "pass" for o in self.outcomes)

    @property
    def held(self) -> int:
        """Vehicles turned back."""
        return sum(o.decision == "hold" for o in self.outcomes)

    @property
    def held_by_rule(self) -> dict[str, int]:
        """Vehicles turned back, per rule that held them (a vehicle may be held by two)."""
        c: Counter[str] = Counter(r for o in self.outcomes if o.decision == "hold" for r in o.held_by)
        return dict(sorted(c.items()))

    @property
    def spot_checks(self) -> int:
        """Vehicles a spot check selected (M4)."""
        return sum(o.spot_checked for o in self.outcomes)

    @property
    def released_after_inspection(self) -> int:
        """Selected vehicles that customs released after inspecting them."""
        return sum(o.released for o in self.outcomes)

    def latency(self, q: float) -> float:
        """The ``q`` quantile (nearest rank) of decision latency in ms: the call that returned the decision."""
        xs = sorted(o.latency_ms for o in self.outcomes)
        return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else 0.0

    def deliberate(self) -> list[tuple[str, str, str, bool]]:
        """Each deliberate case: (case, expected, got, as expected)."""
        rows = []
        for o in self.outcomes:
            if o.deliberate is None:
                continue
            rule = DELIBERATE[o.deliberate]
            got = f"hold {', '.join(o.held_by)}" if o.decision == "hold" else "pass"
            if rule is None:
                ok, expected = o.decision == "pass" and self.hazchem_records > 0, "pass, shared with the zone administration"
            else:
                ok, expected = o.decision == "hold" and o.held_by == (rule,), f"hold {rule}"
            rows.append((o.deliberate, expected, got, ok))
        return rows

    @property
    def ok(self) -> bool:
        """Every deliberate case came out as expected."""
        return all(row[3] for row in self.deliberate())

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "seed": self.seed,
            "run": self.tag,
            "vehicles": len(self.outcomes),
            "passed": self.passed,
            "held": self.held,
            "heldByRule": self.held_by_rule,
            "spotChecks": self.spot_checks,
            "releasedAfterInspection": self.released_after_inspection,
            "hazchemRecords": self.hazchem_records,
            "documentsBound": self.docs_bound,
            "documentsCompleted": self.docs_completed,
            "decisionLatencyMs": {"p50": round(self.latency(0.5), 2), "p99": round(self.latency(0.99), 2)},
            "deliberate": [{"case": c, "expected": e, "got": g, "ok": ok} for c, e, g, ok in self.deliberate()],
            "outcomes": [o.as_dict() for o in self.outcomes],
            "ok": self.ok,
        }


class _Api:
    """The HTTP side: every write carries an Idempotency-Key, so a retried request is safe."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __call__(self, token: str, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        for attempt in range(3):
            try:
                r = self.client.request(method, path, json=body, headers=headers)
                break
            except httpx.TransportError as e:
                if attempt == 2 or (key is None and method != "GET"):
                    raise SimError("UNREACHABLE", f"{self.client.base_url}: {e}") from None
                time.sleep(0.2 * (attempt + 1))
        data: Any = r.json() if r.headers.get("content-type", "").startswith("application/json") else {"raw": r.text}
        if r.status_code >= 400:
            code = data.get("code", str(r.status_code)) if isinstance(data, dict) else str(r.status_code)
            msg = data.get("messages", {}).get("en", r.text) if isinstance(data, dict) else r.text
            raise SimError(code, f"{method} {path}: {msg}")
        return data


def _held(x: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted({str(r["rule"]) for r in x["reasons"] if r["held"]}))


def run(client: httpx.Client, day: Plan, tokens: Tokens, progress: Callable[[int, int], None] | None = None) -> Report:
    """Play ``day`` against the API behind ``client`` and report what happened."""
    api = _Api(client)
    who = api(tokens.customs, "GET", "/api/v1/whoami")
    if who.get("role") != "customs":
        raise SimError("BZ-FORBIDDEN", f"the simulator needs a customs token, got a {who.get('role')} token")
    for book in sorted({d.book for d in day.docs} | {v.book for v in day.vehicles if v.book}):
        try:
            api(tokens.customs, "GET", f"/api/v1/books/{book}")
        except SimError as e:
            raise SimError(e.code, f"book {book} of the demo zone is missing — load it with `bondedzone demo load`") from None
    # A run tag that no earlier run on this database used: document numbers stay unique.
    run_no = int(api(tokens.customs, "GET", "/api/v1/passports?limit=1")["count"])
    tag = f"SIM{day.seed}-{run_no}"
    feed_token = tokens.zone_admin or tokens.customs
    hazchem_before = _feed_end(api, feed_token, 0)

    numbers: dict[str, tuple[str, str]] = {}  # doc key → (rltTbTypecd, number)
    for d in day.docs:
        numbers[d.key] = _declare(api, tokens, d, tag)
    passports: dict[int, str] = {}
    for v in day.vehicles:
        if v.book is not None:
            passports[v.n] = _make_pass(api, tokens, v, numbers, tag)

    outcomes = []
    for i, v in enumerate(day.vehicles, start=1):
        outcomes.append(_drive(api, tokens, v, passports.get(v.n), tag))
        if progress:
            progress(i, len(day.vehicles))

    completed = 0
    for kind, no in numbers.values():
        completed += bool(api(tokens.customs, "GET", f"/api/v1/gate/docs/{kind}/{no}")["complete"])
    hazchem = _feed_end(api, feed_token, hazchem_before) - hazchem_before
    return Report(day.seed, tag, outcomes, len(numbers), completed, hazchem)


def _feed_end(api: _Api, token: str, after: int) -> int:
    """The id of the last hazchem record (0 when none): the feed is read page by page."""
    last = after
    while True:
        page = api(token, "GET", f"/api/v1/hazchem-feed?afterId={last}&limit=1000")["data"]
        if not page:
            return last
        last = int(page[-1]["id"])


def _declare(api: _Api, tokens: Tokens, d: DocSpec, tag: str) -> tuple[str, str]:
    """Enter and declare a document as its enterprise; customs approves (list) or releases (summary)."""
    owner = tokens.owner_of(d.book)
    items = {it[0]: it for it in demo.ITEMS[d.book]}
    if d.kind == "summary":
        entry_no = "530120261" + f"{int(hashlib.sha256(f'{tag}-{d.key}'.encode()).hexdigest(), 16) % 10**9:09d}"
        lines = [
            {"gNo": n, "gdecd": items[seq][2], "gdsNm": items[seq][3], "dclQty": q, "dclUnitcd": items[seq][4]}
            for n, (seq, q) in enumerate(d.lines, start=1)
        ]
        body = {"entryNo": entry_no, "putrecNo": d.book, "ioTypecd": "I", "lines": lines}
        api(owner, "POST", "/api/v1/entry-summaries", body, key=f"{tag}-{d.key}-declare")
        api(tokens.customs, "POST", f"/api/v1/entry-summaries/{entry_no}/release", key=f"{tag}-{d.key}-release")
        return "4", entry_no
    body = {
        "etpsInnerInvtNo": f"{tag}-{d.key}",
        "putrecNo": d.book,
        "impexpMarkcd": "I",
        "supvModecd": "5034",
        "flow": d.flow,
        "lines": [
            {"gdsSeqno": n, "putrecSeqno": seq, "dclQty": q, "dclUnitcd": items[seq][4], "stockStatus": "bonded"}
            for n, (seq, q) in enumerate(d.lines, start=1)
        ],
    }
    invt = api(owner, "POST", "/api/v1/invts", body, key=f"{tag}-{d.key}-create")
    api(owner, "POST", f"/api/v1/invts/{invt['id']}/declare", key=f"{tag}-{d.key}-declare")
    approved = api(tokens.customs, "POST", f"/api/v1/invts/{invt['id']}/approve", key=f"{tag}-{d.key}-approve")
    return "1", str(approved["bondInvtNo"])


def _make_pass(api: _Api, tokens: Tokens, v: Vehicle, numbers: Mapping[str, tuple[str, str]], tag: str) -> str:
    assert v.book is not None
    docs = []
    for key, split in v.docs:
        kind, no = numbers[key]
        doc: dict[str, Any] = {"rltTbTypecd": kind, "rltNo": no}
        if split is not None:
            doc["lines"] = [{"rltGdsSeqno": seq, "dclQty": q} for seq, q in split]
        docs.append(doc)
    body = {
        "areainOriactNo": v.book,
        "etpsPreentNo": f"{tag}-V{v.n:03d}",
        "vehicleNo": v.plate,
        **v.head,
        "docs": docs,
        "goods": [dict(g) for g in v.goods],
    }
    gp = api(tokens.owner_of(v.book), "POST", "/api/v1/passports", body, key=f"{tag}-V{v.n:03d}-pass")
    return str(gp["passportNo"])


def _expected_wt(head: Mapping[str, str]) -> Decimal:
    names = ("vehicleWt", "vehicleFrameWt", "containerWt", "totalGrossWt")
    return sum((Decimal(head.get(k, "0")) for k in names), Decimal(0))


def _drive(api: _Api, tokens: Tokens, v: Vehicle, passport_no: str | None, tag: str) -> Outcome:
    """One vehicle through the gate; a vehicle a spot check selects is inspected and released by customs."""
    key = f"{tag}-V{v.n:03d}"
    arrival: dict[str, Any] = {"gateId": v.gate, "lane": v.lane, "vehicleNo": v.plate}
    if passport_no is not None:
        arrival["passportNo"] = passport_no  # the gate's reader got it; otherwise the plate finds it
    gross = None
    if v.reading is not None:
        gross = str((_expected_wt(v.head) * v.reading).quantize(Decimal(1))) if v.head else "15000"
    started = time.perf_counter()
    if v.via == "cross":
        body = {**arrival, "grossWt": gross} if gross is not None else arrival
        x = api(tokens.gate, "POST", "/api/v1/gate/cross", body, key=f"{key}-cross")
        latency = time.perf_counter() - started
    else:
        x = api(tokens.gate, "POST", "/api/v1/gate/crossings", arrival, key=f"{key}-arrive")
        latency = time.perf_counter() - started
        if x["status"] != "held":
            if gross is not None:
                api(tokens.gate, "POST", f"/api/v1/gate/crossings/{x['id']}/weigh", {"grossWt": gross}, key=f"{key}-weigh")
            started = time.perf_counter()
            x = api(tokens.gate, "POST", f"/api/v1/gate/crossings/{x['id']}/decide", key=f"{key}-decide")
            latency = time.perf_counter() - started
    spot = SPOT_RULE in _held(x)
    released = False
    if x["decision"] == "hold" and _held(x) == (SPOT_RULE,):
        note = {"reason": "查验无误，货证相符 / inspected: goods as declared"}
        x = api(tokens.customs, "POST", f"/api/v1/gate/crossings/{x['id']}/release", note, key=f"{key}-release")
        released = True
    api(tokens.gate, "POST", f"/api/v1/gate/crossings/{x['id']}/leave", key=f"{key}-leave")
    return Outcome(
        n=v.n,
        kind=v.kind,
        plate=v.plate,
        deliberate=v.deliberate,
        passport_no=passport_no,
        crossing_id=int(x["id"]),
        decision=str(x["decision"]),
        held_by=_held(x) if x["decision"] == "hold" else (),
        spot_checked=spot,
        released=released,
        latency_ms=latency * 1000,
    )
