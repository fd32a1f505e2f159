"""W2 自动比对印证 (measure 三 and 二十二): WMS data against the ledger and the declarations.

The comparison is written once, as SQL over six relations, and run unchanged by every engine
(DuckDB embedded by default, Apache Spark when one machine is not enough — W4): an engine only
loads the relations and executes the :data:`STEPS` in order, each step's result becoming a
relation the next steps can read. Only a shared subset of SQL is used (CTEs, joins, ``CASE``,
``COALESCE``, ``IS NOT DISTINCT FROM``, ``SUM``/``COUNT``/``MIN``/``MAX``, ``HAVING``, ``UNION
ALL``; ``STRING`` and ``BIGINT`` types), so that the two engines cannot drift apart: the test
``test_w4_engines_agree`` runs both on the same data and requires identical findings.

Input relations (times ``ts`` are microseconds since the epoch, quantities integer 10⁻⁵ units):

* ``items(book, mtno, unit)`` — the book items (备案料号 ``gdsMtno`` and its ``dclUnitcd``).
* ``decls(book, doc_no, line, kind, mtno, status, from_status, qty, unit, ts)`` — approved
  declaration lines: ``kind`` ``I`` (核注清单 进区, adds), ``E`` (出区, removes) or ``C`` (an M9
  status conversion from ``from_status`` to ``status``); ``ts`` is the approval time.
* ``postings(book, mtno, status, qty, ts)`` — the ledger's signed postings.
* ``movements(book, ref, kind, mtno, status, from_status, qty, unit, ts, doc_no, doc_line)`` —
  WMS stock movements: ``receipt``, ``issue``, ``transfer``, ``status_change`` (from
  ``from_status`` to ``status``) and ``adjustment`` (signed ``qty``); ``doc_no``/``doc_line`` is
  the declaration line the WMS recorded with it (``rltNo``/``rltGdsSeqno``), if any.
* ``stock(book, taken_at, mtno, status, unit, qty)`` — WMS stocktake snapshot lines.
* ``modes(book)`` — the books whose ledger follows their WMS (M3); may be absent (none).

The classes of discrepancy (:class:`Cls`) and how each is found:

* ``movement_without_declaration`` — a receipt, issue or status change that matches no approved
  declaration line (none referenced, or the referenced one is of another book, item or direction),
  older than the tolerance at the end of the period. Younger, it is a ``timing_lag``.
* ``declaration_without_movement`` — an approved line that no movement matches, older than the
  tolerance (younger: ``timing_lag``).
* ``quantity_mismatch`` — the movements matching a line add up to another quantity (a shortfall
  younger than the tolerance is a ``timing_lag``: the rest may still be on its way); or, for
  stock, an unexplained difference (below).
* ``unit_mismatch`` — a matching movement (or a stocktake line) in another unit than declared.
* ``status_mismatch`` — a matching movement in another stock status (bonded / non-bonded) than
  declared; or, for stock, differences between statuses of one item that cancel out.
* ``unknown_item`` — a movement or stocktake line whose item is not in the book.
* ``timing_lag`` — not an error: one side has not caught up yet, within the tolerance (ages are
  measured at the end of the period, or now if the period ends later).

Stock (per book, item and status, at the book's latest stocktake in the period): WMS stock ``s``
minus ledger ``l`` should equal what the flows already explain, WMS movements ``w`` minus
declarations ``d`` (every flow finding above accounts for its share). The residual
``s − l − (w − d)`` is what nothing explains — losses, miscounts, the WMS's own adjustments
(``adjustment`` movements are deliberately not counted in ``w``, so they surface here, as
盘盈/盘亏 to be explained at write-off, M19). A WMS-driven book (M3) posts its movements, so its
ledger already is ``w`` and the residual is ``s − l``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RULE = "W2-COMPARE"


class Cls(StrEnum):
    """The class of a discrepancy."""

    MOVEMENT_WITHOUT_DECLARATION = "movement_without_declaration"
    DECLARATION_WITHOUT_MOVEMENT = "declaration_without_movement"
    QUANTITY_MISMATCH = "quantity_mismatch"
    UNIT_MISMATCH = "unit_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    UNKNOWN_ITEM = "unknown_item"
    TIMING_LAG = "timing_lag"


class Scope(StrEnum):
    """What a finding is about, and so what identifies it."""

    MOVEMENT = "movement"  # ref = the WMS movement's reference
    DECLARATION = "declaration"  # ref = the document number, line = its line
    STOCK = "stock"  # mtno (+ status, except for a status mismatch of the whole item)
    ITEM = "item"  # mtno: an item the book does not have


ERRORS = frozenset(Cls) - {Cls.TIMING_LAG}

LABELS: dict[Cls, tuple[str, str]] = {
    Cls.MOVEMENT_WITHOUT_DECLARATION: ("有实物流转无申报", "movement without declaration"),
    Cls.DECLARATION_WITHOUT_MOVEMENT: ("有申报无实物流转", "declaration without movement"),
    Cls.QUANTITY_MISMATCH: ("数量不符", "quantity mismatch"),
    Cls.UNIT_MISMATCH: ("计量单位不符", "unit mismatch"),
    Cls.STATUS_MISMATCH: ("保税状态不符", "status mismatch"),
    Cls.UNKNOWN_ITEM: ("料号未备案", "unknown item"),
    Cls.TIMING_LAG: ("时间差（容差内，非差错）", "timing lag (within tolerance, not an error)"),
}

# Every step's SELECT ends in these columns, in this order: a finding row.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("cls", "STRING"),
    ("scope", "STRING"),
    ("book", "STRING"),
    ("ref", "STRING"),
    ("line", "BIGINT"),
    ("mtno", "STRING"),
    ("status", "STRING"),
    ("wms_qty", "BIGINT"),
    ("other_qty", "BIGINT"),  # declared, or ledger for stock
    ("diff_qty", "BIGINT"),  # for stock: the unexplained residual
    ("adjust_qty", "BIGINT"),  # for stock: the WMS's own adjustments in it
    ("wms_unit", "STRING"),
    ("other_unit", "STRING"),
    ("wms_status", "STRING"),
    ("other_status", "STRING"),
    ("n", "BIGINT"),  # records on the WMS side
    ("ts", "BIGINT"),  # the time the finding is about (movement, approval or stocktake)
)


@dataclass(frozen=True)
class Params:
    """A comparison's period ``[p_from, p_to)`` and lag tolerance, all in microseconds.

    ``as_of`` is the moment ages are measured from for the lag tolerance: the end of the period,
    or now if the period ends later (a period ending tomorrow must not make today's young
    movements look old).
    """

    p_from: int
    p_to: int
    tolerance: int
    as_of: int | None = None

    def __post_init__(self) -> None:
        for name in ("p_from", "p_to", "tolerance"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be an int")  # they are written into the SQL text
        if self.as_of is not None and (not isinstance(self.as_of, int) or isinstance(self.as_of, bool)):
            raise TypeError("as_of must be an int")
        if self.p_from >= self.p_to or self.tolerance < 0:
            raise ValueError("need p_from < p_to and tolerance >= 0")

    @property
    def lag_reference(self) -> int:
        """Where ages are measured from: the end of the period, or ``as_of`` if earlier."""
        return self.p_to if self.as_of is None else min(self.p_to, self.as_of)


def _row(**cols: str) -> str:
    """A SELECT list of every finding column: the given expressions, typed NULL for the rest."""
    unknown = set(cols) - {c for c, _ in COLUMNS}
    if unknown:
        raise KeyError(unknown)
    return ", ".join(f"{cols[c]} AS {c}" if c in cols else f"CAST(NULL AS {ty}) AS {c}" for c, ty in COLUMNS)


def _lag(at: str, cls: Cls) -> str:
    return f"CASE WHEN {{as_of}} - {at} <= {{tol}} THEN '{Cls.TIMING_LAG}' ELSE '{cls}' END"


# The latest stocktake of each book in the period: the stock comparison's moment.
_SNAP = "SELECT book, MAX(taken_at) AS snap_at FROM stock WHERE taken_at < {p_to} GROUP BY book"

# The direction a movement must have to match a declaration line of a kind.
_KIND = "CASE mv.kind WHEN 'receipt' THEN 'I' WHEN 'issue' THEN 'E' WHEN 'status_change' THEN 'C' ELSE '-' END"

# Movements up to the end of the period, counted per book, item, kind and statuses, whether in the
# period and whether before the book's stocktake: what the stock and unknown items need of them.
_MA = """
SELECT mv.book, mv.mtno, mv.kind, mv.status, mv.from_status, snap.snap_at,
       CASE WHEN mv.ts >= {p_from} THEN 1 ELSE 0 END AS in_period,
       CASE WHEN mv.ts <= snap.snap_at THEN 1 ELSE 0 END AS counted,
       COUNT(*) AS n, SUM(mv.qty) AS qty, MIN(mv.ts) AS first_at
