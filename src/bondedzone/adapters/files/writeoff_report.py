"""The write-off report (M19 核销报告) an officer signs off: as an HTML page, a PDF and an XLSX file.

All three show the same table — per item and status: opening, in, out, closing, counted, the
difference (盘盈/盘亏) and the enterprise's explanation — under a header with the book, the
enterprise, the period, the stocktake and the decision (who signed off, when, with what note).
The PDF uses the CID font STSong-Light that every PDF reader carries for Chinese, so nothing is
embedded and nothing is fetched; the HTML page is self-contained (no script, no external asset).
"""

from __future__ import annotations

import html
import io
from typing import Any

import xlsxwriter

from bondedzone.domain import values as v
from bondedzone.domain.rules.m19_writeoff import WriteOffLine
from bondedzone.services.ports import WriteOff

STATUS_ZH = {"draft": "草稿", "submitted": "已提交", "approved": "已核销", "returned": "已退回", "cancelled": "已撤销"}
KIND_ZH = {"surplus": "盘盈", "loss": "盘亏", None: ""}
HEADERS: tuple[tuple[str, str], ...] = (
    ("备案序号", "item"),
    ("料号", "code"),
    ("品名", "goods"),
    ("状态", "status"),
    ("单位", "unit"),
    ("期初", "opening"),
    ("进", "in"),
    ("出", "out"),
    ("期末", "closing"),
    ("盘点", "counted"),
    ("差异", "difference"),
    ("盘盈/盘亏", "kind"),
    ("说明", "explanation"),
)


def _q(units: int | None) -> str:
    return "" if units is None else v.fmt_units(units)


def rows(wo: WriteOff) -> list[list[str]]:
    """The table's rows as text, in :data:`HEADERS` order."""
    out = []
    for ln in wo.lines:
        unit = ln.dcl_unitcd + (f" (盘点 {ln.counted_unitcd})" if ln.unit_differs else "")
        out.append(
            [
                str(ln.putrec_seqno),
                ln.gds_mtno,
                ln.gds_nm,
                ln.stock_status,
                unit,
                _q(ln.opening),
                _q(ln.in_units),
                _q(ln.out_units),
                _q(ln.closing),
                _q(ln.counted if ln.counted is not None else 0),
                _q(ln.difference),
                KIND_ZH[ln.kind],
                ln.explanation or "",
            ]
        )
    return out


def _meta(wo: WriteOff) -> list[tuple[str, str]]:
    decision = ""
    if wo.decided_at is not None:
        decision = f"{wo.decided_by} · {wo.decided_at.isoformat()}" + (f" · {wo.decision_note}" if wo.decision_note else "")
    return [
        ("核销单 write-off", f"{wo.id}"),
        ("账册 book", wo.putrec_no),
        ("企业 enterprise", f"{wo.owner_name} ({wo.owner_uscc})"),
        (
            "期间 period",
            f"{wo.period_from.isoformat()} — {wo.period_to.isoformat()} (requested to {wo.requested_to.isoformat()})",
        ),
        ("盘点 stocktake", wo.snapshot_ref),
        ("状态 status", f"{STATUS_ZH.get(wo.status.value, wo.status.value)} {wo.status.value}"),
        ("审核 decision", decision or "—"),
    ]


def _totals(lines: tuple[WriteOffLine, ...]) -> tuple[int, int, int]:
    surplus = sum(ln.difference for ln in lines if ln.difference > 0)
    loss = -sum(ln.difference for ln in lines if ln.difference < 0)
    return len(lines), surplus, loss


def page(wo: WriteOff) -> str:
    """A self-contained HTML page (printable) of the report."""
    e = html.escape
    meta = "".join(f"<tr><th>{e(k)}</th><td>{e(x)}</td></tr>" for k, x in _meta(wo))
    head = "".join(f"<th>{e(zh)}<br><small>{e(en)}</small></th>" for zh, en in HEADERS)
    body = "".join(
        f"<tr class='{'diff' if r[10] not in ('0', '') else ''}'>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
        for r in rows(wo)
    )
    n, surplus, loss = _totals(wo.lines)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>核销报告 write-off report {wo.id} — {e(wo.putrec_no)}</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#111}}
