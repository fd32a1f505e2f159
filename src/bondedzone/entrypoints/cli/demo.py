"""The demo zone, loaded through the services.

A few enterprises of each credit rating, books with real-looking HS codes, approved, pending,
rejected and cancelled lists, and one M9 conversion. Loaded through the services, so every
posting is checked and chained exactly as a user's would be.
"""

from __future__ import annotations

from datetime import timedelta

from stdnum.cn import uscc as uscc_lib

from bondedzone.domain.model import InvtLineInput
from bondedzone.domain.rules.m9_status_conversion import ConversionLineInput
from bondedzone.services import conversions, invts, registry, wms
from bondedzone.services.authz import Principal, Role
from bondedzone.services.ports import UnitOfWork, UnitOfWorkFactory

SYSTEM = Principal(Role.CUSTOMS, None, "system:demo")
CUSCD = "5301"


def make_uscc(org: str, region: str = "530100") -> str:
    """A synthetic but valid USCC: 9 (工商) 1 (企业) + region + org code + check character."""
    body = "91" + region + org
    return body + uscc_lib.calc_check_digit(body + "0")


ENTERPRISES = [
    # uscc, customs code, name, credit, wms, inside fence
    (make_uscc("MA6K0001X"), "5301340001", "滇池综保物流有限公司", "aeo_advanced", True, True),
    (make_uscc("MA6K0002Y"), "5301340002", "云岭电子制造有限公司", "aeo_advanced", False, True),
    (make_uscc("MA6K0003Q"), "5301340003", "春城跨境电商供应链有限公司", "ordinary", True, True),
    (make_uscc("MA6K0004T"), "5301340004", "高原保税仓储有限公司", "ordinary", False, True),
    (make_uscc("MA6K0005W"), "5301340005", "南亚贸易有限公司", "dishonest", False, True),
    (make_uscc("MA6K0006P"), "5301960006", "区外报关服务有限公司", "ordinary", False, False),
]

BOOKS = [
    ("T5301W000001", "logistics", 0),
    ("E5301B000002", "processing", 1),
    ("T5301W000003", "logistics", 2),
    ("T5301W000004", "logistics", 3),
    ("H5301D000005", "equipment", 1),
    ("T5301W000006", "logistics", 4),
]

ITEMS = {
    "T5301W000001": [
        (1, "LP-14-SLV", "8471300000", "便携式自动数据处理设备（笔记本电脑）", "001"),
        (2, "PH-5G-128", "8517130000", "智能手机", "001"),
        (3, "WN-BDX-750", "2204210000", "葡萄酒（装入2升及以下容器）", "095"),
        (4, "CS-SERUM-30", "3304990099", "护肤品", "035"),
    ],
    "E5301B000002": [
        (1, "IC-CPU-A7", "8542319000", "处理器及控制器集成电路", "007"),
        (2, "PE-LLD-25", "3901100090", "初级形状聚乙烯", "035"),
        (3, "MB-X1-FIN", "8473309000", "计算机零件（主板）", "007"),
    ],
    "T5301W000003": [
        (1, "KN-SWT-M", "6110200090", "棉制针织套头衫", "011"),
        (2, "TY-205-55", "4011100000", "新充气橡胶轮胎（机动小客车用）", "015"),
    ],
    "T5301W000004": [(1, "CF-ARB-1K", "0901110000", "未焙炒未浸除咖啡碱的咖啡", "035")],
    "H5301D000005": [(1, "EQ-SMT-01", "8479899990", "贴片机", "001")],
    "T5301W000006": [(1, "RB-NR-20", "4001220000", "技术分类天然橡胶", "035")],
}