FROM movements mv LEFT JOIN snap ON snap.book = mv.book
WHERE mv.ts < {p_to}
GROUP BY mv.book, mv.mtno, mv.kind, mv.status, mv.from_status, snap.snap_at,
         CASE WHEN mv.ts >= {p_from} THEN 1 ELSE 0 END, CASE WHEN mv.ts <= snap.snap_at THEN 1 ELSE 0 END
"""

# Matching, in two passes. A first pass joins every movement that cites a declaration line to the
# line it matches in every respect (book, document, line, item, direction, unit, status and the
# status converted from), and keeps the lines that pass may have something to report: a line of
# the period whose movements so matched are missing or add up to another quantity, and the line
# cited by a movement matching none. Every line that differs anywhere is among them, since a
# movement in another unit or status than its line matches nothing in this pass. Only these
# candidate lines and the movements citing them are compared exactly, on their own.
_CAND = f"""
SELECT COALESCE(d.book, mv.book) AS book, COALESCE(d.doc_no, mv.doc_no) AS doc_no, COALESCE(d.line, mv.doc_line) AS line
FROM (SELECT * FROM movements WHERE ts < {{p_to}} AND doc_no IS NOT NULL AND doc_line IS NOT NULL) mv
FULL OUTER JOIN (SELECT * FROM decls WHERE ts < {{p_to}}) d ON d.book = mv.book AND d.doc_no = mv.doc_no AND d.line = mv.doc_line
GROUP BY COALESCE(d.book, mv.book), COALESCE(d.doc_no, mv.doc_no), COALESCE(d.line, mv.doc_line)
HAVING MAX(d.ts) IS NULL
    OR SUM(CASE WHEN mv.doc_no IS NULL THEN 0
                WHEN d.mtno = mv.mtno AND d.kind = {_KIND} AND d.unit = mv.unit AND d.status = mv.status
                     AND COALESCE(d.from_status, '-') = COALESCE(mv.from_status, '-') THEN 0
                ELSE 1 END) > 0
    OR (MAX(d.ts) >= {{p_from}} AND (COUNT(mv.doc_no) = 0 OR SUM(mv.qty) <> MAX(d.qty)))
