"""Findings as files a customs officer opens: CSV (UTF-8 with BOM, for Excel) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter

# (key in the finding's JSON, Chinese header, English header)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "编号", "id"),
    ("putrecNo", "账册编号", "book"),
    ("cls", "差异类别", "class"),
    ("label", "说明", "label"),
    ("isError", "是否差错", "error"),
    ("scope", "比对对象", "scope"),
    ("ref", "单号/料号", "reference"),
    ("line", "序号", "line"),
    ("gdsMtno", "料号", "item"),
    ("stockStatus", "状态", "status"),
    ("wmsQty", "WMS 数量", "WMS quantity"),
    ("otherQty", "申报/账册数量", "declared or ledger quantity"),
    ("diffQty", "差额", "difference"),
    ("adjustQty", "WMS 调整", "WMS adjustments"),
    ("wmsUnitcd", "WMS 单位", "WMS unit"),
    ("otherUnitcd", "申报单位", "declared unit"),
    ("wmsStatus", "WMS 状态", "WMS status"),
    ("otherStatus", "申报状态", "declared status"),
    ("records", "WMS 记录数", "WMS records"),
    ("at", "时间", "time"),
    ("firstSeenAt", "首次发现", "first seen"),
)


def _cell(row: dict[str, Any], key: str) -> Any:
    x = row.get(key)
    if key == "label" and isinstance(x, dict):
        return f"{x.get('zh', '')} / {x.get('en', '')}"
    return "" if x is None else x


def findings_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """CSV with a bilingual header; quantities stay exact decimal strings."""
    out = io.StringIO()
    wr = csv.writer(out, lineterminator="\r\n")
    wr.writerow([f"{zh} {en}" for _, zh, en in COLUMNS])
    for r in rows:
        wr.writerow([_cell(r, k) for k, _, _ in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def findings_xlsx(rows: Sequence[dict[str, Any]], *, title: str) -> bytes:
    """One sheet of findings under a title row, header frozen, errors in bold."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet("findings")
    bold, head = book.add_format({"bold": True}), book.add_format({"bold": True, "bg_color": "#DDEBF7", "text_wrap": True})
    sheet.write(0, 0, title, bold)
    for col, (_, zh, en) in enumerate(COLUMNS):
        sheet.write(1, col, f"{zh}\n{en}", head)
        sheet.set_column(col, col, 16)
    for i, r in enumerate(rows, start=2):
        fmt = bold if r.get("isError") else None
        for col, (k, _, _) in enumerate(COLUMNS):
            sheet.write(i, col, _cell(r, k), fmt)
    sheet.freeze_panes(2, 0)
    sheet.autofilter(1, 0, max(1, len(rows) + 1), len(COLUMNS) - 1)
    book.close()
    return buf.getvalue()