# (book, inner no, I/E, supv mode, flow, [(item, qty, status)], final state)
LISTS = [
    (
        "T5301W000001",
        "DEMO-I-0001",
        "I",
        "5034",
        "first_line",
        [(1, "120", "bonded"), (2, "800", "bonded"), (3, "2400", "bonded")],
        "approved",
    ),
    ("T5301W000001", "DEMO-I-0002", "I", "5034", "second_line", [(4, "350.5", "non_bonded")], "approved"),
    ("T5301W000001", "DEMO-E-0003", "E", "5034", "second_line", [(1, "20", "bonded"), (2, "150", "bonded")], "approved"),
    ("T5301W000001", "DEMO-E-0004", "E", "5034", "first_line", [(3, "600", "bonded")], "declared"),
    ("E5301B000002", "DEMO-I-0101", "I", "5000", "first_line", [(1, "50000", "bonded"), (2, "12000", "bonded")], "approved"),
    ("E5301B000002", "DEMO-E-0102", "E", "5100", "first_line", [(1, "8000", "bonded")], "approved"),
    ("E5301B000002", "DEMO-I-0103", "I", "5000", "first_line", [(3, "1000", "bonded")], "rejected"),
    ("T5301W000003", "DEMO-I-0201", "I", "1210", "first_line", [(1, "5000", "bonded"), (2, "400", "bonded")], "approved"),
    ("T5301W000003", "DEMO-I-0202", "I", "1210", "first_line", [(1, "100", "bonded")], "cancelled"),
    ("T5301W000004", "DEMO-I-0301", "I", "5034", "first_line", [(1, "19200", "bonded")], "approved"),
    ("T5301W000004", "DEMO-I-0302", "I", "5034", "first_line", [(1, "4800", "bonded")], "draft"),
    ("H5301D000005", "DEMO-I-0401", "I", "5335", "first_line", [(1, "2", "bonded")], "approved"),
]


def load(uow_factory: UnitOfWorkFactory) -> dict[str, int]:
    """Load the demo zone into an empty database; returns what was created."""
    counts = {"enterprises": 0, "books": 0, "items": 0, "lists": 0, "conversions": 0}
    with uow_factory() as uow:
        for u, code, name, credit, wms, inside in ENTERPRISES:
            registry.register_enterprise(uow, SYSTEM, registry.RegisterEnterprise(u, code, name, credit, wms, inside))
            counts["enterprises"] += 1
        for putrec_no, book_type, owner in BOOKS:
            registry.open_book(uow, SYSTEM, registry.OpenBook(putrec_no, book_type, ENTERPRISES[owner][0], CUSCD))
            counts["books"] += 1
            for seq, mtno, hs, nm, unit in ITEMS[putrec_no]:
                registry.add_book_item(uow, SYSTEM, registry.AddBookItem(putrec_no, seq, mtno, hs, nm, unit))
                counts["items"] += 1
        units = {(b, it[0]): it[4] for b, rows in ITEMS.items() for it in rows}
        numbers: dict[str, str] = {}
        for putrec_no, inner, mark, mode, flow, lines, final in LISTS:
            invt = invts.create_invt(
                uow,
                SYSTEM,
                invts.CreateInvt(
                    etps_inner_invt_no=inner,
                    putrec_no=putrec_no,
                    impexp_markcd=mark,
                    supv_modecd=mode,
                    flow=flow,
                    lines=[
                        InvtLineInput(n, seq, q, units[(putrec_no, seq)], status)
                        for n, (seq, q, status) in enumerate(lines, start=1)
                    ],
                ),
            )
            counts["lists"] += 1
            if final == "cancelled":
                invts.cancel_invt(uow, SYSTEM, invt.id, "企业撤回 / withdrawn by the enterprise")
                continue
            if final == "draft":
                continue
            numbers[inner] = str(invts.declare_invt(uow, SYSTEM, invt.id).bond_invt_no)
            if final == "approved":
                invts.approve_invt(uow, SYSTEM, invt.id)
            elif final == "rejected":
                invts.reject_invt(uow, SYSTEM, invt.id, "单耗资料不全 / consumption data incomplete")
        conversions.convert_status(
            uow,
            SYSTEM,
            conversions.ConvertStatus(
                putrec_no="T5301W000001",
                entry_no="530120260000000017",
                from_status="non_bonded",
                to_status="bonded",
                lines=[ConversionLineInput(1, 4, "50", "035")],
                rmk="非保税货物申报转为保税 (M9)",
            ),
        )
        counts["conversions"] += 1
        counts["wms_records"] = _wms(uow, numbers)
        uow.commit()
    return counts