"""

# The candidate lines themselves (a movement citing none of them matches none of them).
_CD = """
SELECT d.* FROM decls d
JOIN cand c
  ON c.book IS NOT DISTINCT FROM d.book AND c.doc_no IS NOT DISTINCT FROM d.doc_no AND c.line IS NOT DISTINCT FROM d.line
"""

# The movements to compare exactly (those citing a candidate line, and those citing none), up to the
# end of the period, each with its item (if the book has it) and the declaration line it matches
# (same book, document, line, item and direction), if any.
_M = f"""
SELECT mv.book, mv.ref, mv.kind, mv.mtno, mv.status, mv.from_status, mv.qty, mv.unit, mv.ts,
       mv.doc_no, mv.doc_line, it.unit AS item_unit,
       d.doc_no AS d_doc, d.status AS d_status, d.from_status AS d_from, d.unit AS d_unit
FROM (
  SELECT mv.* FROM movements mv
  LEFT JOIN cand c ON c.book = mv.book AND c.doc_no = mv.doc_no AND c.line = mv.doc_line
  WHERE mv.ts < {{p_to}} AND (c.line IS NOT NULL OR ((mv.doc_no IS NULL OR mv.doc_line IS NULL)
    AND mv.ts >= {{p_from}} AND mv.kind IN ('receipt', 'issue', 'status_change')))
) mv
LEFT JOIN items it ON it.book = mv.book AND it.mtno = mv.mtno
LEFT JOIN cd d ON d.book = mv.book AND d.doc_no = mv.doc_no AND d.line = mv.doc_line AND d.mtno = mv.mtno
  AND d.ts < {{p_to}} AND d.kind = {_KIND}