table{{border-collapse:collapse;margin:1em 0}} th,td{{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}}
table.lines td:nth-child(n+6):nth-child(-n+11){{text-align:right;font-variant-numeric:tabular-nums}}
tr.diff{{background:#fff3cd}} small{{color:#555;font-weight:normal}}
@media print{{body{{margin:0}}}}
</style></head><body>
<h1>账册核销报告 <small>Book write-off report (M19)</small></h1>
<table class="meta">{meta}</table>
<p>{n} 行 lines · 盘盈 surplus {e(v.fmt_units(surplus))} · 盘亏 loss {e(v.fmt_units(loss))}
 · 期初 + 进 − 出 = 期末，与盘点比对 (opening + in − out = closing, compared with the count)</p>
<table class="lines"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>海关审核签字 Customs sign-off: {e(_meta(wo)[-1][1])}</p>
</body></html>
"""


def xlsx(wo: WriteOff) -> bytes:
    """The report as one worksheet: the header block, then the table."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet("write-off")
    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "border": 1})
    diff = book.add_format({"bg_color": "#FFF3CD", "border": 1})
    cell = book.add_format({"border": 1})
    sheet.write(0, 0, "账册核销报告 Book write-off report (M19)", bold)
    r = 2
    for k, x in _meta(wo):
        sheet.write(r, 0, k, bold)
        sheet.write(r, 1, x)
        r += 1
    r += 1
    for col, (zh, en) in enumerate(HEADERS):
        sheet.write(r, col, f"{zh}\n{en}", head)
        sheet.set_column(col, col, 14 if col != 12 else 40)
    for row in rows(wo):
        r += 1
        fmt = diff if row[10] not in ("0", "") else cell
        for col, x in enumerate(row):
            sheet.write(r, col, x, fmt)
    book.close()
    return buf.getvalue()


def pdf(wo: WriteOff) -> bytes:
    """The report as an A4 landscape PDF in Chinese and English."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    title = ParagraphStyle("title", fontName=font, fontSize=14, leading=18)
    small = ParagraphStyle("small", fontName=font, fontSize=7, leading=9)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=f"write-off {wo.id} {wo.putrec_no}",
    )
    story: list[Any] = [Paragraph("账册核销报告 Book write-off report (M19)", title), Spacer(1, 4 * mm)]
    meta = Table(
        [[Paragraph(html.escape(k), small), Paragraph(html.escape(x), small)] for k, x in _meta(wo)],
        colWidths=[45 * mm, 220 * mm],
    )
    meta.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey)]))
    story += [meta, Spacer(1, 4 * mm)]
    data = [[Paragraph(f"{zh}<br/>{en}", small) for zh, en in HEADERS]]
    data += [[Paragraph(html.escape(c), small) for c in row] for row in rows(wo)]
    widths = [14, 22, 30, 16, 14, 18, 18, 18, 18, 18, 18, 14, 59]
    lines = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    style: list[Any] = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7"))]
    for i, row in enumerate(rows(wo), start=1):
        if row[10] not in ("0", ""):
            style.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#FFF3CD")))
    lines.setStyle(TableStyle(style))
    n, surplus, loss = _totals(wo.lines)
    story += [
        lines,
        Spacer(1, 4 * mm),
        Paragraph(f"{n} 行 lines · 盘盈 surplus {v.fmt_units(surplus)} · 盘亏 loss {v.fmt_units(loss)}", small),
        Paragraph(f"海关审核签字 Customs sign-off: {html.escape(_meta(wo)[-1][1])}", small),
    ]
    doc.build(story)
    return buf.getvalue()