def _wms(uow: UnitOfWork, numbers: dict[str, str]) -> int:
    """The networked warehouse's WMS data (M22), mostly what was declared.

    A few discrepancies are left for the comparison (W2) to find: 20 bottles short on a line (a
    timing lag for two hours, then a quantity mismatch), phones nobody declared, broken bottles the
    WMS wrote off itself (found in the stocktake).
    """
    book, who = "T5301W000001", Principal(Role.ENTERPRISE, ENTERPRISES[0][0], "demo:wms")
    now = uow.now()
    i1, i2, e3 = numbers["DEMO-I-0001"], numbers["DEMO-I-0002"], numbers["DEMO-E-0003"]
    moves = [
        ("WMS-0001", "receipt", "LP-14-SLV", "120", "001", "bonded", None, 9, i1, 1),
        ("WMS-0002", "receipt", "PH-5G-128", "500", "001", "bonded", None, 9, i1, 2),
        ("WMS-0003", "receipt", "PH-5G-128", "300", "001", "bonded", None, 8, i1, 2),  # the second truck (M7)
        ("WMS-0004", "receipt", "WN-BDX-750", "2380", "095", "bonded", None, 8, i1, 3),  # 20 bottles short
        ("WMS-0005", "receipt", "CS-SERUM-30", "350.5", "035", "non_bonded", None, 7, i2, 1),
        ("WMS-0006", "status_change", "CS-SERUM-30", "50", "035", "bonded", "non_bonded", 6, "530120260000000017", 1),
        ("WMS-0007", "issue", "LP-14-SLV", "20", "001", "bonded", None, 5, e3, 1),
        ("WMS-0008", "issue", "PH-5G-128", "150", "001", "bonded", None, 5, e3, 2),
        ("WMS-0009", "receipt", "PH-5G-128", "12", "001", "bonded", None, 4, None, None),  # nobody declared these
        ("WMS-0010", "adjustment", "WN-BDX-750", "-2", "095", "bonded", None, 3, None, None),  # broken bottles
    ]
    records: list[dict[str, object]] = []
    for ref, kind, mtno, qty, unit, status, frm, hours_ago, rlt, seq in moves:
        rec: dict[str, object] = {
            "wmsRef": ref, "putrecNo": book, "kind": kind, "gdsMtno": mtno, "dclQty": qty, "dclUnitcd": unit,
            "stockStatus": status, "occurredAt": (now - timedelta(hours=hours_ago)).isoformat(),
        }  # fmt: skip
        if frm:
            rec["fromStatus"] = frm
        if rlt:
            rec["rltNo"], rec["rltGdsSeqno"] = rlt, seq
        records.append(rec)
    records.append(
        {"wmsRef": "WMS-0011", "putrecNo": book, "kind": "transfer", "gdsMtno": "LP-14-SLV", "dclQty": "10", "dclUnitcd": "001",
         "stockStatus": "bonded", "occurredAt": (now - timedelta(hours=2)).isoformat(), "fromLocation": "A-01-01",
         "toLocation": "B-02-03"}
    )  # fmt: skip
    counted = [
        ("LP-14-SLV", "100", "001", "bonded"),
        ("PH-5G-128", "662", "001", "bonded"),
        ("WN-BDX-750", "2378", "095", "bonded"),
        ("CS-SERUM-30", "300.5", "035", "non_bonded"),
        ("CS-SERUM-30", "50", "035", "bonded"),
    ]
    stock = [
        {"snapshotRef": "DEMO-ST-01", "putrecNo": book, "takenAt": uow.now().isoformat(), "gdsMtno": mtno,
         "stockStatus": status, "dclQty": qty, "dclUnitcd": unit}
        for mtno, qty, unit, status in counted
    ]  # fmt: skip
    wms.ingest(uow, who, "movements", [wms.RawRecord(n, None, r) for n, r in enumerate(records, start=1)])
    wms.ingest(uow, who, "stock", [wms.RawRecord(n, None, r) for n, r in enumerate(stock, start=1)])
    return len(records) + len(stock)