"""

# Per declaration line: its matching movements, aggregated once.
_DM = """
SELECT book, doc_no, doc_line, COUNT(*) AS n, CAST(SUM(qty) AS BIGINT) AS qty, MAX(ts) AS last_at,
       SUM(CASE WHEN unit <> d_unit THEN 1 ELSE 0 END) AS n_unit, MAX(unit) AS wms_unit,
       SUM(CASE WHEN status <> d_status OR COALESCE(from_status, '-') <> COALESCE(d_from, '-') THEN 1 ELSE 0 END)
         AS n_status,
       MAX(status) AS wms_status
FROM m WHERE d_doc IS NOT NULL GROUP BY book, doc_no, doc_line
"""

# The candidate lines of the period, each with its matching movements.
_DD = """
SELECT d.book, d.doc_no, d.line, d.mtno, d.status, d.qty, d.unit, d.ts,
       COALESCE(dm.n, 0) AS n, dm.qty AS wms_qty, dm.n_unit, dm.wms_unit, dm.n_status, dm.wms_status
FROM cd d LEFT JOIN dm ON dm.book = d.book AND dm.doc_no = d.doc_no AND dm.doc_line = d.line
WHERE d.ts >= {p_from} AND d.ts < {p_to}
"""

_MOVEMENT_FINDINGS = f"""
SELECT {
    _row(
        cls=_lag("m.ts", Cls.MOVEMENT_WITHOUT_DECLARATION),
        scope=f"'{Scope.MOVEMENT}'",
        book="m.book",
        ref="m.ref",
        mtno="m.mtno",
        wms_qty="m.qty",
        wms_unit="m.unit",
        wms_status="m.status",
        n="1",
        ts="m.ts",
    )
}
FROM m
WHERE m.ts >= {{p_from}} AND m.item_unit IS NOT NULL AND m.d_doc IS NULL
  AND m.kind IN ('receipt', 'issue', 'status_change')
"""

_DECL_COMMON = {
    "scope": f"'{Scope.DECLARATION}'",
    "book": "dd.book",
    "ref": "dd.doc_no",
    "line": "dd.line",
    "mtno": "dd.mtno",
    "wms_qty": "dd.wms_qty",
    "other_qty": "dd.qty",
    "wms_unit": "dd.wms_unit",
    "other_unit": "dd.unit",
    "wms_status": "dd.wms_status",
    "other_status": "dd.status",
    "n": "dd.n",
    "ts": "dd.ts",
}

_DECL_FINDINGS = f"""
SELECT {_row(**{**_DECL_COMMON, "cls": _lag("dd.ts", Cls.DECLARATION_WITHOUT_MOVEMENT)})} FROM dd WHERE dd.n = 0
UNION ALL
SELECT {_row(**{**_DECL_COMMON, "cls": f"'{Cls.UNIT_MISMATCH}'"})} FROM dd WHERE dd.n > 0 AND dd.n_unit > 0
UNION ALL
SELECT {_row(**{**_DECL_COMMON, "cls": f"'{Cls.STATUS_MISMATCH}'"})} FROM dd WHERE dd.n > 0 AND dd.n_status > 0
UNION ALL
SELECT {
    _row(
        **{
            **_DECL_COMMON,
            "cls": f"CASE WHEN dd.wms_qty < dd.qty AND {{as_of}} - dd.ts <= {{tol}} THEN '{Cls.TIMING_LAG}' "
            f"ELSE '{Cls.QUANTITY_MISMATCH}' END",
            "diff_qty": "dd.wms_qty - dd.qty",
        }
    )
}
FROM dd WHERE dd.n > 0 AND dd.n_unit = 0 AND dd.wms_qty <> dd.qty
"""

# Unknown items: movements in the period and lines of the latest stocktake, one finding per item.
_UNKNOWN = f"""
SELECT {
    _row(
        cls=f"'{Cls.UNKNOWN_ITEM}'",
        scope=f"'{Scope.ITEM}'",
        book="u.book",
        ref="u.mtno",
        mtno="u.mtno",
        wms_qty="CAST(SUM(u.stock_qty) AS BIGINT)",
        n="CAST(SUM(u.n) AS BIGINT)",
        ts="MIN(u.ts)",
    )
}
FROM (
  SELECT ma.book, ma.mtno, ma.n, 0 AS stock_qty, ma.first_at AS ts
  FROM ma LEFT JOIN items it ON it.book = ma.book AND it.mtno = ma.mtno
  WHERE it.unit IS NULL AND ma.in_period = 1
  UNION ALL
  SELECT st.book, st.mtno, 0 AS n, st.qty AS stock_qty, st.taken_at AS ts
  FROM stock st JOIN snap ON snap.book = st.book AND st.taken_at = snap.snap_at
  LEFT JOIN items it ON it.book = st.book AND it.mtno = st.mtno
  WHERE it.mtno IS NULL
) u
GROUP BY u.book, u.mtno
"""

# Stock: every source's signed quantity per (book, item, status) at the book's stocktake.
_FLOWS = """
SELECT f.book, f.mtno, f.status,
       CAST(SUM(f.s) AS BIGINT) AS s, CAST(SUM(f.l) AS BIGINT) AS l, CAST(SUM(f.w) AS BIGINT) AS w,
       CAST(SUM(f.d) AS BIGINT) AS d, CAST(SUM(f.a) AS BIGINT) AS a,
       MAX(f.bad_unit) AS bad_unit, MAX(snap_at) AS snap_at
FROM (
  SELECT st.book, st.mtno, st.status, st.qty AS s, 0 AS l, 0 AS w, 0 AS d, 0 AS a,
         CASE WHEN st.unit <> it.unit THEN st.unit ELSE NULL END AS bad_unit, snap.snap_at
  FROM stock st JOIN snap ON snap.book = st.book AND st.taken_at = snap.snap_at
  JOIN items it ON it.book = st.book AND it.mtno = st.mtno
  UNION ALL
  SELECT p.book, p.mtno, p.status, 0, p.qty, 0, 0, 0, NULL, snap.snap_at
  FROM postings p JOIN snap ON snap.book = p.book AND p.ts <= snap.snap_at
  UNION ALL
  SELECT ma.book, ma.mtno, ma.status, 0, 0,
         CASE ma.kind WHEN 'receipt' THEN ma.qty WHEN 'status_change' THEN ma.qty WHEN 'issue' THEN -ma.qty ELSE 0 END,
         0, CASE WHEN ma.kind = 'adjustment' THEN ma.qty ELSE 0 END, NULL, ma.snap_at
  FROM ma JOIN items it ON it.book = ma.book AND it.mtno = ma.mtno
  WHERE ma.counted = 1 AND it.unit IS NOT NULL
  UNION ALL
  SELECT ma.book, ma.mtno, ma.from_status, 0, 0, -ma.qty, 0, 0, NULL, ma.snap_at
  FROM ma JOIN items it ON it.book = ma.book AND it.mtno = ma.mtno
  WHERE ma.counted = 1 AND it.unit IS NOT NULL AND ma.kind = 'status_change'
  UNION ALL
  SELECT d.book, d.mtno, d.status, 0, 0, 0, CASE d.kind WHEN 'E' THEN -d.qty ELSE d.qty END, 0, NULL, snap.snap_at
  FROM decls d JOIN snap ON snap.book = d.book AND d.ts <= snap.snap_at
  UNION ALL
  SELECT d.book, d.mtno, d.from_status, 0, 0, 0, -d.qty, 0, NULL, snap.snap_at
  FROM decls d JOIN snap ON snap.book = d.book AND d.ts <= snap.snap_at
  WHERE d.kind = 'C'
) f
GROUP BY f.book, f.mtno, f.status
"""

# A WMS-driven book (M3) posts its movements, so its ledger already is the WMS's flows: what is
# left unexplained is the stock against the ledger alone.
_RESIDUAL = """
SELECT r.*, r.s - r.l - CASE WHEN md.book IS NULL THEN r.w - r.d ELSE 0 END AS res
FROM flows r LEFT JOIN modes md ON md.book = r.book
"""

_PER_ITEM = """
SELECT book, mtno, CAST(SUM(res) AS BIGINT) AS res_total, SUM(CASE WHEN res <> 0 THEN 1 ELSE 0 END) AS n_bad,
       MAX(CASE WHEN res > 0 THEN status ELSE NULL END) AS more_in, MAX(CASE WHEN res < 0 THEN status ELSE NULL END) AS less_in,
       MAX(CASE WHEN res > 0 THEN res ELSE 0 END) AS moved, MAX(snap_at) AS snap_at,
       CAST(SUM(s) AS BIGINT) AS s, CAST(SUM(l) AS BIGINT) AS l, CAST(SUM(a) AS BIGINT) AS a
FROM res GROUP BY book, mtno
"""


def _stock_row(t: str, cls: Cls, **more: str) -> str:
    """A stock finding of relation alias ``t`` (``res`` per status, ``per_item`` per item)."""
    common = {"scope": f"'{Scope.STOCK}'", "book": f"{t}.book", "ref": f"{t}.mtno", "mtno": f"{t}.mtno"}
    return _row(cls=f"'{cls}'", **common, wms_qty=f"{t}.s", other_qty=f"{t}.l", ts=f"{t}.snap_at", **more)


_STOCK_FINDINGS = f"""
SELECT {_stock_row("r", Cls.QUANTITY_MISMATCH, status="r.status", diff_qty="r.res", adjust_qty="r.a")}
FROM res r JOIN per_item pi ON pi.book = r.book AND pi.mtno = r.mtno
WHERE r.res <> 0 AND pi.res_total <> 0
UNION ALL
SELECT {
    _stock_row(
        "pi",
        Cls.STATUS_MISMATCH,
        diff_qty="pi.moved",
        adjust_qty="pi.a",
        wms_status="pi.more_in",
        other_status="pi.less_in",
    )
}
FROM per_item pi WHERE pi.n_bad > 0 AND pi.res_total = 0
UNION ALL
SELECT {_stock_row("r", Cls.UNIT_MISMATCH, status="r.status", wms_unit="r.bad_unit")}
FROM res r WHERE r.bad_unit IS NOT NULL
"""

_ALL = "SELECT * FROM f_movement UNION ALL SELECT * FROM f_decl UNION ALL SELECT * FROM f_unknown UNION ALL SELECT * FROM f_stock"

# (name, SELECT): run in order; each result is a relation for the steps after it. The last is the answer.
STEPS: tuple[tuple[str, str], ...] = (
    ("snap", _SNAP),
    ("ma", _MA),
    ("cand", _CAND),
    ("cd", _CD),
    ("m", _M),
    ("dm", _DM),
    ("dd", _DD),
    ("f_movement", _MOVEMENT_FINDINGS),
    ("f_decl", _DECL_FINDINGS),
    ("f_unknown", _UNKNOWN),
    ("flows", _FLOWS),
    ("res", _RESIDUAL),
    ("per_item", _PER_ITEM),
    ("f_stock", _STOCK_FINDINGS),
    ("findings", _ALL),
)

INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "items": (("book", "STRING"), ("mtno", "STRING"), ("unit", "STRING")),
    "decls": (
        ("book", "STRING"),
        ("doc_no", "STRING"),
        ("line", "BIGINT"),
        ("kind", "STRING"),
        ("mtno", "STRING"),
        ("status", "STRING"),
        ("from_status", "STRING"),
        ("qty", "BIGINT"),
        ("unit", "STRING"),
        ("ts", "BIGINT"),
    ),
    "postings": (("book", "STRING"), ("mtno", "STRING"), ("status", "STRING"), ("qty", "BIGINT"), ("ts", "BIGINT")),
    "movements": (
        ("book", "STRING"),
        ("ref", "STRING"),
        ("kind", "STRING"),
        ("mtno", "STRING"),
        ("status", "STRING"),
        ("from_status", "STRING"),
        ("qty", "BIGINT"),
        ("unit", "STRING"),
        ("ts", "BIGINT"),
        ("doc_no", "STRING"),
        ("doc_line", "BIGINT"),
    ),
    "modes": (("book", "STRING"),),  # the WMS-driven books (M3); a book not listed is list-driven
    "stock": (
        ("book", "STRING"),
        ("taken_at", "BIGINT"),
        ("mtno", "STRING"),
        ("status", "STRING"),
        ("unit", "STRING"),
        ("qty", "BIGINT"),
    ),
}


def steps(params: Params) -> list[tuple[str, str]]:
    """The steps with the period and tolerance written in (integers only, so nothing to escape)."""
    subs = {
        "p_from": str(params.p_from),
        "p_to": str(params.p_to),
        "tol": str(params.tolerance),
        "as_of": str(params.lag_reference),
    }
    return [(name, sql.format(**subs)) for name, sql in STEPS]


@dataclass(frozen=True)
class Finding:
    """One discrepancy, as every engine returns it (a row of :data:`COLUMNS`)."""

    cls: Cls
    scope: Scope
    book: str
    ref: str
    line: int | None
    mtno: str | None
    status: str | None
    wms_qty: int | None
    other_qty: int | None
    diff_qty: int | None
    adjust_qty: int | None
    wms_unit: str | None
    other_unit: str | None
    wms_status: str | None
    other_status: str | None
    n: int | None
    ts: int | None

    @classmethod
    def of(cls, row: tuple[object, ...]) -> Finding:
        """A finding from an engine's row; integer columns as ``int`` (DuckDB's sums are HUGEINT)."""
        vals: list[object] = [
            int(v) if ty == "BIGINT" and v is not None else v  # type: ignore[call-overload]
            for v, (_, ty) in zip(row, COLUMNS, strict=True)
        ]
        vals[0], vals[1] = Cls(str(vals[0])), Scope(str(vals[1]))
        return cls(*vals)  # type: ignore[arg-type]

    @property
    def key(self) -> tuple[str, str, str, str, int | None, str | None]:
        """What identifies the finding: class, scope, book, ref, line, status."""
        status = self.status if self.scope is Scope.STOCK else None
        return (self.cls.value, self.scope.value, self.book, self.ref, self.line, status)

    @property
    def is_error(self) -> bool:
        """Whether this is a discrepancy to act on (a timing lag is not)."""
        return self.cls in ERRORS


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """The engines' answer in one order: by book, scope, reference, line, status, class."""
    return sorted(
        findings, key=lambda f: (f.book, f.scope.value, f.ref, f.line if f.line is not None else -1, f.status or "", f.cls.value)
    )
